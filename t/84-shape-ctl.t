#!/usr/bin/python3
# 84-shape-ctl.t - the tern commands of traffic shaping, with mail queued
# to several domains on two VirtualMTAs (a sink answers 451, so it stays
# queued): `show topqueues` (busiest first, --maxitems), `show vmtas`
# (every VirtualMTA), `show domains` (summed over VirtualMTAs, PATTERN),
# `show shaping` and `show queues` with the selectors */mta1, gmail.test/*
# and */*, in text and --json; a bad selector (an empty DOMAIN or VMTA)
# and an unknown mode are refused (non-zero exit, a message).  A pause
# survives a SIGKILL of shaperd (ternd restarts it; the state snapshot
# is in the spool), and no mail is lost when shaperd is killed while
# messages flow.
#
# Each domain is routed (`route`) to a scriptable SMTP sink
# (t/lib/sink.py) on 127.0.0.x; nothing leaves loopback.  The JSON of
# topqueues, vmtas and domains is read leniently (the list in the reply,
# "rcpts" or "recipients"): the design fixes only show shaping's.
import functools
import json
import os
import smtplib
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, free_port_on  # noqa
from sinklib import Sink  # noqa
import shapelib  # noqa
from shapelib import (START, Run, ctl, exit_on_sigterm,  # noqa
                      shaping, sq, until)

# one message to rcpts (a list), through vmta if given
send = functools.partial(shapelib.send_one, subject="ctl")


def ctl_json(tern, *args):
    """(rc, the list of rows in the --json reply, raw output)."""
    rc, out, err = ctl(tern, "--json", *args)
    try:
        return rc, rows_of(json.loads(out)), out + err
    except ValueError:
        return rc, None, out + err


def rows_of(obj):
    """The rows of a JSON reply: the list itself, or the list under a
    known key, or the only list of objects in the reply object."""
    if isinstance(obj, list):
        return [r for r in obj if isinstance(r, dict)]
    if not isinstance(obj, dict):
        return None
    for k in ("queues", "topqueues", "vmtas", "domains", "items"):
        if isinstance(obj.get(k), list):
            return rows_of(obj[k])
    lists = [v for v in obj.values() if isinstance(v, list)]
    return rows_of(lists[0]) if len(lists) == 1 else None


def num(row, *names):
    for n in names:
        if n in row:
            return row[n]
    return None


def names_in(v):
    """A set of names from a list, an object or a comma/space list."""
    if isinstance(v, (list, dict)):
        return set(v)
    return set(str(v or "").replace(",", " ").split())


def kill_shaperd(tern):
    """SIGKILL shaperd; True once ternd has started a new one that
    answers tern(1)."""
    old = set(tern.pids("shaperd"))
    if not old or tern.kill("shaperd") < 1:
        return False
    return bool(until(lambda: (set(tern.pids("shaperd")) - old) and
                      shaping(tern, "*/*") is not None, 15))


exit_on_sigterm()

t = TAP()
tmp = tempfile.mkdtemp(prefix="tern-t84-")
SLOW, LIVE = "127.0.0.10", "127.0.0.11"
P = free_port_on([SLOW, LIVE])
VMTAS = ('  mta1: { smtp-source-host: "127.0.0.1 mta1.test.example" }\n'
         '  mta2: { smtp-source-host: "127.0.0.2 mta2.test.example" }\n'
         '  mta3: { smtp-source-host: "127.0.0.3 mta3.test.example" }\n')
DOMAINS = ('  "*": { retry-after: 10m, bounce-after: 1d,'
           ' connection-idle-timeout: 0, route: "[%s]:%d" }\n' % (SLOW, P) +
           '  live.test: { retry-after: 1s, route: "[%s]:%d" }\n'
           % (LIVE, P))
EXTRA = "smtp-pattern-builtin: no\n"
# busiest first: recipients per queue
ORDER = ["gmail.test/mta1", "hotmail.test/mta2", "yahoo.test/mta1",
         "gmail.test/mta2", "other.test/mta1"]
RCPTS = {"gmail.test/mta1": 6, "hotmail.test/mta2": 4,
         "yahoo.test/mta1": 3, "gmail.test/mta2": 2, "other.test/mta1": 1}

slow = Sink(tmp, SLOW, P, {"rcpt": {".": "451 4.2.0 try later"}},
            name="slow")
live = Sink(tmp, LIVE, P, name="live")
with Run(t, tmp, slow, live) as run:
    slow.start()
    live.start()
    tern = run.start(Tern(domains=DOMAINS, vmtas=VMTAS, extra=EXTRA))
    t.ok(until(lambda: tern.pids("shaperd"), 10),
         "shaperd runs, a child of ternd")

    # --- queue mail that stays: 16 recipients in 5 queues -----------------
    send(tern.port, ["g1@gmail.test", "g2@gmail.test", "g3@gmail.test"],
         "mta1")
    for i in range(4, 7):
        send(tern.port, ["g%d@gmail.test" % i], "mta1")
    for i in range(4):
        send(tern.port, ["h%d@hotmail.test" % i], "mta2")
    for i in range(3):
        send(tern.port, ["y%d@yahoo.test" % i], "mta1")
    for i in range(2):
        send(tern.port, ["m%d@gmail.test" % i], "mta2")
    send(tern.port, ["o1@other.test"], "mta1")
    ok = until(lambda: all((tern.queues() or {}).get(q, {}).get("deferred")
                           == n for q, n in RCPTS.items()), 20)
    t.ok(ok, "16 recipients in 5 queues, all deferred by the 451 sink",
         tern.queues())

    # --- show topqueues ---------------------------------------------------
    rc, rows, raw = ctl_json(tern, "show", "topqueues")
    got = [(r.get("queue"), num(r, "rcpts", "recipients"))
           for r in rows or []]
    t.ok(rc == 0 and got[:5] == [(q, RCPTS[q]) for q in ORDER],
         "show topqueues --json: the 5 queues by recipients, descending",
         raw)
    rc, rows, raw = ctl_json(tern, "show", "topqueues", "--maxitems=2")
    t.ok(rc == 0 and [r.get("queue") for r in rows or []] == ORDER[:2],
         "show topqueues --maxitems=2 --json: the 2 busiest only", raw)
    rc, out, err = ctl(tern, "show", "topqueues")
    pos = [out.find(q) for q in ORDER]
    t.ok(rc == 0 and min(pos) >= 0 and pos == sorted(pos),
         "show topqueues (text): the 5 queues, busiest first", out + err)
    rc, out, err = ctl(tern, "show", "topqueues", "--maxitems=2")
    t.ok(rc == 0 and all(q in out for q in ORDER[:2]) and
         not any(q in out for q in ORDER[2:]),
         "show topqueues --maxitems=2 (text): the 2 busiest only",
         out + err)

    # --- show vmtas -------------------------------------------------------
    rc, rows, raw = ctl_json(tern, "show", "vmtas")
    vm = {num(r, "vmta", "name"): r for r in rows or []}
    t.ok(rc == 0 and {"mta1", "mta2", "mta3"} <= set(vm),
         "show vmtas --json: every VirtualMTA, mta3 without mail too", raw)
    t.ok([num(vm.get(v, {}), "rcpts", "recipients")
          for v in ("mta1", "mta2", "mta3")] == [10, 6, 0],
         "show vmtas --json: recipients per VirtualMTA 10, 6, 0", raw)
    rc, out, err = ctl(tern, "show", "vmtas")
    t.ok(rc == 0 and all(v in out for v in ("mta1", "mta2", "mta3")),
         "show vmtas (text) lists mta1, mta2, mta3", out + err)

    # --- show domains -----------------------------------------------------
    rc, rows, raw = ctl_json(tern, "show", "domains")
    dm = {num(r, "domain", "name"): r for r in rows or []}
    g = dm.get("gmail.test", {})
    t.ok(rc == 0 and num(g, "rcpts", "recipients") == 8 and
         num(g, "messages", "msgs") == 6 and
         {"mta1", "mta2"} <= names_in(g.get("vmtas")),
         "show domains --json: gmail.test summed over mta1 and mta2 (8 "
         "recipients, 6 messages)", raw)
    t.ok(num(dm.get("yahoo.test", {}), "rcpts", "recipients") == 3 and
         num(dm.get("hotmail.test", {}), "rcpts", "recipients") == 4 and
         num(dm.get("other.test", {}), "rcpts", "recipients") == 1,
         "show domains --json: yahoo.test 3, hotmail.test 4, other.test 1",
         raw)
    rc, rows, raw = ctl_json(tern, "show", "domains", "gmail*")
    t.ok(rc == 0 and [num(r, "domain", "name") for r in rows or []] ==
         ["gmail.test"], "show domains gmail* --json: gmail.test only", raw)
    rc, out, err = ctl(tern, "show", "domains")
    t.ok(rc == 0 and all(d in out for d in ("gmail.test", "hotmail.test",
                                            "yahoo.test", "other.test")),
         "show domains (text) lists the four domains", out + err)

    # --- selectors --------------------------------------------------------
    sh = shaping(tern, "*/mta1")
    qs = set(q.get("queue") for q in sh or [])
    t.ok(sh and {"gmail.test/mta1", "yahoo.test/mta1", "other.test/mta1"}
         <= qs and all(q.get("vmta") == "mta1" for q in sh),
         "show shaping */mta1: the mta1 queues, no other", sorted(qs))
    sh = shaping(tern, "gmail.test/*")
    qs = set(q.get("queue") for q in sh or [])
    t.ok(sh and {"gmail.test/mta1", "gmail.test/mta2"} <= qs and
         all(q.get("key") == "gmail.test" for q in sh),
         "show shaping gmail.test/*: gmail.test on mta1 and mta2, no other",
         sorted(qs))
    sh = shaping(tern, "*/*")
    qs = set(q.get("queue") for q in sh or [])
    t.ok(set(ORDER) <= qs, "show shaping */*: every queue", sorted(qs))
    rc, out, err = ctl(tern, "show", "shaping", "*/mta1")
    t.ok(rc == 0 and "gmail.test/mta1" in out and
         "gmail.test/mta2" not in out and "hotmail.test" not in out,
         "show shaping */mta1 (text)", out + err)
    rc, out, err = ctl(tern, "--json", "show", "queues", "gmail.test/*")
    try:
        qn = sorted(q["queue"] for q in json.loads(out)["queues"])
    except (ValueError, KeyError, TypeError):
        qn = None
    t.is_(qn, ["gmail.test/mta1", "gmail.test/mta2"],
          "show queues gmail.test/* --json: the two gmail.test queues")

    # --- refusals ---------------------------------------------------------
    # DOMAIN/VMTA with an empty part: bad whatever the wildcards
    for args in (("show", "shaping", "gmail.test/"),
                 ("pause", "queue", "/mta1")):
        rc, out, err = ctl(tern, *args)
        t.ok(rc not in (0, None) and (out + err).strip(),
             "tern %s: bad selector refused with a message" % " ".join(args),
             (rc, out, err))
    rc, out, err = ctl(tern, "set", "queue", "--mode=turbo",
                       "gmail.test/mta1")
    t.ok(rc not in (0, None) and (out + err).strip(),
         "tern set queue --mode=turbo: unknown mode refused with a message",
         (rc, out, err))
    t.is_(sq(tern, "gmail.test/mta1").get("mode"), "normal",
          "... and gmail.test/mta1 is still in normal mode")

    # --- a pause survives a restart of shaperd ----------------------------
    rc, out, err = ctl(tern, "pause", "queue", "yahoo.test/mta1")
    t.is_(rc, 0, "tern pause queue yahoo.test/mta1")
    t.is_(sq(tern, "yahoo.test/mta1").get("paused"), True,
          "show shaping: yahoo.test/mta1 paused")
    time.sleep(4.5)     # the snapshot is written every 2 s when changed
    t.ok(kill_shaperd(tern), "SIGKILL to shaperd: ternd starts a new one, "
         "which answers")
    q = sq(tern, "yahoo.test/mta1")
    t.is_(q.get("paused"), True, "show shaping: yahoo.test/mta1 still "
          "paused after the restart")
    # (a queue with nothing to keep may be unknown to the new shaperd
    # until mail goes to it: not listed is not paused either)
    t.ok(sq(tern, "gmail.test/mta1").get("paused") is not True,
         "... and gmail.test/mta1 is not", sq(tern, "gmail.test/mta1"))

    # --- no mail lost when shaperd dies while mail flows ------------------
    lrcpts = ["l%02d@live.test" % i for i in range(30)]
    errors = []

    def inject():
        try:
            s = smtplib.SMTP("127.0.0.1", tern.port, timeout=30)
            for r in lrcpts:
                s.sendmail("s@src.test", [r], "Subject: live %s\r\n\r\n"
                           "x\r\n" % r)
                time.sleep(0.1)
            s.quit()
        except Exception as e:
            errors.append(repr(e))

    th = threading.Thread(target=inject)
    th.start()
    time.sleep(1.5)
    restarted = kill_shaperd(tern)
    th.join(30)
    t.ok(restarted and not errors, "shaperd killed while 30 messages are "
         "injected (1 every 0.1 s); restarted", errors)
    ok = until(lambda: all(r in live.delivered_rcpts() for r in lrcpts), 30)
    got = live.delivered_rcpts()
    t.ok(ok, "every message injected around the kill is delivered (%d of "
         "30)" % len([r for r in lrcpts if r in got]),
         sorted(set(lrcpts) - set(got)))
    dup = {k: v for k, v in got.items() if v > 1}
    if dup:
        t.diag("delivered more than once: %r" % dup)
    t.is_(sq(tern, "yahoo.test/mta1").get("paused"), True,
          "yahoo.test/mta1 still paused after the second restart")
    t.diag("whole file: %.1f s" % (time.time() - START))
t.done()
