#!/usr/bin/python3
# 83-shape-warmup.t - the warm-up of a VirtualMTA: on day 1 of schedule
# [5, 8, 100] exactly 5 of 12 messages to one domain go out and 7 are
# held (not bounced, not tried); a reload that moves `start` one day back
# makes it day 2 (volume 8) and, after `tern resume queue`, the 7 go; on
# day 3 a sink refusing most recipients with 550 5.7.1 pauses the ramp
# once 5xx outcomes pass pause-bounce-rate 20% of pause-min-sample 5
# outcomes: later mail is held until `tern resume queue`.  `tern show
# shaping --json` shows the day, volume, sent count and pause all along.
# The bounce check is made inside the schedule (day 3, volume 100), not
# after it: shaperd(8) says a finished warm-up sets no limit, not that
# its ramp is still judged.
#
# Time is simulated by the start date (day 1 is the UTC date of today);
# a run that crosses 00:00 UTC may fail.  The domain is routed (`route`)
# to a scriptable SMTP sink (t/lib/sink.py) on 127.0.0.x; nothing leaves
# loopback.  The built-in provider rules are off (smtp-pattern-builtin:
# no) so that no rule acts on the 550s besides the warm-up.
import datetime
import functools
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, acct_rows, free_port_on  # noqa
from sinklib import Sink  # noqa
import shapelib  # noqa
from shapelib import (START, Run, ctl, exit_on_sigterm,  # noqa
                      never, sq, tried, until)

# one message per recipient, all over one SMTP session, through the
# warm-up VirtualMTA
send = functools.partial(shapelib.send, vmta="warm", subject="warm")


def warmup(tern):
    return sq(tern, QUEUE).get("warmup") or {}


def rows_for(tern, rcpt):
    return [r for r in acct_rows(tern) if r["rcpt"] == rcpt]


exit_on_sigterm()

t = TAP()
tmp = tempfile.mkdtemp(prefix="tern-t83-")
W = "127.0.0.10"
P = free_port_on([W])
QUEUE = "w.test/warm"
TODAY = datetime.datetime.now(datetime.timezone.utc).date()


def vmtas(day):
    """The VirtualMTAs, with warm's ramp on day `day` today."""
    start = (TODAY - datetime.timedelta(days=day - 1)).isoformat()
    return ('  mta1: { smtp-source-host: "127.0.0.1 mta1.test.example" }\n'
            '  mta2: { smtp-source-host: "127.0.0.2 mta2.test.example" }\n'
            '  warm:\n'
            '    smtp-source-host: "127.0.0.3 warm.test.example"\n'
            '    warmup:\n'
            '      start: %s\n'
            '      schedule: [5, 8, 100]\n'
            '      pause-bounce-rate: 20%%\n'
            '      pause-min-sample: 5\n' % start)


DOMAINS = ('  "*": { retry-after: 1s, bounce-after: 10m,'
           ' connection-idle-timeout: 0, route: "[%s]:%d" }\n' % (W, P))
EXTRA = "smtp-pattern-builtin: no\n"

sink = Sink(tmp, W, P, name="warm")
with Run(t, tmp, sink) as run:
    sink.start()
    tern = run.start(Tern(domains=DOMAINS, vmtas=vmtas(1), extra=EXTRA))

    # === day 1: volume 5 ==================================================
    day1 = ["w%02d@w.test" % i for i in range(12)]
    send(tern.port, day1)
    until(lambda: len(sink.delivered()) >= 5, 15)
    # no sixth, however long we wait (held until 00:00 UTC)
    t.ok(never(lambda: len(sink.delivered()) > 5, 3.0) and
         len(sink.delivered()) == 5,
         "day 1 (volume 5): exactly 5 of 12 messages delivered",
         sorted(sink.delivered_rcpts()))
    t.is_(len(sink.events("rcpt")), 5, "day 1: no transaction started for "
          "the other 7")
    w = warmup(tern)
    t.ok(w.get("day") == 1 and w.get("volume") == 5 and w.get("sent") == 5,
         "show shaping w.test/warm: warmup day 1, volume 5, sent 5", w)
    t.ok(w.get("paused") is False, "day 1: the ramp is not paused", w)
    q = (tern.queues() or {}).get(QUEUE, {})
    t.ok(q.get("rcpts") == 7 and not [r for r in acct_rows(tern)
                                      if r["type"] == "b"],
         "day 1: the 7 others are held in the queue, none bounced", q)

    # === day 2: volume 8 ==================================================
    tern.vmtas = vmtas(2)
    tern.write_config()
    rc, out, err = ctl(tern, "reload", timeout=20)
    t.is_(rc, 0, "reload with start one day earlier (day 2)")
    # Mail over the day's volume is held until 00:00 UTC (shaperd(8),
    # Held mail); a reload does not offer it again, `tern resume queue`
    # does ("held mail goes at once"), so ask for it rather than wait.
    rc, out, err = ctl(tern, "resume", "queue", QUEUE)
    t.is_(rc, 0, "tern resume queue %s" % QUEUE)
    ok = until(lambda: len(sink.delivered()) >= 12, 10)
    got = sink.delivered_rcpts()
    t.ok(ok and sorted(got) == day1 and set(got.values()) == {1},
         "day 2 (volume 8): the 7 held messages are delivered, each once",
         got)
    w = warmup(tern)
    t.ok(w.get("day") == 2 and w.get("volume") == 8 and w.get("sent") == 7,
         "show shaping: warmup day 2, volume 8, sent 7 (a new day counts "
         "from 0)", w)

    # === day 3: 5xx share over 20% pauses the ramp ========================
    sink.set({"rcpt": {"^bad": "550 5.7.1 rejected by policy"}})
    tern.vmtas = vmtas(3)
    tern.write_config()
    rc, out, err = ctl(tern, "reload", timeout=20)
    t.is_(rc, 0, "reload with start two days earlier (day 3, volume 100)")
    until(lambda: warmup(tern).get("day") == 3, 5)
    # exactly pause-min-sample messages: the ramp is judged at the 5th
    # outcome, when all five have been tried, so none of them is held
    day3 = ["bad1@w.test", "ok1@w.test", "bad2@w.test", "bad3@w.test",
            "bad4@w.test"]
    send(tern.port, day3)
    ok = until(lambda: warmup(tern).get("paused") is True, 15)
    w = warmup(tern)
    t.ok(ok, "day 3: 550s for most recipients pause the ramp "
         "(warmup.paused)", w)
    t.ok(w.get("day") == 3 and w.get("outcomes") == 5 and
         (w.get("bounced") or 0) > 0.2 * (w.get("outcomes") or 0) and
         w.get("pause_reason"),
         "show shaping: 5 outcomes (pause-min-sample), over 20% of them "
         "5xx, and a pause_reason", w)
    t.diag("day 3 warm-up when paused: %r" % (w,))
    send(tern.port, ["later1@w.test"])
    t.ok(never(lambda: tried(sink, "later1@w.test") or
               rows_for(tern, "later1@w.test"), 4.0),
         "paused ramp: a later message is held, not tried, not bounced "
         "(4 s)", (tried(sink, "later1@w.test"),
                   rows_for(tern, "later1@w.test")))
    t.is_(warmup(tern).get("paused"), True, "still paused while mail waits")
    rc, out, err = ctl(tern, "resume", "queue", QUEUE)
    t.is_(rc, 0, "tern resume queue %s" % QUEUE)
    ok = until(lambda: "later1@w.test" in sink.delivered_rcpts(), 10)
    t.ok(ok, "resumed: the held message is delivered",
         (tried(sink, "later1@w.test"), warmup(tern)))
    bounced = set(r["rcpt"] for r in acct_rows(tern) if r["type"] == "b")
    t.ok(bounced <= set(r for r in day3 if r.startswith("bad")),
         "only the refused recipients bounced", sorted(bounced))
    t.diag("whole file: %.1f s" % (time.time() - START))
t.done()
