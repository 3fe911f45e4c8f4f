#!/usr/bin/python3
# 56-restart-retry.t - retry state survives a restart of queued: a
# deferred message keeps its next attempt (from the LMDB index) instead of
# being retried at once, and a lost index costs only that (it is rebuilt).
import os
import shutil
import signal
import smtplib
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, wait_for  # noqa

t = TAP()
tern = Tern()
tern.domains = ('  "*": { retry-after: 10m, bounce-after: 4d, '
                'route: "[127.0.0.1]:%d" }\n' % tern.closed_port)
tern.write_config()
tern.start()


def q():
    return (tern.queues() or {}).get("retry.example/mta1", {})


try:
    s = smtplib.SMTP("127.0.0.1", tern.port, timeout=20)
    s.sendmail("s@retry.test", ["r@retry.example"], b"Subject: r\r\n\r\nx\r\n")
    s.quit()
    t.ok(wait_for(lambda: q().get("deferred") == 1, 10),
         "the message is deferred (destination refuses)", q())
    first = q().get("next_attempt", 0)
    t.ok(first > time.time() + 500, "next attempt about 10 minutes ahead",
         first)
    time.sleep(1.2)          # let the index batch reach LMDB
    for pid in tern.pids("queued"):
        os.kill(pid, signal.SIGKILL)
    t.ok(wait_for(lambda: tern.status() and tern.status()["queued"]
                  .get("recovered") == 1, 15), "queued restarted and "
         "recovered the message")
    after = q()
    t.ok(after.get("deferred") == 1 and after.get("active_jobs") == 0,
         "after the restart it is still deferred, not retried at once",
         after)
    t.is_(after.get("next_attempt"), first, "with the same next attempt")

    # Without the index: rebuilt, the message is retried at once (safe).
    tern.stop()
    shutil.rmtree(os.path.join(tern.spool, "index"))
    tern.start()
    t.ok(wait_for(lambda: (tern.status() or {}).get("queued", {})
                  .get("index_ok"), 10), "index rebuilt from the spool")
    t.ok(wait_for(lambda: q().get("deferred") == 1, 10) and
         q().get("next_attempt", 0) > time.time() + 500,
         "without its index the message was tried again and deferred again",
         q())
finally:
    tern.stop()
    tern.cleanup()
t.done()
