#!/usr/bin/python3
# 50-reload.t - check-config; reload with a broken file keeps the running
# configuration (mail still flows); reload with a good file applies it to
# every daemon without dropping a connection; SIGHUP does the same.
import os
import re
import signal
import smtplib
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, SMTP, wait_for  # noqa

t = TAP()
tern = Tern()


def hashes():
    st = tern.status()
    return (st["ternd"]["config_hash"],
            sorted(set(c["config_hash"] for c in st["ternd"]["children"])),
            st["queued"]["config_hash"])


def send(to="r@reload.example", extra=b""):
    s = smtplib.SMTP("127.0.0.1", tern.port, timeout=20)
    r = s.sendmail("s@reload.test", [to], extra + b"Subject: r\r\n\r\nx\r\n")
    s.quit()
    return r


rc, out, err = tern.tern("check-config")
t.ok(rc == 0 and out.strip() == "config OK", "check-config: config OK",
     out + err)
good = tern.config_text()
bad = good.replace("max-message-size: 20M\n",
                   "max-message-size: 20M\nmax-smtp-outt: 5\n")
line = bad.splitlines().index("max-smtp-outt: 5") + 1
tern.write_config(bad)
rc, out, err = tern.tern("check-config")
t.ok(rc == 1 and re.search(r"tern\.yaml:%d:1: .*unknown key "
                           r"\"max-smtp-outt\"" % line, out),
     "check-config: unknown key reported at line %d column 1" % line, out)
tern.write_config(good)

tern.start()
h1 = hashes()
t.ok(h1[0] == h1[2] and h1[1] == [h1[0]], "all daemons run the same "
     "configuration at start", h1)

# a session opened before the reloads must survive them
keep = SMTP(tern.port)
keep.reply()
keep.cmd("EHLO keep.test")

# broken file: tern reload refuses, nothing changes
tern.write_config(bad)
rc, out, err = tern.tern("reload")
t.ok(rc == 1 and ("%d:1" % line) in err and "stays in force" in err,
     "tern reload with a broken file: exit 1, error with line:column", err)
t.is_(hashes(), h1, "running configuration unchanged after the refused "
      "reload")
os.kill(tern.proc.pid, signal.SIGHUP)
time.sleep(0.5)
t.is_(hashes(), h1, "SIGHUP with a broken file changes nothing either")
t.ok("stays in force" in tern.logtext(), "ternd logs that the running "
     "configuration stays")
t.is_(send(), {}, "mail still gets through after the refused reload")

# good file with changes: smaller size limit and a new virtual-mta
new = good.replace("max-message-size: 20M", "max-message-size: 1M").replace(
    "virtual-mtas:\n",
    "virtual-mtas:\n  mta3: { smtp-source-host: \"127.0.0.3 m3.test\" }\n")
tern.write_config(new)
rc, out, err = tern.tern("reload")
t.ok(rc == 0 and "reloaded" in out, "tern reload with a good file",
     out + err)
h2 = hashes()
t.ok(h2[0] != h1[0] and h2[1] == [h2[0]] and h2[2] == h2[0],
     "every daemon reports the new configuration hash", (h1, h2))
s = smtplib.SMTP("127.0.0.1", tern.port, timeout=20)
s.ehlo("x")
t.is_(s.esmtp_features.get("size"), str(1024 * 1024),
      "smtpd applies the new max-message-size (EHLO SIZE)")
s.quit()
t.is_(send("v@three.example", b"X-Virtual-MTA: mta3\r\n"), {},
      "message for the new virtual-mta accepted")
q = tern.queues()
t.ok(q and "three.example/mta3" in q, "queued applies the new "
     "virtual-mtas (queue three.example/mta3)", q)

# the old session is still there and still works
keep.cmd("MAIL FROM:<k@keep.test>")
keep.cmd("RCPT TO:<k@reload.example>")
code, _ = keep.cmd("DATA")
keep.send(b"Subject: kept\r\n\r\nx\r\n.\r\n")
code2, text = keep.reply()
t.ok(code == 354 and code2 == 250, "a connection opened before the "
     "reloads delivers afterwards", text)
keep.close()

# SIGHUP with a good file
tern.write_config(new.replace("max-message-size: 1M",
                              "max-message-size: 2M"))
os.kill(tern.proc.pid, signal.SIGHUP)
ok = wait_for(lambda: hashes()[1] != [h2[0]] and len(hashes()[1]) == 1
              and hashes()[0] == hashes()[1][0], 10)
t.ok(ok, "SIGHUP applies a good file to every daemon", [(c["name"], c["config_hash"][:8], c["pid"]) for c in tern.status()["ternd"]["children"]])
st = tern.status()
t.ok(all(k["restarts"] == 0 for k in st["ternd"]["children"]),
     "no daemon was restarted by the reloads", st)
rc, out, err = tern.tern("show", "status")
t.ok(rc == 0 and hashes()[0][:12] in out, "show status names the "
     "configuration in force", out)
tern.stop()
tern.cleanup()
t.done()
