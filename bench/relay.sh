#!/bin/bash
# relay.sh - Tern against Postfix on this machine, same harness, same run.
#
# Runs ../shared/bench/relay-bench.sh (smtp-source -> MTA -> smtp-sink, all
# on loopback) first against Postfix (set up with setup-postfix.sh, relaying
# to the harness's sink), then against Tern (relaying everything to the same
# sink), and prints each one's messages per second, CPU per message and the
# ratios.  Needs root (Postfix setup, cgroup CPU accounting).  A benchmark,
# not a test: nothing here asserts a timing.
#
# usage: bench/relay.sh [-n MSGS] [-s "SESSIONS"] [-l "SIZES"] [-r REPS]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
shared=${TERN_SHARED:-$top/../shared/bench}
N=5000; S=20; L=2048; R=3
while getopts "n:s:l:r:" o; do case $o in
  n) N=$OPTARG;; s) S=$OPTARG;; l) L=$OPTARG;; r) R=$OPTARG;; *) exit 2;; esac; done
[ "$(id -u)" = 0 ] || { echo "relay.sh: run as root" >&2; exit 2; }
out=${TERN_BENCH_OUT:-/tmp/tern-bench}
rm -rf "$out"; mkdir -p "$out"; chmod 755 "$out"
make -C "$top" -s all >/dev/null

# --- Postfix ----------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
command -v postfix >/dev/null || apt-get install -y -qq postfix >/dev/null
postfix stop >/dev/null 2>&1 || true
bash "$shared/setup-postfix.sh" >/dev/null
PQ='find /var/spool/postfix/incoming /var/spool/postfix/active /var/spool/postfix/deferred /var/spool/postfix/maildrop -type f | wc -l'
bash "$shared/relay-bench.sh" -n "$N" -s "$S" -l "$L" -r "$R" -L postfix \
    -S 'postfix start' -X 'postfix stop' -Q "$PQ" -o "$out/postfix" \
    127.0.0.1:2525 | tee "$out/postfix.txt" | grep -E '^(RESULT|SUMMARY)'

# --- Tern -------------------------------------------------------------------
cat > "$out/tern.yaml" <<EOC
host-name: bench.localdomain
spool-dir: $out/tern/spool
run-dir: $out/tern/run
log-dir: $out/tern/log
user: nobody
smtp-listener: ["127.0.0.1:2527"]
sources:
  127.0.0.0/8: { always-allow-relaying: yes }
virtual-mtas:
  mta1: { smtp-source-host: "127.0.0.1 bench.localdomain" }
dns: { nameservers: ["127.0.0.1:1"] }
domains:
  "*": { route: "[127.0.0.1]:2526", max-smtp-out: 20, max-msg-per-connection: 1000 }
EOC
mkdir -p "$out/tern"; chmod 755 "$out/tern"
TQ="$top/build/sbin/tern -f $out/tern.yaml --json show status | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[\"queued\"][\"recipients\"])'"
bash "$shared/relay-bench.sh" -n "$N" -s "$S" -l "$L" -r "$R" -L tern \
    -S "$top/build/sbin/ternd -f $out/tern.yaml >$out/ternd.log 2>&1 & echo \$! > $out/ternd.pid; sleep 1" \
    -X "kill \$(cat $out/ternd.pid)" -Q "$TQ" -o "$out/tern" \
    127.0.0.1:2527 | tee "$out/tern.txt" | grep -E '^(RESULT|SUMMARY)'

# --- ratios -----------------------------------------------------------------
/usr/bin/python3 - "$out/postfix.txt" "$out/tern.txt" <<'PY'
import re, statistics, sys
def runs(path):
    d = {}
    for line in open(path):
        if line.startswith("RESULT"):
            kv = dict(re.findall(r"(\w+)=([-\d.]+)", line))
            d.setdefault((kv["sessions"], kv["size"]), []).append(kv)
    return d
def med(rs, k):
    return statistics.median(float(r.get(k, 0)) for r in rs)
p, t = runs(sys.argv[1]), runs(sys.argv[2])
for k in sorted(t):
    if k not in p:
        continue
    pm, tm = med(p[k], "msgs_per_s"), med(t[k], "msgs_per_s")
    pc, tc = med(p[k], "mta_us_per_msg"), med(t[k], "mta_us_per_msg")
    print("sessions=%s size=%s: postfix %.0f msg/s, %.0f us CPU/msg | "
          "tern %.0f msg/s, %.0f us CPU/msg | throughput x%.2f, "
          "CPU per message x%.3f (medians of %d runs)" % (k[0], k[1], pm,
          pc, tm, tc, tm / pm if pm else 0, tc / pc if pc else 0,
          len(t[k])))
PY
