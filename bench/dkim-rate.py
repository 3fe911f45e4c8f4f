#!/usr/bin/python3
"""dkim-rate.py - dkimd's signing rate per core.

    bench/dkim-rate.py [-n COUNT] [-s SIZE] [-w WINDOW] [-k rsa2048|rsa1024|
                        rsa4096|ed25519]...

Starts a Tern (build/, as t/lib/ternlib.py does) with one generated key
per kind asked for, then talks to dkimd itself over run-dir/dkimd.sock as
queued does: HELLO as queued, then COUNT IPC_QUEUED_DKIM_SIGN requests,
WINDOW in flight, each with a read-only descriptor on a message file of
SIZE bytes (headers of a typical bulk mail, then text).  Prints, per key
kind, the signatures per second seen by the client and per second of
dkimd's own CPU time (utime + stime from /proc), which is the rate one
core gives: dkimd is one single-threaded process.
"""
import argparse
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "t", "lib"))
from ternlib import Tern, wait_for  # noqa

KINDS = {"rsa1024": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
         "rsa2048": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
         "rsa4096": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"],
         "ed25519": ["-algorithm", "ED25519"]}


def ipc_types():
    """The enum ipc_type values, read from common/ipc.h."""
    with open(os.path.join(ROOT, "common", "ipc.h")) as f:
        text = f.read()
    body = text[text.index("enum ipc_type {"):]
    body = body[:body.index("}")]
    names = re.findall(r"^\s*(IPC_[A-Z0-9_]+)", body, re.M)
    return {n: i + 1 for i, n in enumerate(names)}


T = ipc_types()
ROLE_QUEUED = 3


def frame(typ, reqid, payload, fd=False):
    return struct.pack("=HBBIQ", typ, 1, 1 if fd else 0,
                       16 + len(payload), reqid) + payload


def s(x):
    x = x.encode()
    return struct.pack("=H", len(x)) + x


def message(size):
    head = ("Received: from app.example ([192.0.2.10])\r\n"
            "\tby mta.example (Tern) with ESMTP id 6b0000000000aaaa;\r\n"
            "\tMon, 23 Nov 2026 12:00:00 +0000\r\n"
            "From: \"Example News\" <news@bench.test>\r\n"
            "To: someone@example.org\r\n"
            "Subject: Your weekly digest, with a subject of a usual "
            "length\r\n"
            "Date: Mon, 23 Nov 2026 12:00:00 +0000\r\n"
            "Message-ID: <digest.1234567890@bench.test>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "List-Unsubscribe: <mailto:unsub@bench.test>\r\n\r\n")
    line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n"
    body = (line * (max(0, size - len(head)) // len(line) + 1))
    return (head + body).encode()[:max(size, len(head) + 2)]


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        st = f.read()
    fields = st[st.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def run(tern, kind, path, size, count, window):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.path.join(tern.run, "dkimd.sock"))
    sock.sendall(frame(T["IPC_HELLO"], 0, struct.pack("=BI", ROLE_QUEUED,
                                                      os.getpid())))
    buf = b""

    def read_frame():
        nonlocal buf
        while len(buf) < 16 or len(buf) < struct.unpack("=I", buf[4:8])[0]:
            d = sock.recv(65536)
            if not d:
                raise RuntimeError("dkimd closed the link")
            buf += d
        n = struct.unpack("=I", buf[4:8])[0]
        f, buf = buf[:n], buf[n:]
        return struct.unpack("=H", f[:2])[0], f[16:]

    typ, _ = read_frame()
    assert typ == T["IPC_HELLO_OK"], typ
    fd = os.open(path, os.O_RDONLY)
    payload = (s("6b00000000000001") + s("k" + kind) +
               s(kind + ".bench.test") + struct.pack("=QQ", 0, size))
    pid = tern.pids("dkimd")[0]
    hz = os.sysconf("SC_CLK_TCK")
    c0, t0 = cpu_ticks(pid), time.time()
    sent = done = failed = 0
    while done < count:
        while sent < count and sent - done < window:
            sent += 1
            socket.send_fds(sock, [frame(T["IPC_QUEUED_DKIM_SIGN"], sent,
                                         payload, fd=True)], [fd])
        typ, _ = read_frame()
        done += 1
        failed += typ != T["IPC_DKIMD_SIGNED"]
    wall = time.time() - t0
    cpu = (cpu_ticks(pid) - c0) / hz
    os.close(fd)
    sock.close()
    return wall, cpu, failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5000)
    ap.add_argument("-s", type=int, default=4096)
    ap.add_argument("-w", type=int, default=16)
    ap.add_argument("-k", action="append")
    a = ap.parse_args()
    kinds = a.k or ["rsa2048", "ed25519"]
    tmp = tempfile.mkdtemp(prefix="tern-dkim-bench-")
    keys = ""
    for k in kinds:
        pem = os.path.join(tmp, k + ".pem")
        subprocess.run(["openssl", "genpkey"] + KINDS[k] + ["-out", pem],
                       check=True, capture_output=True)
        keys += ("  - { selector: k%s, domain: %s.bench.test, key-file: "
                 "%s }\n" % (k, k, pem))
    # One key per kind: selector k<kind>, domain <kind>.bench.test.
    tern = Tern(extra="domain-keys:\n" + keys)
    path = os.path.join(tmp, "msg")
    with open(path, "wb") as f:
        f.write(message(a.s))
    size = os.path.getsize(path)
    try:
        tern.start()
        wait_for(lambda: tern.pids("dkimd"), 10)
        time.sleep(0.3)
        print("%d signatures per kind, %d-byte message, %d in flight"
              % (a.n, size, a.w))
        for k in kinds:
            wall, cpu, failed = run(tern, k, path, size, a.n, a.w)
            print("%-8s %7.0f/s wall  %7.0f/s per core of dkimd  "
                  "(%.0f us CPU each, %d failed)"
                  % (k, a.n / wall, a.n / cpu if cpu else 0,
                     cpu * 1e6 / a.n, failed))
    finally:
        tern.stop()
        tern.cleanup()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
