#!/usr/bin/python3
# 80-shape-limits.t - shaperd's connection and rate limits: max-smtp-out
# from `domains: "*"` (2 connections at most to a slow sink, 40 messages
# all delivered); a VirtualMTA's own max-smtp-out over two domains
# together; max-msg-rate 5/s measured from the sink's timestamps; a
# VirtualMTA's max-msg-rate over two domains together; a reload that
# raises a domain's max-msg-rate from 5/s to 10/s while mail flows (the
# rate follows, no transaction is cut, nothing is lost).  And `tern show
# shaping --json` names each effective limit and the block it came from.
#
# Every domain is routed (`route`) to its own scriptable SMTP sink
# (t/lib/sink.py) on 127.0.0.x; no DNS, nothing leaves loopback.  Rates
# are measured over ~12-17 s, not over the minute the issue speaks of:
# a minute at 5/s would not fit with the rest in the 90 s this file may
# take.  GCRA spreads a rate evenly (shaperd(8)), so 12 s at 5/s (60
# intervals of 0.2 s) is enough to see 10%.
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, free_port_on  # noqa
from sinklib import Sink, rate  # noqa
from shapelib import (START, Run, all_delivered, ctl,  # noqa
                      exit_on_sigterm, send, shaping, until)


def limit(tern, queue, name):
    """limits[name] of one shaping queue, e.g. {"value": 2, "from":
    "domains.*"} (None if not shown)."""
    qs = [q for q in shaping(tern, queue) or [] if q.get("queue") == queue]
    return qs[0].get("limits", {}).get(name) if qs else None


def times(sink):
    return sorted(m["t"] for m in sink.delivered())


exit_on_sigterm()

t = TAP()
tmp = tempfile.mkdtemp(prefix="tern-t80-")
A, B, C, D, E = ("127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13",
                 "127.0.0.14")
P = free_port_on([A, B, C, D, E])

VMTAS = ('  mta1: { smtp-source-host: "127.0.0.1 mta1.test.example" }\n'
         '  mta2: { smtp-source-host: "127.0.0.2 mta2.test.example" }\n'
         '  cap3: { smtp-source-host: "127.0.0.3 cap3.test.example",'
         ' max-smtp-out: 3 }\n'
         '  rate5: { smtp-source-host: "127.0.0.4 rate5.test.example",'
         ' max-msg-rate: 5/s }\n')


def domains(e_rate):
    return ('  "*": { max-smtp-out: 2, retry-after: 1s, bounce-after: 10m,'
            ' connection-idle-timeout: 0, route: "[%s]:%d" }\n' % (A, P) +
            '  b1.test: { max-smtp-out: 3, route: "[%s]:%d" }\n' % (B, P) +
            '  b2.test: { max-smtp-out: 3, route: "[%s]:%d" }\n' % (B, P) +
            '  c.test: { max-smtp-out: 10, max-msg-rate: 5/s,'
            ' route: "[%s]:%d" }\n' % (C, P) +
            '  d1.test: { max-smtp-out: 10, route: "[%s]:%d" }\n' % (D, P) +
            '  d2.test: { max-smtp-out: 10, route: "[%s]:%d" }\n' % (D, P) +
            '  e.test: { max-smtp-out: 10, max-msg-rate: %s,'
            ' route: "[%s]:%d" }\n' % (e_rate, E, P))


sinks = {
    # each message held 0.3 s before the 250: connections stay busy
    "a": Sink(tmp, A, P, {"dot_delay": 0.3}, name="a"),
    "b": Sink(tmp, B, P, {"dot_delay": 0.3}, name="b"),
    "c": Sink(tmp, C, P, name="c"),
    "d": Sink(tmp, D, P, name="d"),
    "e": Sink(tmp, E, P, name="e"),
}
with Run(t, tmp, *sinks.values()) as run:
    for s in sinks.values():
        s.start()
    tern = run.start(Tern(domains=domains("5/s"), vmtas=VMTAS))
    t.ok(until(lambda: tern.pids("shaperd"), 10),
         "shaperd runs, a child of ternd")

    # === (a) "*" max-smtp-out 2 and (b) a VirtualMTA's max-smtp-out 3 =====
    # side by side: different sinks, different VirtualMTAs
    a_rcpts = ["a%02d@a.test" % i for i in range(40)]
    b_rcpts = [r for i in range(15) for r in ("b%02d@b1.test" % i,
                                              "b%02d@b2.test" % i)]
    t0 = time.time()
    send(tern.port, a_rcpts)
    send(tern.port, b_rcpts, vmta="cap3")
    until(lambda: all_delivered(sinks["a"], a_rcpts) and
          all_delivered(sinks["b"], b_rcpts), 40)
    sa, sb = sinks["a"], sinks["b"]
    got = sa.delivered_rcpts()
    t.ok(sorted(got) == sorted(a_rcpts),
         "(a) all 40 messages to a.test delivered (%d)" % len(got),
         sorted(set(a_rcpts) - set(got)))
    mc = sa.max_concurrent()
    t.ok(0 < mc <= 2, "(a) max-smtp-out 2 from domains \"*\": at most 2 "
         "connections at once (max %d over %d connections)"
         % (mc, len(sa.events("connect"))))
    t.diag("(a) 40 messages held 0.3 s each: %.1f s, %d connections, "
           "most %d at once" % ((times(sa) or [t0])[-1] - t0,
                                len(sa.events("connect")), mc))
    lim = limit(tern, "a.test/mta1", "max-smtp-out")
    t.ok(lim and lim.get("value") == 2 and lim.get("from") == "domains.*",
         "(a) show shaping: a.test/mta1 max-smtp-out 2 from domains.*", lim)

    got = sb.delivered_rcpts()
    t.ok(sorted(got) == sorted(b_rcpts),
         "(b) all 30 messages to b1.test and b2.test delivered via cap3",
         sorted(set(b_rcpts) - set(got)))
    mc = sb.max_concurrent()
    t.ok(0 < mc <= 3, "(b) VirtualMTA cap3 max-smtp-out 3: at most 3 "
         "connections at once to both domains together, each allowing 3 "
         "(max %d)" % mc)
    peers = set(e["peer"] for e in sb.events("connect"))
    t.is_(peers, {"127.0.0.3"}, "(b) every connection from cap3's "
          "source address")
    t.diag("(b) 30 messages held 0.3 s each: %.1f s, %d connections, "
           "most %d at once" % ((times(sb) or [t0])[-1] - t0,
                                len(sb.events("connect")), mc))

    # === (c) a domain's max-msg-rate 5/s, (d) a VirtualMTA's 5/s ==========
    c_rcpts = ["c%03d@c.test" % i for i in range(85)]
    d_rcpts = [r for i in range(30) for r in ("d%02d@d1.test" % i,
                                              "d%02d@d2.test" % i)]
    send(tern.port, c_rcpts)
    send(tern.port, d_rcpts, vmta="rate5")
    until(lambda: all_delivered(sinks["c"], c_rcpts) and
          all_delivered(sinks["d"], d_rcpts), 40)
    sc, sd = sinks["c"], sinks["d"]
    got = sc.delivered_rcpts()
    t.ok(sorted(got) == sorted(c_rcpts), "(c) all 85 messages to c.test "
         "delivered", sorted(set(c_rcpts) - set(got)))
    ts = times(sc)
    # the first messages are the start (a burst of at most 1 token at 5/s)
    steady = ts[5:]
    r = rate(steady)
    t.ok(r is not None and 4.5 <= r <= 5.5,
         "(c) max-msg-rate 5/s: measured %s msg/s (within 10%%)"
         % ("%.3f" % r if r else None))
    if steady:
        t.diag("(c) c.test: %d messages in %.2f s after the first 5: "
               "%.3f msg/s" % (len(steady), steady[-1] - steady[0],
                               r or 0))
    lim = limit(tern, "c.test/mta1", "max-msg-rate")
    t.ok(lim and str(lim.get("value")).startswith("5/") and
         lim.get("from") == "domains.c.test",
         "(c) show shaping: c.test/mta1 max-msg-rate 5/... from "
         "domains.c.test", lim)

    got = sd.delivered_rcpts()
    t.ok(sorted(got) == sorted(d_rcpts), "(d) all 60 messages to d1.test "
         "and d2.test delivered via rate5", sorted(set(d_rcpts) - set(got)))
    msgs = sorted(sd.delivered(), key=lambda m: m["t"])[5:]
    r = rate([m["t"] for m in msgs])
    t.ok(r is not None and 4.5 <= r <= 5.5,
         "(d) VirtualMTA rate5 max-msg-rate 5/s: both domains together at "
         "%s msg/s (within 10%%)" % ("%.3f" % r if r else None))
    doms = set(m["rcpts"][0].split("@")[1] for m in msgs)
    t.is_(doms, {"d1.test", "d2.test"}, "(d) both domains were sending "
          "during the measurement")
    if msgs:
        t.diag("(d) d1+d2: %d messages in %.2f s after the first 5: "
               "%.3f msg/s" % (len(msgs), msgs[-1]["t"] - msgs[0]["t"],
                               r or 0))

    # === (e) reload 5/s -> 10/s while mail flows ==========================
    se = sinks["e"]
    e_rcpts = ["e%03d@e.test" % i for i in range(100)]
    send(tern.port, e_rcpts)
    ok = until(lambda: len(se.delivered()) >= 30, 20)
    t.ok(ok, "(e) 30 of 100 messages delivered at 5/s")
    tern.domains = domains("10/s")
    tern.write_config()
    r0 = time.time()
    rc, out, err = ctl(tern, "reload", timeout=20)
    r1 = time.time()
    t.is_(rc, 0, "(e) reload with e.test max-msg-rate 10/s")
    until(lambda: all_delivered(se, e_rcpts), 30)
    ts = times(se)
    before = [x for x in ts if x < r0][3:]
    after = [x for x in ts if x >= r1 + 1.0]   # a second to take effect
    rb, ra = rate(before), rate(after)
    t.diag("(e) before the reload: %d messages in %.2f s: %s msg/s; after: "
           "%d messages in %.2f s: %s msg/s"
           % (len(before), before[-1] - before[0] if before else 0,
              "%.3f" % rb if rb else None, len(after),
              after[-1] - after[0] if after else 0,
              "%.3f" % ra if ra else None))
    t.ok(rb is not None and 4.5 <= rb <= 5.5,
         "(e) before the reload: 5/s (within 10%)")
    t.ok(ra is not None and 9.0 <= ra <= 11.0 and len(after) >= 20,
         "(e) after the reload: 10/s (within 10%, over >= 20 messages)")
    lim = limit(tern, "e.test/mta1", "max-msg-rate")
    t.ok(lim and str(lim.get("value")).startswith("10/"),
         "(e) show shaping: e.test/mta1 max-msg-rate is now 10/...", lim)
    got = se.delivered_rcpts()
    t.ok(sorted(got) == sorted(e_rcpts), "(e) every message delivered, "
         "none lost across the reload", sorted(set(e_rcpts) - set(got)))
    dup = {k: v for k, v in got.items() if v > 1}
    if dup:
        t.diag("(e) delivered more than once: %r" % dup)
    cut = [e for e in se.events("close") if e.get("aborted")]
    t.ok(not cut, "(e) no connection closed in the middle of a transaction "
         "(%d connections)" % len(se.events("connect")), cut)
    t.diag("whole file so far: %.1f s" % (time.time() - START))
t.done()
