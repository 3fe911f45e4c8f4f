#!/usr/bin/python3
# 30-crash.t - no acknowledged message is ever lost.  Several clients
# inject thousands of messages while queued and smtpd are killed with
# SIGKILL at random moments; afterwards every message that got a 250 is
# in the spool, whole.  Then ternd and every daemon are killed at once and
# ternd must start again cleanly over the stale pid file and sockets.
import os
import random
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, parse_queue_file, wait_for  # noqa

TARGET = int(os.environ.get("TERN_CRASH_MSGS", "2500"))
CLIENTS = 8
DEADLINE = 60

t = TAP()
tern = Tern()
tern.start()
acked = {}            # queue id -> token
acked_lock = threading.Lock()
stop = threading.Event()
stats = {"attempts": 0, "errors": 0}


def recv_reply(s, buf):
    while True:
        while b"\n" not in buf[0]:
            d = s.recv(4096)
            if not d:
                raise OSError("eof")
            buf[0] += d
        line, buf[0] = buf[0].split(b"\n", 1)
        if len(line) < 4 or line[3:4] != b"-":
            return line.decode(errors="replace")


def client(n):
    seq = 0
    while not stop.is_set():
        seq += 1
        token = "c%d-m%d" % (n, seq)
        stats["attempts"] += 1
        try:
            s = socket.create_connection(("127.0.0.1", tern.port), 5)
            s.settimeout(10)
            buf = [b""]
            if not recv_reply(s, buf).startswith("220"):
                raise OSError("greeting")
            # two messages per connection, pipelined envelope
            for k in range(2):
                tok = "%s-%d" % (token, k)
                s.sendall(b"%s" % (b"EHLO crash.test\r\n" if k == 0 else b""))
                if k == 0:
                    recv_reply(s, buf)
                s.sendall(("MAIL FROM:<s@crash.test>\r\nRCPT TO:<r%d@a.example>"
                           "\r\nRCPT TO:<r@b.example>\r\nDATA\r\n" % n).encode())
                r = [recv_reply(s, buf) for _ in range(4)]
                if not r[3].startswith("354"):
                    raise OSError("no 354: %r" % r)
                s.sendall(("Subject: %s\r\n\r\n" % tok).encode() +
                          b"x" * random.randint(100, 4000) + b"\r\n.\r\n")
                line = recv_reply(s, buf)
                if line.startswith("250") and "queued" in line:
                    with acked_lock:
                        acked[line.split()[2]] = tok
                else:
                    raise OSError(line)
            s.sendall(b"QUIT\r\n")
            s.close()
        except OSError:
            stats["errors"] += 1
            time.sleep(0.02)


kills = {"queued": 0, "smtpd": 0}


def killer():
    while not stop.is_set():
        time.sleep(random.uniform(0.3, 1.0))
        name = random.choice(["queued", "smtpd"])
        for pid in tern.pids(name):
            try:
                os.kill(pid, signal.SIGKILL)
                kills[name] += 1
            except OSError:
                pass
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
    threads = [threading.Thread(target=client, args=(i,))
               for i in range(CLIENTS)]
    k = threading.Thread(target=killer)
    for th in threads:
        th.start()
    k.start()
    end = time.time() + DEADLINE
    while time.time() < end and (len(acked) < TARGET or
                                 min(kills.values()) < 5):
        time.sleep(0.2)
    stop.set()
    for th in threads:
        th.join(30)
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
    stop.clear()
    threads = [threading.Thread(target=client, args=(i + 100,))
               for i in range(4)]
    for th in threads:
        th.start()
    time.sleep(1.5)
    victims = [tern.proc.pid] + tern.pids("queued") + tern.pids("smtpd")
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    tern.proc.wait(5)
    stop.set()
    for th in threads:
        th.join(30)
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
    stop.set()
    tern.kill_all()
    tern.cleanup()
t.done()
