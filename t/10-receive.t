#!/usr/bin/python3
# 10-receive.t - inject with smtplib and swaks: multi-recipient, pipelined,
# 8-bit, 10 MB; X-Virtual-MTA / X-Job select the queue and are stripped.
import os
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, SMTP, parse_queue_file, wait_for  # noqa

t = TAP()
tern = Tern().start()
try:
    # smtplib, three recipients in two domains
    s = smtplib.SMTP("127.0.0.1", tern.port, timeout=30)
    code, msg = s.ehlo("client.test")
    t.is_(code, 250, "EHLO answered 250")
    for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes"):
        t.ok(s.has_extn(ext), "EHLO offers %s" % ext.upper())
    refused = s.sendmail("sender@test.example",
                         ["a@one.example", "b@one.example",
                          "c@two.example"],
                         b"Subject: hello\r\n\r\nbody\r\n")
    t.is_(refused, {}, "smtplib: three recipients accepted")
    s.quit()
    q = tern.queues()
    t.ok(q is not None and q.get("one.example/mta1", {}).get("rcpts") == 2,
         "one.example/mta1 holds 2 recipients", q)
    t.ok(q is not None and q.get("two.example/mta1", {}).get("rcpts") == 1,
         "two.example/mta1 holds 1 recipient", q)

    # 8-bit body with BODY=8BITMIME
    s = smtplib.SMTP("127.0.0.1", tern.port, timeout=30)
    body = "Subject: 8bit\r\n\r\nGrüße aus Köln, ½ € \r\n".encode("utf-8")
    r = s.sendmail("s@test.example", ["u8@eight.example"], body,
                   mail_options=["BODY=8BITMIME"])
    t.is_(r, {}, "8-bit message accepted with BODY=8BITMIME")
    s.quit()
    files = tern.spool_files()
    found8 = False
    for p in files.values():
        recs, b = parse_queue_file(p)
        if any(v == b"-u8@eight.example" for k, v in recs if k == "R"):
            found8 = "Grüße aus Köln".encode() in b
    t.ok(found8, "8-bit body stored byte for byte")

    # pipelined transaction: everything in one write
    c = SMTP(tern.port)
    c.reply()
    c.cmd("EHLO pipe.test")
    c.send("MAIL FROM:<p@test.example>\r\nRCPT TO:<x1@pipe.example>\r\n"
           "RCPT TO:<x2@pipe.example>\r\nRCPT TO:<x3@pipe.example>\r\n"
           "DATA\r\n")
    codes = [c.reply()[0] for _ in range(5)]
    t.is_(codes, [250, 250, 250, 250, 354], "pipelined MAIL/RCPT*3/DATA")
    c.send("Subject: piped\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n")
    code, text = c.reply()
    t.ok(code == 250 and "queued" in text, "pipelined message queued",
         text)
    t.is_(c.reply()[0], 221, "pipelined QUIT answered")
    qid = text.split()[2]
    p = tern.spool_files().get(qid)
    t.ok(p is not None, "queue id from the 250 reply names a spool file")
    if p:
        recs, b = parse_queue_file(p)
        t.ok(b"\r\n.leading dot\r\n" in b, "dot-unstuffed in the spool")
        t.ok(b.startswith(b"Received: from pipe.test"),
             "our Received header comes first")

    # X-Virtual-MTA and X-Job: right queue, headers stripped
    s = smtplib.SMTP("127.0.0.1", tern.port, timeout=30)
    msg = (b"X-Virtual-MTA: mta2\r\nX-Job: campaign-7\r\n"
           b"Subject: routed\r\nX-Other: kept\r\n\r\nhi\r\n")
    t.is_(s.sendmail("s@test.example", ["v@vmta.example"], msg), {},
          "message with X-Virtual-MTA accepted")
    # a pool spreads over its members
    for i in range(4):
        s.sendmail("s@test.example", ["p%d@pool.example" % i],
                   b"X-Virtual-MTA: pool-a\r\nSubject: p\r\n\r\nx\r\n")
    s.quit()
    q = tern.queues()
    t.ok(q and "vmta.example/mta2" in q and "vmta.example/mta1" not in q,
         "X-Virtual-MTA: mta2 lands in vmta.example/mta2", q)
    t.ok(q and q.get("pool.example/mta1", {}).get("rcpts") == 2 and
         q.get("pool.example/mta2", {}).get("rcpts") == 2,
         "pool-a spreads 4 messages 2/2 over mta1 and mta2", q)
    for p in tern.spool_files().values():
        recs, b = parse_queue_file(p)
        if any(v == b"-v@vmta.example" for k, v in recs if k == "R"):
            t.ok(b"X-Virtual-MTA" not in b and b"X-Job" not in b,
                 "X-Virtual-MTA and X-Job are stripped from the body")
            t.ok(b"X-Other: kept" in b, "other headers are kept")
            t.ok(("J", b"campaign-7") in recs, "job id recorded (J record)")
            t.ok(("M", b"mta2") in recs, "vmta recorded (M record)")

    # 10 MB message with swaks
    big = os.path.join(tern.dir, "big.eml")
    with open(big, "wb") as f:
        f.write(b"Subject: big\r\n\r\n")
        line = b"x" * 998 + b"\r\n"
        for _ in range(10 * 1024 * 1024 // len(line) + 1):
            f.write(line)
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % tern.port,
                        "--from", "s@test.example", "--to",
                        "big@big.example,big2@big.example",
                        "--data", "@" + big, "--pipeline"],
                       capture_output=True, text=True, timeout=120)
    t.ok(r.returncode == 0 and "queued" in r.stdout,
         "swaks: 10 MB message to 2 recipients, pipelined",
         r.stdout[-2000:] + r.stderr[-2000:])
    q = tern.queues()
    t.ok(q and q.get("big.example/mta1", {}).get("bytes", 0) > 10_000_000,
         "10 MB message queued whole", q)

    st = tern.status()
    t.ok(st and st["queued"]["corrupt"] == 0 and
         st["queued"]["received"] == 9, "status: received counted, "
         "nothing corrupt", st)
    t.is_(tern.tmp_files(), [], "no file left in tmp/")
finally:
    rc = tern.stop()
    t.is_(rc, 0, "ternd exits 0 on SIGTERM")
    tern.cleanup()
t.done()
