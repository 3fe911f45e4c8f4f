#!/usr/bin/python3
"""hooksink.py - a webhook receiver for Tern's event-hook tests.

Usage: hooksink.py --port-file PATH --log PATH [--fail-first N]
                   [--fail-file PATH] [--requests PATH] [--secret KEY]

Binds 127.0.0.1 on an ephemeral port and writes the port number to
--port-file (written to PATH.tmp, then renamed: a test may poll for the
file and read it at once).  Every POST body must be a JSON array of event
objects (what bouncd's hooks.c sends).  The reply is:
  500  for the first N POSTs (--fail-first N, counted over all paths),
  500  while the file --fail-file exists,
  401  with --secret, when X-Tern-Signature is missing, stale (5 min)
       or not HMAC-SHA256(KEY, "UNIX." + body) ("t=UNIX,v1=HEX"),
  400  for a body that is not a JSON array of objects,
  200  otherwise.
Each event of a POST answered 200 is appended to --log as one JSON line,
exactly as received (it carries bouncd's "event_id"); events of refused
POSTs are not logged there, so --log is what the receiver accepted, in
order, duplicates included (at-least-once: a test counts event_ids).
--requests, if given, gets one JSON line per POST, whatever the reply:
  {"t": time, "path": "/x?y", "status": 200, "events": n,
   "event_ids": [...], "authorization": value or null,
   "content_type": ..., "user_agent": ..., "host": ...}
Lines are flushed as written.  Exits 0 on SIGTERM or SIGINT (kill PID).
Loopback only; a thread per connection (clients keep connections
alive), POSTs handled one at a time in arrival order; bodies capped at
64 MiB.
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import signal
import sys
import threading
import time

BODY_MAX = 64 * 1024 * 1024


def parse_args():
    p = argparse.ArgumentParser(description="webhook receiver for tests")
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--fail-file")
    p.add_argument("--requests")
    p.add_argument("--secret")
    return p.parse_args()


def signature_ok(secret, header, body):
    """X-Tern-Signature "t=UNIX,v1=HEX": HMAC-SHA256(secret, "UNIX." +
    body), and UNIX within 5 minutes of now."""
    try:
        parts = dict(kv.split("=", 1) for kv in header.split(","))
        t = int(parts["t"])
        want = hmac.new(secret.encode(), b"%d." % t + body,
                        hashlib.sha256).hexdigest()
    except (AttributeError, KeyError, ValueError):
        return False
    return abs(time.time() - t) < 300 and hmac.compare_digest(
        want, parts.get("v1", ""))


class Sink:
    def __init__(self, args):
        self.args = args
        self.posts = 0
        self.lock = threading.Lock()
        self.log = open(args.log, "a", buffering=1)
        self.reqlog = open(args.requests, "a", buffering=1) \
            if args.requests else None

    def status_for(self, events, sig_ok=True):
        self.posts += 1
        if not sig_ok:
            return 401
        if self.posts <= self.args.fail_first:
            return 500
        if self.args.fail_file and os.path.exists(self.args.fail_file):
            return 500
        if events is None:
            return 400
        return 200

    def record(self, handler, status, events, sig_ok=None):
        if status == 200:
            for ev in events:
                self.log.write(json.dumps(ev) + "\n")
        if self.reqlog is None:
            return
        hdr = handler.headers
        ids = [e.get("event_id") for e in events or []]
        self.reqlog.write(json.dumps({
            "t": time.time(), "path": handler.path, "status": status,
            "events": len(events or []), "event_ids": ids,
            "authorization": hdr.get("Authorization"),
            "content_type": hdr.get("Content-Type"),
            "user_agent": hdr.get("User-Agent"),
            "host": hdr.get("Host"),
            "signature": hdr.get("X-Tern-Signature"),
            "signature_ok": sig_ok}) + "\n")


def decode(body):
    """The events of a body, or None if it is not an array of objects."""
    try:
        v = json.loads(body)
    except ValueError:
        return None
    if not isinstance(v, list) or not all(isinstance(e, dict) for e in v):
        return None
    return v


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hooksink"
    sink = None

    def log_message(self, fmt, *args):
        pass

    def reply(self, status):
        body = b"ok\n" if status == 200 else b"no\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        try:
            n = int(self.headers.get("Content-Length", ""))
        except ValueError:
            n = -1
        if n < 0 or n > BODY_MAX:
            self.close_connection = True
            self.reply(400)
            return
        body = self.rfile.read(n)
        events = decode(body)
        sig = None
        if self.sink.args.secret:
            sig = signature_ok(self.sink.args.secret,
                               self.headers.get("X-Tern-Signature"), body)
        with self.sink.lock:
            status = self.sink.status_for(events, sig is not False)
            self.sink.record(self, status, events, sig)
            self.reply(status)

    def do_GET(self):
        self.reply(405)


def stop(signum, frame):
    sys.exit(0)


def main():
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    args = parse_args()
    Handler.sink = Sink(args)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        srv.serve_forever()
    except SystemExit:
        pass
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
