#!/usr/bin/python3
# 85-shape-more.t - more of shaperd, on one Tern instance:
#  (1) the bounce action: a pattern rule {reply: 'mailbox service
#      unavailable', action: bounce, for: 1m} on bo.test; the sink answers
#      the first message's RCPT with 451 4.3.2 mailbox service unavailable;
#      later mail to bo.test/mta1 is bounced (accounting rows type b, 5.0.0,
#      the matched reply in dsnDiag) without a transaction at the sink;
#      Tern's own bounces do not match the rule again (the reply appears
#      once in dsnDiag, bounce_until is not pushed back by them);
#      show shaping shows bounce_until ~ now + 60; `tern resume queue`
#      ends it and the next message is delivered;
#  (2) warm-up overflow to the pool: VirtualMTAs wa (warm-up schedule [3],
#      overflow: pool, day 1 today) and wb in pool wpool; 8 messages to
#      wpool are all delivered, at most 3 from wa's source address, the
#      rest from wb's, and wa's queue shows warm-up sent 3;
#  (3) a stopped shaperd (SIGSTOP) pauses delivery: 5 messages injected
#      meanwhile are not delivered within 3 s, and all are within 10 s of
#      SIGCONT;
#  (4) the built-in provider rules (smtp-pattern-builtin left at its
#      default): Gmail's "421 4.7.28 ... unusual rate of unsolicited mail"
#      at the final dot puts g.test/mta1 in backoff, last_rule "built-in
#      ..."; after a reload with smtp-pattern-builtin: no the same reply
#      leaves g2.test/mta1 in normal mode;
#  (5) `tern show shaping` (text and --json) names a limit set in a
#      VirtualMTA's domains block "virtual-mtas.mta2.domains.vd.test".
#
# Each domain is routed (`route`) to its own scriptable SMTP sink
# (t/lib/sink.py) on 127.0.0.x; nothing leaves loopback.  Time for the
# warm-up is the start date (day 1 is today, UTC): a run that crosses
# 00:00 UTC may fail.
import datetime
import functools
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, acct_rows, free_port_on  # noqa
from sinklib import Sink  # noqa
import shapelib  # noqa
from shapelib import (START, Run, all_delivered, answered,  # noqa
                      ctl, exit_on_sigterm, never, sq, sq_when, tried,
                      until)

send = functools.partial(shapelib.send, subject="more")


def final_rows(tern, rcpt):
    """Accounting rows of rcpt that end it (d or b)."""
    return [r for r in acct_rows(tern) if r["rcpt"] == rcpt and
            r["type"] in ("d", "b")]


class PoolTern(Tern):
    """A Tern whose virtual-mta-pools also has wpool: [wa, wb] (ternlib
    writes the pools block itself)."""

    def config_text(self, extra=None):
        return Tern.config_text(self, extra).replace(
            "  pool-a: [mta1, mta2]\n",
            "  pool-a: [mta1, mta2]\n  wpool: [wa, wb]\n")


exit_on_sigterm()

t = TAP()
tmp = tempfile.mkdtemp(prefix="tern-t85-")
N, BO, W, G, G2 = ("127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13",
                   "127.0.0.14")
WA_IP, WB_IP = "127.0.0.3", "127.0.0.4"
P = free_port_on([N, BO, W, G, G2])
TODAY = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
R451 = "451 4.3.2 mailbox service unavailable"
R421 = ("421 4.7.28 [127.0.0.1] Our system has detected an unusual rate of "
        "unsolicited mail originating from your IP address. To protect our "
        "users from spam, mail sent from your IP address has been "
        "temporarily rate limited.")

VMTAS = ('  mta1: { smtp-source-host: "127.0.0.1 mta1.test.example" }\n'
         '  mta2:\n'
         '    smtp-source-host: "127.0.0.2 mta2.test.example"\n'
         '    domains:\n'
         '      vd.test: { max-msg-rate: 7/m }\n'
         '  wa:\n'
         '    smtp-source-host: "%s wa.test.example"\n'
         '    warmup: {start: %s, schedule: [3], overflow: pool}\n'
         '  wb: { smtp-source-host: "%s wb.test.example" }\n'
         % (WA_IP, TODAY, WB_IP))
# bo.test and g*.test wait 10m after a deferral: the deferred first
# message is not tried again while the test looks.
DOMAINS = (
    '  "*": { retry-after: 1s, bounce-after: 10m, connection-idle-timeout: 0,'
    ' route: "[%s]:%d" }\n' % (N, P) +
    '  bo.test: { retry-after: 10m, smtp-pattern-list: bl,'
    ' route: "[%s]:%d" }\n' % (BO, P) +
    '  w.test: { retry-after: 1s, route: "[%s]:%d" }\n' % (W, P) +
    '  g.test: { retry-after: 10m, route: "[%s]:%d" }\n' % (G, P) +
    '  g2.test: { retry-after: 10m, route: "[%s]:%d" }\n' % (G2, P))
LISTS = ("smtp-pattern-lists:\n"
         "  bl:\n"
         "    - { reply: 'mailbox service unavailable', action: bounce,"
         " for: 1m }\n")

sinks = {
    "n": Sink(tmp, N, P, name="n"),
    "bo": Sink(tmp, BO, P, {"rcpt": {"^first@": R451}}, name="bo"),
    "w": Sink(tmp, W, P, name="w"),
    "g": Sink(tmp, G, P, {"dot_first": {"n": 1, "reply": R421}}, name="g"),
    "g2": Sink(tmp, G2, P, {"dot_first": {"n": 1, "reply": R421}},
               name="g2"),
}
stopped = []            # shaperd PIDs sent SIGSTOP and not yet SIGCONT


def cont_stopped():
    """At the end: SIGCONT to any shaperd that (3) stopped and did not
    continue (a SIGTERM in the middle of it)."""
    for pid in stopped:
        try:
            os.kill(pid, signal.SIGCONT)
        except OSError:
            pass


with Run(t, tmp, *sinks.values(), first=cont_stopped) as run:
    for s in sinks.values():
        s.start()
    tern = run.start(PoolTern(domains=DOMAINS, vmtas=VMTAS, extra=LISTS))
    t.ok(until(lambda: tern.pids("shaperd"), 10),
         "shaperd runs, a child of ternd")
    sn = sinks["n"]

    # === (5) the origin of a limit from a VirtualMTA's domains block ======
    # (show shaping lists a queue once mail has gone to it)
    send(tern.port, ["v1@vd.test"], vmta="mta2")
    ok = until(lambda: all_delivered(sn, ["v1@vd.test"]), 10)
    t.ok(ok, "(5) a message to vd.test through mta2 delivered")
    q = until(lambda: sq(tern, "vd.test/mta2") or None, 5) or {}
    lim = q.get("limits", {}).get("max-msg-rate") or {}
    t.ok(str(lim.get("value", "")).startswith("7/") and
         lim.get("from") == "virtual-mtas.mta2.domains.vd.test",
         "(5) show shaping --json vd.test/mta2: max-msg-rate 7/... from "
         "virtual-mtas.mta2.domains.vd.test", lim)
    rc, out, err = ctl(tern, "show", "shaping", "vd.test/mta2")
    line = [x for x in out.splitlines() if "max-msg-rate" in x and
            "backoff" not in x]
    t.ok(rc == 0 and len(line) == 1 and
         "virtual-mtas.mta2.domains.vd.test" in line[0],
         "(5) show shaping vd.test/mta2 (text): the max-msg-rate line names "
         "virtual-mtas.mta2.domains.vd.test", out + err)
    rc, out, err = ctl(tern, "show", "shaping", "vd.test/mta1")
    t.ok(rc == 0 and "virtual-mtas.mta2" not in out,
         "(5) ... and vd.test/mta1 does not (mta2's block only)", out + err)

    # === (1) the bounce action ============================================
    sb = sinks["bo"]
    send(tern.port, ["first@bo.test"])
    ok = until(lambda: [e for e in sb.events("rcpt") if e["code"] == 451],
               10)
    t.ok(ok, "(1) bo.test: the sink answered the first message's RCPT "
         "with %s" % R451)
    q = sq_when(tern, "bo.test/mta1",
                lambda q: (q.get("bounce_until") or 0) > time.time(), 5)
    now = time.time()
    t.ok(now < (q.get("bounce_until") or 0) <= now + 61,
         "(1) show shaping bo.test/mta1: bounce_until > now (and within the "
         "rule's for: 1m)", q)
    t.ok("mailbox service unavailable" in str(q.get("last_reply", "")),
         "(1) show shaping: last_reply is the matched reply", q)
    t.diag("(1) bounce_until - now = %.1f s, last_rule %r"
           % ((q.get("bounce_until") or 0) - now, q.get("last_rule")))
    b0 = q.get("bounce_until") or 0
    # later than the match by 2 s: a bounce_until set again by the
    # bounces below (it must not be) would then differ
    time.sleep(2.0)
    mails_before = len(sb.events("mail"))
    bo = ["b%d@bo.test" % i for i in range(1, 4)]
    send(tern.port, bo)
    ok = until(lambda: all(final_rows(tern, r) for r in bo), 10)
    rows = [x for r in bo for x in final_rows(tern, r)]
    t.ok(ok and len(rows) == 3 and all(x["type"] == "b" for x in rows),
         "(1) the 3 messages sent during the minute are bounced "
         "(accounting rows type b)", rows)
    t.ok(rows and all(x["dsnStatus"].startswith("5.0.0") and
                      "mailbox service unavailable" in x["dsnDiag"]
                      for x in rows),
         "(1) ... with status 5.0.0 and the matched reply in dsnDiag",
         [(x["rcpt"], x["dsnStatus"], x["dsnDiag"]) for x in rows])
    t.ok(not tried(sb, bo) and len(sb.events("mail")) == mails_before,
         "(1) ... and without a transaction at the sink",
         (tried(sb, bo), sb.events("mail")))
    # Tern's own bounces are not remote replies: they must not match the
    # rule again (which would nest the text, "queue bounced by ...: queue
    # bounced by ...: 451 ...", and restart the minute at every bounce,
    # so that a steady stream of mail would keep the queue bouncing).
    t.ok(rows and all(x["dsnDiag"].count("mailbox service unavailable")
                      == 1 and x["dsnDiag"].count("queue bounced by") <= 1
                      for x in rows),
         "(1) each bounce's dsnDiag has the matched reply once (the "
         "bounces do not match the rule again)",
         [(x["rcpt"], x["dsnDiag"]) for x in rows])
    q = sq(tern, "bo.test/mta1")
    t.ok(0 < (q.get("bounce_until") or 0) <= b0,
         "(1) the bounces leave bounce_until where the matching reply set "
         "it (%s), not restarted (%s)" % (b0, q.get("bounce_until")), q)
    rc, out, err = ctl(tern, "resume", "queue", "bo.test/mta1")
    t.is_(rc, 0, "(1) tern resume queue bo.test/mta1")
    q = sq(tern, "bo.test/mta1")
    t.ok(q.get("queue") and not (q.get("bounce_until") or 0) > time.time(),
         "(1) show shaping: bounce_until no longer in the future", q)
    send(tern.port, ["after@bo.test"])
    ok = until(lambda: all_delivered(sb, ["after@bo.test"]), 10)
    t.ok(ok, "(1) resumed: the next message to bo.test is delivered",
         (final_rows(tern, "after@bo.test"), sq(tern, "bo.test/mta1")))

    # === (2) warm-up overflow to the pool =================================
    sw = sinks["w"]
    wr = ["w%d@w.test" % i for i in range(8)]
    send(tern.port, wr, vmta="wpool")
    ok = until(lambda: all_delivered(sw, wr), 15)
    got = sw.delivered_rcpts()
    t.ok(ok and sorted(got) == wr and set(got.values()) == {1},
         "(2) all 8 messages to wpool delivered, each once", got)
    peers = {}
    for m in sw.delivered():
        peers[m["peer"]] = peers.get(m["peer"], 0) + 1
    t.diag("(2) deliveries by source address: %r" % peers)
    t.ok(peers.get(WA_IP, 0) <= 3 and
         peers.get(WA_IP, 0) + peers.get(WB_IP, 0) == 8,
         "(2) at most 3 from wa (%s), the rest from wb (%s)"
         % (WA_IP, WB_IP), peers)
    w = (sq(tern, "w.test/wa").get("warmup") or {})
    t.ok(w.get("day") == 1 and w.get("volume") == 3 and w.get("sent") == 3,
         "(2) show shaping w.test/wa: warm-up day 1, volume 3, sent 3", w)
    moved = [x for x in tern.logtext().splitlines()
             if "warm-up overflow" in x]
    t.diag("(2) %d overflow moves logged%s" % (
        len(moved), (": " + moved[0]) if moved else ""))

    # === (3) a stopped shaperd pauses delivery ============================
    send(tern.port, ["n0@n.test"])
    ok = until(lambda: all_delivered(sn, ["n0@n.test"]), 10)
    t.ok(ok, "(3) mail flows: a message to n.test delivered")
    pids = tern.pids("shaperd")
    t.is_(len(pids), 1, "(3) one shaperd")
    nr = ["n%d@n.test" % i for i in range(1, 6)]
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        ts = time.time()
        send(tern.port, nr)
        t.ok(never(lambda: [r for r in nr if r in sn.delivered_rcpts()],
                   3.0),
             "(3) shaperd stopped (SIGSTOP): none of 5 messages injected "
             "is delivered within 3 s",
             [r for r in nr if r in sn.delivered_rcpts()])
        t.diag("(3) injected and watched for %.1f s" % (time.time() - ts))
    finally:
        while stopped:
            try:
                os.kill(stopped.pop(), signal.SIGCONT)
            except OSError:
                pass
    tc = time.time()
    ok = until(lambda: all_delivered(sn, nr), 10)
    t.ok(ok, "(3) SIGCONT: all 5 delivered within 10 s (%.1f s)"
         % (time.time() - tc), [r for r in nr if r not in
                                sn.delivered_rcpts()])
    t.is_(tern.pids("shaperd"), pids, "(3) the same shaperd (not "
          "restarted)")

    # === (4) the built-in provider rules ==================================
    sg = sinks["g"]
    send(tern.port, ["g1@g.test"])
    ok = until(lambda: answered(sg, 421), 10)
    t.ok(ok, "(4) g.test: the sink answered the final dot with Gmail's "
         "421 4.7.28 unusual rate reply")
    q = sq_when(tern, "g.test/mta1",
                lambda q: q.get("mode") == "backoff", 5)
    t.is_(q.get("mode"), "backoff", "(4) smtp-pattern-builtin (default "
          "yes): show shaping g.test/mta1 mode backoff")
    t.ok("built-in" in str(q.get("last_rule", "")) and
         "unusual rate" in str(q.get("last_reply", "")),
         "(4) last_rule names a built-in rule, last_reply the 421", q)
    t.diag("(4) last_rule %r" % q.get("last_rule"))

    tern.extra = "smtp-pattern-builtin: no\n" + LISTS
    tern.write_config()
    rc, out, err = ctl(tern, "reload", timeout=20)
    t.ok(rc == 0 and "not confirmed" not in out,
         "(4) reload with smtp-pattern-builtin: no, every daemon confirms",
         out + err)
    sg2 = sinks["g2"]
    send(tern.port, ["g1@g2.test"])
    ok = until(lambda: answered(sg2, 421), 10)
    t.ok(ok, "(4) g2.test: the sink answered the final dot with the same "
         "421")
    # the outcome reaches shaperd right after the reply: 2 s is plenty
    t.ok(never(lambda: sq(tern, "g2.test/mta1").get("mode") == "backoff",
               2.0), "(4) smtp-pattern-builtin: no - g2.test/mta1 does not "
         "enter backoff (2 s)", sq(tern, "g2.test/mta1"))
    q = sq(tern, "g2.test/mta1")
    t.ok(q.get("mode") == "normal" and
         "built-in" not in str(q.get("last_rule", "")),
         "(4) show shaping g2.test/mta1: mode normal, no built-in rule "
         "acted", q)
    c = q.get("counters") or {}
    t.ok(c.get("deferred", 0) >= 1, "(4) ... although shaperd counted the "
         "deferral (counters.deferred >= 1)", c)
    t.diag("whole file: %.1f s" % (time.time() - START))
t.done()
