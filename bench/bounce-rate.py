#!/usr/bin/python3
"""bounce-rate.py - how fast Tern takes in bounces and complaints.

A benchmark, not a test: prints figures, asserts nothing.  Starts one
Tern (t/lib/ternlib.py, loopback, a temporary directory) with a
bounce-processor, a feedback-loop-processor, the suppression list and
an event hook to t/lib/hooksink.py; injects N reports (9 RFC 3464
delivery reports to one ARF complaint, each to its own VERP address)
over S parallel SMTP sessions from a source that may not relay, and
measures until every one is an accounting row (rb or f), its recipient
is suppressed, and every event reached the hook.  CPU is read from
/proc for smtpd, queued and bouncd.

usage: bench/bounce-rate.py [-n N] [-s SESSIONS]
"""
import argparse
import os
import smtplib
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "t", "lib"))
from ternlib import Tern, json_lines, wait_for  # noqa
from bouncelib import PROCESSORS, SOURCES, VMTAS, arf, dsn, rows  # noqa


def cpu(pids):
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                v = f.read().rsplit(")", 1)[1].split()
            total += int(v[11]) + int(v[12])
        except OSError:
            pass
    return total / tick


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=3000)
    ap.add_argument("-s", type=int, default=10)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tern-bench-bounce-")
    portf, hlog = os.path.join(tmp, "hook.port"), os.path.join(tmp, "h.log")
    hook = subprocess.Popen(["/usr/bin/python3",
                             os.path.join(HERE, "..", "t", "lib",
                                          "hooksink.py"),
                             "--port-file", portf, "--log", hlog],
                            start_new_session=True)
    tern = None
    try:
        wait_for(lambda: os.path.exists(portf), 10)
        hooks = ("event-hooks:\n  - { name: b, url: \"http://127.0.0.1:%s/\","
                 " events: [bounced, complained], batch-size: 200 }\n"
                 % open(portf).read().strip())
        tern = Tern(vmtas=VMTAS, sources=SOURCES,
                    extra=PROCESSORS + hooks).start()
        pids = tern.pids("smtpd") + tern.pids("queued") + tern.pids("bouncd")
        msgs = []
        for i in range(a.n):
            r = "u%06d@dest.test" % i
            if i % 10 == 9:
                msgs.append(("fb@provider.test", "fbl@tern.test",
                             arf(r, "J")))
            else:
                v = "bounce+u%06d=dest.test=mta1=J@bounces.test" % i
                msgs.append(("", v, dsn(v, r)))

        def worker(k):
            s = smtplib.SMTP("127.0.0.1", tern.port, timeout=60,
                             source_address=("127.0.0.9", 0))
            for frm, to, m in msgs[k::a.s]:
                s.sendmail(frm, [to], m)
            s.quit()
        c0, t0 = cpu(pids), time.time()
        th = [threading.Thread(target=worker, args=(k,)) for k in range(a.s)]
        for t in th:
            t.start()
        for t in th:
            t.join()
        t_inj = time.time() - t0
        wait_for(lambda: len(rows(tern, "rb")) + len(rows(tern, "f")) >=
                 a.n, 300, step=0.2)
        t_rows = time.time() - t0
        c1 = cpu(pids)
        wait_for(lambda: len(json_lines(hlog)) >= a.n, 300, step=0.2)
        t_hook = time.time() - t0
        st = tern.status() or {}
        b = st.get("bouncd") or {}
        print("reports=%d sessions=%d injected_in=%.2fs rows_in=%.2fs "
              "(%.0f reports/s) events_posted_in=%.2fs (%d events) "
              "cpu_smtpd+queued+bouncd=%.2fs (%.0f us/report) "
              "suppressed=%s list=%s" % (
                  a.n, a.s, t_inj, t_rows, a.n / t_rows, t_hook,
                  len(json_lines(hlog)), c1 - c0,
                  (c1 - c0) * 1e6 / a.n, b.get("n_suppressed"),
                  b.get("suppressed")))
    finally:
        if tern is not None:
            tern.stop()
            tern.cleanup()
        hook.terminate()
        hook.wait(5)
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
