#!/usr/bin/python3
# 94-suppression-ctl.t - `tern suppression` against a running bouncd.
#
# add (global, and scoped to a job and to a pool), show, list, remove,
# export and import (CSV: a header, quoted fields, bad rows reported as
# FILE:LINE, 1500 rows sent in batches), all through bouncd's socket for
# writes and the LMDB list for reads; and what the list does to mail:
# a globally listed address is dropped at queue time (b row, 5.7.1,
# policy-related for a manual entry), a job-scoped one only in that job,
# a pool-scoped one only through that pool, and a removed one is
# delivered again.
import csv
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, free_port_on  # noqa
from sinklib import Sink  # noqa
from shapelib import Run, ctl, exit_on_sigterm, until  # noqa
from bouncelib import rows, send, wait_rows  # noqa

exit_on_sigterm()
t = TAP()
tmp = tempfile.mkdtemp(prefix="tern-t94-")
H = "127.0.0.25"
P = free_port_on([H])
DOMAINS = ('  "*": { retry-after: 1s, bounce-after: 10m, route: "[%s]:%d" }\n'
           % (H, P))
sink = Sink(tmp, H, P, name="dest")


def js(*args):
    rc, out, err = ctl(tern, "--json", "suppression", *args)
    try:
        return rc, json.loads(out) if out.strip() else None, err
    except ValueError:
        return rc, None, out + err


def delivered(r):
    return r in sink.delivered_rcpts()


with Run(t, tmp, sink) as run:
    sink.start()
    tern = run.start(Tern(domains=DOMAINS))

    # --- add, show, list -----------------------------------------------------
    rc, out, err = ctl(tern, "suppression", "add", "Gone@Dest.test",
                       "--note", "asked to be removed")
    t.is_(rc, 0, "add a global entry (%s)" % (out + err).strip())
    rc, j, err = js("show", "gone@dest.test")
    t.ok(rc == 0 and j and "manual" in json.dumps(j) and
         "asked to be removed" in json.dumps(j),
         "show: the entry, lowercased, reason manual, with its note", j)
    rc, out, err = ctl(tern, "suppression", "add", "jobonly@dest.test",
                       "--scope", "job:J5", "--reason", "bad-mailbox")
    rc2, out2, err2 = ctl(tern, "suppression", "add", "poolonly@dest.test",
                          "--scope", "pool:pool-a")
    t.ok(rc == 0 and rc2 == 0, "add entries scoped to a job and a pool",
         err + err2)
    rc, j, err = js("list")
    t.ok(rc == 0 and len(json.dumps(j).split("@dest.test")) - 1 == 3,
         "list: the three entries", j)
    rc, out, err = ctl(tern, "suppression", "add", "not an address")
    t.ok(rc != 0, "add refuses what is not an address (%s)" % err.strip())

    # --- what they do to mail ---------------------------------------------
    send(tern.port, "s@src.test", "gone@dest.test")
    b = wait_rows(tern, "b", "gone@dest.test", 20)
    t.ok(b and "suppression list" in b[0]["dsnDiag"] and
         b[0]["bounceCat"] == "policy-related",
         "a globally listed address is dropped (b row, policy-related)", b)
    send(tern.port, "s@src.test", "jobonly@dest.test", job="J5")
    send(tern.port, "s@src.test", "jobonly@dest.test", job="J6")
    b = wait_rows(tern, "b", "jobonly@dest.test", 20)
    t.ok(len(b) == 1 and b[0]["jobId"] == "J5",
         "job:J5 entry: the J5 message is dropped", b)
    t.ok(until(lambda: delivered("jobonly@dest.test"), 20),
         "... the J6 message is delivered")
    send(tern.port, "s@src.test", "poolonly@dest.test", vmta="pool-a")
    send(tern.port, "s@src.test", "poolonly@dest.test", vmta="mta2")
    b = wait_rows(tern, "b", "poolonly@dest.test", 20)
    t.ok(len(b) == 1 and b[0]["vmtaPool"] == "pool-a",
         "pool:pool-a entry: the message through the pool is dropped", b)
    t.ok(until(lambda: delivered("poolonly@dest.test"), 20),
         "... the one through mta2 directly is delivered")

    # --- remove ------------------------------------------------------------
    rc, out, err = ctl(tern, "suppression", "remove", "gone@dest.test")
    t.is_(rc, 0, "remove")
    rc, j, err = js("show", "gone@dest.test")
    t.ok(rc != 0, "show: not there any more")
    send(tern.port, "s@src.test", "gone@dest.test")
    t.ok(until(lambda: delivered("gone@dest.test"), 20),
         "a removed address is delivered again")

    # --- import, export ----------------------------------------------------
    path = os.path.join(tmp, "in.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["address", "scope", "reason", "note"])
        for i in range(1500):
            w.writerow(["imp%04d@dest.test" % i, "", "import",
                        'note, with "quotes"' if i == 7 else ""])
        w.writerow(["not-an-address", "", "", ""])           # line 1502
        w.writerow(["x@dest.test", "bogus:scope", "", ""])   # line 1503
    rc, out, err = ctl(tern, "suppression", "import", path, timeout=60)
    t.ok(rc == 1 and "in.csv:1502:" in out + err and
         "in.csv:1503:" in out + err,
         "import: bad rows named by FILE:LINE, exit 1", (out + err)[-400:])
    rc, j, err = js("show", "imp0007@dest.test")
    t.ok(rc == 0 and 'note, with \\"quotes\\"' in json.dumps(j),
         "import: quoted fields come through", j)
    exp = os.path.join(tmp, "out.csv")
    rc, out, err = ctl(tern, "suppression", "export", exp, timeout=60)
    with open(exp, newline="") as f:
        got = list(csv.DictReader(f))
    t.ok(rc == 0 and len(got) == 1502 and
         len([r for r in got if r["address"].startswith("imp")]) == 1500,
         "export: every entry (1500 imported, 2 scoped)", len(got))
    t.ok(all(k in (got[0] if got else {}) for k in
             ("address", "scope", "reason", "source", "created", "expires",
              "note")), "export: the documented columns",
         list(got[0].keys()) if got else None)
    send(tern.port, "s@src.test", "imp1499@dest.test")
    b = wait_rows(tern, "b", "imp1499@dest.test", 20)
    t.ok(b and "suppression list" in b[0]["dsnDiag"],
         "an imported address is dropped", b)
    st = tern.status() or {}
    t.ok((st.get("bouncd") or {}).get("suppressed") == 1502,
         "tern show status: bouncd's list holds 1502 entries",
         st.get("bouncd"))
t.done()
