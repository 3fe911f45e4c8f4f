#!/usr/bin/python3
# 61-accounting.t - the PowerMTA-format accounting CSV: the 23-column
# header, one d or b row per recipient outcome with bounceCat, vmta, jobId,
# queue and vmtaPool, t rows only when records lists t, RFC 4180 quoting
# of remote text, rotation to acct-YYYY-MM-DD-NNNN.csv.gz without losing
# or repeating a row, and a torn last line cut off at the next start.
import collections
import csv
import glob
import gzip
import io
import os
import re
import signal
import smtplib
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import (TAP, Tern, acct_path, free_port,  # noqa
                     remove_dir, wait_for)
from sinklib import Sink, stop_sinks  # noqa

HEADER = ("type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,"
          "dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,"
          "dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,"
          "queue,vmtaPool").split(",")
QUOTE_REPLY = '550 5.7.1 rejected, "spam" detected, see policy'


def send(port, rcpts, headers="", body="hello\r\n", sender="s@src.test"):
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    try:
        r = s.sendmail(sender, rcpts, headers + "Subject: acct\r\n\r\n" +
                       body)
        s.quit()
        return r
    finally:
        s.close()


def parse_csv_bytes(data, label):
    """Rows of one accounting file; raises if it is not clean CSV."""
    text = data.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or rows[0] != HEADER:
        raise ValueError("%s: bad header %r" % (label, rows[:1]))
    for r in rows[1:]:
        if len(r) != len(HEADER):
            raise ValueError("%s: row with %d fields: %r"
                             % (label, len(r), r))
    return [dict(zip(HEADER, r)) for r in rows[1:]]


def current_rows(tern):
    try:
        with open(acct_path(tern), "rb") as f:
            return parse_csv_bytes(f.read(), "acct.csv")
    except (OSError, ValueError):
        return []


def rotated_files(tern):
    return sorted(glob.glob(os.path.join(tern.dir, "log", "acct-*")))


def settled(tern):
    """No compression in progress: only acct.csv and finished .csv.gz."""
    return all(p.endswith(".csv.gz") for p in rotated_files(tern))


def all_rows(tern):
    rows = current_rows(tern)
    for p in rotated_files(tern):
        if p.endswith(".csv.gz"):
            with gzip.open(p) as f:
                rows += parse_csv_bytes(f.read(), os.path.basename(p))
    return rows


def final_rows(rows, rcpt):
    return [r for r in rows if r["rcpt"] == rcpt and r["type"] in "db"]


# SIGTERM (a prove timeout, ^C in a pipeline) still runs the finally
# blocks and atexit handlers that stop every process started here.
signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))

t = TAP()
tmp = tempfile.mkdtemp(prefix="tern-t61-")
P = free_port()
sink = Sink(tmp, "127.0.0.2", P, {"rcpt": {
    "^bad": "550 5.1.1 no such user here",
    "^soft": "451 4.2.0 mailbox busy",
    "^tsoft": "451 4.2.0 mailbox busy",
    "^quote": QUOTE_REPLY}}, name="acct")
# nodns.test has no route: its MX lookup goes to the dead local nameserver
# ternlib configures and fails at once (a queue-level, "tq", failure).
DOMAINS = ('  "*": { retry-after: 2s, connection-idle-timeout: 0 }\n'
           '  acct.test: { route: "[127.0.0.2]:%d" }\n'
           '  flow.test: { route: "[127.0.0.2]:%d" }\n'
           % (P, P))
ta = tb = None
try:
    sink.start()

    # === A: default records (d, b) ==========================================
    ta = Tern(domains=DOMAINS).start()
    t.is_(send(ta.port, ["ok1@acct.test", "bad1@acct.test", "soft1@acct.test"],
               "X-Job: job-42\r\nX-Virtual-MTA: mta2\r\n"), {},
          "A: message with X-Job and X-Virtual-MTA accepted")
    send(ta.port, ["pool1@acct.test"], "X-Virtual-MTA: pool-a\r\n")
    send(ta.port, ["pool2@acct.test"], "X-Virtual-MTA: pool-a\r\n")
    send(ta.port, ["quote1@acct.test"])
    send(ta.port, ["q1@nodns.test"])
    ok = wait_for(lambda: all(final_rows(current_rows(ta), r) for r in
                              ("ok1@acct.test", "bad1@acct.test",
                               "pool1@acct.test", "pool2@acct.test",
                               "quote1@acct.test")), 20)
    t.ok(ok, "A: rows for the five final outcomes appear")
    with open(acct_path(ta), "rb") as f:
        raw = f.read()
    t.ok(raw.startswith(",".join(HEADER).encode() + b"\r\n"),
         "A: first line is exactly PowerMTA's 23-column header",
         raw[:300])
    try:
        rows = parse_csv_bytes(raw, "acct.csv")
        parsed = True
    except ValueError as e:
        rows, parsed = [], False
        t.diag(str(e))
    t.ok(parsed, "A: acct.csv parses with the csv module, 23 fields a row")
    t.ok(raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b""),
         "A: rows end with CRLF, no stray line break")

    r = final_rows(rows, "ok1@acct.test")
    t.ok(len(r) == 1 and r[0]["type"] == "d" and
         r[0]["bounceCat"] == "success" and r[0]["dsnAction"] == "relayed" and
         r[0]["dsnStatus"].startswith("2.") and r[0]["vmta"] == "mta2" and
         r[0]["jobId"] == "job-42" and r[0]["queue"] == "acct.test/mta2" and
         r[0]["vmtaPool"] == "" and r[0]["orig"] == "s@src.test" and
         r[0]["dlvSourceIp"] == "127.0.0.2" and
         r[0]["dlvDestinationIp"] == "127.0.0.2" and
         r[0]["dlvType"] == "smtp" and r[0]["srcType"] == "smtp" and
         r[0]["dlvSize"].isdigit() and int(r[0]["dlvSize"]) > 0 and
         "PIPELINING" in r[0]["dlvEsmtpAvailable"],
         "A: d row: success, vmta mta2, jobId job-42, queue acct.test/mta2, "
         "source/destination address, size, ESMTP list", r)
    r = final_rows(rows, "bad1@acct.test")
    t.ok(len(r) == 1 and r[0]["type"] == "b" and
         r[0]["bounceCat"] == "bad-mailbox" and
         r[0]["dsnAction"] == "failed" and
         r[0]["dsnStatus"].startswith("5.1.1") and
         r[0]["dsnDiag"] == "smtp;550 5.1.1 no such user here" and
         r[0]["jobId"] == "job-42" and r[0]["vmta"] == "mta2",
         "A: b row for 550 5.1.1: bad-mailbox, dsnDiag smtp;550 ...", r)
    pr = final_rows(rows, "pool1@acct.test") + \
        final_rows(rows, "pool2@acct.test")
    t.ok(len(pr) == 2 and all(x["type"] == "d" and
                              x["vmtaPool"] == "pool-a" and
                              x["queue"] == "acct.test/" + x["vmta"]
                              for x in pr) and
         sorted(x["vmta"] for x in pr) == ["mta1", "mta2"],
         "A: pool-a messages: vmtaPool pool-a, one on each member, queue "
         "names the member", pr)
    r = final_rows(rows, "quote1@acct.test")
    t.ok(len(r) == 1 and r[0]["type"] == "b" and
         r[0]["dsnDiag"] == "smtp;" + QUOTE_REPLY and
         r[0]["vmta"] == "mta1" and r[0]["jobId"] == "",
         "A: a diag with a comma and double quotes survives the CSV round "
         "trip", r)
    want_raw = b'"smtp;550 5.7.1 rejected, ""spam"" detected, see policy"'
    t.ok(want_raw in raw, "A: ... quoted as RFC 4180 says (field in quotes, "
         "quotes doubled)", [l for l in raw.split(b"\r\n") if b"quote1" in l])
    msgs = [m for m in sink.messages() if "ok1@acct.test" in m["rcpts"]]
    t.ok(msgs and "X-Job" not in msgs[0]["data"] and
         "X-Virtual-MTA" not in msgs[0]["data"],
         "A: X-Job and X-Virtual-MTA are not passed on", msgs)

    # the 451 recipient and the dead route: deferred, no t/tq row in A
    q = wait_for(lambda: (ta.queues() or {}).get("acct.test/mta2", {}).get(
        "deferred") == 1 and (ta.queues() or {}).get("nodns.test/mta1", {})
        .get("deferred") == 1, 20)
    t.ok(q and "DNS" in ta.queues()["nodns.test/mta1"]["last_error"],
         "A: the 451 recipient and the one whose DNS fails are deferred",
         ta.queues())
    rows = current_rows(ta)
    t.is_(sorted(set(r["type"] for r in rows)), ["b", "d"],
          "A: records [d, b] (default): no t or tq rows")
    sink.set({"rcpt": {"^bad": "550 5.1.1 no such user here"}})
    ok = wait_for(lambda: final_rows(current_rows(ta), "soft1@acct.test"), 20)
    r = final_rows(current_rows(ta), "soft1@acct.test")
    t.ok(len(r) == 1 and r[0]["type"] == "d" and r[0]["jobId"] == "job-42",
         "A: the 451 recipient delivered on retry: one d row", r)
    rows = current_rows(ta)
    cnt = collections.Counter(r["rcpt"] for r in rows if r["type"] in "db")
    t.is_(dict(cnt), {"ok1@acct.test": 1, "bad1@acct.test": 1,
                      "soft1@acct.test": 1, "pool1@acct.test": 1,
                      "pool2@acct.test": 1, "quote1@acct.test": 1},
          "A: exactly one d or b row per recipient outcome")
    rc = ta.stop()
    t.is_(rc, 0, "A: ternd exits 0")
    ta.cleanup()
    ta = None

    # === B: records [d, b, t], max-size 2K: rotation, torn line ============
    sink.set({"rcpt": {"^tsoft": "451 4.2.0 mailbox busy"}})
    tb = Tern(domains=DOMAINS,
              extra="accounting: { records: [d, b, t], max-size: 2K }\n")
    tb.start()
    send(tb.port, ["tsoft1@acct.test"])
    send(tb.port, ["q1@nodns.test"])
    flow = ["f%03d@flow.test" % i for i in range(80)]
    s = smtplib.SMTP("127.0.0.1", tb.port, timeout=30)
    for r in flow:
        s.sendmail("s@src.test", [r], "X-Job: flow\r\nSubject: f\r\n\r\nx\r\n")
    s.quit()
    got = wait_for(lambda: settled(tb) and all(
        len(final_rows(all_rows(tb), r)) >= 1 for r in flow), 40)
    t.ok(got, "B: every flow recipient has its row somewhere")
    # the 451 recipient gets another attempt (2s) meanwhile
    wait_for(lambda: len([r for r in all_rows(tb) if r["rcpt"] ==
                          "tsoft1@acct.test"]) >= 2, 10)
    wait_for(lambda: settled(tb), 20)
    files = rotated_files(tb)
    names_ok = [p for p in files if re.fullmatch(
        r"acct-\d{4}-\d{2}-\d{2}-\d{4}\.csv\.gz", os.path.basename(p))]
    t.ok(len(files) >= 2 and names_ok == files,
         "B: max-size 2K: rotated to acct-YYYY-MM-DD-NNNN.csv.gz (%d files)"
         % len(files), [os.path.basename(p) for p in files])
    bad = []
    for p in files:
        try:
            with gzip.open(p) as f:
                parse_csv_bytes(f.read(), os.path.basename(p))
        except Exception as e:
            bad.append((os.path.basename(p), str(e)))
    t.is_(bad, [], "B: every .csv.gz gunzips to CSV with the header")
    rows = all_rows(tb)
    cnt = collections.Counter(r["rcpt"] for r in rows if r["type"] in "db")
    t.ok(sorted(cnt) == sorted(flow) and set(cnt.values()) == {1},
         "B: union of all files: one row per outcome, none lost, none "
         "repeated (%d rows)" % sum(cnt.values()),
         {k: v for k, v in cnt.items() if v != 1 or k not in flow})
    dns_failed = wait_for(lambda: "DNS" in (tb.queues() or {}).get(
        "nodns.test/mta1", {}).get("last_error", ""), 10)
    t.ok(dns_failed, "B: the DNS failure (queue level) has happened")
    rows = all_rows(tb)
    trows = [r for r in rows if r["type"] == "t"]
    t.ok(trows and all(r["rcpt"] == "tsoft1@acct.test" for r in trows) and
         any(r["rcpt"] == "tsoft1@acct.test" and
             r["dsnAction"] == "delayed" and r["dsnStatus"].startswith("4.2.0")
             and "451" in r["dsnDiag"] for r in trows),
         "B: records lists t: t rows (delayed, 4.2.0) for the 451 recipient, "
         "none for the queue-level (tq) DNS failure",
         trows)
    t.ok(not [r for r in rows if r["type"] not in ("d", "b", "t")],
         "B: no tq row when records does not list tq",
         [r for r in rows if r["type"] not in ("d", "b", "t")])
    t.ok(all(r["jobId"] == "flow" for r in rows if r["rcpt"] in flow),
         "B: jobId carried on every flow row")

    # --- a torn last line ------------------------------------------------------
    rc = tb.stop()
    t.is_(rc, 0, "B: ternd stops")
    torn = b"d,2026-01-01 00:00:00+0000,2026-01-01 00:00:00+0000,torn@x"
    with open(acct_path(tb), "ab") as f:
        f.write(torn)
    before = all_rows(tb)
    tb.start()
    send(tb.port, ["after1@flow.test"])
    wait_for(lambda: final_rows(all_rows(tb), "after1@flow.test"), 20)
    with open(acct_path(tb), "rb") as f:
        raw = f.read()
    try:
        rows = parse_csv_bytes(raw, "acct.csv")
        parsed = True
    except ValueError as e:
        parsed = False
        t.diag(str(e))
    t.ok(parsed and b"torn@x" not in raw and raw.endswith(b"\r\n"),
         "torn line: after a restart acct.csv parses and the partial line is "
         "gone", raw[-600:])
    wait_for(lambda: settled(tb), 20)
    rows = all_rows(tb)
    cnt = collections.Counter(r["rcpt"] for r in rows if r["type"] in "db")
    t.ok(sorted(cnt) == sorted(flow + ["after1@flow.test"]) and
         set(cnt.values()) == {1},
         "torn line: nothing else lost or repeated; the new row is there",
         {k: v for k, v in cnt.items() if v != 1})
    t.ok(len(rows) >= len(before), "torn line: no complete row was cut")
except Exception as e:
    t.no_exception(e)
finally:
    for x in (ta, tb):
        if x is not None:
            x.finish(t)
    stop_sinks()
    remove_dir(tmp)
t.done()
