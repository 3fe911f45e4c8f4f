"""sinklib - the test side of t/lib/sink.py, the scriptable SMTP sink.

A Sink runs sink.py as a child process on HOST:PORT (loopback), with its
event log and script in a test's directory; it is stopped by PID, by
stop_sinks() or at exit, whatever happens.
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

    def stop(self):
        if self.proc is None:
            return
        stop_child(self.proc)
        self.proc = None


def stop_sinks():
    """Stop every Sink started by this test."""
    for s in _sinks:
        s.stop()


atexit.register(stop_sinks)
