#!/bin/sh
# demo.sh - run Tern in the foreground on a local default config (make demo).
# Everything lives under ./demo/ and listens on 127.0.0.1:2525 only.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
B=${TERN_BUILD:-build}
demo="$top/demo"
port=${TERN_DEMO_PORT:-2525}
mkdir -p "$demo"
user_line=""
if [ "$(id -u)" = 0 ]; then
	# As root ternd drops the daemons to this user; let it reach ./demo.
	user_line="user: nobody"
	chmod 755 "$demo"
fi
cat > "$demo/tern.yaml" <<EOC
# Tern demo configuration, written by "make demo".  Edit and run
# "$B/sbin/tern -f demo/tern.yaml reload" to apply changes.
host-name: tern-demo.localdomain
spool-dir: $demo/spool
run-dir: $demo/run
log-dir: $demo/log
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
domains:
  "*":         { max-smtp-out: 20, max-msg-per-connection: 100, retry-after: "10m,20m,1h", bounce-after: 4d12h }
EOC
"$top/$B/sbin/tern" -f "$demo/tern.yaml" check-config
cat <<EOM

Tern is starting in the foreground (Ctrl-C stops it).  In another terminal:

  inject:   swaks --server 127.0.0.1:$port --from me@example.com --to you@example.net \\
                  --header "X-Virtual-MTA: mta2" --header "X-Job: demo-1"
  inspect:  $B/sbin/tern -f demo/tern.yaml show queues
            $B/sbin/tern -f demo/tern.yaml show status
  reload:   $B/sbin/tern -f demo/tern.yaml reload

EOM
exec "$top/$B/sbin/ternd" -f "$demo/tern.yaml"
