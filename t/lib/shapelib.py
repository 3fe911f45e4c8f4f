"""shapelib - what the traffic-shaping tests share.

Used by t/80-shape-limits.t, t/81-shape-rollup.t, t/82-shape-backoff.t,
t/83-shape-warmup.t, t/84-shape-ctl.t and t/85-shape-more.t, each of
which runs one Tern (ternlib.py), whose shaperd is the subject, against
scriptable SMTP sinks (sinklib.py) on loopback.  Waits that end within
the file's time budget (until, never; START, when this module was first
imported, is when the BUDGET of seconds began), tern(1) with a timeout
(ctl) and what `tern --json show shaping` says of the queues (shaping,
sq, sq_when), mail injected over SMTP (send, send_one), what a sink saw
(all_delivered, answered, tried), and the frame of a test file: SIGTERM
still cleans up (exit_on_sigterm), an exception is a failed test and
the end stops ternd, a shaperd that outlived it, the servers and the
directory, whatever happened (Run).
"""
import json
import os
import signal
import smtplib
import subprocess
import sys
import time

from ternlib import TERN, remove_dir, wait_for

START = time.time()
BUDGET = 85.0           # seconds: every wait ends before the file's 90 s


def until(pred, timeout):
    """wait_for, but never past the file's time budget."""
    return wait_for(pred, max(0.5, min(timeout,
                                       START + BUDGET - time.time())))


def never(pred, seconds):
    """True if pred stays false for the next seconds (polled)."""
    end = time.time() + seconds
    while time.time() < end:
        try:
            if pred():
                return False
        except Exception:
            pass
        time.sleep(0.1)
    return True


def ctl(tern, *args, timeout=10):
    """tern(1) with a short timeout: (rc, stdout, stderr)."""
    try:
        r = subprocess.run([TERN, "-f", tern.conf] + list(args),
                           capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired:
        return None, "", "tern %s: no answer in %d s" % (args, timeout)


def shaping(tern, sel):
    """The queues of `tern --json show shaping SEL` (None on error)."""
    rc, out, err = ctl(tern, "--json", "show", "shaping", sel)
    if rc != 0:
        return None
    try:
        return json.loads(out)["queues"]
    except (ValueError, KeyError, TypeError):
        return None


def sq(tern, queue):
    """The show shaping entry of one queue ({} if none)."""
    for q in shaping(tern, queue) or []:
        if q.get("queue") == queue:
            return q
    return {}


def sq_when(tern, queue, pred, timeout):
    """The show shaping entry of one queue once pred(entry) holds (waiting
    timeout seconds at most, as until does); if it never does, the entry
    as it is then."""
    return until(lambda: pred(sq(tern, queue)) and sq(tern, queue),
                 timeout) or sq(tern, queue)


def send(port, rcpts, vmta=None, subject="shape"):
    """One message per recipient, all over one SMTP session, through the
    VirtualMTA vmta (an X-Virtual-MTA header) if given; each message's
    Subject is "SUBJECT RCPT", its body "body of RCPT"."""
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    try:
        for r in rcpts:
            hdr = "X-Virtual-MTA: %s\r\n" % vmta if vmta else ""
            s.sendmail("s@src.test", [r], hdr + "Subject: %s %s\r\n\r\n"
                       "body of %s\r\n" % (subject, r, r))
        s.quit()
    finally:
        s.close()


def send_one(port, rcpts, vmta=None, subject="shape"):
    """One message to rcpts (a list), through vmta if given; its Subject
    is "SUBJECT FIRST-RCPT"."""
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    try:
        hdr = "X-Virtual-MTA: %s\r\n" % vmta if vmta else ""
        s.sendmail("s@src.test", rcpts, hdr + "Subject: %s %s\r\n\r\n"
                   "body\r\n" % (subject, rcpts[0]))
        s.quit()
    finally:
        s.close()


def all_delivered(sink, rcpts):
    """True if the sink accepted a message for every one of rcpts."""
    got = sink.delivered_rcpts()
    return all(r in got for r in rcpts)


def answered(sink, code):
    """The messages whose final dot the sink answered with code."""
    return [m for m in sink.messages() if m["code"] == code]


def tried(sink, rcpts):
    """RCPT commands the sink saw for rcpts, one address or a list (a
    transaction was started)."""
    if isinstance(rcpts, str):
        rcpts = [rcpts]
    return [e for e in sink.events("rcpt") if e["to"] in rcpts]


def exit_on_sigterm():
    """Make SIGTERM (a prove timeout, ^C in a pipeline) still run the
    end of the Run, the finally blocks and the atexit handlers that stop
    every process started here."""
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))


class Run:
    """The body of a test file and its end, whatever happens:

        with Run(t, tmp, *servers) as run:
            (start the servers)
            tern = run.start(Tern(...))
            (the tests)
        t.done()

    An exception in the body is a failed test (t.no_exception) and ends
    the body there.  Then, as after a body that ran through (or a
    SystemExit: SIGTERM with exit_on_sigterm), first() if given, and the
    instance is stopped if it was made - that ternd exits 0 is a TAP
    assertion - then any shaperd that outlived it, by PID (ternlib's
    kill_all predates shaperd); then each of servers, in order (the
    test's Sinks, a DNSFake: anything with a stop()), and the test's
    directory tmp is removed."""

    def __init__(self, t, tmp, *servers, first=None):
        self.t, self.tmp, self.servers, self.first = t, tmp, servers, first
        self.tern = None

    def start(self, tern):
        """Start tern (a ternlib.Tern), known to the Run before it starts,
        so that the end stops and cleans it up (and shows its log) even
        when it does not come up; return it."""
        self.tern = tern
        tern.start()
        return tern

    def __enter__(self):
        return self

    def __exit__(self, typ, e, tb):
        try:
            if isinstance(e, Exception):
                self.t.no_exception(e)
        finally:
            if self.first is not None:
                self.first()
            self.stop()
        return isinstance(e, Exception)

    def stop(self):
        """The end of the test (see the class)."""
        t, tern = self.t, self.tern
        if tern is not None:
            left = tern.pids("shaperd")
            tern.finish(t, lambda rc: t.is_(rc, 0,
                                            "ternd exits 0 on SIGTERM"))
            for pid in left:
                try:
                    with open("/proc/%d/comm" % pid) as f:
                        if f.read().strip() == "shaperd":
                            os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        for s in self.servers:
            s.stop()
        remove_dir(self.tmp)
