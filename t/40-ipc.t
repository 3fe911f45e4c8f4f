#!/usr/bin/python3
# 40-ipc.t - a misbehaving peer on queued's socket (bad header, bad version,
# oversize length, no HELLO, wrong role, fd without a frame, truncated
# payload) is dropped; queued carries on and mail still flows.
import array
import os
import smtplib
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern  # noqa

# IPC types from common/ipc.h
HELLO, HELLO_OK = 1, 2
SMTPD_MSG_NEW, SMTPD_MSG_RCPT, SMTPD_MSG_OPEN = 7, 8, 9
SMTPD_MSG_COMMIT = 12
CTL_REQUEST = 16
ROLE_SMTPD, ROLE_CTL = 2, 7

t = TAP()
tern = Tern().start()
sock_path = os.path.join(tern.run, "queued.sock")


def frame(typ, payload=b"", version=1, flags=0, length=None, reqid=0):
    n = 16 + len(payload) if length is None else length
    return struct.pack("=HBBIQ", typ, version, flags, n, reqid) + payload


def s16(b):
    return struct.pack("=H", len(b)) + b


def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sock_path)
    return s


def hello(s, role):
    s.sendall(frame(HELLO, struct.pack("=BI", role, os.getpid())))
    h = s.recv(16)
    return len(h) == 16 and struct.unpack("=HBBIQ", h)[0] == HELLO_OK


def dropped(s):
    """True if the peer closed the connection on us."""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return True
    except socket.timeout:
        return False
    except OSError:
        return True


def still_works(label):
    sm = smtplib.SMTP("127.0.0.1", tern.port, timeout=20)
    r = sm.sendmail("s@ipc.test", ["r@ipc.example"], b"Subject: x\r\n\r\ny\r\n")
    sm.quit()
    t.is_(r, {}, "mail still flows after: %s" % label)


cases = [
    ("garbage bytes", lambda s: s.sendall(os.urandom(64))),
    ("short header then EOF",
     lambda s: (s.sendall(b"\x01\x00\x01"), s.shutdown(socket.SHUT_WR))),
    ("wrong version", lambda s: s.sendall(frame(HELLO, b"\x02\0\0\0\0",
                                                version=9))),
    ("length below the header", lambda s: s.sendall(frame(HELLO, b"",
                                                          length=4))),
    ("length above IPC_MAXSIZE",
     lambda s: s.sendall(frame(HELLO, b"", length=1 << 30))),
    ("no HELLO first", lambda s: s.sendall(frame(SMTPD_MSG_OPEN))),
    ("unknown role in HELLO",
     lambda s: s.sendall(frame(HELLO, struct.pack("=BI", 99, 1)))),
    ("HELLO with trailing bytes",
     lambda s: s.sendall(frame(HELLO, struct.pack("=BI", 2, 1) + b"zz"))),
]
for name, fn in cases:
    s = conn()
    fn(s)
    t.ok(dropped(s), "peer dropped: %s" % name)
    s.close()

# Frames that need a valid HELLO first.
s = conn()
t.ok(hello(s, ROLE_CTL), "HELLO as ctl accepted")
s.sendall(frame(SMTPD_MSG_NEW, s16(b"a@b.c") + s16(b"1.2.3.4") + s16(b"h")))
t.ok(dropped(s), "ctl peer may not send SMTPD_MSG_NEW: dropped")
s.close()

s = conn()
hello(s, ROLE_SMTPD)
s.sendall(frame(SMTPD_MSG_NEW, s16(b"a@b.c") + s16(b"1.2.3.4")))
t.ok(dropped(s), "truncated MSG_NEW payload: dropped")
s.close()

s = conn()
hello(s, ROLE_SMTPD)
s.sendall(frame(SMTPD_MSG_NEW, s16(b"a@b.c\r\nX") + s16(b"1.2.3.4") +
                s16(b"h")))
t.ok(dropped(s), "CR/LF inside an IPC string: dropped")
s.close()

s = conn()
hello(s, ROLE_SMTPD)
s.sendall(frame(SMTPD_MSG_NEW, s16(b"a@b.c") + s16(b"1.2.3.4") + s16(b"h") +
                struct.pack("=B", 0) + s16(b""), reqid=5))
s.sendall(frame(SMTPD_MSG_RCPT, s16(b"not an address") +
                struct.pack("=B", 0) + s16(b""), reqid=5))
t.ok(dropped(s), "invalid recipient address in MSG_RCPT: dropped")
s.close()

s = conn()
hello(s, ROLE_SMTPD)
s.sendall(frame(SMTPD_MSG_COMMIT, s16(b"0123456789abcdef") + s16(b"") +
                s16(b"") + struct.pack("=Q", 1), reqid=77))
t.ok(dropped(s), "COMMIT for a transaction it never opened: dropped")
s.close()

s = conn()
hello(s, ROLE_SMTPD)
r, w = os.pipe()
s.sendmsg([frame(SMTPD_MSG_OPEN, reqid=3)],
          [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r]))])
t.ok(dropped(s), "an fd on a frame that allows none: dropped")
os.close(r)
os.close(w)
s.close()

s = conn()
hello(s, ROLE_CTL)
s.sendall(frame(CTL_REQUEST, struct.pack("=I", 5) + b"{nope"))
t.ok(dropped(s), "ctl request with bad JSON: dropped")
s.close()

still_works("malformed IPC frames")
st = tern.status()
t.ok(st and all(k["restarts"] == 0 for k in st["ternd"]["children"]),
     "queued never restarted", st)
t.ok("dropping peer" in tern.logtext(), "drops are logged")
tern.stop()
tern.cleanup()
t.done()
