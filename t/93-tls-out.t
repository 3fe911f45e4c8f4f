#!/usr/bin/python3
# 93-tls-out.t - outbound STARTTLS (RFC 3207): opportunistic by default,
# require-starttls never sends in clear (deferred instead), certificate
# verification with tls-ca-file, a broken TLS server is retried in clear,
# TLS sessions are resumed across connections to the same host, and the
# accounting rows carry dlvTlsProtocol and dlvTlsCipher when asked for.
#
# The servers are t/lib/tlssink.py on 127.0.0.x with certificates made
# here by openssl(1): a test CA and a server certificate it signed, and a
# self-signed one.  Nothing leaves loopback; nothing is committed.
import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import (TAP, Tern, acct_rows, free_port_on, json_lines,  # noqa
                     remove_dir, stop_child, wait_for)

signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
HERE = os.path.dirname(os.path.abspath(__file__))
t = TAP()
tmp = tempfile.mkdtemp(prefix="tern-t93-")
os.chmod(tmp, 0o755)
GOOD, PLAIN, SELF, BROKEN = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"
P = free_port_on(["127.0.0.1", GOOD, PLAIN, SELF, BROKEN])


def ossl(*args):
    subprocess.run(["openssl"] + list(args), check=True, cwd=tmp,
                   capture_output=True, timeout=60)


def certs():
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
         "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Tern Test CA")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key",
         "-out", "srv.csr", "-subj", "/CN=localhost")
    ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey",
         "ca.key", "-CAcreateserial", "-out", "srv.pem", "-days", "2")
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
         "self.key", "-out", "self.pem", "-days", "2", "-subj", "/CN=self")
    for f in os.listdir(tmp):
        os.chmod(os.path.join(tmp, f), 0o644)


class TLSSink:
    def __init__(self, host, mode, cert=None):
        self.log = os.path.join(tmp, "tls-%s.log" % host)
        args = ["/usr/bin/python3", os.path.join(HERE, "lib", "tlssink.py"),
                "%s:%d" % (host, P), self.log, mode]
        if cert:
            args += [os.path.join(tmp, cert + ".pem"),
                     os.path.join(tmp, cert + ".key")]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     start_new_session=True)

    def events(self, ev):
        return [e for e in json_lines(self.log) if e.get("ev") == ev]

    def got(self, rcpt):
        return [m for m in self.events("message") if rcpt in m["rcpts"]]


def send(port, rcpt):
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    s.sendmail("s@src.test", [rcpt], "Subject: tls\r\n\r\nhello\r\n")
    s.quit()


def route(host):
    return 'route: "[%s]:%d"' % (host, P)


sinks = []
tern = None
try:
    certs()
    sinks = [TLSSink(GOOD, "tls", "srv"), TLSSink(PLAIN, "plain"),
             TLSSink(SELF, "tls", "self"), TLSSink(BROKEN, "broken")]
    good, plain, selfs, broken = sinks
    time.sleep(0.5)
    domains = (
        '  "*": { retry-after: 1h, connection-idle-timeout: 0 }\n'
        '  a.test: { %s }\n'
        '  p.test: { %s }\n'
        '  r.test: { %s, require-starttls: yes }\n'
        '  v.test: { %s, require-starttls: yes, '
        'verify-server-certificate: yes }\n'
        '  w.test: { %s, require-starttls: yes, '
        'verify-server-certificate: yes }\n'
        '  o.test: { %s }\n'
        '  b.test: { %s }\n'
        '  m.test: { %s, max-msg-per-connection: 1, max-smtp-out: 1 }\n'
        '  n.test: { %s, use-starttls: no }\n' % (
            route(GOOD), route(PLAIN), route(PLAIN), route(GOOD),
            route(SELF), route(SELF), route(BROKEN), route(GOOD),
            route(GOOD)))
    tern = Tern(domains=domains, extra=(
        "tls-ca-file: %s/ca.pem\n"
        "accounting: { records: [d, b, t, tq], extra-fields: [dlvTlsProtocol, "
        "dlvTlsCipher] }\n" % tmp))
    tern.start()
    for r in ("x@a.test", "x@p.test", "x@r.test", "x@v.test", "x@w.test",
              "x@o.test", "x@b.test", "x@n.test"):
        send(tern.port, r)
    for i in range(4):
        send(tern.port, "m%d@m.test" % i)

    wait_for(lambda: good.got("x@a.test") and plain.got("x@p.test") and
             good.got("x@v.test") and selfs.got("x@o.test") and
             broken.got("x@b.test") and len([m for m in good.events(
                 "message") if m["rcpts"][0].endswith("@m.test")]) == 4 and
             good.got("x@n.test"), 30)

    a = good.got("x@a.test")
    t.ok(a and a[0]["tls"], "opportunistic: a TLS-capable server gets TLS",
         a)
    p = plain.got("x@p.test")
    t.ok(p and not p[0]["tls"], "opportunistic: a server without STARTTLS "
         "still gets the mail, in clear", p)
    n = good.got("x@n.test")
    t.ok(n and not n[0]["tls"], "use-starttls: no sends in clear to a "
         "TLS-capable server", n)
    t.ok(not plain.got("x@r.test"),
         "require-starttls: nothing sent in clear to a server without "
         "STARTTLS")
    wait_for(lambda: any("STARTTLS not offered" in r["dsnDiag"] for r in
                         acct_rows(tern) if r["rcpt"] == "x@r.test"), 10)
    rr = [r for r in acct_rows(tern) if r["rcpt"] == "x@r.test"]
    t.ok(rr and rr[0]["type"] in ("t", "tq") and "STARTTLS not offered" in
         rr[0]["dsnDiag"], "require-starttls: deferred, and the accounting "
         "row says why", rr)
    v = good.got("x@v.test")
    t.ok(v and v[0]["tls"], "verify-server-certificate: a certificate from "
         "tls-ca-file's CA is accepted", v)
    t.ok(not selfs.got("x@w.test"), "verify-server-certificate: nothing "
         "goes to a server whose certificate does not verify")
    wait_for(lambda: any(r["rcpt"] == "x@w.test" for r in acct_rows(tern)),
             10)
    ww = [r for r in acct_rows(tern) if r["rcpt"] == "x@w.test"]
    t.ok(ww and ww[0]["type"] in ("t", "tq") and
         "certificate" in ww[0]["dsnDiag"],
         "verify-server-certificate: deferred with the certificate error",
         ww)
    o = selfs.got("x@o.test")
    t.ok(o and o[0]["tls"], "without verification a self-signed server "
         "still gets TLS", o)
    b = broken.got("x@b.test")
    t.ok(b and not b[0]["tls"], "a broken TLS server: the same host again "
         "in clear, delivered", b)
    t.ok("again without TLS" in tern.logtext(), "the fallback is logged")
    tls_ev = [e for e in good.events("tls")]
    # m.test's 4 connections follow each other: the last 3 resume.
    t.ok(sum(1 for e in tls_ev if e["resumed"]) >= 3, "TLS sessions are "
         "resumed on later connections to the same host (%d of %d "
         "handshakes)" % (
             sum(1 for e in tls_ev if e["resumed"]), len(tls_ev)))
    da = [r for r in acct_rows(tern) if r["rcpt"] == "x@a.test" and
          r["type"] == "d"]
    t.ok(da and da[0].get("dlvTlsProtocol", "").startswith("TLSv1.") and
         da[0].get("dlvTlsCipher"), "the d row has dlvTlsProtocol and "
         "dlvTlsCipher", da)
    dp = [r for r in acct_rows(tern) if r["rcpt"] == "x@p.test" and
          r["type"] == "d"]
    t.ok(dp and dp[0].get("dlvTlsProtocol") == "" and
         dp[0].get("dlvTlsCipher") == "", "a delivery in clear has them "
         "empty", dp)
except Exception as e:
    t.no_exception(e)
finally:
    if tern is not None:
        tern.finish(t)
    for s in sinks:
        stop_child(s.proc)
    remove_dir(tmp)
t.done()
