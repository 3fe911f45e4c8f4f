#!/usr/bin/python3
# 20-limits.t - every limit answers with its own reply, smuggling payloads
# do not get through, garbage does not hurt the daemon.
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, SMTP  # noqa

t = TAP()
sources = (
    '  127.0.0.1/32: { always-allow-relaying: yes }\n'
    '  127.0.0.3/32: { always-allow-relaying: yes, max-message-size: 100K,'
    ' max-rcpt-per-message: 5 }\n'
    '  127.0.0.4/32: { always-allow-relaying: yes, max-smtp-in: 2 }\n'
    '  127.0.0.5/32: { smtp-service: no }\n'
    '  0/0: { always-allow-relaying: no }\n')
tern = Tern(sources=sources,
            extra="smtp-idle-timeout: 2s\nmax-received-headers: 30\n")
tern.start()


def session(source="127.0.0.1"):
    c = SMTP(tern.port, source=source)
    code, _ = c.reply()
    assert code == 220
    c.cmd("EHLO limits.test")
    return c


def queued_count():
    st = tern.status()
    return st["queued"]["received"]


try:
    c = session()
    t.is_(c.cmd("RCPT TO:<a@b.example>")[0], 503, "RCPT before MAIL: 503")
    t.is_(c.cmd("DATA")[0], 503, "DATA before MAIL: 503")
    t.is_(c.cmd("MAIL FROM:<>")[0], 250, "null sender accepted")
    t.is_(c.cmd("DATA")[0], 554, "DATA without recipients: 554")
    t.is_(c.cmd("VRFY postmaster")[0], 252, "VRFY answers 252")
    t.is_(c.cmd("EXPN list")[0], 502, "EXPN answers 502")
    code, text = c.cmd("MAIL FROM:<" + "x" * 3000 + "@a.example>")
    t.ok(code == 500 and "too long" in text, "3000-byte line: 500 line too "
         "long", text)
    t.is_(c.cmd("NOOP")[0], 250, "session goes on after an overlong line")
    t.is_(c.cmd("RSET")[0], 250, "RSET")
    t.is_(c.cmd("MAIL FROM:<s@a.example> SIZE=999999999")[0], 552,
          "SIZE= above the limit: 552")
    t.is_(c.cmd("MAIL FROM:<s@a.example> FOO=BAR")[0], 555,
          "unknown MAIL parameter: 555")
    t.is_(c.cmd("MAIL FROM:<bad address>")[0], 553, "bad sender syntax: 553")
    c.cmd("QUIT")
    c.close()

    # per-source size and recipient limits (127.0.0.3: 100K, 5 rcpts)
    c = session("127.0.0.3")
    c.cmd("MAIL FROM:<s@a.example>")
    codes = [c.cmd("RCPT TO:<r%d@b.example>" % i)[0] for i in range(6)]
    t.is_(codes, [250] * 5 + [452], "6th recipient: 452 too many recipients")
    t.is_(c.cmd("DATA")[0], 354, "DATA")
    c.send(b"Subject: big\r\n\r\n" + (b"y" * 900 + b"\r\n") * 200 +
           b".\r\n")
    code, text = c.reply()
    t.ok(code == 552 and "5.3.4" in text, "200 KB over a 100K source limit: "
         "552 5.3.4 (checked while streaming)", text)
    t.is_(c.cmd("NOOP")[0], 250, "session usable after the size error")
    c.close()

    # relay denied from a source without always-allow-relaying
    c = session("127.0.0.2")
    c.cmd("MAIL FROM:<s@a.example>")
    code, text = c.cmd("RCPT TO:<victim@elsewhere.example>")
    t.ok(code == 550 and "5.7.1" in text, "relay denied: 550 5.7.1", text)
    c.close()

    # smtp-service: no
    c = SMTP(tern.port, source="127.0.0.5")
    code, text = c.reply()
    t.is_(code, 554, "smtp-service: no refuses the connection with 554")
    c.close()

    # SMTP smuggling: <LF>.<LF> and <CR>.<CR> never end DATA
    before = queued_count()
    for name, sep in (("LF", b"\n.\n"), ("CR", b"\r.\r"),
                      ("CRLF.LF", b"\r\n.\n")):
        c = session()
        c.cmd("MAIL FROM:<s@a.example>")
        c.cmd("RCPT TO:<r@b.example>")
        c.cmd("DATA")
        c.send(b"Subject: smuggle\r\n\r\nfirst" + sep +
               b"MAIL FROM:<evil@a.example>\r\nRCPT TO:<x@b.example>\r\n"
               b"DATA\r\nsmuggled\r\n.\r\n")
        code, text = c.reply()
        t.ok(code == 550 and "5.6.0" in text, "bare %s in DATA: one 550 "
             "5.6.0 reply for the whole payload" % name, text)
        t.is_(c.cmd("NOOP")[0], 250, "next reply belongs to NOOP (%s)" % name)
        c.close()
    t.is_(queued_count(), before, "no smuggled message was queued")

    # hop count
    c = session()
    c.cmd("MAIL FROM:<s@a.example>")
    c.cmd("RCPT TO:<r@b.example>")
    c.cmd("DATA")
    c.send(b"".join(b"Received: from hop%d\r\n" % i for i in range(31)) +
           b"Subject: loop\r\n\r\nx\r\n.\r\n")
    code, text = c.reply()
    t.ok(code == 554 and "5.4.6" in text, "31 Received headers over a limit "
         "of 30: 554 5.4.6", text)
    c.close()

    # connection limit per source (127.0.0.4: 2)
    a, b = SMTP(tern.port, source="127.0.0.4"), SMTP(tern.port,
                                                   source="127.0.0.4")
    t.is_((a.reply()[0], b.reply()[0]), (220, 220), "two connections fine")
    c = SMTP(tern.port, source="127.0.0.4")
    t.is_(c.reply()[0], 421, "third connection from the source: 421")
    for x in (a, b, c):
        x.close()

    # idle timeout (2s)
    c = SMTP(tern.port)
    c.reply()
    t0 = time.time()
    code, text = c.reply()
    t.ok(code == 421 and "4.4.2" in text and 1.5 < time.time() - t0 < 6,
         "idle client gets 421 4.4.2 after smtp-idle-timeout", text)
    c.close()

    # garbage: binary noise, then too many errors
    c = SMTP(tern.port)
    c.reply()
    c.send(os.urandom(5000).replace(b"\n", b"") + b"\r\n")
    c.send(b"\x00\xff\r\n" * 30)
    replies = []
    while True:
        code, text = c.reply()
        if code is None:
            break
        replies.append(code)
    t.ok(replies and replies[-1] == 421, "garbage client is cut off with "
         "421 after too many errors", replies)
    c.close()
    s = socket.create_connection(("127.0.0.1", tern.port))
    s.sendall(os.urandom(100000))
    s.close()
    c = session()
    t.is_(c.cmd("NOOP")[0], 250, "daemon still serves after garbage")
    c.close()
    st = tern.status()
    t.ok(st and all(k["restarts"] == 0 for k in st["ternd"]["children"]),
         "no daemon restarted", st)
finally:
    tern.stop()
    tern.cleanup()
t.done()
