#!/usr/bin/python3
"""dnsfake.py - a small authoritative DNS server for Tern's delivery tests.

    /usr/bin/python3 t/lib/dnsfake.py HOST:PORT RECORDS.json QUERYLOG

Answers UDP and TCP on HOST:PORT (loopback only) from RECORDS.json, which
is re-read whenever it changes (mtime, size or inode), so a test can
change the answers while the server runs.  The file holds:

  {"mx":       {"example.test": [[10, "mx1.example.test"],
                                 [20, "mx2.example.test"]],
                "nullmx.test":  [[0, "."]]},          null MX (RFC 7505)
   "a":        {"mx1.example.test": ["127.0.0.2"]},
   "aaaa":     {"mx1.example.test": ["::1"]},
   "cname":    {"alias.test": "real.test"},
   "txt":      {"sel._domainkey.example.test": ["v=DKIM1; p=..."]},
                                   one TXT record per string, cut into
                                   character-strings of 255 bytes
   "nxdomain": ["gone.test"],                         RCODE 3
   "servfail": ["broken.test"],                       RCODE 2
   "delay":    {"slow.test": 3.0, "*": 0},            seconds before answering
   "drop":     ["blackhole.test"],                    never answer
   "ttl": 5}

Names are compared without regard to case or a final dot.  A name that
appears in no table answers NXDOMAIN; a name that has some records but
not the type asked answers NOERROR with no data (NODATA), as a real
authoritative server does.  Every query is appended to QUERYLOG as a JSON
line {"t": time, "proto": "udp", "name": ..., "type": "MX",
"rcode": "NOERROR", "answers": n}.  A first line {"ev": "listening"}
says the sockets are bound.  Stops on SIGTERM or SIGINT.

Imported as a module, DNSFake(records) starts it as a child process on a
free port and stops it by PID (stop(), also at exit).
"""
import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from ternlib import json_lines, remove_dir, stop_child, write_json  # t/lib

HERE = os.path.dirname(os.path.abspath(__file__))


def _norm(name):
    return str(name).rstrip(".").lower()


class Records:
    """The JSON file, re-read when it changes."""

    def __init__(self, path):
        self.path = path
        self.key = None
        self.data = {}
        self.lock = threading.Lock()

    def get(self):
        with self.lock:
            try:
                st = os.stat(self.path)
                key = (st.st_mtime_ns, st.st_size, st.st_ino)
            except OSError:
                return self.data
            if key != self.key:
                try:
                    with open(self.path) as f:
                        raw = json.load(f)
                    self.data = self._index(raw)
                    self.key = key
                except (OSError, ValueError):
                    pass            # half-written: keep the old answers
            return self.data

    @staticmethod
    def _index(raw):
        d = {"ttl": int(raw.get("ttl", 5))}
        for t in ("mx", "a", "aaaa", "txt"):
            d[t] = {_norm(k): v for k, v in raw.get(t, {}).items()}
        d["cname"] = {_norm(k): _norm(v)
                      for k, v in raw.get("cname", {}).items()}
        for t in ("nxdomain", "servfail", "drop"):
            d[t] = {_norm(n) for n in raw.get(t, [])}
        d["delay"] = {_norm(k) if k != "*" else "*": float(v)
                      for k, v in raw.get("delay", {}).items()}
        return d


def serve(hostport, records_path, log_path):
    from dnslib import AAAA, CNAME, MX, QTYPE, RCODE, RR, TXT, A
    from dnslib.server import DNSServer

    host, port = hostport.rsplit(":", 1)
    assert host.startswith("127.") or host == "::1", "loopback only"
    recs = Records(records_path)
    logf = open(log_path, "a", buffering=1)
    loglock = threading.Lock()

    def log(**kw):
        with loglock:
            logf.write(json.dumps(kw) + "\n")

    class Resolver:
        def resolve(self, request, handler):
            d = recs.get()
            q = request.q
            qname = _norm(q.qname)
            qtype = QTYPE[q.qtype]
            delay = d["delay"].get(qname, d["delay"].get("*", 0))
            if delay:
                time.sleep(delay)
            reply = request.reply()
            ttl = d["ttl"]
            if qname in d["drop"]:
                log(t=time.time(), proto=handler.protocol, name=qname,
                    type=qtype, rcode="DROP", answers=0)
                return None
            name, hops = qname, 0
            while name in d["cname"] and qtype != "CNAME" and hops < 8:
                target = d["cname"][name]
                reply.add_answer(RR(name, QTYPE.CNAME, ttl=ttl,
                                    rdata=CNAME(target + ".")))
                name, hops = target, hops + 1
            if name in d["servfail"]:
                reply = request.reply()
                reply.header.rcode = RCODE.SERVFAIL
            elif name in d["nxdomain"]:
                reply.header.rcode = RCODE.NXDOMAIN
            else:
                known = any(name in d[t] for t in ("mx", "a", "aaaa",
                                                   "cname", "txt"))
                if qtype == "MX" and name in d["mx"]:
                    for pref, host in d["mx"][name]:
                        host = _norm(host)
                        reply.add_answer(RR(name, QTYPE.MX, ttl=ttl,
                                            rdata=MX(host + "." if host
                                                     else ".", int(pref))))
                elif qtype == "A" and name in d["a"]:
                    for ip in d["a"][name]:
                        reply.add_answer(RR(name, QTYPE.A, ttl=ttl,
                                            rdata=A(ip)))
                elif qtype == "AAAA" and name in d["aaaa"]:
                    for ip in d["aaaa"][name]:
                        reply.add_answer(RR(name, QTYPE.AAAA, ttl=ttl,
                                            rdata=AAAA(ip)))
                elif qtype == "TXT" and name in d["txt"]:
                    for text in d["txt"][name]:
                        b = text.encode()
                        reply.add_answer(RR(name, QTYPE.TXT, ttl=ttl,
                                            rdata=TXT([b[i:i + 255] for i
                                                       in range(0, len(b),
                                                                255)])))
                elif not known and not reply.rr:
                    reply.header.rcode = RCODE.NXDOMAIN
            log(t=time.time(), proto=handler.protocol, name=qname,
                type=qtype, rcode=RCODE[reply.header.rcode],
                answers=len(reply.rr))
            return reply

    class QuietLogger:
        def __getattr__(self, name):
            return lambda *a, **k: None

    class Handler(__import__("dnslib.server", fromlist=["DNSHandler"])
                  .DNSHandler):
        def get_reply(self, data):
            # A resolver returning None means "drop": send nothing.
            from dnslib import DNSRecord
            request = DNSRecord.parse(data)
            reply = self.server.resolver.resolve(request, self)
            if reply is None:
                return None
            rdata = reply.pack()
            if self.protocol == "udp" and len(rdata) > 512:
                reply = reply.truncate()
                rdata = reply.pack()
            return rdata

        def handle(self):
            try:
                super().handle()
            except (TypeError, AttributeError):
                pass                # a dropped answer (None)

    servers = []
    for tcp in (False, True):
        s = DNSServer(Resolver(), port=int(port), address=host,
                      logger=QuietLogger(), tcp=tcp, handler=Handler)
        s.start_thread()
        servers.append(s)
    log(ev="listening", pid=os.getpid(), port=int(port))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    while not stop.is_set():
        stop.wait(0.5)
    for s in servers:
        try:
            s.server.shutdown()
            s.server.server_close()
        except Exception:
            pass


# --- the test-side helper ----------------------------------------------------

def _free_udp_tcp_port(host="127.0.0.1"):
    """A port free for both UDP and TCP on host."""
    for _ in range(50):
        t = socket.socket()
        t.bind((host, 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind((host, port))
        except OSError:
            t.close()
            continue
        u.close()
        t.close()
        return port
    raise RuntimeError("no free port")


_fakes = []


def _cleanup():
    for f in _fakes:
        f.stop()


atexit.register(_cleanup)


class DNSFake:
    """Run dnsfake.py as a child on 127.0.0.1:port; stop it by PID."""

    def __init__(self, records=None, port=None, dir=None):
        self.own_dir = dir is None
        self.dir = dir or tempfile.mkdtemp(prefix="tern-dns-")
        self.port = port or _free_udp_tcp_port()
        self.records_path = os.path.join(self.dir, "dns-records.json")
        self.log_path = os.path.join(self.dir, "dns-queries.log")
        self.proc = None
        self.set(records or {})
        _fakes.append(self)

    def set(self, records):
        """Replace the answers (atomically: a new file, renamed)."""
        write_json(self.records_path, records)
        self.records = records

    def start(self, timeout=10):
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.abspath(__file__),
             "127.0.0.1:%d" % self.port, self.records_path, self.log_path],
            stdin=subprocess.DEVNULL, start_new_session=True)
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("dnsfake exited with %r"
                                   % self.proc.returncode)
            if any(e.get("ev") == "listening" for e in self.queries(all=True)):
                return self
            time.sleep(0.05)
        raise RuntimeError("dnsfake did not start")

    def queries(self, all=False):
        return [e for e in json_lines(self.log_path) if all or "name" in e]

    def stop(self):
        if self.proc is not None:
            stop_child(self.proc)
            self.proc = None
        if self.own_dir:
            remove_dir(self.dir)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.stderr.write("usage: dnsfake.py HOST:PORT RECORDS.json "
                         "QUERYLOG\n")
        sys.exit(2)
    serve(sys.argv[1], sys.argv[2], sys.argv[3])
