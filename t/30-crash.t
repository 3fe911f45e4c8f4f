#!/usr/bin/python3
# 30-crash.t - no acknowledged message is ever lost.  Several clients
# inject thousands of messages while queued and smtpd are killed with
# SIGKILL at random moments; afterwards every message that got a 250 is
# in the spool, whole.  Then ternd and every daemon are killed at once and
# ternd must start again cleanly over the stale pid file and sockets.
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, RawLoad, Tern, parse_queue_file, wait_for  # noqa

TARGET = int(os.environ.get("TERN_CRASH_MSGS", "2500"))
CLIENTS = 8
DEADLINE = 60

t = TAP()
tern = Tern()
tern.start()
# two messages per connection, pipelined envelope
load = RawLoad("MAIL FROM:<s@crash.test>\r\nRCPT TO:<r{n}@a.example>\r\n"
               "RCPT TO:<r@b.example>\r\nDATA\r\n",
               filler=b"x", sizes=(100, 4000))
acked = load.acked    # queue id -> token
stats = load.stats
kills = {"queued": 0, "smtpd": 0}


def killer():
    while not load.stop.is_set():
        time.sleep(random.uniform(0.3, 1.0))
        name = random.choice(["queued", "smtpd"])
        kills[name] += tern.kill(name)
    stats["kills"] = dict(kills)


def check_spool(label):
    files = tern.spool_files()
    missing = [i for i in acked if i not in files]
    t.is_(missing, [], "%s: every acknowledged message is in the spool "
          "(%d acknowledged)" % (label, len(acked)))
    bad = []
    tokens = {}
    for qid, path in files.items():
        try:
            recs, body = parse_queue_file(path)
            subj = body.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0]
            tokens.setdefault(subj.decode(), []).append(qid)
        except Exception as e:
            bad.append((qid, str(e)))
    t.is_(bad, [], "%s: every spool file is whole (V ... Z)" % label)
    extra = len(files) - len(acked)
    dups = sum(len(v) - 1 for v in tokens.values() if len(v) > 1)
    t.ok(extra >= 0, "%s: %d messages queued without a 250 reaching the "
         "client (duplicates if retried), %d duplicate tokens" %
         (label, extra, dups))
    t.is_(tern.tmp_files(), [], "%s: tmp/ is empty after recovery" % label)
    st = tern.status()
    t.ok(st and st["queued"]["corrupt"] == 0, "%s: nothing quarantined"
         % label, st and st["queued"])
    return files


try:
    load.start(tern.port, CLIENTS)
    k = threading.Thread(target=killer)
    k.start()
    wait_for(lambda: len(acked) >= TARGET and min(kills.values()) >= 5,
             DEADLINE, 0.2)
    load.join()             # the killer stops with the clients
    k.join(10)
    t.diag("acknowledged %d, attempts %d, client errors %d, kills %r" %
           (len(acked), stats["attempts"], stats["errors"],
            stats.get("kills")))
    t.ok(len(acked) >= min(TARGET, 500), "load ran: %d messages "
         "acknowledged under SIGKILLs" % len(acked))
    t.ok(sum(stats.get("kills", {}).values()) >= 5, "daemons were killed "
         "repeatedly", stats.get("kills"))
    wait_for(lambda: tern.ready(), 15)
    rc = tern.stop()
    t.is_(rc, 0, "ternd stops cleanly after the storm")
    tern.start()
    check_spool("after SIGKILLs of queued and smtpd")

    # Phase 2: everything killed at once, mid-stream.
    load.start(tern.port, 4, first=100)
    time.sleep(1.5)
    victims = [tern.proc.pid] + tern.pids("queued") + tern.pids("smtpd")
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    tern.proc.wait(5)
    load.join()
    time.sleep(0.2)
    t.ok(os.path.exists(os.path.join(tern.run, "ternd.pid")) and
         os.path.exists(os.path.join(tern.run, "queued.sock")),
         "stale pid file and socket are left behind")
    tern.proc = None
    try:
        tern.start()
        started = True
    except RuntimeError as e:
        started = False
        t.diag(str(e)[-3000:])
    t.ok(started, "ternd starts again over stale pid file and sockets")
    if started:
        check_spool("after SIGKILL of ternd and every daemon")
        tern.stop()
finally:
    load.stop.set()
    tern.kill_all()
    tern.cleanup()
t.done()
