#!/usr/bin/python3
# 90-tls-in.t - inbound STARTTLS (RFC 3207): swaks --tls and smtplib
# inject over TLS; the STARTTLS command-injection probe (CVE-2011-0411)
# is not executed; require-starttls per listener and per source; TLS 1.1
# refused; Received says ESMTPS and the cipher; tern reload brings a new
# certificate to new handshakes while an old TLS session keeps working,
# and a bad key on reload leaves the one in force.
import os
import shutil
import signal
import smtplib
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, SMTP, free_port, parse_queue_file, wait_for  # noqa
from tlslib import (make_cert, cert_fingerprint, client_context,  # noqa
                    starttls, handshake_fingerprint, nothing_pending)

t = TAP()
tern = Tern(sources=(
    '  127.0.0.1/32: { always-allow-relaying: yes }\n'
    '  127.0.0.2/32: { always-allow-relaying: yes, require-starttls: yes }\n'
    '  0/0: { always-allow-relaying: no }\n'))
cert, key = make_cert(tern.dir, "a")
port2 = free_port()           # a listener with require-starttls
port3 = free_port()           # a listener with its own certificate
cert3, key3 = make_cert(tern.dir, "c", cn="other.test.example")
tls = ("smtp-server-tls-certificate: %s\nsmtp-server-tls-private-key: %s\n"
       % (cert, key))
text = tern.config_text(tern.extra + tls).replace(
    'smtp-listener: ["127.0.0.1:%d"]\n' % tern.port,
    'smtp-listener:\n'
    '  - "127.0.0.1:%d"\n'
    '  - {address: "127.0.0.1:%d", require-starttls: yes}\n'
    '  - {address: "127.0.0.1:%d", tls-certificate: %s, '
    'tls-private-key: %s}\n' % (tern.port, port2, port3, cert3, key3))
tern.write_config(text)


def spool_body(qid):
    p = wait_for(lambda: tern.spool_files().get(qid), 5)
    if not p:
        return b""
    recs, body = parse_queue_file(p)
    return body


def ehlo(c, name="c.test"):
    code, text = c.cmd("EHLO " + name)
    return code, [l[4:].split()[0].upper() for l in text.splitlines()[1:]]


try:
    tern.start()
    fp_a = cert_fingerprint(cert)

    # --- advertisement ---------------------------------------------------
    c = SMTP(tern.port)
    c.reply()
    code, ext = ehlo(c)
    t.ok(code == 250 and "STARTTLS" in ext, "EHLO offers STARTTLS", ext)
    t.is_(c.cmd("STARTTLS now")[0], 501, "STARTTLS with an argument: 501")
    code, text = c.cmd("STARTTLS")
    t.ok(code == 220 and "2.0.0" in text, "STARTTLS: 220 2.0.0", text)
    fp = starttls(c)
    t.is_(fp, fp_a, "the handshake presents the configured certificate")
    t.is_(c.cmd("MAIL FROM:<a@test.example>")[0], 503,
          "after TLS the EHLO is forgotten: MAIL gets 503")
    code, ext = ehlo(c)
    t.ok(code == 250 and "STARTTLS" not in ext,
         "EHLO after TLS does not offer STARTTLS", ext)
    t.is_(c.cmd("STARTTLS")[0], 503, "STARTTLS twice: 503")
    t.is_(c.cmd("NOOP")[0], 250, "the TLS session goes on after that")
    c.cmd("QUIT")
    c.close()

    # --- swaks --tls -----------------------------------------------------
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % tern.port,
                        "--tls", "--from", "s@test.example", "--to",
                        "swaks@tls.example", "--timeout", "20"],
                       capture_output=True, text=True, timeout=60)
    t.ok(r.returncode == 0 and "TLS started" in r.stdout and
         " queued" in r.stdout, "swaks --tls injects over TLS",
         r.stdout[-2500:] + r.stderr[-1000:])
    qid = [l.split()[3] for l in r.stdout.splitlines()
           if " queued" in l and l.startswith("<~")]
    body = spool_body(qid[0]) if qid else b""
    t.ok(b"with ESMTPS id" in body and b"(using TLSv1.3 with cipher "
         in body, "Received: with ESMTPS, (using TLSv1.3 with cipher ...)",
         body[:400])

    # --- smtplib.starttls() ----------------------------------------------
    s = smtplib.SMTP("127.0.0.1", tern.port, timeout=30)
    s.ehlo("py.test")
    s.starttls(context=client_context())
    s.ehlo("py.test")
    t.is_(s.sendmail("s@test.example", ["py@tls.example"],
                     b"Subject: over TLS\r\n\r\nhello\r\n"), {},
          "smtplib.starttls(): message accepted")
    s.quit()
    q = tern.queues()
    t.ok(q and q.get("tls.example/mta1", {}).get("rcpts") == 2,
         "both TLS messages are queued", q)

    # --- the STARTTLS command-injection probe -----------------------------
    c = SMTP(tern.port)
    c.reply()
    c.cmd("EHLO probe.test")
    c.send(b"STARTTLS\r\nRSET\r\n")
    code, text = c.reply()
    t.is_(code, 220, "pipelined STARTTLS\\r\\nRSET: 220 for STARTTLS")
    t.ok(c.buf == b"" and nothing_pending(c.s),
         "no reply to the injected RSET in clear", c.buf)
    starttls(c)
    code, text = c.cmd("EHLO after.test")
    t.ok(code == 250 and text.startswith("250-mta1.test.example Hello "
                                         "after.test"),
         "first reply in TLS is the EHLO's, not a 250 for RSET", text)
    t.is_(c.cmd("NOOP"), (250, "250 2.0.0 Ok"), "NOOP answered in order")
    t.ok(nothing_pending(c.s), "no stray reply left over in TLS")
    c.cmd("QUIT")
    c.close()
    t.ok(wait_for(lambda: "bytes sent in clear after STARTTLS discarded"
                  in tern.logtext(), 5),
         "smtpd logs the discarded injection")

    # the same with a MAIL FROM sent before the handshake: never executed
    c = SMTP(tern.port)
    c.reply()
    c.cmd("EHLO probe2.test")
    c.send(b"STARTTLS\r\nMAIL FROM:<evil@test.example>\r\n")
    t.is_(c.reply()[0], 220, "STARTTLS + pipelined MAIL: 220")
    starttls(c)
    code, _ = ehlo(c, "probe2.test")
    t.is_(c.cmd("RCPT TO:<x@tls.example>")[0], 503,
          "the injected MAIL was not executed (RCPT: 503 need MAIL)")
    c.close()

    # --- require-starttls ------------------------------------------------
    c = SMTP(port2)
    c.reply()
    ehlo(c)
    code, text = c.cmd("MAIL FROM:<a@test.example>")
    t.ok(code == 530 and "5.7.0 Must issue a STARTTLS command first" in text,
         "require-starttls listener: MAIL before TLS gets 530 5.7.0", text)
    c.cmd("STARTTLS")
    starttls(c)
    ehlo(c)
    t.is_(c.cmd("MAIL FROM:<a@test.example>")[0], 250,
          "require-starttls listener: MAIL after TLS is accepted")
    c.close()

    c = SMTP(tern.port, source="127.0.0.2")
    c.reply()
    ehlo(c)
    code, text = c.cmd("MAIL FROM:<a@test.example>")
    t.ok(code == 530 and "STARTTLS" in text,
         "require-starttls source: MAIL before TLS gets 530", text)
    c.cmd("STARTTLS")
    starttls(c)
    ehlo(c)
    t.is_(c.cmd("MAIL FROM:<a@test.example>")[0], 250,
          "require-starttls source: MAIL after TLS is accepted")
    c.close()

    # a listener with its own certificate presents that one
    t.is_(handshake_fingerprint(port3), cert_fingerprint(cert3),
          "a listener's own tls-certificate wins over the top-level one")

    # --- TLS 1.1 is refused ----------------------------------------------
    c = SMTP(tern.port)
    c.reply()
    ehlo(c)
    c.cmd("STARTTLS")
    try:
        starttls(c, client_context(maximum=ssl.TLSVersion.TLSv1_1))
        old_ok = True
    except (ssl.SSLError, OSError):
        old_ok = False
    c.close()
    t.ok(not old_ok, "a TLS 1.1 client cannot complete the handshake")
    t.ok(wait_for(lambda: "TLS handshake failed" in tern.logtext(), 5),
         "the failed handshake is logged")

    # --- reload: a new certificate ---------------------------------------
    old = SMTP(tern.port)          # a session in TLS across the reload
    old.reply()
    old.cmd("EHLO old.test")
    old.cmd("STARTTLS")
    t.is_(starttls(old), fp_a, "old session: certificate A")
    ehlo(old, "old.test")

    cert_b, key_b = make_cert(tern.dir, "b", cn="mta1-b.test.example")
    fp_b = cert_fingerprint(cert_b)
    shutil.copyfile(cert_b, cert)   # renewal in place, as certbot does
    shutil.copyfile(key_b, key)
    os.chmod(key, 0o600)
    rc, out, err = tern.tern("reload")
    t.ok(rc == 0, "tern reload after replacing the certificate", out + err)
    t.ok(wait_for(lambda: handshake_fingerprint(tern.port) == fp_b, 10),
         "new handshakes present the new certificate B")
    t.ok(os.geteuid() != 0 or (os.stat(key).st_mode & 0o077) == 0,
         "(the key file is 0600 root: smtpd could not have read it)")
    old.cmd("MAIL FROM:<o@test.example>")
    old.cmd("RCPT TO:<o@tls.example>")
    code, _ = old.cmd("DATA")
    old.send(b"Subject: old\r\n\r\nx\r\n.\r\n")
    code2, text = old.reply()
    t.ok(code == 354 and code2 == 250 and "queued" in text,
         "the session opened before the reload still sends", text)
    old.cmd("QUIT")
    old.close()

    # a key that does not parse: the reload is refused as a whole
    with open(key, "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\ngarbage\n"
                "-----END PRIVATE KEY-----\n")
    rc, out, err = tern.tern("reload")
    t.ok(rc != 0 and "not an unencrypted PEM private key" in err,
         "reload with a broken key is refused by ternd", out + err)
    t.is_(handshake_fingerprint(tern.port), fp_b,
          "certificate B stays in force")

    # a valid key that does not match: smtpd keeps the old context
    shutil.copyfile(os.path.join(tern.dir, "c.key"), key)
    os.chmod(key, 0o600)
    rc, out, err = tern.tern("reload")
    t.ok(rc == 0, "reload with a mismatched key passes ternd's check",
         out + err)
    t.ok(wait_for(lambda: "the previous one stays in force"
                  in tern.logtext(), 10),
         "smtpd logs that the previous certificate stays in force")
    t.is_(handshake_fingerprint(tern.port), fp_b,
          "certificate B is still presented")

    # back to a good pair; a restarted smtpd reads the files itself
    shutil.copyfile(key_b, key)
    os.chmod(key, 0o600)
    t.is_(tern.kill("smtpd", signal.SIGKILL), 1, "smtpd killed")
    ok = wait_for(lambda: handshake_fingerprint(tern.port) == fp_b, 15)
    t.ok(ok, "the restarted smtpd presents certificate B (read as root)")
finally:
    tern.finish(t, check=lambda rc: t.is_(rc, 0, "ternd exits 0"))
t.done()
