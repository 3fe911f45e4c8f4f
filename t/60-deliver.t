#!/usr/bin/python3
# 60-deliver.t - delivery end to end: MX, implicit MX (A), null MX,
# NXDOMAIN, SERVFAIL, a dead preferred MX, a 4xx greeting, per-recipient
# 250/451/550 in one transaction with the 451 retried, a server that hangs
# after the final dot, bounce-after expiry, max-smtp-out and
# max-msg-per-connection under a flow of 60 messages, two VirtualMTAs and
# a pool (source address and EHLO name), dot-stuffing on the wire, and the
# counters of `tern show queues/status --json`.
#
# Everything runs against a fake DNS server (t/lib/dnsfake.py) and
# scriptable SMTP sinks (t/lib/sink.py) on 127.0.0.x; nothing leaves
# loopback and Tern never asks a real nameserver.
import datetime
import json
import os
import signal
import smtplib
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import (TodoTAP, Tern, acct_rows, free_port_on,  # noqa
                     remove_dir, wait_for)
from dnsfake import DNSFake  # noqa
from sinklib import Sink, stop_sinks  # noqa

# --- helpers -----------------------------------------------------------------

def inject(port, sender, rcpts, body):
    """One message over SMTP; the queue id from the 250 reply."""
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    try:
        s.ehlo("inject.test")
        code, _ = s.mail(sender)
        assert code == 250, code
        for r in rcpts:
            code, text = s.rcpt(r)
            assert code == 250, (r, code, text)
        code, text = s.data(body)
        assert code == 250, (code, text)
        s.quit()
        return text.decode().split()[1]
    finally:
        s.close()


def rows_for(tern, rcpt, type_=None):
    return [r for r in acct_rows(tern) if r["rcpt"] == rcpt and
            (type_ is None or r["type"] == type_)]


def delivered_to(sink, rcpt):
    return [m for m in sink.messages() if rcpt in m["rcpts"]]


def queue(tern, name):
    q = tern.queues()
    return (q or {}).get(name)


# SIGTERM (a prove timeout, ^C in a pipeline) still runs the finally
# blocks and atexit handlers that stop every process started here.
signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))

t = TodoTAP()
tmp = tempfile.mkdtemp(prefix="tern-t60-")
HOSTS = ["127.0.0.%d" % i for i in range(2, 12)]
P = free_port_on(["127.0.0.1"] + HOSTS)
MAIN, GREET, FLOW, VMTA, MIXED, HANG, CLOSED = (
    "127.0.0.2", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7",
    "127.0.0.8", "127.0.0.9")
REFUSE, NOPIPE = "127.0.0.10", "127.0.0.11"

RECORDS = {
    "mx": {
        "mx.test": [[10, "mx1.mx.test"]],
        "dots.test": [[10, "mx1.mx.test"]],
        "nullmx.test": [[0, "."]],
        "backup.test": [[20, "up.backup.test"], [10, "down.backup.test"]],
        "greet.test": [[10, "busy.greet.test"], [20, "ok.greet.test"]],
        "mixed.test": [[10, "mx.mixed.test"]],
        "hang.test": [[10, "mx.hang.test"]],
        "expire.test": [[10, "mx.expire.test"]],
        "flow.test": [[10, "mx.flow.test"]],
        "vmta.test": [[10, "mx.vmta.test"]],
        "split.test": [[10, "mx1.mx.test"]],
        "mxatt.test": [[10, "down.backup.test"], [20, "up.backup.test"]],
        "b5.test": [[10, "mx.b5.test"]],
        "nopipe.test": [[10, "mx.nopipe.test"]],
    },
    "a": {
        "mx1.mx.test": [MAIN],
        "aonly.test": [MAIN],
        "down.backup.test": [CLOSED],
        "up.backup.test": [MAIN],
        "busy.greet.test": [GREET],
        "ok.greet.test": [MAIN],
        "mx.mixed.test": [MIXED],
        "mx.hang.test": [HANG],
        "mx.expire.test": [CLOSED],
        "mx.flow.test": [FLOW],
        "mx.vmta.test": [VMTA],
        "mx.b5.test": [REFUSE],
        "mx.nopipe.test": [NOPIPE],
    },
    "nxdomain": ["nx.test"],
    "servfail": ["sf.test"],
}

DOMAINS = (
    '  "*": { default-smtp-port: %d, retry-after: 2s, bounce-after: 10m,'
    ' connection-idle-timeout: 0, connect-timeout: 5s,'
    ' smtp-greeting-timeout: 10s, max-smtp-out: 10 }\n'
    '  sf.test: { retry-after: 3s }\n'
    '  deadroute.test: { route: "[%s]:%d", retry-after: 1h }\n'
    '  split.test: { max-rcpt-per-message: 2 }\n'
    '  mxatt.test: { mx-connection-attempts: 1, retry-after: 1h }\n'
    '  hang.test: { smtp-data-termination-timeout: 3s }\n'
    '  expire.test: { bounce-after: 5s }\n'
    '  flow.test: { max-smtp-out: 3, max-msg-per-connection: 5,'
    ' connection-idle-timeout: 5s }\n' % (P, CLOSED, P))

dns = DNSFake(RECORDS, dir=tmp)
sinks = {
    "main": Sink(tmp, MAIN, P, name="main"),
    "greet": Sink(tmp, GREET, P, {"greeting": "421 4.3.2 too busy, go away"},
                  name="greet"),
    "flow": Sink(tmp, FLOW, P, name="flow"),
    "vmta": Sink(tmp, VMTA, P, name="vmta"),
    "mixed": Sink(tmp, MIXED, P, {"rcpt": {
        "^soft": "451 4.2.0 mailbox busy, try later",
        "^hard": "550 5.1.1 no such user here"}}, name="mixed"),
    "hang": Sink(tmp, HANG, P, {"hang_after_dot": 30}, name="hang"),
    "refuse": Sink(tmp, REFUSE, P, {"greeting": "554 5.7.1 no service for "
                                    "you"}, name="refuse"),
    "nopipe": Sink(tmp, NOPIPE, P, {"ehlo": ["8BITMIME", "SIZE 1000000"],
                                    "rcpt": {"^hard": "550 5.1.1 no such "
                                             "user"}}, name="nopipe"),
}
tern = None
try:
    dns.start()
    for s in sinks.values():
        s.start()
    tern = Tern(domains=DOMAINS, dns_port=dns.port).start()
    main = sinks["main"]

    # --- inject everything up front; the scenarios run side by side ----------
    ids = {}
    simple = ["u1@mx.test", "a1@aonly.test", "n1@nullmx.test", "x1@nx.test",
              "s1@sf.test", "b1@backup.test", "g1@greet.test",
              "h1@hang.test", "e1@expire.test"]
    for r in simple:
        ids[r] = inject(tern.port, "sender@src.test", [r],
                        "Subject: to %s\r\nX-Token: tok-%s\r\n\r\nhello\r\n"
                        % (r, r))
    ids["mixed"] = inject(tern.port, "sender@src.test",
                          ["ok1@mixed.test", "soft1@mixed.test",
                           "hard1@mixed.test"],
                          "Subject: mixed\r\n\r\nthree recipients\r\n")
    body_lines = ["Subject: dots", "", "first line", ".leading dot",
                  "..two dots", ".", "middle", ". space after dot",
                  "last line"]
    dot_body = "\r\n".join(body_lines) + "\r\n"
    # smtplib stuffs the leading dots on the way in; smtpd unstuffs them.
    split_rcpts = ["sp%d@split.test" % i for i in range(5)]
    inject(tern.port, "sender@src.test", split_rcpts,
           "Subject: split\r\n\r\nfive recipients\r\n")
    inject(tern.port, "sender@src.test", ["m1@mxatt.test"],
           "Subject: mxatt\r\n\r\nx\r\n")
    inject(tern.port, "sender@src.test", ["r1@b5.test"],
           "Subject: b5\r\n\r\nx\r\n")
    inject(tern.port, "sender@src.test", ["ok2@nopipe.test",
                                          "hard2@nopipe.test"],
           "Subject: nopipe-1\r\n\r\nx\r\n")
    inject(tern.port, "sender@src.test", ["hard3@nopipe.test",
                                          "hard4@nopipe.test"],
           "Subject: nopipe-2\r\n\r\nx\r\n")
    ids["dots"] = inject(tern.port, "sender@src.test", ["d1@dots.test"],
                         dot_body)
    flow_rcpts = ["f%02d@flow.test" % i for i in range(60)]
    s = smtplib.SMTP("127.0.0.1", tern.port, timeout=30)
    for r in flow_rcpts:
        s.sendmail("sender@src.test", [r],
                   "Subject: flow %s\r\n\r\nflow body %s\r\n" % (r, r))
    s.sendmail("sender@src.test", ["v1@vmta.test"],
               "X-Virtual-MTA: mta1\r\nSubject: v1\r\n\r\nvia mta1\r\n")
    s.sendmail("sender@src.test", ["v2@vmta.test"],
               "X-Virtual-MTA: mta2\r\nSubject: v2\r\n\r\nvia mta2\r\n")
    pool_rcpts = ["p%d@vmta.test" % i for i in range(6)]
    for r in pool_rcpts:
        s.sendmail("sender@src.test", [r],
                   "X-Virtual-MTA: pool-a\r\nSubject: %s\r\n\r\npool\r\n" % r)
    s.quit()

    # --- MX and implicit MX --------------------------------------------------
    m = wait_for(lambda: delivered_to(main, "u1@mx.test"), 20)
    t.ok(m and len(m) == 1 and m[0]["frm"] == "sender@src.test" and
         m[0]["rcpts"] == ["u1@mx.test"] and "X-Token: tok-u1@mx.test" in
         m[0]["data"], "MX: u1@mx.test delivered once to its MX host", m)
    m = wait_for(lambda: delivered_to(main, "a1@aonly.test"), 20)
    t.ok(m and len(m) == 1, "no MX: delivered to the domain's own A record "
         "(implicit MX)", m)
    qs = [(e["name"], e["type"], e["rcode"]) for e in dns.queries()]
    t.ok(("aonly.test", "MX", "NOERROR") in qs and
         ("aonly.test", "A", "NOERROR") in qs,
         "implicit MX: an MX query answered with no data, then an A query "
         "for the domain itself", [q for q in qs if "aonly" in q[0]])

    # --- null MX, NXDOMAIN: bounced at once -----------------------------------
    b = wait_for(lambda: rows_for(tern, "n1@nullmx.test", "b"), 20)
    t.ok(b and len(b) == 1 and b[0]["dsnStatus"].startswith("5.1.10") and
         b[0]["bounceCat"] == "bad-domain",
         "null MX: one b row, 5.1.10, bounceCat bad-domain", b)
    b = wait_for(lambda: rows_for(tern, "x1@nx.test", "b"), 20)
    t.ok(b and len(b) == 1 and b[0]["dsnStatus"].startswith("5.1.2") and
         b[0]["bounceCat"] == "bad-domain" and b[0]["dsnAction"] == "failed",
         "NXDOMAIN: one b row, 5.1.2, bounceCat bad-domain", b)

    # --- SERVFAIL: deferred, visible in show queues, then delivered -----------
    q = wait_for(lambda: (queue(tern, "sf.test/mta1") or {}).get("deferred")
                 and queue(tern, "sf.test/mta1"), 20)
    now = time.time()
    t.ok(q and q["deferred"] == 1 and q["rcpts"] == 1 and
         "DNS" in q.get("last_error", "") and
         now - 2 <= q.get("next_attempt", 0) <= now + 10,
         "SERVFAIL: show queues --json says 1 deferred, last_error from DNS, "
         "next_attempt in the next seconds", q)
    t.ok(not rows_for(tern, "s1@sf.test"), "SERVFAIL: no d or b row (a "
         "temporary failure is not final)", rows_for(tern, "s1@sf.test"))
    rc, out, err = tern.tern("show", "queues")
    t.ok(rc == 0 and "sf.test/mta1" in out and "DNS" in out,
         "show queues (text) lists the deferred queue with its error",
         out + err)
    recs = json.loads(json.dumps(RECORDS))
    recs["servfail"] = []
    recs["mx"]["sf.test"] = [[10, "mx1.mx.test"]]
    dns.set(recs)
    m = wait_for(lambda: delivered_to(main, "s1@sf.test"), 20)
    t.ok(m and len(m) == 1, "SERVFAIL: delivered on a later attempt once "
         "DNS answers", m)

    # --- a dead preferred MX, a 4xx greeting: the next MX -------------------
    m = wait_for(lambda: delivered_to(main, "b1@backup.test"), 20)
    d = rows_for(tern, "b1@backup.test", "d")
    t.ok(m and len(m) == 1 and d and d[0]["dlvDestinationIp"] == MAIN and
         "up.backup.test" in d[0]["dsnMta"],
         "preferred MX refuses connections: the next MX (pref 20) takes it",
         (m, d))
    m = wait_for(lambda: delivered_to(main, "g1@greet.test"), 20)
    t.ok(sinks["greet"].events("connect") and m and len(m) == 1,
         "421 greeting on the first MX: the second MX takes it",
         (sinks["greet"].events("connect"), m))
    t.ok(not sinks["greet"].events("ehlo"), "no EHLO after a 421 greeting",
         sinks["greet"].events("ehlo"))

    # --- mixed 250/451/550 in one transaction -------------------------------
    mixed = sinks["mixed"]
    m = wait_for(lambda: mixed.messages(), 20)
    codes = {e["to"]: e["code"] for e in mixed.events("rcpt")
             if e["conn"] == (m[0]["conn"] if m else None)}
    t.is_(codes, {"ok1@mixed.test": 250, "soft1@mixed.test": 451,
                  "hard1@mixed.test": 550},
          "mixed: the three RCPTs answered 250/451/550 in one transaction")
    t.ok(m and m[0]["rcpts"] == ["ok1@mixed.test"],
         "mixed: the message went to the accepted recipient only", m)
    b = wait_for(lambda: rows_for(tern, "hard1@mixed.test", "b"), 10)
    t.ok(b and len(b) == 1 and b[0]["dsnStatus"].startswith("5.1.1") and
         b[0]["bounceCat"] == "bad-mailbox" and "no such user" in
         b[0]["dsnDiag"], "mixed: 550 5.1.1 recipient bounced "
         "(bad-mailbox) with the remote text", b)
    d = wait_for(lambda: rows_for(tern, "ok1@mixed.test", "d"), 10)
    t.ok(d and len(d) == 1, "mixed: the 250 recipient has its d row", d)
    q = wait_for(lambda: (queue(tern, "mixed.test/mta1") or {}).get(
        "deferred") and queue(tern, "mixed.test/mta1"), 10)
    t.ok(q and q["deferred"] == 1 and q["rcpts"] == 1 and "451" in
         q.get("last_error", ""), "mixed: the 451 recipient waits in the "
         "queue, last_error has the 451", q)
    mixed.set({})
    m2 = wait_for(lambda: delivered_to(mixed, "soft1@mixed.test"), 20)
    t.ok(m2 and len(m2) == 1 and m2[0]["rcpts"] == ["soft1@mixed.test"],
         "mixed: the 451 recipient is retried alone and delivered", m2)
    t.is_(len(delivered_to(mixed, "ok1@mixed.test")), 1,
          "mixed: the 250 recipient is not sent twice")
    t.ok(not [e for e in mixed.events("rcpt")
              if e["to"] == "hard1@mixed.test" and e["conn"] != m[0]["conn"]],
         "mixed: the 550 recipient is never tried again")

    # --- a server that hangs after the final dot ----------------------------
    hang = sinks["hang"]
    ok = wait_for(lambda: hang.events("rcpt"), 20)
    t.ok(ok, "hang: first attempt reached RCPT")
    # the first connection has read its script; the retry will not hang
    hang.set({})
    q = wait_for(lambda: (queue(tern, "hang.test/mta1") or {}).get(
        "deferred") and queue(tern, "hang.test/mta1"), 15)
    t.ok(q and "timeout" in q.get("last_error", ""),
         "hang: deferred after smtp-data-termination-timeout (3s), "
         "last_error says timeout", q)
    m = wait_for(lambda: delivered_to(hang, "h1@hang.test"), 20)
    t.ok(m and len(m) == 1 and len(hang.events("connect")) >= 2,
         "hang: retried on a new connection and delivered",
         (m, hang.events("connect")))

    # --- bounce-after expiry -------------------------------------------------
    b = wait_for(lambda: rows_for(tern, "e1@expire.test", "b"), 30)
    t.ok(b and len(b) == 1 and b[0]["bounceCat"] == "message-expired",
         "expiry: a dead destination bounces as message-expired", b)
    if b:
        fmt = "%Y-%m-%d %H:%M:%S%z"
        dl = datetime.datetime.strptime(b[0]["timeLogged"], fmt)
        dq_ = datetime.datetime.strptime(b[0]["timeQueued"], fmt)
        t.ok((dl - dq_).total_seconds() >= 5,
             "expiry: not bounced before bounce-after (5s) has passed",
             (b[0]["timeQueued"], b[0]["timeLogged"]))
    q = wait_for(lambda: queue(tern, "expire.test/mta1") is None or
                 queue(tern, "expire.test/mta1")["rcpts"] == 0, 10)
    t.ok(q, "expiry: the queue is empty afterwards",
         queue(tern, "expire.test/mta1"))

    # --- flow: max-smtp-out 3, max-msg-per-connection 5 ---------------------
    flow = sinks["flow"]
    wait_for(lambda: len(flow.messages()) >= 60, 60)
    got = {}
    for msg in flow.messages():
        for r in msg["rcpts"]:
            got[r] = got.get(r, 0) + 1
    t.is_(sorted(got), flow_rcpts, "flow: all 60 messages arrived")
    t.ok(all(v == 1 for v in got.values()), "flow: each exactly once",
         {k: v for k, v in got.items() if v != 1})
    conc = [e["concurrent"] for e in flow.events("connect")]
    t.ok(conc and max(conc) <= 3, "flow: max-smtp-out 3 never exceeded "
         "(max %s concurrent over %d connections)"
         % (max(conc) if conc else None, len(conc)), conc)
    per = {}
    for msg in flow.messages():
        per[msg["conn"]] = per.get(msg["conn"], 0) + 1
    t.ok(per and max(per.values()) <= 5 and len(per) >= 12,
         "flow: max-msg-per-connection 5 respected (%d connections, "
         "most %d messages)" % (len(per), max(per.values()) if per else 0),
         per)
    t.diag("flow: per-connection message counts %r"
           % sorted(per.values(), reverse=True))

    # --- VirtualMTAs and a pool ---------------------------------------------
    vs = sinks["vmta"]
    wait_for(lambda: len(vs.messages()) >= 8, 20)
    ehlo = {e["conn"]: e["name"] for e in vs.events("ehlo")}
    peer = {}
    for msg in vs.messages():
        for r in msg["rcpts"]:
            peer[r] = (msg["peer"], ehlo.get(msg["conn"]))
    t.is_(peer.get("v1@vmta.test"), ("127.0.0.1", "mta1.test.example"),
          "vmta mta1: from 127.0.0.1, EHLO mta1.test.example")
    t.is_(peer.get("v2@vmta.test"), ("127.0.0.2", "mta2.test.example"),
          "X-Virtual-MTA: mta2: from 127.0.0.2, EHLO mta2.test.example")
    pp = [peer.get(r) for r in pool_rcpts]
    t.ok(None not in pp and
         all(p in (("127.0.0.1", "mta1.test.example"),
                   ("127.0.0.2", "mta2.test.example")) for p in pp) and
         len(set(pp)) == 2,
         "pool-a: messages spread over mta1 and mta2, each with its own "
         "source and EHLO name", pp)
    rows = [r for r in acct_rows(tern) if r["rcpt"] in pool_rcpts]
    t.ok(len(rows) == 6 and all(r["vmtaPool"] == "pool-a" and
                                r["queue"] == "vmta.test/" + r["vmta"] and
                                r["dlvSourceIp"] == ("127.0.0.1" if
                                                     r["vmta"] == "mta1"
                                                     else "127.0.0.2")
                                for r in rows),
         "pool-a: accounting names the pool, the member vmta, its queue and "
         "its source address", rows)

    # --- dot-stuffing and line ends on the wire ------------------------------
    m = wait_for(lambda: delivered_to(main, "d1@dots.test"), 20)
    wire = None
    if m:
        data = m[0]["data"]
        wire = data[data.index("Subject: dots"):] if "Subject: dots" in \
            data else data
    want = "\r\n".join(("." + l) if l.startswith(".") else l
                       for l in body_lines) + "\r\n"
    t.is_(wire, want, "dots: leading dots arrive stuffed on the wire, "
          "CRLF line ends, the body otherwise byte for byte")
    allmsgs = [msg for s in sinks.values() for msg in s.messages()]
    t.ok(allmsgs and not [msg for msg in allmsgs if msg["bare_lf"]],
         "no sink ever saw a bare LF or CR (%d messages)" % len(allmsgs),
         [msg["rcpts"] for msg in allmsgs if msg["bare_lf"]])

    # --- max-rcpt-per-message: one message, several transactions -----------
    wait_for(lambda: sum(len(m["rcpts"]) for m in main.messages()
                         if m["rcpts"][0].endswith("@split.test")) >= 5, 20)
    sp = [m["rcpts"] for m in main.messages()
          if m["rcpts"][0].endswith("@split.test")]
    t.ok(sorted(r for x in sp for r in x) == split_rcpts and
         all(len(x) <= 2 for x in sp) and len(sp) == 3,
         "max-rcpt-per-message 2: five recipients go as 2+2+1, each once",
         sp)

    # --- mx-connection-attempts 1: the backup MX is not tried --------------
    q = wait_for(lambda: (queue(tern, "mxatt.test/mta1") or {}).get(
        "deferred") and queue(tern, "mxatt.test/mta1"), 20)
    t.ok(q and CLOSED in q.get("last_error", "") and
         not delivered_to(main, "m1@mxatt.test"),
         "mx-connection-attempts 1: only the first MX is tried; deferred",
         (q, delivered_to(main, "m1@mxatt.test")))

    # --- 554 greeting with bounce-upon-5xx-greeting (default yes) ----------
    b = wait_for(lambda: rows_for(tern, "r1@b5.test", "b"), 20)
    t.ok(b and len(b) == 1 and b[0]["dsnStatus"].startswith("5.7.1") and
         "no service" in b[0]["dsnDiag"] and
         not sinks["refuse"].events("ehlo"),
         "554 greeting: bounced (bounce-upon-5xx-greeting), no EHLO sent", b)

    # --- a server without PIPELINING: one command at a time ----------------
    np_ = sinks["nopipe"]
    wait_for(lambda: rows_for(tern, "hard4@nopipe.test", "b") and
             rows_for(tern, "ok2@nopipe.test", "d"), 20)
    msgs = np_.messages()
    t.ok(len(msgs) == 1 and msgs[0]["rcpts"] == ["ok2@nopipe.test"],
         "no PIPELINING: the accepted recipient gets the message, once", msgs)
    t.ok(all(len(rows_for(tern, r, "b")) == 1 for r in
             ("hard2@nopipe.test", "hard3@nopipe.test", "hard4@nopipe.test"))
         and rows_for(tern, "hard2@nopipe.test", "b")[0]["bounceCat"] ==
         "bad-mailbox", "no PIPELINING: the 550 recipients bounce, each once",
         [rows_for(tern, r) for r in ("hard2@nopipe.test",
                                      "hard3@nopipe.test",
                                      "hard4@nopipe.test")])
    d = rows_for(tern, "ok2@nopipe.test", "d")
    t.ok(d and "PIPELINING" not in d[0]["dlvEsmtpAvailable"] and
         "8BITMIME" in d[0]["dlvEsmtpAvailable"],
         "no PIPELINING: dlvEsmtpAvailable lists what the server offered", d)

    # --- a static route to a host that refuses connections ------------------
    # (last: with the bug it leaves deliverd spinning on reconnects)
    inject(tern.port, "sender@src.test", ["r1@deadroute.test"],
           "Subject: dead route\r\n\r\nx\r\n")
    q = wait_for(lambda: (queue(tern, "deadroute.test/mta1") or {}).get(
        "deferred") and queue(tern, "deadroute.test/mta1"), 8)
    t.ok(q and CLOSED in q.get("last_error", ""),
         "route: to a refusing host: the message is deferred with the "
         "connect error (no endless reconnect loop)",
         queue(tern, "deadroute.test/mta1"))

    # --- totals ----------------------------------------------------------------
    want_d = (["u1@mx.test", "a1@aonly.test", "s1@sf.test", "b1@backup.test",
               "g1@greet.test", "h1@hang.test", "ok1@mixed.test",
               "soft1@mixed.test", "d1@dots.test", "v1@vmta.test",
               "v2@vmta.test"] + pool_rcpts + flow_rcpts)
    want_d += split_rcpts + ["ok2@nopipe.test"]
    want_b = ["r1@b5.test", "hard2@nopipe.test", "hard3@nopipe.test",
              "hard4@nopipe.test"]
    want_b += ["n1@nullmx.test", "x1@nx.test", "hard1@mixed.test",
              "e1@expire.test"]
    ok = wait_for(lambda: (tern.status() or {}).get("queued", {}).get(
        "recipients") == 2, 30)
    st = (tern.status() or {}).get("queued", {})
    t.ok(ok and st.get("messages") == 2, "the queue holds only the "
         "dead-route and mx-connection-attempts messages at the end", st)
    t.ok(st.get("delivered") == len(want_d) and
         st.get("bounced") == len(want_b),
         "show status --json: delivered %d, bounced %d"
         % (len(want_d), len(want_b)), st)
    rows = acct_rows(tern)
    t.is_(sorted(r["rcpt"] for r in rows if r["type"] == "d"), sorted(want_d),
          "accounting: exactly one d row per delivered recipient")
    t.is_(sorted(r["rcpt"] for r in rows if r["type"] == "b"), sorted(want_b),
          "accounting: exactly one b row per bounced recipient")
    t.is_(len(tern.spool_files()), 2, "spool holds no other message file")
    t.ok(st.get("corrupt") == 0, "nothing corrupt", st)
except Exception as e:
    t.no_exception(e)
finally:
    if tern is not None:
        tern.finish(t, lambda rc: t.is_(rc, 0, "ternd exits 0 on SIGTERM"),
                    tail=4000)
    stop_sinks()
    dns.stop()
    remove_dir(tmp)
t.done()
