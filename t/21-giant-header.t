#!/usr/bin/python3
# 21-giant-header.t - a folded header too long for smtpd's header buffer
# passes through as one header: no blank line appears inside the header
# section (which would turn every later field into body), the fields after
# it are still headers, and an X-Virtual-MTA after it is still read.
import os
import signal
import socket
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, free_port, remove_dir, wait_for  # noqa
from sinklib import Sink, stop_sinks  # noqa

signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
t = TAP()
tmp = tempfile.mkdtemp(prefix="tern-t21-")
os.chmod(tmp, 0o755)
tern = None
try:
    sp = free_port()
    sink = Sink(tmp, "127.0.0.1", sp, {"save_raw": True}, name="s").start()
    tern = Tern(domains='  "*": { route: "[127.0.0.1]:%d" }\n' % sp).start()
    s = socket.create_connection(("127.0.0.1", tern.port), 10)
    f = s.makefile("rb")

    def cmd(line):
        s.sendall(line.encode() + b"\r\n")
        while True:
            r = f.readline()
            if r[3:4] != b"-":
                return r

    f.readline()
    cmd("EHLO giant.test")
    cmd("MAIL FROM:<a@src.test>")
    cmd("RCPT TO:<r@dst.test>")
    t.ok(cmd("DATA").startswith(b"354"), "DATA accepted")
    fold = "".join(" %s\r\n" % ("y" * 900) for _ in range(120))
    s.sendall(("Subject: giant\r\nX-Long: start\r\n" + fold +
               "X-Virtual-MTA: mta2\r\nX-After: still-a-header\r\n\r\n"
               "body line\r\n.\r\n").encode())
    t.ok(f.readline().startswith(b"250"), "the message is queued")
    cmd("QUIT")
    t.ok(wait_for(lambda: sink.messages(), 15), "and delivered")
    raw = open(sink.messages()[0]["raw"], "rb").read().decode()
    head, _, body = raw.partition("\r\n\r\n")
    t.ok("X-After: still-a-header" in head, "a field after the giant "
         "header is still in the header section")
    t.ok(body.startswith("body line"), "the body starts where the client's "
         "blank line was", body[:80])
    t.ok(head.count("\r\n ") >= 119, "the giant header's continuation lines "
         "are all there, still folded")
    conn = [e for e in sink.events("connect")]
    t.ok(conn and conn[0].get("peer") == "127.0.0.2", "the X-Virtual-MTA "
         "after it was read: sent from mta2's address", conn)
except Exception as e:
    t.no_exception(e)
finally:
    if tern is not None:
        tern.finish(t)
    stop_sinks()
    remove_dir(tmp)
t.done()
