#!/usr/bin/python3
# 81-shape-rollup.t - MX rollup: two domains whose MX host names are the
# same (auto-mx-rollup) share one shaping queue, named after the hosts
# joined by "," - one connection at most to both with `domains: "*":
# {max-smtp-out: 1}`, one key in `tern show queues` (ROLLUP) and `tern
# show shaping` - while a third domain with other MX hosts keeps its own
# queue and connection; an explicit `mx-rollup` glob names the rollup
# (test.rollup), whose limits come from `domains: test.rollup:`.
#
# Routing is by MX through the fake DNS server (t/lib/dnsfake.py), the
# sinks' port set by default-smtp-port in "*" (rollup applies only to
# MX-routed domains, not to `route`); the sinks (t/lib/sink.py) are on
# 127.0.0.x, nothing leaves loopback.
import functools
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, free_port_on  # noqa
from dnsfake import DNSFake  # noqa
from sinklib import Sink  # noqa
import shapelib  # noqa
from shapelib import (START, Run, all_delivered, ctl,  # noqa
                      exit_on_sigterm, shaping, until)

send = functools.partial(shapelib.send, subject="rollup")


def queue_rows(tern):
    """The rows of `tern --json show queues` ([] on error)."""
    rc, out, err = ctl(tern, "--json", "show", "queues")
    try:
        return json.loads(out)["queues"] if rc == 0 else []
    except (ValueError, KeyError):
        return []


def rollup_of(rows, domain, vmta="mta1"):
    """The ROLLUP of queued's queue DOMAIN/VMTA in show queues (queued
    keeps a queue per domain; shaperd(8))."""
    for q in rows:
        if q.get("queue") == "%s/%s" % (domain, vmta):
            return q.get("rollup")
    return None


exit_on_sigterm()

t = TAP()
tmp = tempfile.mkdtemp(prefix="tern-t81-")
SHARED, OTHER, ROLL = "127.0.0.5", "127.0.0.6", "127.0.0.7"
P = free_port_on([SHARED, OTHER, ROLL])
KEY = "mx1.shared.test,mx2.shared.test"     # the MX hosts, by preference

RECORDS = {
    "mx": {
        "a.test": [[10, "mx1.shared.test"], [20, "mx2.shared.test"]],
        "b.test": [[10, "mx1.shared.test"], [20, "mx2.shared.test"]],
        "c.test": [[10, "mx.other.test"]],
        # different host sets: only the mx-rollup glob joins them
        "d.test": [[10, "mx1.rollup.test"]],
        "e.test": [[10, "mx2.rollup.test"], [20, "mx3.rollup.test"]],
    },
    "a": {
        "mx1.shared.test": [SHARED],
        "mx2.shared.test": [SHARED],
        "mx.other.test": [OTHER],
        "mx1.rollup.test": [ROLL],
        "mx2.rollup.test": [ROLL],
        "mx3.rollup.test": [ROLL],
    },
}
DOMAINS = ('  "*": { default-smtp-port: %d, max-smtp-out: 1, retry-after: 1s,'
           ' bounce-after: 10m, connection-idle-timeout: 0,'
           ' connect-timeout: 5s }\n'
           '  test.rollup: { max-smtp-out: 2 }\n' % P)
EXTRA = ('auto-mx-rollup: yes\n'
         'mx-rollup:\n'
         '  "mx*.rollup.test": test.rollup\n')

dns = DNSFake(RECORDS, dir=tmp)
sinks = {
    # each message held 0.5 s before the 250: the connection stays busy
    "shared": Sink(tmp, SHARED, P, {"dot_delay": 0.5}, name="shared"),
    "other": Sink(tmp, OTHER, P, name="other"),
    "roll": Sink(tmp, ROLL, P, {"dot_delay": 0.5}, name="roll"),
}
with Run(t, tmp, *sinks.values(), dns) as run:
    dns.start()
    for s in sinks.values():
        s.start()
    tern = run.start(Tern(domains=DOMAINS, dns_port=dns.port, extra=EXTRA))
    ss, so, sr = sinks["shared"], sinks["other"], sinks["roll"]

    # === automatic rollup: a.test + b.test, and c.test on its own =========
    ab = [r for i in range(5) for r in ("a%d@a.test" % i, "b%d@b.test" % i)]
    cc = ["c0@c.test", "c1@c.test"]
    send(tern.port, ab)
    send(tern.port, cc)
    # look while the rollup's one connection works through its 10 messages,
    # once each domain has had a delivery (its MX, so its rollup, is known)
    until(lambda: {"a.test", "b.test"} <= set(
        r.split("@")[1] for r in ss.delivered_rcpts()) and
        all_delivered(so, cc), 15)
    rows = queue_rows(tern)
    sh = shaping(tern, "*/mta1") or []
    one = shaping(tern, "a.test/mta1") or []
    rc, qtext, err = ctl(tern, "show", "queues")
    rc2, stext, err2 = ctl(tern, "show", "shaping", "*/mta1")
    until(lambda: all_delivered(ss, ab), 20)

    t.ok(rollup_of(rows, "a.test") == KEY and
         rollup_of(rows, "b.test") == KEY,
         "show queues --json: a.test/mta1 and b.test/mta1 both in rollup "
         "%s" % KEY, [(q.get("queue"), q.get("rollup")) for q in rows])
    t.ok(rollup_of(rows, "c.test") != KEY,
         "show queues --json: c.test/mta1 is not in that rollup",
         [(q.get("queue"), q.get("rollup")) for q in rows])
    t.ok(rc == 0 and KEY in qtext, "show queues (text) shows the rollup "
         "name", qtext + err)
    ab_q = [q for q in sh if set(q.get("domains", [])) & {"a.test",
                                                          "b.test"}]
    t.ok(len(ab_q) == 1 and ab_q[0].get("key") == KEY and
         ab_q[0].get("queue") == KEY + "/mta1" and
         ab_q[0].get("vmta") == "mta1" and
         {"a.test", "b.test"} <= set(ab_q[0].get("domains", [])),
         "show shaping --json */mta1: one shaping queue %s/mta1 holding "
         "a.test and b.test" % KEY, sh)
    t.ok(not [q for q in sh if q.get("key") in ("a.test", "b.test")],
         "show shaping: no queue of its own for a.test or b.test",
         [q.get("queue") for q in sh])
    c_q = [q for q in sh if "c.test" in q.get("domains", [])]
    t.ok(len(c_q) == 1 and c_q[0].get("key") != KEY,
         "show shaping: c.test (other MX hosts) has a queue of its own",
         [(q.get("queue"), q.get("domains")) for q in sh])
    t.ok(len(one) == 1 and one[0].get("key") == KEY,
         "show shaping a.test/mta1: the selector's domain finds the rollup "
         "queue it is in", one)
    lim = (ab_q[0].get("limits", {}).get("max-smtp-out")
           if len(ab_q) == 1 else None)
    t.ok(lim and lim.get("value") == 1 and lim.get("from") == "domains.*",
         "the rollup queue's max-smtp-out is 1, from domains.*", lim)
    t.ok(rc2 == 0 and KEY in stext, "show shaping (text) names the rollup",
         stext + err2)

    got = ss.delivered_rcpts()
    t.ok(sorted(got) == sorted(ab), "all 10 messages to a.test and b.test "
         "delivered", sorted(set(ab) - set(got)))
    mc = ss.max_concurrent()
    t.ok(mc == 1, "max-smtp-out 1 holds for a.test and b.test together: "
         "never more than 1 connection at once (max %d over %d)"
         % (mc, len(ss.events("connect"))))
    conns = sorted(set(m["conn"] for m in ss.delivered()))
    t.diag("rollup: %d messages over %d connection(s)" % (len(got),
                                                           len(conns)))
    got_c = so.delivered_rcpts()
    t.ok(sorted(got_c) == cc, "c.test delivered", got_c)
    ts_ab = sorted(m["t"] for m in ss.delivered())
    ts_c = sorted(m["t"] for m in so.delivered())
    t.ok(ts_ab and ts_c and ts_c[-1] < ts_ab[-1] - 1.0,
         "c.test did not wait behind the rollup's connection (its own "
         "connection while the rollup's was busy)",
         (ts_c, ts_ab[-1:] if ts_ab else None))

    # === mx-rollup "mx*.rollup.test": test.rollup =========================
    de = [r for i in range(4) for r in ("d%d@d.test" % i, "e%d@e.test" % i)]
    send(tern.port, de)
    until(lambda: {"d.test", "e.test"} <= set(
        r.split("@")[1] for r in sr.delivered_rcpts()), 15)
    sd = shaping(tern, "d.test/mta1") or []
    se = shaping(tern, "e.test/mta1") or []
    rows = queue_rows(tern)
    until(lambda: all_delivered(sr, de), 20)
    t.ok(len(sd) == 1 and sd[0].get("key") == "test.rollup" and
         sd[0].get("queue") == "test.rollup/mta1" and
         "d.test" in sd[0].get("domains", []),
         "mx-rollup: d.test (MX mx1.rollup.test) is in test.rollup/mta1", sd)
    t.ok(len(se) == 1 and se[0].get("key") == "test.rollup",
         "mx-rollup: e.test (MX mx2.rollup.test, mx3.rollup.test) too", se)
    lim = sd[0].get("limits", {}).get("max-smtp-out") if sd else None
    t.ok(lim and lim.get("value") == 2 and
         lim.get("from") == "domains.test.rollup",
         "test.rollup's max-smtp-out is 2, from domains.test.rollup (not 1 "
         "from \"*\")", lim)
    t.ok(rollup_of(rows, "d.test") == "test.rollup" and
         rollup_of(rows, "e.test") == "test.rollup",
         "show queues: d.test/mta1 and e.test/mta1 in rollup test.rollup",
         [(q.get("queue"), q.get("rollup")) for q in rows])
    got = sr.delivered_rcpts()
    t.ok(sorted(got) == sorted(de), "all 8 messages to d.test and e.test "
         "delivered", sorted(set(de) - set(got)))
    mc = sr.max_concurrent()
    t.ok(0 < mc <= 2, "test.rollup's max-smtp-out 2 holds for both "
         "domains together (max %d)" % mc)
    t.diag("whole file: %.1f s" % (time.time() - START))
t.done()
