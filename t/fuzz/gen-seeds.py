#!/usr/bin/env python3
"""
gen-seeds.py - write the small seed corpora under t/fuzz/corpus/.

Purpose:      every seed is made here, from the formats in the sources
              (queue-file records, IPC frames in host byte order, DNS
              answers, SMTP lines, tern.yaml), so the corpus can be
              regenerated and reviewed.  Seeds must not crash a harness:
              t/70-fuzz-smoke.t runs each one once.
Used by:      by hand ("python3 t/fuzz/gen-seeds.py"), output committed.
Trust:        none needed.
Spool access: none.
See:          t/fuzz/README.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def put(name, seed, data):
    d = os.path.join(CORPUS, name)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, seed), "wb") as f:
        f.write(data)


# --- config ----------------------------------------------------------------
BASE = ("spool-dir: /var/spool/tern\n"
        "run-dir: /run/tern\n"
        "smtp-listener: [\"127.0.0.1:2525\"]\n"
        "virtual-mtas:\n"
        "  mta-a: {}\n")

FULL = ("host-name: mx.example.net\n"
        "spool-dir: /var/spool/tern\n"
        "run-dir: /run/tern\n"
        "log-dir: /var/log/tern\n"
        "user: tern\n"
        "smtp-listener:\n"
        "  - \"0/0:25\"\n"
        "  - \"[::1]:2526\"\n"
        "max-message-size: 20M\n"
        "total-max-smtp-in: 500\n"
        "max-rcpt-per-message: 200\n"
        "max-received-headers: 50\n"
        "smtp-idle-timeout: 2m\n"
        "smtp-data-timeout: 1h\n"
        "shutdown-timeout: 15s\n"
        "min-free-space: 1G\n"
        "group-commit-delay-us: 2000\n"
        "spool-sync: fsync\n"
        "default-virtual-mta: pool-b\n"
        "sources:\n"
        "  0/0:\n"
        "    smtp-service: no\n"
        "  10.0.0.0/8:\n"
        "    always-allow-relaying: yes\n"
        "    max-rcpt-per-message: 50\n"
        "    max-smtp-in: 5\n"
        "  \"::1/128\":\n"
        "    process-x-virtual-mta: on\n"
        "    process-x-job: true\n"
        "    max-message-size: unlimited\n"
        "    default-virtual-mta: mta-a\n"
        "virtual-mtas:\n"
        "  mta-a:\n"
        "    smtp-source-host: 192.0.2.10 a.mta.example.net\n"
        "  mta-b:\n"
        "    smtp-source-host: \"[2001:db8::10] b.mta.example.net\"\n"
        "  mta-c: {}\n"
        "virtual-mta-pools:\n"
        "  pool-b: [mta-b, mta-c]\n"
        "  pool-w: {mta-a: 1, mta-b: 3}\n"
        "domains:\n"
        "  \"*\":\n"
        "    max-smtp-out: 10\n"
        "    retry-after: 10m,20m,1h\n"
        "    bounce-after: 4d12h\n"
        "    max-msg-rate: 1000/h\n"
        "    route: smarthost.example.net:587\n"
        "  example.com:\n"
        "    max-msg-rate: 50/10m\n"
        "    smtp-hosts: \"[192.0.2.25]:2525\"\n"
        "    connect-timeout: 30s\n"
        "    mx-connection-attempts: 3\n"
        "    bounce-upon-5xx-greeting: no\n"
        "    retry-after-dns-error: 5m\n"
        "dns:\n"
        "  nameservers: [\"127.0.0.53\", \"[::1]:5353\"]\n"
        "  timeout: 3s\n"
        "  attempts: 2\n"
        "accounting:\n"
        "  enabled: yes\n"
        "  file: acct.csv\n"
        "  records: [d, b, t, tq, r]\n"
        "  move-interval: 1d\n"
        "  max-size: 100M\n"
        "  delete-after: 30d\n"
        "bounce-category-patterns:\n"
        "  - \"/^5\\\\.1\\\\.1/ bad-mailbox\"\n"
        "  - \"/mailbox \\\\d+ full/ quota-issues\"\n")

put("config", "minimal.yaml", BASE)
put("config", "full.yaml", FULL)
put("config", "flow.yaml",
    "{spool-dir: ./s, run-dir: ./r, smtp-listener: [\"[::]:25\"], "
    "virtual-mtas: {m: {smtp-source-host: \"::1 h.example\"}}, "
    "domains: {\"*\": {max-smtp-out: 1}}}\n")
put("config", "bad-alias.yaml", BASE + "x: &a 1\ny: *a\n")
put("config", "bad-values.yaml",
    BASE + "max-message-size: 5Q\nsources:\n  300.0.0.1/99: {}\n"
    "domains:\n  \"-bad\": {retry-after: \"0s,,\"}\n")

# Boundaries: 64 distinct keys (walk_map remembers that many), a
# smtp-source-host just under its 300-byte cap.
put("config", "many-keys.yaml",
    "".join("k%d: 0\n" % i for i in range(64)) + BASE)
put("config", "source-host-long.yaml",
    BASE.replace("  mta-a: {}\n", "") +
    "  mta-b:\n    smtp-source-host: \"192.0.2.1" + " " * 40 +
    ".".join(["h" * 60] * 4) + "\"\n")

# --- spool -----------------------------------------------------------------
def rec(t, data):
    if isinstance(data, str):
        data = data.encode()
    return t.encode() + struct.pack("<I", len(data)) + data


def qfile(rcpts, body, vmta="mta-a", pool="", job="", sender="s@example.org",
          blen=None, k=None, dsn=None, e=None):
    """dsn: {recipient index: N record data}; e: the E record's data."""
    head = (rec("V", "1") + rec("I", "64b1c2d3e4f50617") +
            rec("A", "1700000000") + rec("S", sender) +
            rec("C", "192.0.2.1") + rec("H", "client.example.org"))
    for i, (st, a) in enumerate(rcpts):
        head += rec("R", st + a)
        if dsn and i in dsn:
            head += rec("N", dsn[i])
    n = len(body) if blen is None else blen
    head += rec("B", "%016x" % n)
    return head + body + rec("M", vmta) + rec("L", pool) + rec("J", job) + \
        (rec("E", e) if e is not None else b"") + \
        (rec("K", k) if k is not None else b"") + rec("Z", "")


put("spool", "one-rcpt", qfile([("-", "a@example.com")],
                               b"Subject: x\r\n\r\nbody\r\n"))
put("spool", "mixed", qfile([("-", "a@example.com"), ("D", "b@example.net"),
                             ("B", "c@[192.0.2.7]")], b"x" * 40, pool="pool-b",
                            job="job-42", sender=""))
put("spool", "empty-body", qfile([("-", "r@example.com")], b""))
put("spool", "truncated", qfile([("-", "a@example.com")], b"body")[:-9])
put("spool", "dsn", qfile([("-", "a@example.com"), ("-", "b@example.net")],
                          b"Subject: x\r\n\r\nbody\r\n",
                          dsn={0: "6rfc822;a+1@example.com", 1: "1"},
                          e="HQQ314159"))
put("spool", "dkim", qfile([("-", "a@example.com")],
                           b"From: a@example.org\r\n\r\nbody\r\n",
                           k="DKIM-Signature: v=1; a=rsa-sha256; "
                           "d=example.org;\r\n\ts=s1; b=AAAA\r\n"))

# --- ipc (host byte order: x86-64 little-endian) ---------------------------
(HELLO, HELLO_OK, HELLO_FAIL, MASTER_CONFIG, CHILD_CONFIG_OK,
 CHILD_CONFIG_FAIL, MSG_NEW, MSG_RCPT, MSG_OPEN, OPEN_OK, OPEN_FAIL,
 MSG_COMMIT, COMMIT_OK, COMMIT_FAIL, MSG_ABORT, CTL_REQUEST, CTL_REPLY,
 DELIVERD_READY, QUEUED_JOB, DELIVERD_RESULT) = range(1, 21)


def s(x):
    x = x.encode() if isinstance(x, str) else x
    return struct.pack("<H", len(x)) + x


def u8(v):
    return struct.pack("<B", v)


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def frame(t, payload, reqid=1, flags=0):
    return struct.pack("<HBBIQ", t, 1, flags, 16 + len(payload), reqid) + \
        payload


ID = "64b1c2d3e4f50617"
put("ipc", "hello", frame(HELLO, u8(2) + u32(4242), 0) +
    frame(HELLO_OK, u32(1), 0))
put("ipc", "smtpd-txn",
    frame(MSG_NEW, s("s@example.org") + s("192.0.2.1") + s("client.example")) +
    frame(MSG_RCPT, s("a@example.com")) +
    frame(MSG_RCPT, s("\"q t\"@[192.0.2.9]")) +
    frame(MSG_OPEN, b"") +
    frame(OPEN_OK, s(ID), flags=1) +
    frame(MSG_COMMIT, s(ID) + s("pool-b") + s("job-1") + u64(1234)) +
    frame(COMMIT_OK, s(ID)) +
    frame(MSG_ABORT, s(ID), reqid=2) +
    frame(OPEN_FAIL, s("452 4.3.1 Insufficient system storage"), reqid=3) +
    frame(COMMIT_FAIL, s("451 4.3.0 Temporary queue failure"), reqid=3))
put("ipc", "deliverd-job",
    frame(DELIVERD_READY, s("mta-a"), 0) +
    frame(QUEUED_JOB, s(ID) + s("example.com") + s("s@example.org") +
          u64(210) + u64(4096) + u32(2) + u32(0) + s("a@example.com") +
          u32(3) + s("b@example.com"), reqid=7, flags=1))
put("ipc", "deliverd-result",
    frame(DELIVERD_RESULT, s("mx.example.com") + s("192.0.2.25") +
          s("192.0.2.10") + s("PIPELINING 8BITMIME") + u8(0) + u32(3) +
          u32(0) + u8(ord("D")) + s("2.0.0") + s("250 2.0.0 Ok: queued") +
          u32(2) + u8(ord("T")) + s("4.2.2") + s("452 4.2.2 mailbox full") +
          u32(1) + u8(ord("B")) + s("5.1.1") + s("550 5.1.1 user unknown"),
          reqid=7))
put("ipc", "master-ctl",
    frame(MASTER_CONFIG, s("/etc/tern/tern.yaml"), flags=1) +
    frame(CHILD_CONFIG_OK, s("ab" * 32)) +
    frame(CHILD_CONFIG_FAIL, s("tern.yaml:3:1: unknown key")) +
    frame(CTL_REQUEST, u32(17) + b'{"cmd":"status"}\n') +
    frame(CTL_REPLY, u32(2) + b"{}") +
    frame(HELLO_FAIL, s("role not accepted here")))

# --- dns -------------------------------------------------------------------
def qname(n):
    out = b""
    for l in n.split("."):
        if l:
            out += bytes([len(l)]) + l.encode()
    return out + b"\0"


def dns(id, flags, qn, answers, rcode=0, qtype=15):
    hdr = struct.pack(">HBBHHHH", id, 0x81 | (flags & 0x7e), 0x80 | rcode, 1,
                      len(answers), 0, 0)
    body = qname(qn) + struct.pack(">HH", qtype, 1)
    for a in answers:
        body += a
    return hdr + body


def rr(owner, t, rdata):
    return owner + struct.pack(">HHIH", t, 1, 300, len(rdata)) + rdata


PTR_Q = b"\xc0\x0c"			# the question name
mx_ok = dns(0x1234, 0, "example.com", [
    rr(PTR_Q, 15, struct.pack(">H", 10) + qname("mx1.example.com")),
    rr(PTR_Q, 15, struct.pack(">H", 20) + b"\x03mx2\xc0\x0c"),
    rr(PTR_Q, 1, bytes([192, 0, 2, 1]))])
put("dns", "mx-two", mx_ok)
put("dns", "nxdomain", dns(0x1234, 0, "example.com", [], rcode=3))
put("dns", "nodata", dns(0x1234, 0, "EXAMPLE.com", []))
put("dns", "null-mx", dns(0x1234, 0, "example.com",
                          [rr(PTR_Q, 15, b"\0\0\0")]))
cname = dns(0x1234, 0, "example.com", [
    rr(PTR_Q, 5, qname("alias.example.net")),
    rr(qname("alias.example.net"), 15, struct.pack(">H", 5) +
       qname("mail.example.net"))])
put("dns", "cname-mx", cname)
# The second path: id, name, NUL, answer.
put("dns", "variant-mx", b"\xbe\xef" + b"mail.test\0" + dns(0xbeef, 0,
    "mail.test", [rr(PTR_Q, 15, struct.pack(">H", 0) + b"\x02mx\xc0\x0c")]))

# --- smtp ------------------------------------------------------------------
for i, line in enumerate([
        "MAIL FROM:<sender@example.org> SIZE=1000 BODY=8BITMIME",
        "mail from: <>",
        "RCPT TO:<@relay.example,@b.example:user@example.com>",
        "RCPT TO:<\"quoted\\\"local\"@[192.0.2.1]>",
        "RCPT TO:<x@[IPv6:2001:db8::1]>",
        "EHLO client.example.org",
        "NOOP  trailing   ",
        "BDAT 100 LAST",
        "a.b+c@sub-domain.example",
        "RCPT TO:<\"a>b\"@example.com>",
        "RCPT TO:<u@" + ".".join(["d" * 63] * 3) + "." + "e" * 58 + ">",
]):
    put("smtp", "line%d" % i, line)

# --- bouncecat -------------------------------------------------------------
for i, (st, rep) in enumerate([
        ("5.1.1", "550 5.1.1 <a@example.com>: Recipient address rejected: "
         "User unknown"),
        ("4.2.2", "452 4.2.2 Mailbox full"),
        ("5.7.1", "554 5.7.1 Service unavailable; blocked using "
         "zen.spamhaus.org"),
        ("4.4.1", "connection timed out"),
        ("2.0.0", "250 ok"),
        ("5.1.10", "556 5.1.10 null MX"),
]):
    put("bouncecat", "case%d" % i, st.encode() + b"\0" + rep.encode())
put("bouncecat", "no-status", "421 Too much mail from your IP, relay denied")

# --- mailhdr (the From of a message, for DKIM) ------------------------------
put("mailhdr", "plain", "From: Alice <alice@Example.com>\r\nTo: b@x.test\r\n"
    "\r\nbody\r\n")
put("mailhdr", "quoted", "From: \"a, b\" (c <d@e.test>) <x@y.test>\r\n\r\n")
put("mailhdr", "two", "Subject: x\nFrom: a@b.test, c@d.test\n\n")
put("mailhdr", "folded", "from:\r\n\t<@r.test:u@folded.test>\r\n\r\n")

sys.exit(0)
