"""ternlib - start a whole Tern unprivileged on loopback in a temp dir.

Used by the integration tests in t/*.t (run with /usr/bin/python3 so that
Debian's python3-* packages are importable).  Each test gets its own
directory, its own ports, and every process it starts is stopped by PID
at exit, whatever happens.  Also the helpers the tests share: TAP and
TodoTAP, ports, the accounting CSV, a raw SMTP client and the raw-socket
load of the crash tests (RawLoad), and the child-process plumbing of
sinklib.py and dnsfake.py.
"""
import atexit
import csv
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("TERN_BUILD", "build"))
TERND = os.path.join(BUILD, "sbin", "ternd")
TERN = os.path.join(BUILD, "sbin", "tern")


class TAP:
    """Minimal TAP producer."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        print("%sok %d - %s" % ("" if cond else "not ", self.n, name),
              flush=True)
        if not cond:
            self.failed += 1
            if diag is not None:
                for line in str(diag).splitlines():
                    print("#   " + line, flush=True)
        return cond

    def is_(self, got, want, name):
        return self.ok(got == want, name, "got:  %r\nwant: %r" % (got, want))

    def diag(self, msg):
        for line in str(msg).splitlines():
            print("# " + line, flush=True)

    def no_exception(self, e):
        """The failure for a test script whose body raised e."""
        import traceback
        return self.ok(False, "no exception in the test: %r" % e,
                       traceback.format_exc())

    def done(self):
        print("1..%d" % self.n, flush=True)
        sys.exit(1 if self.failed else 0)


class TodoTAP(TAP):
    """TAP with "# TODO": a known bug fails visibly but not the suite."""

    def ok(self, cond, name, diag=None, todo=None):
        if not todo:
            return TAP.ok(self, cond, name, diag)
        failed = self.failed
        r = TAP.ok(self, cond, "%s # TODO %s" % (name, todo), diag)
        self.failed = failed
        return r


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_port_on(hosts):
    """A TCP port free on every one of hosts."""
    for _ in range(100):
        s = socket.socket()
        s.bind((hosts[0], 0))
        port = s.getsockname()[1]
        held = [s]
        try:
            for h in hosts[1:]:
                x = socket.socket()
                held.append(x)
                x.bind((h, port))
            return port
        except OSError:
            continue
        finally:
            for x in held:
                x.close()
    raise RuntimeError("no common free port")


def wait_for(pred, timeout=10.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = pred()
            if v:
                return v
        except Exception:
            pass
        time.sleep(step)
    return None


def remove_dir(path):
    """rm -r path, unless TERN_KEEP is set (to look at it afterwards)."""
    if not os.environ.get("TERN_KEEP"):
        shutil.rmtree(path, ignore_errors=True)


def write_json(path, obj):
    """Replace a JSON file a child re-reads (atomically: a new file,
    renamed)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.rename(tmp, path)


def json_lines(path):
    """The JSON objects of a log written a line each by a child process
    (sink.py, dnsfake.py); [] if there is no log yet."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue        # a line being written
    except OSError:
        pass
    return out


def stop_child(proc):
    """SIGTERM a child started in its own session, SIGKILL after 5 s."""
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    except OSError:
        pass


_all = []


def _cleanup():
    for t in _all:
        t.kill_all()


atexit.register(_cleanup)


class Tern:
    """One Tern instance: config, ternd process, helpers."""

    def __init__(self, extra="", sources=None, port=None, keep=False,
                 domains=None, dns_port=None, vmtas=None):
        self.dir = tempfile.mkdtemp(prefix="tern-test-")
        os.chmod(self.dir, 0o755)
        self.port = port or free_port()
        self.conf = os.path.join(self.dir, "tern.yaml")
        self.spool = os.path.join(self.dir, "spool")
        self.run = os.path.join(self.dir, "run")
        self.logfile = os.path.join(self.dir, "ternd.log")
        self.proc = None
        self.keep = keep
        self.sources = sources or (
            '  127.0.0.1/32: { always-allow-relaying: yes, '
            'process-x-virtual-mta: yes, process-x-job: yes }\n'
            '  0/0: { always-allow-relaying: no }\n')
        self.extra = extra
        # Never leave 127/8: a dead local nameserver unless told otherwise,
        # and by default every domain routed to a closed local port (a route in "*" applies to every domain).
        self.dns_port = dns_port or free_port()
        self.closed_port = free_port()
        self.domains = domains or (
            '  "*": { max-smtp-out: 20, retry-after: 10m, '
            'bounce-after: 4d12h, route: "[127.0.0.1]:%d" }\n'
            % self.closed_port)
        self.vmtas = vmtas or (
            '  mta1: { smtp-source-host: "127.0.0.1 mta1.test.example" }\n'
            '  mta2: { smtp-source-host: "127.0.0.2 mta2.test.example" }\n')
        self.write_config()
        _all.append(self)

    def config_text(self, extra=None):
        user = "user: nobody\n" if os.geteuid() == 0 else ""
        return (
            "host-name: mta1.test.example\n"
            "spool-dir: %s\n"
            "run-dir: %s\n"
            "log-dir: %s/log\n"
            "%s"
            "smtp-listener: [\"127.0.0.1:%d\"]\n"
            "max-message-size: 20M\n"
            "min-free-space: 1M\n"
            "shutdown-timeout: 5s\n"
            "sources:\n%s"
            "dns: { nameservers: [\"127.0.0.1:%d\"], timeout: 2s }\n"
            "virtual-mtas:\n%s"
            "virtual-mta-pools:\n"
            "  pool-a: [mta1, mta2]\n"
            "default-virtual-mta: mta1\n"
            "domains:\n%s"
            "%s" % (self.spool, self.run, self.dir, user, self.port,
                    self.sources, self.dns_port, self.vmtas, self.domains,
                    self.extra if extra is None else extra))

    def write_config(self, text=None):
        with open(self.conf, "w") as f:
            f.write(self.config_text() if text is None else text)

    # --- processes -------------------------------------------------------
    def start(self, wait=True):
        self.log = open(self.logfile, "ab")
        self.proc = subprocess.Popen([TERND, "-f", self.conf],
                                     stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        if wait:
            ok = wait_for(self.ready, 15)
            if not ok:
                raise RuntimeError("tern did not start:\n" + self.logtext())
        return self

    def ready(self):
        try:
            c = socket.create_connection(("127.0.0.1", self.port), 1)
            c.recv(100)
            c.close()
        except OSError:
            return False
        st = self.status()
        return (st is not None and st.get("queued") is not None and
                st["queued"].get("smtpd_links", 0) > 0)

    def stop(self, timeout=20):
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            rc = None
        self.kill_all()
        return rc

    def pids(self, name):
        """PIDs of our daemons called name (children of our ternd)."""
        out = []
        if self.proc is None:
            return out
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % p) as f:
                    st = f.read()
                comm = st[st.index("(") + 1:st.rindex(")")]
                ppid = int(st[st.rindex(")") + 2:].split()[1])
            except (OSError, ValueError):
                continue
            if comm == name and (ppid == self.proc.pid or name == "ternd"
                                 and int(p) == self.proc.pid):
                out.append(int(p))
        return out

    def kill(self, name, sig=signal.SIGKILL):
        """Send sig to each of our daemons called name; how many got it."""
        n = 0
        for pid in self.pids(name):
            try:
                os.kill(pid, sig)
                n += 1
            except OSError:
                pass
        return n

    def kill_all(self):
        """Stop every process of this instance by PID (used at exit)."""
        if self.proc is None:
            return
        victims = (self.pids("smtpd") + self.pids("queued") +
                   self.pids("deliverd"))
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.wait(5)
        except Exception:
            pass
        self.proc = None

    def logtext(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # --- CLI -------------------------------------------------------------
    def tern(self, *args):
        r = subprocess.run([TERN, "-f", self.conf] + list(args),
                           capture_output=True, text=True, timeout=30)
        return r.returncode, r.stdout, r.stderr

    def status(self):
        rc, out, err = self.tern("--json", "show", "status")
        try:
            return json.loads(out)
        except ValueError:
            return None

    def queues(self):
        rc, out, err = self.tern("--json", "show", "queues")
        if rc != 0:
            return None
        return {q["queue"]: q for q in json.loads(out)["queues"]}

    # --- spool -----------------------------------------------------------
    def spool_files(self):
        out = {}
        for sub in ("new", "cur"):
            base = os.path.join(self.spool, sub)
            for dp, dn, fn in os.walk(base):
                for f in fn:
                    out[f] = os.path.join(dp, f)
        return out

    def tmp_files(self):
        try:
            return os.listdir(os.path.join(self.spool, "tmp"))
        except OSError:
            return []

    def cleanup(self):
        self.kill_all()
        if os.environ.get("TERN_TEST_LOG"):
            sys.stdout.write("".join("# " + l + "\n" for l in
                             self.logtext().splitlines()))
        if not self.keep:
            remove_dir(self.dir)

    def finish(self, t, check=None, tail=3000):
        """The end of a test: stop this instance, check(exit code) (a TAP
        assertion) if given, the end of the log as a diagnostic if any
        test failed, then cleanup()."""
        rc = self.stop()
        if check is not None:
            check(rc)
        if t.failed:
            t.diag(self.logtext()[-tail:])
        self.cleanup()


def acct_path(tern):
    """The current accounting file of a Tern instance."""
    return os.path.join(tern.dir, "log", "acct.csv")


def acct_rows(tern):
    """The rows of the current accounting file as dicts ([] if none yet)."""
    try:
        with open(acct_path(tern), newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


def parse_queue_file(path):
    """Read a queue file as tern-spool(5) describes it; raise on error."""
    # A message moves from new/ to cur/<bb>/ at its first deferral: a
    # path listed a moment ago may have moved since.
    for _ in range(3):
        try:
            with open(path, "rb") as f:
                data = f.read()
            break
        except FileNotFoundError:
            d, qid = os.path.split(path)
            spool = d[:d.rindex("/new")] if "/new" in d else \
                os.path.dirname(os.path.dirname(d))
            alt = [os.path.join(spool, "cur", qid[-2:], qid),
                   os.path.join(spool, "new", qid)]
            path = alt[0] if os.path.exists(alt[0]) else alt[1]
    else:
        raise FileNotFoundError(path)
    off, recs, body = 0, [], None
    while off < len(data):
        t = chr(data[off])
        n = int.from_bytes(data[off + 1:off + 5], "little")
        v = data[off + 5:off + 5 + n]
        if len(v) != n:
            raise ValueError("short record")
        off += 5 + n
        recs.append((t, v))
        if t == "B":
            blen = int(v, 16)
            body = data[off:off + blen]
            off += blen
    if not recs or recs[0][0] != "V" or recs[-1][0] != "Z":
        raise ValueError("bad framing")
    return recs, body


class SMTP:
    """A raw line-oriented SMTP client, for what smtplib will not do."""

    def __init__(self, port, host="127.0.0.1", source=None, timeout=15):
        self.s = socket.socket()
        self.s.settimeout(timeout)
        if source:
            self.s.bind((source, 0))
        self.s.connect((host, port))
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def reply(self):
        """One whole (possibly multi-line) reply: (code, text)."""
        lines = []
        while True:
            while b"\n" not in self.buf:
                chunk = self.s.recv(65536)
                if not chunk:
                    return (None, "\n".join(lines))
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.rstrip(b"\r").decode(errors="replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return (int(line[:3]) if line[:3].isdigit() else None,
                        "\n".join(lines))

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


# --- raw-socket load for the crash tests ----------------------------------

def recv_reply(s, buf):
    """The last line of the next SMTP reply on socket s (a multi-line
    reply is read whole); buf is a one-item list holding the bytes read
    past it.  OSError at end of file."""
    while True:
        while b"\n" not in buf[0]:
            d = s.recv(4096)
            if not d:
                raise OSError("eof")
            buf[0] += d
        line, buf[0] = buf[0].split(b"\n", 1)
        if len(line) < 4 or line[3:4] != b"-":
            return line.decode(errors="replace")


class RawLoad:
    """Raw-socket clients that inject while daemons are being killed.

    Each client(port, n) loops until stop is set: connect, EHLO, then two
    messages, each with its envelope pipelined (envelope is formatted with
    n, the client, and tok, "c<n>-m<connection>-<k>", also the Subject)
    and a body of filler repeated a random number of times in sizes.  A
    250 "queued" reply records acked[queue id] = tok; any other outcome
    drops the connection (stats["errors"]) and the client starts again.
    """

    def __init__(self, envelope, filler=b"x", sizes=(100, 4000), pace=0.0):
        self.envelope = envelope
        self.filler = filler
        self.sizes = sizes
        self.pace = pace          # seconds between messages, per client
        self.acked = {}           # queue id -> token
        self.acked_lock = threading.Lock()
        self.stop = threading.Event()
        self.stats = {"attempts": 0, "errors": 0}
        self.threads = []

    def start(self, port, clients, first=0):
        """Start clients numbered from first, injecting to port."""
        self.stop.clear()
        self.threads = [threading.Thread(target=self.client,
                                         args=(port, first + i))
                        for i in range(clients)]
        for th in self.threads:
            th.start()

    def join(self):
        """Stop the clients and wait for them."""
        self.stop.set()
        for th in self.threads:
            th.join(30)

    def client(self, port, n):
        seq = 0
        while not self.stop.is_set():
            seq += 1
            self.stats["attempts"] += 1
            try:
                s = socket.create_connection(("127.0.0.1", port), 5)
                s.settimeout(10)
                buf = [b""]
                if not recv_reply(s, buf).startswith("220"):
                    raise OSError("greeting")
                s.sendall(b"EHLO crash.test\r\n")
                recv_reply(s, buf)
                for k in range(2):
                    tok = "c%d-m%d-%d" % (n, seq, k)
                    s.sendall(self.envelope.format(n=n, tok=tok).encode())
                    r = [recv_reply(s, buf) for _ in range(4)]
                    if not r[3].startswith("354"):
                        raise OSError("no 354: %r" % r)
                    s.sendall(("Subject: %s\r\n\r\n" % tok).encode() +
                              self.filler * random.randint(*self.sizes) +
                              b"\r\n.\r\n")
                    line = recv_reply(s, buf)
                    if line.startswith("250") and "queued" in line:
                        with self.acked_lock:
                            self.acked[line.split()[2]] = tok
                    else:
                        raise OSError(line)
                    if self.pace:
                        time.sleep(self.pace)
                s.sendall(b"QUIT\r\n")
                s.close()
            except OSError:
                self.stats["errors"] += 1
                time.sleep(0.02)
