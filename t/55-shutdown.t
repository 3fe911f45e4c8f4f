#!/usr/bin/python3
# 55-shutdown.t - SIGTERM to ternd: stop accepting, finish the transaction
# in flight (its 250 still comes, after the message is durable), exit 0.
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, SMTP, parse_queue_file, wait_for  # noqa

t = TAP()
tern = Tern().start()
try:
    c = SMTP(tern.port)
    c.reply()
    c.cmd("EHLO shutdown.test")
    c.cmd("MAIL FROM:<s@shutdown.test>")
    c.cmd("RCPT TO:<r@shutdown.example>")
    t.is_(c.cmd("DATA")[0], 354, "a transaction is in DATA")
    c.send(b"Subject: in flight\r\n\r\nfirst half\r\n")
    idle = SMTP(tern.port)
    t.is_(idle.reply()[0], 220, "an idle session is open too")

    os.kill(tern.proc.pid, signal.SIGTERM)
    code, text = idle.reply()
    t.ok(code == 421, "the idle session is told 421 at once", text)

    def refused():
        try:
            s = socket.create_connection(("127.0.0.1", tern.port), 1)
            s.close()
            return False
        except OSError:
            return True
    t.ok(wait_for(refused, 5), "new connections are refused while stopping")

    time.sleep(0.5)
    c.send(b"second half\r\n.\r\n")
    code, text = c.reply()
    t.ok(code == 250 and "queued" in text, "the transaction in flight "
         "completes with 250", text)
    qid = text.split()[2] if code == 250 else ""
    code, text = c.cmd("MAIL FROM:<s@shutdown.test>")
    t.ok(code in (421, None), "the next command gets 421 (or the close)",
         text)
    c.close()
    try:
        rc = tern.proc.wait(20)
    except Exception:
        rc = None
    t.is_(rc, 0, "ternd exits 0")
    t.is_(tern.pids("smtpd") + tern.pids("queued") + tern.pids("deliverd"),
          [], "no daemon is left running")
    tern.proc = None
    files = tern.spool_files()
    t.ok(qid in files, "the acknowledged message is in the spool")
    if qid in files:
        recs, body = parse_queue_file(files[qid])
        t.ok(b"first half\r\nsecond half\r\n" in body,
             "all of it, both halves")
finally:
    tern.kill_all()
    tern.cleanup()
t.done()
