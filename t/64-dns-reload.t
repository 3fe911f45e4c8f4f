#!/usr/bin/python3
# 64-dns-reload.t - a reload's dns block reaches deliverd: with no answer
# from the first nameserver the message waits (4.4.3); after a reload that
# names a working one, the retry finds the MX and delivers.
import os
import smtplib
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, free_port, wait_for  # noqa
from sinklib import Sink, stop_sinks  # noqa
from dnsfake import DNSFake  # noqa

t = TAP()
P = free_port()
tern = Tern()
tern.domains = ('  "*": { default-smtp-port: %d, retry-after: 2s, '
                'connection-idle-timeout: 0 }\n' % P)
tern.write_config()
sink = Sink(tern.dir, "127.0.0.1", P).start()
dns = DNSFake({"mx": {"dns.test": [[10, "mx.dns.test"]]},
               "a": {"mx.dns.test": ["127.0.0.1"]}},
              dir=tempfile.mkdtemp(prefix="tern-dns-")).start()
tern.start()


def q():
    return (tern.queues() or {}).get("dns.test/mta1", {})


try:
    s = smtplib.SMTP("127.0.0.1", tern.port, timeout=20)
    t.is_(s.sendmail("s@dns.test", ["r@dns.test"], b"Subject: d\r\n\r\nx\r\n"),
          {}, "message accepted")
    s.quit()
    t.ok(wait_for(lambda: "4.4.3" in str(tern.queues()) or
                  "DNS" in q().get("last_error", ""), 20),
         "no nameserver answers: deferred with a DNS error", q())
    t.is_(sink.messages(), [], "nothing delivered yet")
    tern.dns_port = dns.port
    tern.write_config()
    rc, out, err = tern.tern("reload")
    t.is_(rc, 0, "reload naming the working nameserver", )
    t.ok(wait_for(lambda: len(sink.messages()) == 1, 20),
         "the retry resolves the MX through the new nameserver and delivers",
         q())
finally:
    tern.stop()
    dns.stop()
    stop_sinks()
    tern.cleanup()
t.done()
