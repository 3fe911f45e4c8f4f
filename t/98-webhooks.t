#!/usr/bin/python3
# 98-webhooks.t - event-hooks: every event arrives at least once.
#
# A webhook receiver (t/lib/hooksink.py) answers 500 while a flag file
# exists.  120 messages go out through Tern to a sink (100 delivered,
# 10 refused with 550: bounced, 10 answered 451 once: deferred, then
# delivered), a DSN and an ARF report come back (bounced async,
# complained, suppressed), and a message to a suppressed address is
# dropped (suppressed).  Meanwhile the receiver fails for the first
# seconds, and bouncd is killed with SIGKILL while it posts.  Afterwards
# the receiver has, for every final accounting row, its event (matched
# by type and recipient), the deferrals, the complaint and the
# suppressions; duplicates are counted, not refused (at least once);
# events of one message arrive in order (deferred before delivered).
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, free_port_on, json_lines, wait_for  # noqa
from sinklib import Sink  # noqa
from shapelib import Run, exit_on_sigterm, until  # noqa
from bouncelib import (PROCESSORS, SOURCES, VMTAS, arf, dsn, inject,  # noqa
                       rows, send, wait_rows)

exit_on_sigterm()
t = TAP()
tmp = tempfile.mkdtemp(prefix="tern-t98-")
H = "127.0.0.23"
P = free_port_on([H])
sink = Sink(tmp, H, P, {"rcpt": {"^bad": "550 5.1.1 no such user"},
                        "dot_first": {"n": 10, "reply": "451 4.3.0 later"}},
            name="dest")
HOOK = os.path.join(os.path.dirname(__file__), "lib", "hooksink.py")
portf, hlog = os.path.join(tmp, "hook.port"), os.path.join(tmp, "hook.log")
failf = os.path.join(tmp, "hook.fail")
open(failf, "w").close()
hook = None


class HookSink:
    def stop(self):
        if hook is not None:
            hook.terminate()
            try:
                hook.wait(5)
            except subprocess.TimeoutExpired:
                hook.kill()


with Run(t, tmp, sink, HookSink()) as run:
    sink.start()
    hook = subprocess.Popen(["/usr/bin/python3", HOOK, "--port-file", portf,
                             "--log", hlog, "--fail-file", failf,
                             "--requests", os.path.join(tmp, "hook.req"),
                             "--secret", "s3cr3t"],
                            start_new_session=True)
    wait_for(lambda: os.path.exists(portf), 10)
    hport = int(open(portf).read())
    hooks = ("event-hooks:\n  - { name: crm, url: \"http://127.0.0.1:%d/"
             "events\", events: [all], batch-size: 7, retry-max: 1s,"
             " timeout: 5s, secret: s3cr3t }\n" % hport)
    DOMAINS = ('  "*": { retry-after: 1s, bounce-after: 10m,'
               ' route: "[%s]:%d" }\n' % (H, P))
    tern = run.start(Tern(domains=DOMAINS, vmtas=VMTAS, sources=SOURCES,
                          extra=PROCESSORS + hooks))

    good = ["u%03d@dest.test" % i for i in range(110)]
    bad = ["bad%02d@dest.test" % i for i in range(10)]

    def inject_all():
        for r in good + bad:
            send(tern.port, "bounce@bounces.test", r, job="W")
    th = threading.Thread(target=inject_all)
    th.start()
    time.sleep(1.5)
    os.unlink(failf)                  # the receiver comes back ...
    until(lambda: len(json_lines(hlog)) >= 20, 20)
    tern.kill("bouncd")               # ... and bouncd dies mid-stream
    th.join(60)
    until(lambda: len(rows(tern, "d")) + len(rows(tern, "b")) >= 120, 40)

    # bounces and complaints come back; a suppressed address is dropped
    v = "bounce+u000=dest.test=mta1=W@bounces.test"
    inject(tern.port, "", v, dsn(v, "u000@dest.test"))
    inject(tern.port, "fbl@provider.test", "fbl@tern.test",
           arf("u001@dest.test", "W"))
    wait_rows(tern, "rb", "u000@dest.test", 20)
    wait_rows(tern, "f", "u001@dest.test", 20)
    send(tern.port, "bounce@bounces.test", "u000@dest.test", job="W2")
    wait_rows(tern, "b", "u000@dest.test", 20)

    # what must have arrived: one event per final row and more
    want = []
    for r in rows(tern):
        typ = {"d": "delivered", "b": "bounced", "rb": "bounced",
               "f": "complained"}.get(r["type"])
        if typ == "bounced" and "suppression list" in r["dsnDiag"]:
            typ = "suppressed"
        if typ:
            want.append((typ, r["rcpt"]))
    want += [("deferred", None)] * 10 + [("suppressed", "u000@dest.test"),
                                         ("suppressed", "u001@dest.test")]

    def missing():
        got = {}
        for e in json_lines(hlog):
            k = (e.get("type"), e.get("rcpt"))
            got[k] = got.get(k, 0) + 1
            got[(e.get("type"), None)] = got.get((e.get("type"), None),
                                                0) + 1
        need = {}
        for k in want:
            need[k] = need.get(k, 0) + 1
        return [k for k, n in need.items() if got.get(k, 0) < n]
    until(lambda: not missing(), 60)
    ev = json_lines(hlog)
    ids = [e.get("event_id") for e in ev]
    miss = missing()
    t.ok(not miss, "every event arrived at least once (%d expected, %d "
         "posted, %d distinct, %d duplicates)" % (
             len(want), len(ev), len(set(ids)), len(ids) - len(set(ids))),
         miss[:10])
    t.diag("events: %d expected, %d received, %d duplicates after 500s and "
           "a SIGKILL of bouncd" % (len(want), len(ev),
                                    len(ids) - len(set(ids))))
    reqs = json_lines(os.path.join(tmp, "hook.req"))
    t.ok(any(r["status"] == 500 for r in reqs) and
         any(r["status"] == 200 for r in reqs),
         "the receiver answered 500, then 200 (%d refused POSTs)" %
         len([r for r in reqs if r["status"] != 200]))
    t.ok(reqs and all(r["signature_ok"] for r in reqs),
         "every POST is signed (X-Tern-Signature, HMAC-SHA256 of the body "
         "and its time with the hook's secret)")
    t.ok(all(e.get("event_id") and e.get("time") for e in ev),
         "every event has an event_id and a time")
    t.ok(max(len(r["event_ids"]) for r in reqs) <= 7,
         "batches hold at most batch-size (7) events")
    # order per message: a deferred message's deferral before its delivery
    order_ok = True
    for qid in set(e.get("queue_id") for e in ev if e["type"] == "deferred"):
        seq = [e["type"] for e in ev if e.get("queue_id") == qid]
        first_d = seq.index("delivered") if "delivered" in seq else None
        if first_d is None or "deferred" not in seq[:first_d]:
            order_ok = False
    t.ok(order_ok, "per message, deferred comes before delivered")
    t.ok(all(e.get("job") in ("W", "W2") for e in ev
             if e["type"] in ("delivered", "complained")),
         "events carry the job id")
t.done()
