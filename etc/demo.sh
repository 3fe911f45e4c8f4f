#!/bin/sh
# demo.sh - "make demo": Tern on a local default config, end to end.
#
# Everything lives under ./demo/ and stays on 127.0.0.1: Tern listens on
# 127.0.0.1:2525 and relays every domain to a local SMTP sink on
# 127.0.0.1:2526 (t/lib/sink.py), which refuses refuse@... with 550 5.1.1.
# The script sends a few messages, shows the queues, the status and the
# accounting rows, then keeps Tern in the foreground (Ctrl-C stops it).
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
B=${TERN_BUILD:-build}
demo="$top/demo"
port=${TERN_DEMO_PORT:-2525}
sinkport=${TERN_DEMO_SINK_PORT:-2526}
tern="$top/$B/sbin/tern -f $demo/tern.yaml"
mkdir -p "$demo"
state="$demo"
user_line=""
if [ "$(id -u)" = 0 ]; then
	# As root ternd drops the daemons to this user; it must reach the
	# spool.  Under a private home (mode 0700) keep the state in /tmp.
	user_line="user: nobody"
	chmod 755 "$demo"
	if ! runuser -u nobody -- test -x "$demo" 2>/dev/null; then
		state=/tmp/tern-demo
		mkdir -p "$state"
		chmod 755 "$state"
		echo "(spool, sockets and logs in $state: nobody cannot reach $demo)"
	fi
fi
cat > "$demo/tern.yaml" <<EOC
# Tern demo configuration, written by "make demo".  Edit it and run
# "$B/sbin/tern -f demo/tern.yaml reload" to apply changes.
host-name: tern-demo.localdomain
spool-dir: $state/spool
run-dir: $state/run
log-dir: $state/log
$user_line
smtp-listener: ["127.0.0.1:$port"]
max-message-size: 50M
sources:
  127.0.0.0/8: { always-allow-relaying: yes, process-x-virtual-mta: yes, process-x-job: yes }
  0/0:         { always-allow-relaying: no }
virtual-mtas:
  mta1: { smtp-source-host: "127.0.0.1 mta1.tern-demo.localdomain" }
  mta2: { smtp-source-host: "127.0.0.2 mta2.tern-demo.localdomain" }
virtual-mta-pools:
  pool-a: [mta1, mta2]
default-virtual-mta: pool-a
dns: { nameservers: ["127.0.0.1:5353"] }
domains:
  # every domain goes to the local sink: nothing leaves this machine
  "*": { route: "[127.0.0.1]:$sinkport", max-smtp-out: 20, max-msg-per-connection: 100, retry-after: "10m,20m,1h", bounce-after: 4d12h }
accounting: { records: [d, b, t, rb, f] }
# bounces and complaints sent back to these addresses are read by bouncd
bounce-processor: { domains: [bounces.tern-demo.localdomain] }
feedback-loop-processor: { addresses: [fbl@tern-demo.localdomain] }
EOC
"$top/$B/sbin/tern" -f "$demo/tern.yaml" check-config
echo '{"rcpt": {"^refuse@": "550 5.1.1 <refuse>: no such user here"}}' \
    > "$demo/sink.json"
/usr/bin/python3 "$top/t/lib/sink.py" "127.0.0.1:$sinkport" \
    "$demo/sink.log" "$demo/sink.json" &
sinkpid=$!
"$top/$B/sbin/ternd" -f "$demo/tern.yaml" &
terndpid=$!
trap 'kill $terndpid $sinkpid 2>/dev/null; wait 2>/dev/null' INT TERM EXIT
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	$tern show status >/dev/null 2>&1 && break
	sleep 0.3
done
sleep 0.5
echo
echo "== sending 3 messages (one recipient will be refused by the sink)"
/usr/bin/python3 - "$port" <<'PY'
import smtplib, sys
port = int(sys.argv[1])
msgs = [
    ("alice@example.net", b"X-Job: demo-1\r\nSubject: hello\r\n\r\nHi Alice.\r\n"),
    ("bob@example.org", b"X-Virtual-MTA: mta2\r\nX-Job: demo-1\r\nSubject: hi\r\n\r\nHi Bob.\r\n"),
    ("refuse@example.com", b"X-Job: demo-2\r\nSubject: bounce me\r\n\r\nNo.\r\n"),
]
for rcpt, body in msgs:
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    code, resp = s.ehlo("demo.client")
    s.mail("sender@tern-demo.localdomain")
    s.rcpt(rcpt)
    code, resp = s.data(body)
    print("  to %-22s -> %d %s" % (rcpt, code, resp.decode()))
    s.quit()
PY
sleep 2
echo
echo "== an asynchronous bounce for alice comes back to the bounce domain"
/usr/bin/python3 - "$port" <<'PY'
import smtplib, sys
dsn = (b"From: MAILER-DAEMON@example.net\r\nTo: bounce@bounces.tern-demo.localdomain\r\n"
       b"Subject: Undelivered Mail\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report;"
       b" report-type=delivery-status; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain"
       b"\r\n\r\nalice is gone\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
       b"Reporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; alice@example.net"
       b"\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown"
       b"\r\n\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nX-Job: demo-1\r\n"
       b"Subject: hello\r\n\r\n--B--\r\n")
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.sendmail("", ["bounce@bounces.tern-demo.localdomain"], dsn)
s.quit()
print("  sent; bouncd writes an rb row and suppresses alice")
PY
sleep 2
echo
echo "== $B/sbin/tern -f demo/tern.yaml suppression list"
$tern suppression list
echo
echo "== $B/sbin/tern -f demo/tern.yaml show status"
$tern show status
echo
echo "== $B/sbin/tern -f demo/tern.yaml show queues"
$tern show queues
echo
echo "== accounting rows ($state/log/acct.csv)"
cat "$state/log/acct.csv"
cat <<EOM

Tern keeps running in the foreground (Ctrl-C stops it and the sink).
In another terminal:

  inject:   swaks --server 127.0.0.1:$port --from me@example.com --to you@example.net \\
                  --header "X-Virtual-MTA: mta2" --header "X-Job: demo-3"
  inspect:  $B/sbin/tern -f demo/tern.yaml show queues
            $B/sbin/tern -f demo/tern.yaml show status
  reload:   $B/sbin/tern -f demo/tern.yaml reload
  bounces:  $B/sbin/tern -f demo/tern.yaml suppression list
            $B/sbin/tern -f demo/tern.yaml classify some-bounce.eml
  sink log: demo/sink.log

EOM
wait $terndpid
