#!/usr/bin/python3
# 82-shape-backoff.t - what shaperd does with remote replies and with
# `tern` commands: an smtp-pattern-list rule (reply 4.7.28 -> backoff)
# puts a queue in backoff, where backoff-max-msg-rate (2/s) replaces
# max-msg-rate (20/s), until backoff-to-normal-after (8s) brings it back
# to normal and the rate rises again; a threshold rule (suspend after
# 3 matches in 1m) leaves the queue alone after two matching replies and
# suspends it at the third, its mail held until `tern resume queue`;
# `tern pause queue` on a queue that has seen no mail yet holds what
# comes, `tern resume queue` sends it; `tern set queue --mode=` shows in
# `tern show shaping`; a disconnect rule closes the connection after the
# transaction whose reply matched.
#
# Each domain is routed (`route`) to its own scriptable SMTP sink
# (t/lib/sink.py) on 127.0.0.x; nothing leaves loopback.  The built-in
# provider rules are switched off (smtp-pattern-builtin: no) so that only
# the rules configured here act.
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, free_port_on  # noqa
from sinklib import Sink, rate  # noqa
from shapelib import (START, Run, all_delivered, answered,  # noqa
                      ctl, exit_on_sigterm, never, send, sq, sq_when,
                      tried, until)

exit_on_sigterm()

t = TAP()
tmp = tempfile.mkdtemp(prefix="tern-t82-")
BO, SU, PZ, DC = "127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13"
P = free_port_on([BO, SU, PZ, DC])
R421 = "421 4.7.28 unusual rate of unsolicited mail"
TRY = "421 4.3.0 try again later"

# pz.test and md.test go by "*" to the PZ sink.  su.test waits 1h after
# a deferral, so that its 421s are not retried (and delivered) between
# the matches the threshold rule counts.
DOMAINS = (
    '  "*": { retry-after: 1s, bounce-after: 10m, connection-idle-timeout: 0,'
    ' route: "[%s]:%d" }\n' % (PZ, P) +
    '  bo.test: { max-msg-rate: 20/s, backoff-max-msg-rate: 2/s,'
    ' retry-after: 1s, backoff-retry-after: 1s, backoff-to-normal-after: 8s,'
    ' smtp-pattern-list: bo-list, route: "[%s]:%d" }\n' % (BO, P) +
    '  su.test: { retry-after: 1h, smtp-pattern-list: su-list,'
    ' route: "[%s]:%d" }\n' % (SU, P) +
    '  dc.test: { max-smtp-out: 1, retry-after: 2s,'
    ' connection-idle-timeout: 30s, smtp-pattern-list: dc-list,'
    ' route: "[%s]:%d" }\n' % (DC, P))
EXTRA = (
    "smtp-pattern-builtin: no\n"
    "smtp-pattern-lists:\n"
    "  bo-list:\n"
    r"    - { reply: '4\.7\.28', action: backoff }" "\n"
    "  su-list:\n"
    "    - { reply: 'try again later', action: suspend, for: 1h,"
    " after: 3/1m }\n"
    "  dc-list:\n"
    "    - { reply: 'please reconnect', action: disconnect }\n")

sinks = {
    "bo": Sink(tmp, BO, P, {"dot_first": {"n": 1, "reply": R421}},
               name="bo"),
    "su": Sink(tmp, SU, P, {"dot_first": {"n": 3, "reply": TRY}}, name="su"),
    "pz": Sink(tmp, PZ, P, name="pz"),
    "dc": Sink(tmp, DC, P, {"dot_first": {"n": 1, "reply":
                                          "451 4.7.1 please reconnect"}},
               name="dc"),
}
with Run(t, tmp, *sinks.values()) as run:
    for s in sinks.values():
        s.start()
    tern = run.start(Tern(domains=DOMAINS, extra=EXTRA))

    # === backoff by a pattern rule, back to normal after 8s ===============
    sb = sinks["bo"]
    send(tern.port, ["bo00@bo.test"])
    ok = until(lambda: answered(sb, 421), 15)
    t.ok(ok, "bo.test: the sink answered the first message's final dot "
         "with 421 4.7.28")
    q = sq_when(tern, "bo.test/mta1",
                lambda q: q.get("mode") == "backoff", 5)
    t.is_(q.get("mode"), "backoff", "show shaping bo.test/mta1: mode "
          "backoff after the reply matched '4\\.7\\.28'")
    t.ok("4.7.28" in str(q.get("last_reply", "")),
         "show shaping: last_reply is the 4.7.28 reply", q)
    since = float(q.get("mode_since") or time.time())
    t.ok(abs(float(q.get("backoff_until") or 0) - (since + 8)) <= 2,
         "show shaping: backoff_until is mode_since + 8s "
         "(backoff-to-normal-after)", q)

    t_inj = time.time()
    bo = ["bo%02d@bo.test" % i for i in range(1, 15)]
    send(tern.port, bo)
    until(lambda: len([m for m in sb.delivered()
                       if m["t"] >= t_inj]) >= 10, 15)
    ts = sorted(m["t"] for m in sb.delivered() if m["t"] >= t_inj)[:10]
    r = rate(ts)
    t.ok(r is not None and 1.5 <= r <= 2.6,
         "backoff: the next 10 deliveries at backoff-max-msg-rate 2/s "
         "(measured %s msg/s)" % ("%.3f" % r if r else None))
    t.diag("backoff: %d deliveries in %.2f s: %s msg/s (max-msg-rate 20/s "
           "in normal mode)" % (len(ts), ts[-1] - ts[0] if ts else 0,
                                "%.3f" % r if r else None))
    ok = until(lambda: sq(tern, "bo.test/mta1").get("mode") == "normal",
               since + 8 + 6 - time.time())
    back = time.time() - since
    t.ok(ok and back >= 7.0, "show shaping: mode normal again after "
         "backoff-to-normal-after 8s (seen %.1f s after mode_since)" % back,
         sq(tern, "bo.test/mta1"))
    more = ["bn%02d@bo.test" % i for i in range(20)]
    send(tern.port, more)
    until(lambda: all_delivered(sb, more), 15)
    ts = sorted(m["t"] for m in sb.delivered() if m["rcpts"][0] in more)
    r = rate(ts)
    t.ok(r is not None and r > 5.0 and len(ts) == 20,
         "normal mode: the rate rises (20 messages at %s msg/s, above "
         "twice the backoff rate)" % ("%.3f" % r if r else None))
    got = sb.delivered_rcpts()
    t.ok(all(x in got for x in ["bo00@bo.test"] + bo + more),
         "bo.test: every message delivered, the 421'd one too",
         sorted(set(["bo00@bo.test"] + bo + more) - set(got)))

    # === a threshold rule: suspend after 3 matches in 1m ==================
    su = sinks["su"]

    def refused():
        return answered(su, 421)

    send(tern.port, ["s1@su.test"])
    until(lambda: len(refused()) >= 1, 10)
    send(tern.port, ["s2@su.test"])
    ok = until(lambda: len(refused()) >= 2, 10)
    t.ok(ok, "su.test: two replies '421 4.3.0 try again later'")
    t.ok(never(lambda: sq(tern, "su.test/mta1").get("suspended_until"),
               1.5) and sq(tern, "su.test/mta1").get("queue"),
         "after: 3/1m - two matching replies leave su.test/mta1 "
         "unsuspended", sq(tern, "su.test/mta1"))
    send(tern.port, ["s3@su.test"])
    ok = until(lambda: len(refused()) >= 3, 10)
    q = sq_when(tern, "su.test/mta1",
                lambda q: (q.get("suspended_until") or 0) > time.time(), 5)
    now = time.time()
    t.ok(ok and (q.get("suspended_until") or 0) > now + 3000,
         "the third match suspends su.test/mta1 for 1h (suspended_until "
         "~ now + 3600)", q)
    t.ok("try again later" in str(q.get("last_reply", "")),
         "show shaping: last_reply is the matching reply", q)
    send(tern.port, ["s4@su.test"])
    t.ok(never(lambda: tried(su, "s4@su.test"), 3.0),
         "suspended: mail sent now is held (no transaction for 3 s)",
         tried(su, "s4@su.test"))
    rc, out, err = ctl(tern, "resume", "queue", "su.test/mta1")
    t.is_(rc, 0, "tern resume queue su.test/mta1")
    ok = until(lambda: "s4@su.test" in su.delivered_rcpts(), 8)
    t.ok(ok, "resumed: the held message is delivered at once",
         (su.delivered_rcpts(), sq(tern, "su.test/mta1")))
    q = sq(tern, "su.test/mta1")
    t.ok(not q.get("suspended_until") or q["suspended_until"] <= time.time(),
         "show shaping: su.test/mta1 no longer suspended", q)

    # === pause a queue that has seen no mail ==============================
    sp = sinks["pz"]
    rc, out, err = ctl(tern, "pause", "queue", "pz.test/mta1")
    t.is_(rc, 0, "tern pause queue pz.test/mta1 (no mail to it yet)")
    t.is_(sq(tern, "pz.test/mta1").get("paused"), True,
          "show shaping: pz.test/mta1 paused, before any mail")
    send(tern.port, ["p1@pz.test"])
    t.ok(never(lambda: tried(sp, "p1@pz.test"), 3.0),
         "paused: the message is held (no transaction for 3 s)",
         tried(sp, "p1@pz.test"))
    q = sq(tern, "pz.test/mta1")
    rc, out, err = ctl(tern, "show", "shaping", "pz.test/mta1")
    t.ok(q.get("paused") is True and rc == 0 and "paused" in out.lower(),
         "show shaping (JSON and text) says paused while mail waits",
         (q, out, err))
    rc, out, err = ctl(tern, "resume", "queue", "pz.test/mta1")
    t.is_(rc, 0, "tern resume queue pz.test/mta1")
    ok = until(lambda: "p1@pz.test" in sp.delivered_rcpts(), 8)
    t.ok(ok, "resumed: the held message is delivered at once")
    t.is_(sq(tern, "pz.test/mta1").get("paused"), False,
          "show shaping: pz.test/mta1 no longer paused")

    # === tern set queue --mode ============================================
    rc, out, err = ctl(tern, "set", "queue", "--mode=backoff",
                       "md.test/mta1")
    t.is_(rc, 0, "tern set queue --mode=backoff md.test/mta1")
    t.is_(sq(tern, "md.test/mta1").get("mode"), "backoff",
          "show shaping --json: md.test/mta1 mode backoff")
    rc, out, err = ctl(tern, "show", "shaping", "md.test/mta1")
    t.ok(rc == 0 and "backoff" in out, "show shaping (text) says backoff",
         out + err)
    rc, out, err = ctl(tern, "set", "queue", "--mode=normal", "md.test/mta1")
    t.is_(rc, 0, "tern set queue --mode=normal md.test/mta1")
    t.is_(sq(tern, "md.test/mta1").get("mode"), "normal",
          "show shaping --json: md.test/mta1 mode normal")

    # === a disconnect rule ================================================
    # connection-idle-timeout 30s: without the rule the connection would
    # stay open and carry the retry of the 451'd message 2 s later.
    sd = sinks["dc"]
    send(tern.port, ["x1@dc.test"])
    until(lambda: all_delivered(sd, ["x1@dc.test"]), 15)
    msgs = sorted(sd.messages(), key=lambda m: m["t"])
    first = msgs[0] if msgs else {}
    t.ok(first.get("code") == 451, "dc.test: the first transaction got "
         "'451 4.7.1 please reconnect'", first)
    c1 = first.get("conn")
    closed = [e for e in sd.events("close") if e["conn"] == c1]
    later = [e for e in sd.events("mail") if e["conn"] == c1 and
             e["t"] > first.get("t", 0)]
    t.ok(closed and not later and closed[0]["t"] - first["t"] < 1.8 and
         not closed[0].get("aborted"),
         "disconnect: that connection is closed after the transaction "
         "(not left idle), with no further transaction on it",
         (closed, later))
    nxt = [m for m in msgs[1:] if m["code"] // 100 == 2]
    t.ok(nxt and nxt[0]["conn"] != c1 and nxt[0]["rcpts"] == ["x1@dc.test"],
         "disconnect: the retry goes over a new connection",
         [(m["conn"], m["code"]) for m in msgs])
    t.diag("whole file: %.1f s" % (time.time() - START))
t.done()
