"""sinklib - the test side of t/lib/sink.py, the scriptable SMTP sink.

A Sink runs sink.py as a child process on HOST:PORT (loopback), with its
event log and script in a test's directory; it is stopped by PID, by
stop_sinks() or at exit, whatever happens.  delivered(), max_concurrent()
and rate() read its event log for the tests of traffic shaping.
"""
import atexit
import os
import subprocess

from ternlib import json_lines, stop_child, wait_for, write_json

SINK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sink.py")

_sinks = []


class Sink:
    """t/lib/sink.py as a child process, stopped by PID."""

    def __init__(self, dir, host, port, script=None, name=None):
        self.host, self.port = host, port
        self.name = name or host
        self.log = os.path.join(dir, "sink-%s.log" % self.name)
        self.script = os.path.join(dir, "sink-%s.json" % self.name)
        self.proc = None
        self.set(script or {})
        _sinks.append(self)

    def set(self, script):
        """Replace the script (sink.py re-reads it at each connection)."""
        write_json(self.script, script)

    def start(self):
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", SINK,
             "%s:%d" % (self.host, self.port), self.log, self.script],
            stdin=subprocess.DEVNULL, start_new_session=True)
        if not wait_for(lambda: self.events("listening"), 10):
            raise RuntimeError("sink %s did not start" % self.name)
        return self

    def events(self, ev=None):
        return [e for e in json_lines(self.log)
                if ev is None or e.get("ev") == ev]

    def messages(self):
        return self.events("message")

    def delivered(self):
        """The messages the sink accepted (a 2xx reply to the final dot),
        in the order it logged them."""
        return [m for m in self.messages()
                if 200 <= m.get("code", 250) < 300]

    def delivered_rcpts(self):
        """{recipient: times delivered} over the accepted messages."""
        out = {}
        for m in self.delivered():
            for r in m["rcpts"]:
                out[r] = out.get(r, 0) + 1
        return out

    def max_concurrent(self, peer=None):
        """The most connections open at once (from peer, if given), from
        the connect and close events in the order the sink logged them."""
        open_, most, ok = set(), 0, set()
        for e in self.events():
            if e.get("ev") == "connect" and (peer is None or
                                            e.get("peer") == peer):
                ok.add(e["conn"])
                open_.add(e["conn"])
                most = max(most, len(open_))
            elif e.get("ev") == "close" and e.get("conn") in ok:
                open_.discard(e["conn"])
        return most

    def stop(self):
        if self.proc is None:
            return
        stop_child(self.proc)
        self.proc = None


def rate(times):
    """Messages per second over a sorted list of event times: the
    intervals between the first and the last, over the time they span
    (None for fewer than two)."""
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return (len(times) - 1) / (times[-1] - times[0])


def stop_sinks():
    """Stop every Sink started by this test."""
    for s in _sinks:
        s.stop()


atexit.register(stop_sinks)
