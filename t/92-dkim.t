#!/usr/bin/python3
# 92-dkim.t - DKIM signing end to end: dkimd signs at commit, deliverd
# prepends the signature, and two independent verifiers check what the
# sink received: dkimpy (python3-dkim) and Perl's Mail::DKIM
# (libmail-dkim-perl), each fetching the public key from the fake DNS
# (TXT at selector._domainkey.domain).
#
# Messages: a plain one, an 8-bit MIME one (8-bit header and body), one
# with long folded headers and odd white space, one with four
# recipients in three domains in one transaction (the same signature in
# every copy), an
# Ed25519 one (dkimpy only: Debian 12's Mail::DKIM has no ed25519), a
# From in a subdomain of the key's domain.  Not signed: a From with no
# key, two From fields, two authors, a VirtualMTA without dkim-sign, and
# headers dkimd refuses (2100 fields, a field name with a semicolon: it
# answers a failure and lives); a domain block with dkim-sign: no gets
# the message without the stored signature.  The queue file of a waiting
# message ends M L J K Z.
# Signed once: after a deferral the retry carries the same signature
# (the K record of the queue file).  A stopped dkimd costs at most the
# 2 s wait and the message goes unsigned; a killed one is restarted and
# signs again; tern reload starts a new dkimd.  A bad key file is a
# check-config error at file:line:column.  The key pairs are made here
# with openssl genpkey and removed with the test directory.
import base64
import os
import re
import signal
import smtplib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import (TAP, TERN, Tern, free_port_on,  # noqa
                     parse_queue_file, remove_dir, wait_for)
from dnsfake import DNSFake  # noqa
from sinklib import Sink  # noqa

signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))

import dkim  # noqa  (python3-dkim)
from dnslib import DNSRecord  # noqa

t = TAP()
tmp = tempfile.mkdtemp(prefix="tern-t92-")
SINK, DEFER = "127.0.0.2", "127.0.0.3"
P = free_port_on(["127.0.0.1", SINK, DEFER])


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True,
                   capture_output=True)


def pubkey_b64(pem, raw=False):
    """The base64 p= value: SubjectPublicKeyInfo for RSA, the raw 32
    bytes for Ed25519 (RFC 8463)."""
    der = subprocess.run(["openssl", "pkey", "-in", pem, "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    return base64.b64encode(der[-32:] if raw else der).decode()


RSA = os.path.join(tmp, "rsa.pem")
ED = os.path.join(tmp, "ed25519.pem")
BAD = os.path.join(tmp, "bad.pem")
openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
        "-out", RSA)
openssl("genpkey", "-algorithm", "ED25519", "-out", ED)
with open(BAD, "w") as f:
    f.write("-----BEGIN PRIVATE KEY-----\nnot a key\n"
            "-----END PRIVATE KEY-----\n")
for k in (RSA, ED, BAD):
    os.chmod(k, 0o600)

RECORDS = {
    "mx": {"dest.test": [[10, "mx.dest.test"]],
           "other.test": [[10, "mx.dest.test"]],
           "nosign.test": [[10, "mx.dest.test"]],
           "defer.test": [[10, "mx.defer.test"]]},
    "a": {"mx.dest.test": [SINK], "mx.defer.test": [DEFER]},
    "txt": {"s1._domainkey.signed.test":
            ["v=DKIM1; k=rsa; p=" + pubkey_b64(RSA)],
            "e1._domainkey.ed.test":
            ["v=DKIM1; k=ed25519; p=" + pubkey_b64(ED, raw=True)]},
}

DOMAINS = ('  "*": { default-smtp-port: %d, retry-after: 1s,'
           ' connection-idle-timeout: 0 }\n'
           '  nosign.test: { dkim-sign: no }\n' % P)
VMTAS = ('  mta1: { smtp-source-host: "127.0.0.1 mta1.test.example",'
         ' dkim-sign: yes }\n'
         '  mta2: { smtp-source-host: "127.0.0.1 mta2.test.example" }\n')
KEYS = ("domain-keys:\n"
        "  - { selector: s1, domain: signed.test, key-file: %s }\n"
        "  - { selector: e1, domain: ed.test, key-file: %s }\n" % (RSA, ED))

PERL = r'''
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Net::DNS;
my ($port, $file) = @ARGV;
my $res = Net::DNS::Resolver->new(nameservers => ['127.0.0.1'],
    port => $port, recurse => 0, udp_timeout => 5, tcp_timeout => 5);
Mail::DKIM::DNS::resolver($res);
open(my $fh, '<:raw', $file) or die "$file: $!";
my $v = Mail::DKIM::Verifier->new();
$v->load($fh);
print $v->result, "\n";
for my $s ($v->signatures) {
    print "sig ", $s->result, " d=", $s->domain, " a=", $s->algorithm,
        " ", ($s->result_detail // ""), "\n";
}
'''
PERL_FILE = os.path.join(tmp, "verify.pl")
with open(PERL_FILE, "w") as f:
    f.write(PERL)

dns = DNSFake(RECORDS, dir=tmp)
sink = Sink(tmp, SINK, P, {"save_raw": True}, name="sink")
dsink = Sink(tmp, DEFER, P, {"save_raw": True, "dot_first":
                             {"n": 1, "reply": "451 4.3.0 try again"}},
             name="defer")


def txt(name, timeout=5):
    """dkimpy's key lookup, answered by the fake DNS."""
    if isinstance(name, bytes):
        name = name.decode()
    q = DNSRecord.question(name.rstrip("."), "TXT")
    a = DNSRecord.parse(q.send("127.0.0.1", dns.port, timeout=timeout))
    for rr in a.rr:
        if rr.rtype == 16:
            return b"".join(rr.rdata.data)
    return None


def raw_of(m):
    with open(m["raw"], "rb") as f:
        return f.read()


def verify_py(raw):
    try:
        return dkim.verify(raw, dnsfunc=txt)
    except Exception as e:          # a verifier crash is a failure
        return "error: %r" % e


def verify_perl(raw):
    path = os.path.join(tmp, "msg-%d.eml" % time.monotonic_ns())
    with open(path, "wb") as f:
        f.write(raw)
    r = subprocess.run(["perl", PERL_FILE, str(dns.port), path],
                       capture_output=True, text=True, timeout=60)
    return (r.stdout + r.stderr).strip()


def sig_header(raw):
    """The DKIM-Signature field (folded, as sent), or None."""
    m = re.match(rb"(DKIM-Signature:[^\r]*\r\n(?:[ \t][^\r]*\r\n)*)", raw)
    return m.group(1) if m else None


def tag(sig, name):
    v = re.sub(rb"\s+", b"", sig.split(b":", 1)[1]).decode()
    for kv in v.split(";"):
        if kv.startswith(name + "="):
            return kv[len(name) + 1:]
    return None


def inject(rcpts, msg, sender="sender@src.test", opts=()):
    s = smtplib.SMTP("127.0.0.1", tern.port, timeout=30)
    try:
        s.ehlo("inject.test")
        s.sendmail(sender, rcpts, msg, mail_options=list(opts))
    finally:
        s.quit()


def delivered(rcpt, n=1, which=None, timeout=20):
    which = which or sink
    got = wait_for(lambda: [m for m in which.delivered()
                            if rcpt in m["rcpts"]][n - 1:] and
                   [m for m in which.delivered() if rcpt in m["rcpts"]],
                   timeout)
    return got or []


def check_signed(name, rcpt, algo="rsa-sha256", perl=True, d="signed.test"):
    """Delivered, signed once as d=, verified by both verifiers."""
    ms = delivered(rcpt)
    raw = raw_of(ms[0]) if ms else b""
    sig = sig_header(raw)
    t.ok(sig is not None and raw.count(b"\r\nDKIM-Signature:") == 0 and
         tag(sig, "a") == algo and tag(sig, "d") == d and
         tag(sig, "c") == "relaxed/relaxed",
         "%s: delivered with one DKIM-Signature first, a=%s d=%s "
         "c=relaxed/relaxed" % (name, algo, d), raw[:600])
    t.ok(verify_py(raw) is True, "%s: dkimpy verifies it" % name,
         raw[:2000])
    if perl:
        out = verify_perl(raw)
        t.ok(out.startswith("pass"), "%s: Mail::DKIM verifies it" % name,
             out)
    return raw


def status():
    return (tern.status() or {}).get("queued") or {}


tern = None
try:
    dns.start()
    sink.start()
    dsink.start()
    tern = Tern(domains=DOMAINS, dns_port=dns.port, vmtas=VMTAS,
                extra=KEYS)
    tern.start()
    t.ok(wait_for(lambda: tern.pids("dkimd"), 10),
         "ternd started dkimd", tern.logtext()[-2000:])
    t.ok(wait_for(lambda: status().get("dkimd_link"), 10),
         "queued is linked to dkimd", status())
    if os.geteuid() == 0:
        pid = tern.pids("dkimd")[0]
        root = os.readlink("/proc/%d/root" % pid)
        with open("/proc/%d/status" % pid) as f:
            uid = [l for l in f if l.startswith("Uid:")][0].split()[1:]
        t.ok(root == os.path.join(tern.run, "empty") and
             set(uid) == {str(__import__("pwd").getpwnam("nobody").pw_uid)},
             "dkimd is chrooted to run-dir/empty and runs as the user",
             (root, uid))

    # --- plain ---------------------------------------------------------------
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    inject(["plain@dest.test"],
           "From: Alice <alice@signed.test>\r\nTo: plain@dest.test\r\n"
           "Subject: plain\r\nDate: %s\r\nMessage-ID: <p1@signed.test>\r\n"
           "\r\nHello.\r\n\r\n.A leading dot.\r\n..two\r\n" % date)
    raw = check_signed("plain", "plain@dest.test")
    sig = sig_header(raw) or b"DKIM-Signature: h="
    h = [x.lower() for x in (tag(sig, "h") or "").split(":")]
    t.ok(h.count("from") == 2 and "subject" in h and "to" in h and
         "received" not in h,
         "plain: h= over-signs From (listed twice for one field), signs "
         "To and Subject, not Received", h)

    # --- 8-bit MIME ------------------------------------------------------------
    body8 = ("Gr\u00fc\u00dfe aus K\u00f6ln \u2014 na\u00efve caf\u00e9 "
             "\u00fcber alles.\r\nZweite Zeile: \u20ac 100\r\n")
    msg8 = ("From: =?utf-8?q?J=C3=B6rg?= <joerg@signed.test>\r\n"
            "To: eight@dest.test\r\nSubject: 8-bit \u00e4\u00f6\u00fc\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n" + body8).encode()
    inject(["eight@dest.test"], msg8, opts=["BODY=8BITMIME"])
    raw = check_signed("8bit", "eight@dest.test")
    t.ok(body8.encode() in raw, "8bit: the 8-bit body arrived unchanged")

    # --- long folded headers, odd white space ------------------------------
    words = ["word%02d" % i for i in range(60)]
    folded = ("Subject: " + " ".join(words[:10]) + "\r\n\t" +
              " ".join(words[10:30]) + "\r\n   " + " ".join(words[30:]) +
              "\r\n")
    tos = ",\r\n ".join("r%02d@dest.test" % i for i in range(25))
    msgf = ("From: \"Folded, Sender\" (a comment)\r\n"
            "  <folded@signed.test>\r\n"
            "To: " + tos + "\r\n" + folded +
            "References: " + " ".join("<%d.ref@x.test>" % i
                                      for i in range(40)) + "\r\n"
            "X-Trailing: tab and spaces \t \r\n"
            "X-Folded:\r\n\tonly a continuation\r\n"
            "\r\nbody with trailing space   \r\n\tindented\r\n\r\n\r\n")
    inject(["folded@dest.test"], msgf)
    raw = check_signed("folded headers", "folded@dest.test")
    t.ok(b"\r\n\tword" in raw and b"\r\n   word" in raw,
         "folded headers: the folding arrived as sent", raw[:1500])

    # --- several recipients in one transaction -----------------------------
    multi = ["m1@dest.test", "m2@dest.test", "m3@other.test",
             "m4@nosign.test"]
    inject(multi, "From: multi@signed.test\r\nTo: many@dest.test\r\n"
           "Subject: multi\r\n\r\none transaction, three domains\r\n")
    sigs = []
    for r in multi[:3]:
        raw = check_signed("multi %s" % r, r)
        sigs.append(sig_header(raw))
    t.ok(len(set(sigs)) == 1 and sigs[0] is not None,
         "multi: every copy carries the same signature (signed once)",
         sigs)
    ms = delivered("m4@nosign.test")
    raw = raw_of(ms[0]) if ms else b""
    t.ok(ms and sig_header(raw) is None and b"Subject: multi" in raw,
         "multi: the copy for a domain with dkim-sign: no goes without it",
         raw[:300])

    # --- Ed25519 ---------------------------------------------------------------
    inject(["ed@dest.test"], "From: bob@ed.test\r\nTo: ed@dest.test\r\n"
           "Subject: ed25519\r\n\r\nsigned with Ed25519\r\n")
    raw = check_signed("ed25519", "ed@dest.test", algo="ed25519-sha256",
                       perl=False, d="ed.test")
    t.ok(True, "ed25519: Mail::DKIM verifies it # SKIP Debian 12's "
         "Mail::DKIM has no ed25519-sha256")

    # --- a subdomain of the key's domain ---------------------------------------
    inject(["sub@dest.test"], "From: x@mail.signed.test\r\n"
           "Subject: sub\r\n\r\nparent key\r\n")
    check_signed("subdomain From", "sub@dest.test")

    # --- not signed ------------------------------------------------------------
    unsigned = {
        "nokey@dest.test": ("From: carol@nokey.test\r\nSubject: nokey\r\n"
                            "\r\nx\r\n", "no domain-keys entry"),
        "twofrom@dest.test": ("From: a@signed.test\r\nFrom: b@signed.test\r\n"
                              "Subject: two\r\n\r\nx\r\n",
                              "more than one From field"),
        "group@dest.test": ("From: a@signed.test, b@signed.test\r\n"
                            "Subject: two authors\r\n\r\nx\r\n",
                            "not exactly one mailbox"),
        "mta2@dest.test": ("X-Virtual-MTA: mta2\r\nFrom: a@signed.test\r\n"
                           "Subject: via mta2\r\n\r\nx\r\n", None),
    }
    for r, (m, why) in unsigned.items():
        inject([r], m)
    for r, (m, why) in unsigned.items():
        ms = delivered(r)
        raw = raw_of(ms[0]) if ms else b"DKIM-Signature: ?"
        logged = why is None or why in tern.logtext()
        t.ok(ms and sig_header(raw) is None and logged,
             "not signed: %s%s" % (r, " (logged: %s)" % why if why else
                                   " (vmta without dkim-sign)"), raw[:300])

    # --- hostile headers past the From check: dkimd refuses, mail goes on ---
    many = "".join("X-N%d: v\r\n" % i for i in range(2100))
    hostile = {
        "manyfields@dest.test": ("From: a@signed.test\r\n" + many +
                                 "Subject: many\r\n\r\nx\r\n",
                                 "too many header fields"),
        "semicolon@dest.test": ("From: a@signed.test\r\nX;Bad: y\r\n"
                                "Subject: semicolon\r\n\r\nx\r\n",
                                "committed without a DKIM signature"),
    }
    for r, (m, why) in hostile.items():
        inject([r], m)
    for r, (m, why) in hostile.items():
        ms = delivered(r)
        raw = raw_of(ms[0]) if ms else b"DKIM-Signature: ?"
        t.ok(ms and sig_header(raw) is None and why in tern.logtext() and
             tern.pids("dkimd"),
             "hostile header (%s): dkimd refuses it and lives, delivered "
             "unsigned, logged" % r, tern.logtext()[-1500:])

    # --- signed once: the retry after a deferral sends the same signature --
    inject(["again@defer.test"], "From: retry@signed.test\r\n"
           "Subject: retry\r\n\r\nsigned once\r\n")
    ms = wait_for(lambda: len(dsink.messages()) >= 2 and dsink.messages(), 30)
    raws = [raw_of(m) for m in (ms or [])]
    t.ok(ms and ms[0]["code"] == 451 and ms[1]["code"] == 250,
         "defer: refused with 451 once, accepted on the retry",
         [(m["code"], m["conn"]) for m in ms or []])
    t.ok(len(raws) >= 2 and sig_header(raws[0]) is not None and
         sig_header(raws[0]) == sig_header(raws[1]) and raws[0] == raws[1],
         "defer: the retry carries the very same signature (t= included)",
         [sig_header(r) for r in raws])
    t.ok(raws and verify_py(raws[-1]) is True and
         verify_perl(raws[-1]).startswith("pass"),
         "defer: the retried copy verifies with both verifiers")

    # --- the K record ------------------------------------------------------------
    signed_before = status().get("dkim_signed", 0)
    t.ok(signed_before == 7, "status: dkim_signed counts the 7 messages "
         "signed so far", status())
    # A message that waits: its queue file holds the signature as K.
    dsink.set({"save_raw": True, "dot": "451 4.3.0 not now"})
    inject(["held@defer.test"], "From: held@signed.test\r\n"
           "Subject: held\r\n\r\nwaits\r\n")
    wait_for(lambda: [m for m in dsink.messages()
                      if "held@defer.test" in m["rcpts"]], 20)

    def held_file():
        for qid, path in tern.spool_files().items():
            recs, body = parse_queue_file(path)
            if b"Subject: held" in (body or b""):
                return recs
        return None
    recs = wait_for(held_file, 10) or []
    types = "".join(r[0] for r in recs)
    k = [v for (ty, v) in recs if ty == "K"]
    t.ok(types.endswith("MLJKZ") and k and k[0].startswith(
        b"DKIM-Signature: v=1; a=rsa-sha256") and k[0].endswith(b"\r\n"),
        "spool: the queue file ends M L J K Z, K the folded signature",
        types)

    # --- dkimd stopped: the wait is bounded, the message goes unsigned ------
    pid = tern.pids("dkimd")[0]
    os.kill(pid, signal.SIGSTOP)
    t0 = time.time()
    inject(["stopped@dest.test"], "From: stop@signed.test\r\n"
           "Subject: stopped\r\n\r\nx\r\n")
    took = time.time() - t0
    os.kill(pid, signal.SIGCONT)
    ms = delivered("stopped@dest.test")
    raw = raw_of(ms[0]) if ms else b"DKIM-Signature: ?"
    t.ok(1.5 <= took < 5 and ms and sig_header(raw) is None and
         "did not answer in time" in tern.logtext(),
         "dkimd stopped: 250 after the bounded wait (%.1fs), delivered "
         "unsigned, logged" % took, raw[:300])
    t.ok(status().get("dkim_unsigned", 0) >= 1, "status: dkim_unsigned "
         "counts it", status())

    # --- dkimd killed: ternd restarts it, signing goes on -------------------
    tern.kill("dkimd", signal.SIGKILL)
    t.ok(wait_for(lambda: tern.pids("dkimd") and tern.pids("dkimd") != [pid]
                  and status().get("dkimd_link"), 10),
         "dkimd killed: ternd starts a new one, queued links to it")
    inject(["after-kill@dest.test"], "From: k@signed.test\r\n"
           "Subject: after kill\r\n\r\nx\r\n")
    check_signed("after a restart of dkimd", "after-kill@dest.test")

    # --- reload: a new dkimd reads the keys ------------------------------------
    pid = tern.pids("dkimd")
    rc, out, err = tern.tern("reload")
    t.ok(rc == 0 and wait_for(lambda: tern.pids("dkimd") and
                              tern.pids("dkimd") != pid and
                              status().get("dkimd_link"), 10),
         "reload: ternd starts a new dkimd", (rc, out, err, pid,
                                              tern.pids("dkimd")))
    inject(["after-reload@dest.test"], "From: r@signed.test\r\n"
           "Subject: after reload\r\n\r\nx\r\n")
    check_signed("after a reload", "after-reload@dest.test", perl=False)

    # --- check-config: a bad key file, with file:line:column -------------------
    bad_conf = tern.config_text(extra=KEYS.replace(ED, BAD))
    path = os.path.join(tern.dir, "bad.yaml")
    with open(path, "w") as f:
        f.write(bad_conf)
    line = [i + 1 for i, l in enumerate(bad_conf.splitlines())
            if BAD in l][0]
    col = bad_conf.splitlines()[line - 1].index("key-file") + 1 + \
        len("key-file: ")
    r = subprocess.run([TERN, "-f", path, "check-config"],
                       capture_output=True, text=True, timeout=30)
    want = "%s:%d:" % (path, line)
    t.ok(r.returncode == 1 and want in r.stdout and BAD in r.stdout and
         "not an unencrypted PEM private key" in r.stdout,
         "check-config: a bad key file is an error at %s<col> "
         "(%s)" % (want, col), r.stdout + r.stderr)
    t.ok(("%s:%d:%d:" % (path, line, col)) in r.stdout,
         "check-config: the column is the key-file value's", r.stdout)
    rc, out, err = tern.tern("check-config")
    t.ok(rc == 0, "check-config: the good keys pass", out + err)
except Exception as e:
    t.no_exception(e)
finally:
    if tern is not None:
        tern.finish(t)
    for s in (sink, dsink):
        s.stop()
    dns.stop()
    remove_dir(tmp)
t.done()
