#!/usr/bin/python3
# 62-crash-deliver.t - crash safety end to end, through delivery.
#
# Part 1: several raw-socket clients inject messages (two recipients each)
# routed to one sink while deliverd and queued are killed with SIGKILL at
# random moments.  Afterwards the queue must drain, and every recipient of
# every message that got a 250 must have reached the sink at least once
# (duplicates are allowed and counted); nothing may be corrupt.
#
# Part 2: a deterministic replay of one crash window: queued dies while
# deliverd still holds jobs (their MX lookup is slow).  The results of
# those jobs must not be taken, after the restart, for the results of
# other jobs that the new queued happens to number the same way (it did:
# job ids restarted at 1, and ten greylisted recipients were recorded
# delivered; fixed by 7b3b625, guarded here).
import collections
import os
import random
import re
import signal
import smtplib
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import (RawLoad, TodoTAP, Tern, acct_rows,  # noqa
                     free_port_on, remove_dir, wait_for)
from dnsfake import DNSFake  # noqa
from sinklib import Sink, stop_sinks  # noqa

TARGET = int(os.environ.get("TERN_CRASH_DELIVER_MSGS", "1500"))
CLIENTS = 6
DEADLINE = 40          # seconds of injection at most
PACE = 0.035           # seconds between messages, per client, so that
                       # the kills fall during delivery too
DRAIN = 60             # seconds for the queue to empty at most


class SlowDNSTern(Tern):
    """ternlib's config with a DNS timeout longer than the fake's delays."""

    def config_text(self, extra=None):
        return Tern.config_text(self, extra).replace(
            "timeout: 2s }", "timeout: 15s, attempts: 1 }")


# SIGTERM (a prove timeout, ^C in a pipeline) still runs the finally
# blocks and atexit handlers that stop every process started here.
signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))

t = TodoTAP()
tmp = tempfile.mkdtemp(prefix="tern-t62-")
P = free_port_on(["127.0.0.1", "127.0.0.2", "127.0.0.3"])
OK_HOST, DEFER_HOST = "127.0.0.2", "127.0.0.3"
RECORDS = {
    "mx": {"warm.test": [[10, "mx.ok.test"]],
           "slow.test": [[10, "mx.ok.test"]],
           "defer.test": [[10, "mx.defer.test"]]},
    "a": {"mx.ok.test": [OK_HOST], "mx.defer.test": [DEFER_HOST]},
    "delay": {"slow.test": 3, "defer.test": 6},
}
DOMAINS = (
    '  "*": { default-smtp-port: %d, retry-after: 1s, bounce-after: 1h }\n'
    '  crash.test: { route: "[%s]:%d", max-smtp-out: 10 }\n'
    '  defer.test: { retry-after: 1h }\n' % (P, OK_HOST, P))

dns = DNSFake(RECORDS, dir=tmp)
sink = Sink(tmp, OK_HOST, P, name="ok")
dsink = Sink(tmp, DEFER_HOST, P, {"rcpt": {".": "451 4.7.1 greylisted"}},
             name="defer")
tern = None
load = RawLoad("MAIL FROM:<s@src.test>\r\n"
               "RCPT TO:<a-{tok}@crash.test>\r\n"
               "RCPT TO:<b-{tok}@crash.test>\r\nDATA\r\n",
               filler=b"y", sizes=(50, 2000), pace=PACE)
acked = load.acked        # queue id -> token
kill_stop = threading.Event()    # killer stops
stats = load.stats
kills = {"queued": 0, "deliverd": 0}


def age(pid):
    """Seconds since pid started (0 if unknown)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            start = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            up = float(f.read().split()[0])
        return up - start / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def settled(name, secs=1.3):
    """Every daemon called name has run for secs: ternd restarts a daemon
    at once only if it ran for 1 s, else with a growing delay."""
    pids = tern.pids(name)
    return pids and all(age(p) >= secs for p in pids)


def killer():
    turn = random.randrange(2)
    while not kill_stop.is_set():
        time.sleep(random.uniform(0.3, 0.9))
        if kill_stop.is_set():
            break
        name = ["queued", "deliverd"][turn % 2]
        if not settled(name):
            continue
        turn += 1
        kills[name] += tern.kill(name)


def queued_status():
    return (tern.status() or {}).get("queued") or {}


try:
    dns.start()
    sink.start()
    dsink.start()
    tern = SlowDNSTern(domains=DOMAINS, dns_port=dns.port).start()

    # === Part 1: random SIGKILLs of deliverd and queued =====================
    t0 = time.time()
    load.start(tern.port, CLIENTS)
    k = threading.Thread(target=killer)
    k.start()
    # Inject (paced) until TARGET messages are acknowledged and each
    # daemon was killed 3 times; delivery runs all along.
    wait_for(lambda: len(acked) >= TARGET and min(kills.values()) >= 3,
             DEADLINE, 0.2)
    kill_stop.set()
    load.join()
    k.join(10)
    t.diag("injected for %.1fs: acknowledged %d, attempts %d, client "
           "errors %d, kills %r" % (time.time() - t0, len(acked),
                                    stats["attempts"], stats["errors"],
                                    kills))
    t.ok(len(acked) >= min(TARGET, 500), "load ran: %d messages "
         "acknowledged under SIGKILLs" % len(acked))
    t.ok(kills["queued"] >= 3 and kills["deliverd"] >= 3,
         "queued and deliverd were each killed repeatedly", kills)

    ready = wait_for(tern.ready, 30)
    t.ok(ready, "every daemon is back after the storm")
    drained = wait_for(lambda: queued_status().get("recipients") == 0 and
                       queued_status().get("messages") == 0, DRAIN,
                       step=0.5)
    st = queued_status()
    t.ok(drained, "the queue drains: 0 recipients, 0 messages (%.1fs after "
         "the start)" % (time.time() - t0), st)
    wait_for(lambda: not tern.spool_files(), 10)

    want = set()
    for tok in acked.values():
        want.add("a-%s@crash.test" % tok)
        want.add("b-%s@crash.test" % tok)
    seen = collections.Counter()
    badtok = []
    for m in sink.messages():
        mt = re.search(r"Subject: (\S+)", m["data"])
        for r in m["rcpts"]:
            seen[r] += 1
            if not mt or mt.group(1) not in r:
                badtok.append((r, mt and mt.group(1)))
    missing = sorted(want - set(seen))
    t.ok(not missing, "every acknowledged recipient reached the sink at "
         "least once (%d recipients)" % len(want), missing[:20])
    t.is_(badtok, [], "every delivered copy carries its own message's body")
    dups = sum(v - 1 for v in seen.values() if v > 1)
    t.diag("duplicates: %d deliveries beyond the first, over %d recipients;"
           " %d recipients delivered that no client saw acknowledged"
           % (dups, sum(1 for v in seen.values() if v > 1),
              len(set(seen) - want)))
    rows = acct_rows(tern)
    d = collections.Counter(r["rcpt"] for r in rows if r["type"] == "d")
    t.diag("accounting: %d recipients without a d row, %d with more than "
           "one" % (len(want - set(d)), sum(1 for v in d.values() if v > 1)))
    t.ok(not (want - set(d)), "accounting: every delivered recipient has "
         "its d row, crashes or not", sorted(want - set(d))[:10])
    t.ok(not [r for r in rows if r["type"] == "b"], "no recipient bounced",
         [r for r in rows if r["type"] == "b"][:5])
    t.is_(sorted(tern.spool_files()), [], "no message file left in the spool")
    t.is_(tern.tmp_files(), [], "tmp/ is empty")
    t.ok(st.get("corrupt") == 0, "nothing quarantined as corrupt", st)
    try:
        corrupt = os.listdir(os.path.join(tern.spool, "corrupt"))
    except OSError:
        corrupt = []
    t.is_(corrupt, [], "spool corrupt/ is empty")

    n = tern.logtext().count("malformed payload")
    u = tern.logtext().count("result for unknown job")
    t.diag("queued dropped deliverd %d times for a result it could not "
           "match; ignored %d results for unknown jobs" % (n, u))

    # === Part 2: stale results after a queued restart =======================
    # Start from a fresh queued; with job ids counted from 1, the warm-up
    # takes ids 1-10, the held jobs 11-15, and after the second restart
    # the new queued's ids 1-5 (slow.test) and 6-15 (defer.test) would
    # collide with the held ones.
    logpos = len(tern.logtext())
    wait_for(lambda: settled("queued"), 10)
    for pid in tern.pids("queued"):
        os.kill(pid, signal.SIGKILL)
    time.sleep(1.2)
    t.ok(wait_for(tern.ready, 20), "queued restarted for part 2")
    s = smtplib.SMTP("127.0.0.1", tern.port, timeout=30)
    for i in range(10):
        s.sendmail("s@src.test", ["w%d@warm.test" % i],
                   "Subject: warm-%d\r\n\r\nw\r\n" % i)
    s.quit()
    warm = wait_for(lambda: len([m for m in sink.messages()
                                 if "@warm.test" in m["rcpts"][0]]) >= 10,
                    20)
    t.ok(warm, "part 2: ten warm-up messages delivered")
    s = smtplib.SMTP("127.0.0.1", tern.port, timeout=30)
    for i in range(5):
        s.sendmail("s@src.test", ["s%d@slow.test" % i],
                   "Subject: slow-%d\r\n\r\ns\r\n" % i)
    s.quit()
    held = wait_for(lambda: ((tern.queues() or {}).get("slow.test/mta1", {})
                             .get("active_jobs") == 5), 10)
    t.ok(held, "part 2: five slow.test jobs wait at deliverd for "
         "their MX answer", tern.queues())
    wait_for(lambda: settled("queued"), 10)
    for pid in tern.pids("queued"):
        os.kill(pid, signal.SIGKILL)
    t.ok(wait_for(tern.ready, 20), "part 2: queued back after SIGKILL")
    s = smtplib.SMTP("127.0.0.1", tern.port, timeout=30)
    for i in range(10):
        s.sendmail("s@src.test", ["d%d@defer.test" % i],
                   "Subject: defer-%d\r\n\r\nd\r\n" % i)
    s.quit()
    # slow.test answers after 3s, defer.test after 6s; the greylisting
    # sink then answers 451 to every defer.test recipient.
    wait_for(lambda: len(dsink.events("rcpt")) >= 10 and
             (tern.queues() or {}).get("slow.test/mta1", {}).get("rcpts")
             == 0, 20)
    time.sleep(1)
    slow_got = set(r for m in sink.messages() for r in m["rcpts"]
                   if r.endswith("@slow.test"))
    t.is_(sorted(slow_got), ["s%d@slow.test" % i for i in range(5)],
          "part 2: the slow.test messages are delivered")
    t.ok(not [m for m in sink.messages() for r in m["rcpts"]
              if r.endswith("@defer.test")],
         "part 2: no defer.test message reached the accepting sink")
    drows = [r for r in acct_rows(tern) if r["rcpt"].endswith("@defer.test")
             and r["type"] in ("d", "b")]
    t.ok(not drows, "part 2: no defer.test recipient is recorded delivered "
         "(all were answered 451)",
         ["%s %s %s" % (r["rcpt"], r["dsnMta"], r["dsnDiag"])
          for r in drows])
    q = (tern.queues() or {}).get("defer.test/mta1", {})
    t.ok(q.get("rcpts") == 10, "part 2: all 10 greylisted recipients are "
         "still queued", q)
    t.ok("malformed payload" not in tern.logtext()[logpos:],
         "part 2: queued never drops deliverd for a result it cannot match",
         [l for l in tern.logtext()[logpos:].splitlines()
          if "malformed" in l][:5])
except Exception as e:
    t.no_exception(e)
finally:
    load.stop.set()
    kill_stop.set()
    if tern is not None:
        tern.finish(t, lambda rc: t.ok(rc is not None, "ternd stops"),
                    tail=5000)
    stop_sinks()
    dns.stop()
    remove_dir(tmp)
t.done()
