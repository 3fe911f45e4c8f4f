#!/usr/bin/python3
# 99-ndr.t - the bounces Tern sends (generate-bounces) and the DSN
# extension on the listener (RFC 3461), on loopback.
#
# dest.test (a sink) refuses nobody@ with 550 5.1.1 at RCPT; the
# senders' domain app.test is another sink that keeps each message it
# gets.  From a source with generate-bounces: yes, a message to nobody@
# with ENVID, ORCPT and NOTIFY=FAILURE comes back to its sender as an
# RFC 3464 report from <> that Sisimai reads as nobody@dest.test, 5.1.1,
# echoing the ENVID and ORCPT (which are also in the b row's envId and
# orcpt columns); RET=FULL returns the body.  No report for: a message
# from the null sender (no bounce loop), NOTIFY=NEVER, a source without
# generate-bounces.  NOTIFY=SUCCESS on a recipient handed to a server
# without DSN brings a "relayed" report; a server that offers DSN gets
# RET, ENVID, NOTIFY and ORCPT passed on (and Tern sends no report).
# EHLO offers DSN; a bad NOTIFY is refused.
import os
import smtplib
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, free_port_on  # noqa
from sinklib import Sink  # noqa
from shapelib import Run, exit_on_sigterm, never, until  # noqa
from bouncelib import rows, wait_rows  # noqa

exit_on_sigterm()
t = TAP()
tmp = tempfile.mkdtemp(prefix="tern-t99-")
D, A, X = "127.0.0.21", "127.0.0.22", "127.0.0.24"
P = free_port_on([D, A, X])
DOMAINS = ('  "*": { retry-after: 1s, bounce-after: 10m, route: "[%s]:%d" }\n'
           '  app.test: { route: "[%s]:%d" }\n'
           '  dsn.test: { route: "[%s]:%d" }\n' % (D, P, A, P, X, P))
SOURCES = ('  127.0.0.1/32: { always-allow-relaying: yes, process-x-job: yes,'
           ' generate-bounces: yes }\n'
           '  127.0.0.3/32: { always-allow-relaying: yes }\n'
           '  0/0: { always-allow-relaying: no }\n')
dest = Sink(tmp, D, P, {"rcpt": {"^nobody@": "550 5.1.1 no such user"}},
            name="dest")
app = Sink(tmp, A, P, {"save_raw": True}, name="app")
# dsn.test offers DSN: the parameters go on to it, and it reports.
nxt = Sink(tmp, X, P, {"ehlo": ["PIPELINING", "8BITMIME", "DSN"]},
           name="dsn")

SISIMAI = r'''
use Sisimai;
my $v = Sisimai->can('rise') ? Sisimai->rise($ARGV[0]) :
    Sisimai->make($ARGV[0]);
print join(" ", $_->recipient->address, $_->deliverystatus, $_->reason),
    "\n" for @{ $v // [] };
'''


def sisimai(path):
    r = subprocess.run(["perl", "-e", SISIMAI, path], capture_output=True,
                       text=True, timeout=60)
    return r.stdout.split("\n")[0].split() if r.returncode == 0 else None


def send(sender, rcpt, mopts=(), ropts=(), source=None, body="body"):
    s = smtplib.SMTP("127.0.0.1", tern.port, timeout=30,
                     source_address=(source, 0) if source else None)
    try:
        s.ehlo("client.test")
        s.sendmail(sender, [rcpt], "From: a@app.test\r\nTo: %s\r\n"
                   "Subject: dsn test\r\n\r\n%s\r\n" % (rcpt, body),
                   mail_options=list(mopts), rcpt_options=list(ropts))
        s.quit()
    finally:
        s.close()


def reports(to):
    """What the app.test sink got from <> for `to`."""
    return [m for m in app.messages() if m["frm"] == "" and to in m["rcpts"]]


def raw(m):
    with open(m["raw"], "rb") as f:
        return f.read().decode(errors="replace")


with Run(t, tmp, dest, app, nxt) as run:
    dest.start()
    app.start()
    nxt.start()
    # Suppression off: every message here meets the sink's 550 itself.
    tern = run.start(Tern(domains=DOMAINS, sources=SOURCES,
                          extra="suppression: { enabled: no }\n"))

    s = smtplib.SMTP("127.0.0.1", tern.port, timeout=10)
    code, ext = s.ehlo("client.test")
    t.ok("DSN" in ext.decode().split("\n"), "EHLO offers DSN")
    code, msg = s.docmd("MAIL FROM:<a@app.test> RET=FULL ENVID=x")
    t.is_(code, 250, "MAIL FROM with RET and ENVID: 250")
    code, msg = s.docmd("RCPT TO:<b@dest.test> NOTIFY=NEVER,SUCCESS")
    t.ok(code >= 500, "NOTIFY=NEVER with another keyword is refused (%d)"
         % code)
    s.quit()

    # --- a 550 comes back to the sender as an RFC 3464 report -------------
    send("one@app.test", "nobody@dest.test", mopts=["RET=HDRS", "ENVID=E1+2B"],
         ropts=["NOTIFY=FAILURE", "ORCPT=rfc822;orig@dest.test"])
    ok = until(lambda: reports("one@app.test"), 20)
    t.ok(ok, "the sender got a report from <>")
    rep = reports("one@app.test")
    text = raw(rep[0]) if rep else ""
    t.ok("multipart/report" in text and "report-type=delivery-status" in
         text, "it is a multipart/report; report-type=delivery-status")
    t.ok("Original-Envelope-Id: E1+" in text,
         "it echoes the ENVID (E1+2B, decoded)", text[:2000])
    t.ok("Original-Recipient: rfc822;orig@dest.test" in text,
         "it echoes the ORCPT")
    t.ok("Auto-Submitted: auto-replied" in text, "Auto-Submitted is set")
    t.ok("text/rfc822-headers" in text, "RET=HDRS: the headers come back")
    got = sisimai(rep[0]["raw"]) if rep else None
    t.ok(got is not None and got[0] == "nobody@dest.test" and
         got[1] == "5.1.1", "Sisimai reads it: nobody@dest.test 5.1.1",
         got)
    b = wait_rows(tern, "b", "nobody@dest.test", 5)
    t.ok(b and b[0]["envId"] == "E1+" and
         b[0]["orcpt"] == "rfc822;orig@dest.test",
         "the b row has the envId and orcpt", b)

    # --- RET=FULL returns the body -----------------------------------------
    send("full@app.test", "nobody@dest.test", mopts=["RET=FULL"],
         body="the very body 4711")
    until(lambda: reports("full@app.test"), 20)
    rep = reports("full@app.test")
    t.ok(rep and "the very body 4711" in raw(rep[0]) and
         "message/rfc822" in raw(rep[0]), "RET=FULL: the whole message "
         "comes back")

    # --- no report: null sender, NOTIFY=NEVER, no generate-bounces ---------
    nb = len(rows(tern, "b"))
    send("", "nobody@dest.test")
    send("never@app.test", "nobody@dest.test", ropts=["NOTIFY=NEVER"])
    send("other@app.test", "nobody@dest.test", source="127.0.0.3")
    until(lambda: len(rows(tern, "b")) >= nb + 3, 20)
    t.is_(len(rows(tern, "b")) - nb, 3, "three more 550s, three b rows")
    t.ok(never(lambda: [m for m in app.messages() if m["frm"] == "" and
                        m["rcpts"][0] in ("never@app.test",
                                          "other@app.test")], 3),
         "no report for NOTIFY=NEVER nor from a source without "
         "generate-bounces")
    nulls = [m for m in app.messages() + dest.messages()
             if m["frm"] == "" and "nobody@dest.test" not in m["rcpts"] and
             m["rcpts"][0] not in ("one@app.test", "full@app.test")]
    t.ok(not nulls, "a 550 to a null-sender message makes no report (no "
         "loop)", nulls)

    # --- NOTIFY=SUCCESS ----------------------------------------------------
    send("ok@app.test", "fine@dest.test", ropts=["NOTIFY=SUCCESS,FAILURE"])
    until(lambda: reports("ok@app.test"), 20)
    rep = reports("ok@app.test")
    t.ok(rep and "Action: relayed" in raw(rep[0]),
         "NOTIFY=SUCCESS to a server without DSN: a 'relayed' report")

    # --- a next hop that offers DSN gets the parameters --------------------
    send("p@app.test", "q@dsn.test", mopts=["RET=HDRS", "ENVID=Q+2B1"],
         ropts=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;o+2Bx@dsn.test"])
    until(lambda: "q@dsn.test" in nxt.delivered_rcpts(), 20)
    ml = [e["line"] for e in nxt.events("mail")]
    rl = [e["line"] for e in nxt.events("rcpt")]
    t.ok(ml and ml[-1].endswith(" RET=HDRS ENVID=Q+2B1"),
         "MAIL FROM to a DSN server carries RET and ENVID (xtext)", ml)
    t.ok(rl and rl[-1].endswith(" NOTIFY=SUCCESS,FAILURE "
                                "ORCPT=rfc822;o+2Bx@dsn.test"),
         "RCPT TO carries NOTIFY and ORCPT", rl)
    t.ok(never(lambda: reports("p@app.test"), 2),
         "no success report from Tern: the DSN server reports")
    t.diag("queued: %s" % {k: v for k, v in
                           ((tern.status() or {}).get("queued") or {}).items()
                           if "ndr" in k or "suppress" in k})
t.done()
