#!/usr/bin/python3
# 57-disk-guard.t - below min-free-space queued refuses new mail with a
# temporary error (452 4.3.1) instead of filling the disk; a reload that
# lowers the limit lets mail in again.
import os
import smtplib
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern  # noqa

t = TAP()
tern = Tern()
# Far more than any test machine has free: the guard is always on.
tern.write_config(tern.config_text().replace("min-free-space: 1M",
                                             "min-free-space: 900000G"))
tern.start()
try:
    s = smtplib.SMTP("127.0.0.1", tern.port, timeout=20)
    s.ehlo("disk.test")
    s.mail("s@disk.test")
    s.rcpt("r@disk.example")
    code, text = s.docmd("DATA")
    t.ok(code == 452 and b"4.3.1" in text, "below min-free-space: DATA gets "
         "452 4.3.1", (code, text))
    s.rset()
    st = tern.status()
    t.ok(st and st["queued"]["received"] == 0, "nothing was queued")
    t.ok(st and all(c["restarts"] == 0 for c in st["ternd"]["children"]),
         "no daemon restarted")
    s.quit()
    tern.write_config()
    rc, out, err = tern.tern("reload")
    t.is_(rc, 0, "reload with min-free-space 1M")
    s = smtplib.SMTP("127.0.0.1", tern.port, timeout=20)
    r = s.sendmail("s@disk.test", ["r@disk.example"],
                   b"Subject: room\r\n\r\nx\r\n")
    s.quit()
    t.is_(r, {}, "after the reload the message is accepted")
finally:
    tern.stop()
    tern.cleanup()
t.done()
