"""bouncelib - what the bounce and feedback-loop tests share.

Used by t/97-bounce-e2e.t and t/98-webhooks.t: a Tern configured with a
bounce-processor (domain bounces.test), a feedback-loop-processor
(fbl@tern.test), VERP on mta1 and the rb/f accounting columns; the
delivery status notification a remote MTA would send back for a message
(dsn), the ARF complaint a mailbox provider would send (arf), and both
injected over SMTP from a source that may not relay (inject), as mail
from the Internet would come.
"""
import smtplib
import time

from ternlib import acct_rows

VMTAS = ('  mta1: { smtp-source-host: "127.0.0.1 mta1.test.example",'
         ' verp: yes }\n'
         '  mta2: { smtp-source-host: "127.0.0.2 mta2.test.example" }\n')

SOURCES = ('  127.0.0.1/32: { always-allow-relaying: yes, '
           'process-x-virtual-mta: yes, process-x-job: yes }\n'
           '  0/0: { always-allow-relaying: no }\n')

PROCESSORS = (
    "bounce-processor: { domains: [bounces.test] }\n"
    "feedback-loop-processor: { addresses: [fbl@tern.test] }\n"
    "accounting: { records: [d, b, rb, f],"
    " extra-fields: [feedbackType, repSourceIp, dsnReportingMta,"
    " rcvSourceIp] }\n")


def dsn(to, rcpt, status="5.1.1", diag="550 5.1.1 <%s>: user unknown",
        job=None, mta="mx.dest.test"):
    """A Postfix-style RFC 3464 report for rcpt, sent to `to` (the
    return path the message went out with)."""
    d = diag % rcpt if "%s" in diag else diag
    xjob = "X-Job: %s\r\n" % job if job else ""
    return (
        "From: MAILER-DAEMON@%s (Mail Delivery System)\r\n"
        "To: %s\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;"
        " boundary=\"BB\"\r\n\r\n"
        "--BB\r\nContent-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n\r\n"
        "<%s>: host %s said: %s\r\n\r\n"
        "--BB\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; %s\r\n\r\n"
        "Final-Recipient: rfc822; %s\r\n"
        "Action: %s\r\n"
        "Status: %s\r\n"
        "Remote-MTA: dns; %s\r\n"
        "Diagnostic-Code: smtp; %s\r\n\r\n"
        "--BB\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        "From: s@bounces.test\r\nTo: %s\r\n%s"
        "Subject: hello\r\n\r\n"
        "--BB--\r\n" % (mta, to, rcpt, mta, d, mta, rcpt,
                        "failed" if status[0] == "5" else "delayed",
                        status, mta, d,
                        rcpt, xjob))


def arf(rcpt, job, source_ip="127.0.0.1", ftype="abuse", return_path=None):
    """An RFC 5965 complaint about a message to rcpt of job (its X-Job
    header; None: none), the returned message with return_path if
    given."""
    rp = "Return-Path: <%s>\r\n" % return_path if return_path else ""
    xj = "X-Job: %s\r\n" % job if job else ""
    return (
        "From: feedback@provider.test\r\n"
        "To: fbl@tern.test\r\n"
        "Subject: FW: complaint\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=feedback-report;"
        " boundary=\"FF\"\r\n\r\n"
        "--FF\r\nContent-Type: text/plain\r\n\r\n"
        "This is an email abuse report.\r\n\r\n"
        "--FF\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: %s\r\n"
        "User-Agent: ProviderFBL/1.0\r\n"
        "Version: 1\r\n"
        "Original-Rcpt-To: %s\r\n"
        "Source-IP: %s\r\n"
        "Arrival-Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n"
        "--FF\r\nContent-Type: message/rfc822\r\n\r\n"
        "%sFrom: s@bounces.test\r\nTo: %s\r\n%s"
        "Subject: hello\r\n\r\nthe message\r\n"
        "--FF--\r\n" % (ftype, rcpt, source_ip, rp, rcpt, xj))


def send(port, sender, rcpt, job=None, vmta=None, subject="hello"):
    """One message from the injecting application (127.0.0.1)."""
    hdr = ""
    if job:
        hdr += "X-Job: %s\r\n" % job
    if vmta:
        hdr += "X-Virtual-MTA: %s\r\n" % vmta
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    try:
        s.sendmail(sender, [rcpt], hdr + "From: %s\r\nTo: %s\r\n"
                   "Subject: %s\r\n\r\nbody\r\n" % (sender, rcpt, subject))
        s.quit()
    finally:
        s.close()


def inject(port, sender, rcpt, msg, source="127.0.0.9"):
    """A message from the Internet (a source that may not relay):
    the reply to its final dot, or the first refusal."""
    s = smtplib.SMTP("127.0.0.1", port, timeout=30,
                     source_address=(source, 0))
    try:
        s.sendmail(sender, [rcpt], msg)
        s.quit()
        return 250
    except smtplib.SMTPRecipientsRefused as e:
        return list(e.recipients.values())[0][0]
    except smtplib.SMTPResponseException as e:
        return e.smtp_code
    finally:
        s.close()


def rows(tern, typ=None, rcpt=None):
    """Accounting rows of type typ for rcpt (either may be None)."""
    return [r for r in acct_rows(tern)
            if (typ is None or r["type"] == typ) and
            (rcpt is None or r["rcpt"] == rcpt)]


def wait_rows(tern, typ, rcpt, timeout, n=1):
    end = time.time() + timeout
    while time.time() < end:
        got = rows(tern, typ, rcpt)
        if len(got) >= n:
            return got
        time.sleep(0.1)
    return rows(tern, typ, rcpt)
