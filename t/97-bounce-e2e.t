#!/usr/bin/python3
# 97-bounce-e2e.t - bounces and complaints end to end, on loopback.
#
# mta1 writes VERP return paths.  A message from bounce@bounces.test to
# alice@dest.test (job J1) goes out to a sink; the sink saw the VERP
# return path.  A delivery status notification for it, sent from a
# source that may not relay to that return path (a bounce-processor
# domain), is taken by smtpd and read by bouncd: an rb row with the
# original job id, VirtualMTA, status and category, and alice is on the
# suppression list; the next message to her is not delivered and is
# accounted as suppressed.  The same for an ARF complaint about bob
# (job J2, tied by the returned X-Job) sent to fbl@tern.test: an f row
# with the feedback type and source IP, and bob is suppressed.  A 4xx
# delay notice suppresses nobody; mail to a processor address that is
# not a report is consumed without a row; a bouncd killed with SIGKILL
# comes back and nothing for the processors is lost.
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, free_port_on  # noqa
from sinklib import Sink  # noqa
from shapelib import Run, ctl, exit_on_sigterm, never, sq_when, until  # noqa
from bouncelib import (PROCESSORS, SOURCES, VMTAS, arf, dsn, inject,  # noqa
                       rows, send, wait_rows)

exit_on_sigterm()
t = TAP()
tmp = tempfile.mkdtemp(prefix="tern-t97-")
H = "127.0.0.20"
P = free_port_on([H])
DOMAINS = ('  "*": { retry-after: 1s, bounce-after: 10m, route: "[%s]:%d" }\n'
           % (H, P))
sink = Sink(tmp, H, P, {"rcpt": {"^gone@": "550 5.1.1 no such user"}},
            name="dest")

with Run(t, tmp, sink) as run:
    sink.start()
    # mta1 warms up (a volume never reached): its complaints are counted.
    day = time.strftime("%Y-%m-%d", time.gmtime())
    vm = VMTAS.replace("verp: yes }", "verp: yes, warmup: { start: %s,"
                       " schedule: [100000] } }" % day)
    tern = run.start(Tern(domains=DOMAINS, vmtas=vm, sources=SOURCES,
                          extra=PROCESSORS))

    # --- a message goes out with a VERP return path -------------------------
    send(tern.port, "bounce@bounces.test", "alice@dest.test", job="J1")
    ok = until(lambda: "alice@dest.test" in sink.delivered_rcpts(), 20)
    t.ok(ok, "the message to alice was delivered to the sink")
    frm = [m["frm"] for m in sink.delivered() if "alice@dest.test" in
           m["rcpts"]]
    verp = frm[0] if frm else ""
    t.is_(verp, "bounce+alice=dest.test=mta1=J1@bounces.test",
          "MAIL FROM is the VERP return path (recipient, vmta, job)")
    t.ok(wait_rows(tern, "d", "alice@dest.test", 10),
         "a d row for alice")

    # --- its DSN comes back from the Internet -------------------------------
    code = inject(tern.port, "", verp or "x@bounces.test",
                  dsn(verp, "alice@dest.test"))
    t.is_(code, 250, "a DSN to the VERP address is accepted from a source "
          "that may not relay")
    rb = wait_rows(tern, "rb", "alice@dest.test", 20)
    t.ok(len(rb) == 1, "one rb row for alice", rb)
    r = rb[0] if rb else {}
    t.is_(r.get("jobId"), "J1", "rb row: the original job id")
    t.is_(r.get("vmta"), "mta1", "rb row: the original VirtualMTA")
    t.ok(r.get("dsnStatus", "").startswith("5.1.1"),
         "rb row: dsnStatus 5.1.1", r.get("dsnStatus"))
    t.is_(r.get("bounceCat"), "bad-mailbox", "rb row: category bad-mailbox")
    t.ok("user unknown" in r.get("dsnDiag", ""), "rb row: the diagnostic",
         r.get("dsnDiag"))
    t.is_(r.get("orig"), "bounce@bounces.test",
          "rb row: orig is the sender without the VERP tail")
    t.ok(not [x for x in sink.messages() if x["frm"] == ""],
         "the DSN was not relayed anywhere")
    t.ok(r.get("dsnReportingMta") == "mx.dest.test" and
         r.get("rcvSourceIp") == "127.0.0.9" and
         "(127.0.0.9)" in r.get("srcMta", ""),
         "rb row: dsnReportingMta, rcvSourceIp and srcMta (who sent it)",
         r)

    # --- alice is suppressed ------------------------------------------------
    rc, out, err = ctl(tern, "--json", "suppression", "show",
                       "alice@dest.test")
    t.ok(rc == 0 and "bad-mailbox" in out,
         "tern suppression show alice: on the list (bad-mailbox)", out + err)
    n0 = len(sink.messages())
    send(tern.port, "bounce@bounces.test", "alice@dest.test", job="J3")
    b = wait_rows(tern, "b", "alice@dest.test", 20)
    t.ok(len(b) == 1 and "suppression list" in b[0]["dsnDiag"],
         "the next message to alice: a b row saying suppressed", b)
    t.ok(b and b[0]["dsnStatus"].startswith("5.7.1") and
         b[0]["bounceCat"] == "bad-mailbox" and b[0]["jobId"] == "J3",
         "suppressed row: 5.7.1, the entry's category, its own job", b)
    t.ok(never(lambda: any("alice@dest.test" in m["rcpts"]
                           for m in sink.messages()[n0:]), 2),
         "... and the sink never saw alice again")

    # --- a complaint about bob ----------------------------------------------
    send(tern.port, "news@bounces.test", "bob@dest.test", job="J2",
         vmta="mta2")
    until(lambda: "bob@dest.test" in sink.delivered_rcpts(), 20)
    code = inject(tern.port, "feedback@provider.test", "fbl@tern.test",
                  arf("bob@dest.test", "J2", source_ip="127.0.0.2"))
    t.is_(code, 250, "an ARF report to fbl@tern.test is accepted")
    f = wait_rows(tern, "f", "bob@dest.test", 20)
    t.ok(len(f) == 1, "one f row for bob", f)
    r = f[0] if f else {}
    t.is_(r.get("jobId"), "J2", "f row: job id from the returned X-Job")
    t.is_(r.get("feedbackType"), "abuse", "f row: feedbackType abuse")
    t.is_(r.get("repSourceIp"), "127.0.0.2", "f row: the reported source IP")
    n0 = len(sink.messages())
    send(tern.port, "news@bounces.test", "bob@dest.test", job="J4",
         vmta="mta2")
    b = wait_rows(tern, "b", "bob@dest.test", 20)
    t.ok(len(b) == 1 and "suppression list" in b[0]["dsnDiag"] and
         b[0]["bounceCat"] == "spam-related",
         "the next message to bob: suppressed (complaint, spam-related)", b)
    t.ok(never(lambda: any("bob@dest.test" in m["rcpts"]
                           for m in sink.messages()[n0:]), 1),
         "... and the sink never saw bob again")

    # --- a complaint tied by the returned Return-Path (VERP) ----------------
    send(tern.port, "bounce@bounces.test", "eve@dest.test", job="J9")
    until(lambda: "eve@dest.test" in sink.delivered_rcpts(), 20)
    inject(tern.port, "feedback@provider.test", "fbl@tern.test",
           arf("eve@dest.test", None,
               return_path="bounce+eve=dest.test=mta1=J9@bounces.test"))
    f = wait_rows(tern, "f", "eve@dest.test", 20)
    t.ok(len(f) == 1 and f[0]["jobId"] == "J9" and f[0]["vmta"] == "mta1"
         and f[0]["orig"] == "bounce@bounces.test",
         "an ARF report without X-Job: job, vmta and sender from the "
         "returned Return-Path (VERP)", f)
    q = sq_when(tern, "dest.test/mta1",
                lambda q: (q.get("warmup") or {}).get("complaints"), 10)
    t.is_((q.get("warmup") or {}).get("complaints"), 1,
          "shaperd counted the complaint against dest.test/mta1 (warm-up "
          "guard)")

    # --- a delay notice suppresses nobody -----------------------------------
    send(tern.port, "bounce@bounces.test", "carol@dest.test", job="J5")
    until(lambda: "carol@dest.test" in sink.delivered_rcpts(), 20)
    vc = "bounce+carol=dest.test=mta1=J5@bounces.test"
    inject(tern.port, "", vc, dsn(vc, "carol@dest.test", status="4.2.2",
                                  diag="452 4.2.2 mailbox full"))
    t.ok(never(lambda: rows(tern, "rb", "carol@dest.test"), 2),
         "a 4.x.x report (delayed) writes no rb row")
    rc, out, err = ctl(tern, "--json", "suppression", "show",
                       "carol@dest.test")
    t.ok("bad-mailbox" not in out and "4.2.2" not in out,
         "carol is not suppressed", out)

    # --- not a report: consumed, counted, no row -----------------------------
    nrows = len(rows(tern))
    code = inject(tern.port, "someone@else.test", "bounce@bounces.test",
                  "Subject: hi\r\n\r\njust a note\r\n")
    t.is_(code, 250, "mail to a processor address that is no report is "
          "accepted")
    until(lambda: not [q for q in (tern.queues() or [])
                       if "#bouncd" in q.get("queue", "") and
                       q.get("rcpts", 0) > 0], 10)
    t.is_(len(rows(tern)), nrows, "... and makes no row")

    # --- a 550 5.1.1 at delivery suppresses too ----------------------------
    send(tern.port, "bounce@bounces.test", "gone@dest.test", job="J7")
    t.ok(wait_rows(tern, "b", "gone@dest.test", 20),
         "gone@: the sink's 550 5.1.1 is a b row")
    until(lambda: "gone@dest.test" in ctl(tern, "--json", "suppression",
                                          "show", "gone@dest.test")[1], 10)
    n0 = len(sink.events("rcpt"))
    send(tern.port, "bounce@bounces.test", "gone@dest.test", job="J8")
    b = wait_rows(tern, "b", "gone@dest.test", 20, n=2)
    t.ok(len(b) == 2 and "suppression list" in b[1]["dsnDiag"],
         "the next message to gone@ is suppressed, not tried", b)
    t.ok(not [e for e in sink.events("rcpt")[n0:]
              if e["to"] == "gone@dest.test"], "... the sink saw no RCPT")

    # --- refuse-at: rcpt -----------------------------------------------------
    tern.extra = PROCESSORS + "suppression: { refuse-at: rcpt }\n"
    tern.write_config()
    rc, out, err = ctl(tern, "reload")
    t.is_(rc, 0, "reload with suppression: refuse-at: rcpt")
    code = None
    for _ in range(60):     # smtpd opens the list at most 5 s later
        code = inject(tern.port, "x@bounces.test", "alice@dest.test",
                      "Subject: x\r\n\r\nx\r\n", source="127.0.0.1")
        if code == 550:
            break
        time.sleep(0.2)
    t.is_(code, 550, "refuse-at: rcpt: RCPT to a suppressed address is "
          "refused with 550")
    until(lambda: [r for r in rows(tern, "b", "alice@dest.test")
                   if "refused at RCPT" in r["dsnDiag"]], 10)
    rr = [r for r in rows(tern, "b", "alice@dest.test")
          if "refused at RCPT" in r["dsnDiag"]]
    t.ok(rr and rr[0]["dsnStatus"].startswith("5.7.1") and
         rr[0]["bounceCat"] == "bad-mailbox" and
         rr[0]["orig"] == "x@bounces.test",
         "... and accounted: a b row, 5.7.1, the entry's category", rr)

    # --- verp-secret: only a signed return path may suppress ----------------
    tern.extra = (PROCESSORS + "suppression: { refuse-at: rcpt }\n"
                  "verp-secret: 0123456789abcdef-test\n")
    tern.write_config()
    t.is_(ctl(tern, "reload")[0], 0, "reload with a verp-secret")
    send(tern.port, "bounce@bounces.test", "frank@dest.test", job="J10")
    until(lambda: "frank@dest.test" in sink.delivered_rcpts(), 20)
    fr = [m["frm"] for m in sink.delivered() if "frank@dest.test" in
          m["rcpts"]]
    signed = fr[0] if fr else ""
    t.ok(signed.startswith("bounce+frank=dest.test=mta1=J10=") and
         len(signed.split("@")[0].split("=")[-1]) == 10,
         "the return path ends in a 10-digit tag", signed)
    forged = "bounce+grace=dest.test=mta1=J10@bounces.test"
    inject(tern.port, "", forged, dsn(forged, "grace@dest.test"))
    t.ok(wait_rows(tern, "rb", "grace@dest.test", 20),
         "a forged bounce (no tag) is still an rb row")
    inject(tern.port, "", signed, dsn(signed, "frank@dest.test"))
    t.ok(wait_rows(tern, "rb", "frank@dest.test", 20),
         "the genuine bounce is an rb row")
    until(lambda: "frank@dest.test" in ctl(tern, "--json", "suppression",
                                           "show", "frank@dest.test")[1], 10)
    t.ok("frank@dest.test" in ctl(tern, "--json", "suppression", "show",
                                  "frank@dest.test")[1],
         "the signed one suppressed frank")
    t.ok(ctl(tern, "suppression", "show", "grace@dest.test")[0] == 1,
         "the forged one suppressed nobody")

    # --- bouncd killed: the reports wait in the queue -------------------------
    tern.kill("bouncd")
    send(tern.port, "bounce@bounces.test", "dave@dest.test", job="J6")
    until(lambda: "dave@dest.test" in sink.delivered_rcpts(), 20)
    vd = "bounce+dave=dest.test=mta1=J6@bounces.test"
    code = inject(tern.port, "", vd, dsn(vd, "dave@dest.test",
                                         status="5.1.2",
                                         diag="550 5.1.2 bad domain"))
    t.is_(code, 250, "with bouncd killed, a DSN is still accepted (queued)")
    rb = wait_rows(tern, "rb", "dave@dest.test", 30)
    t.ok(len(rb) == 1 and rb[0]["jobId"] == "J6",
         "ternd restarted bouncd and the DSN was processed", rb)
    t.diag("bouncd: %s" % (tern.status() or {}).get("bouncd"))
t.done()
