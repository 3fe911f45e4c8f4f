#!/usr/bin/python3
# 63-acct-rotate-time.t - accounting rotation by time (move-interval): the
# file is renamed and gzip-compressed after the interval, a new one starts
# with the header, and no row is lost or repeated across the files.
import csv
import glob
import gzip
import io
import os
import smtplib
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, acct_path, free_port, wait_for  # noqa
from sinklib import Sink, stop_sinks  # noqa

t = TAP()
tern = Tern(extra="accounting: { move-interval: 2s, max-size: 50M }\n")
sport = free_port()
tern.domains = ('  "*": { route: "[127.0.0.1]:%d", '
                'connection-idle-timeout: 0s }\n' % sport)
tern.write_config()
sink = Sink(tern.dir, "127.0.0.1", sport).start()
tern.start()


def send(rcpt):
    s = smtplib.SMTP("127.0.0.1", tern.port, timeout=20)
    r = s.sendmail("s@rot.test", [rcpt], b"Subject: r\r\n\r\nx\r\n")
    s.quit()
    return r


def rows(data):
    return list(csv.DictReader(io.StringIO(data.decode())))


try:
    t.is_(send("one@rot.example"), {}, "first message accepted")
    t.ok(wait_for(lambda: b"one@rot.example" in open(acct_path(tern),
                  "rb").read(), 10), "its d row is in acct.csv")
    gz = os.path.join(tern.dir, "log", "acct-*.csv.gz")
    t.ok(wait_for(lambda: glob.glob(gz), 15), "after move-interval the file "
         "is rotated and compressed", os.listdir(os.path.join(tern.dir,
                                                               "log")))
    t.is_(send("two@rot.example"), {}, "second message accepted")
    t.ok(wait_for(lambda: b"two@rot.example" in open(acct_path(tern),
                  "rb").read(), 10), "its row is in the new acct.csv")
    # Stopped, the files hold still: rotated ones are compressed or, if a
    # compression was cut short, still plain .csv (never both).
    t.is_(tern.stop(), 0, "ternd stops")
    logd = os.path.join(tern.dir, "log")
    old = []
    for f in sorted(glob.glob(gz)):
        with gzip.open(f) as g:
            old += rows(g.read())
    for f in sorted(glob.glob(os.path.join(logd, "acct-*.csv"))):
        old += rows(open(f, "rb").read())
    cur = rows(open(acct_path(tern), "rb").read())
    allr = [(r["type"], r["rcpt"]) for r in old + cur]
    t.is_(sorted(allr), [("d", "one@rot.example"), ("d", "two@rot.example")],
          "one row per delivery across the rotated and the current file")
    with open(acct_path(tern), "rb") as f:
        t.ok(f.readline().startswith(b"type,timeLogged,"),
             "the new file starts with the header")
finally:
    tern.stop()
    stop_sinks()
    tern.cleanup()
t.done()
