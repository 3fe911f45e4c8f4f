#!/bin/bash
# tls-relay.sh - the relay benchmark with TLS on both sides and DKIM signing,
# Tern against Postfix (+ OpenDKIM as a milter), on this machine, same run.
#
#   tls-load.py inject --STARTTLS--> MTA (signs DKIM) --STARTTLS--> tls-load.py sink
#
# The injector opens SESSIONS connections, each EHLO/STARTTLS/EHLO and then
# its share of MSGS messages (several per connection), From a@example.com.
# The MTA relays everything to the sink on 127.0.0.1:2526, opportunistic
# STARTTLS, signing with one RSA-2048 key for example.com (Tern: dkimd;
# Postfix: OpenDKIM milter, skipped with -D).  The sink counts messages, how
# many came over TLS and how many carry a DKIM-Signature.
# Measured per run: messages/s end to end (injector start -> sink has all),
# and CPU (cgroup-v1 cpuacct) of the MTA (all its processes; for Postfix
# including opendkim, also shown on its own), of the injector and of the sink.
# Certificates and the DKIM key are generated into the output directory.
# Needs root.  Loopback only; every wait is bounded; only what is started
# here is stopped, by PID (Postfix with "postfix stop"); Postfix is left
# stopped with the milter, TLS and tlsproxy settings added here removed
# again.  A benchmark, asserts nothing.
#
# Postfix runs twice (-P "default reuse"): as configured above (a new TCP
# connection and TLS handshake per relayed message, smtp_tls_connection_reuse
# = no, Postfix's default), and with smtp_tls_connection_reuse = yes (through
# tlsproxy, enabled in master.cf for the run and removed afterwards).
#
# usage: bench/tls-relay.sh [-n MSGS] [-s SESSIONS] [-l SIZE] [-r REPS] [-D]
#                           [-P "default reuse"]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
shared=${TERN_SHARED:-$top/../shared/bench}
N=5000; S=20; L=2048; R=2; DKIMPF=yes; PFVAR="default reuse"; TLIM=300; WARM=500
while getopts "n:s:l:r:DP:" o; do case $o in
  P) PFVAR=$OPTARG;;
  n) N=$OPTARG;; s) S=$OPTARG;; l) L=$OPTARG;; r) R=$OPTARG;; D) DKIMPF=no;;
  *) exit 2;; esac; done
[ "$(id -u)" = 0 ] || { echo "tls-relay.sh: run as root" >&2; exit 2; }
PY=/usr/bin/python3; LOAD=$top/bench/tls-load.py
out=${TERN_BENCH_OUT:-/tmp/tern-tls-bench}
rm -rf "$out"; mkdir -p "$out"; chmod 755 "$out"
make -C "$top" -s all >/dev/null
SINK=127.0.0.1:2526; PFX=127.0.0.1:2525; TERN=127.0.0.1:2527; MILTER=8891

# --- keys and certificates ----------------------------------------------------
for c in mta sink; do
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bench.localdomain" \
      -keyout "$out/$c.key" -out "$out/$c.crt" >/dev/null 2>&1
done
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out/dkim.key" 2>/dev/null
chmod 644 "$out"/*.key "$out"/*.crt   # read by postfix/opendkim users; a throwaway bench key

# --- cgroups (cpuacct, v1) -----------------------------------------------------
CGR=/sys/fs/cgroup/cpuacct; CG=$CGR/tlsbench-$$
mkdir "$CG-mta" "$CG-load" "$CG-sink" "$CG-dkim"   # dkim: opendkim, counted in the MTA's CPU too
cgns() { cat "$CG-$1/cpuacct.usage"; }
statbusy() { awk '/^cpu /{b=$2+$3+$4+$7+$8+$9; print b}' /proc/stat; }
HZ=$(getconf CLK_TCK)

SINKPID=""; TERNPID=""; DKIMPID=""; PFSTARTED=""
cleanup() {
  set +e
  [ -n "$TERNPID" ] && kill "$TERNPID" 2>/dev/null && { for i in $(seq 50); do kill -0 "$TERNPID" 2>/dev/null || break; sleep 0.2; done; }
  [ -n "$PFSTARTED" ] && timeout 60 postfix stop >/dev/null 2>&1
  [ -n "$DKIMPID" ] && kill "$DKIMPID" 2>/dev/null
  [ -n "$SINKPID" ] && kill "$SINKPID" 2>/dev/null
  sleep 1
  postconf -X smtpd_milters non_smtpd_milters milter_default_action milter_protocol \
    smtpd_tls_cert_file smtpd_tls_key_file smtpd_tls_security_level smtp_tls_security_level \
    smtpd_tls_session_cache_database smtp_tls_session_cache_database smtp_tls_connection_reuse >/dev/null 2>&1
  postconf -MX tlsproxy/unix >/dev/null 2>&1
  for g in mta load sink dkim; do
    for p in $(cat "$CG-$g/cgroup.procs" 2>/dev/null); do echo "$p" > "$CGR/cgroup.procs" 2>/dev/null; done
    rmdir "$CG-$g" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

waitport() { local i; for i in $(seq 100); do ss -ltn | grep -q " $1 " && return 0; sleep 0.1; done; echo "nothing listening on $1" >&2; return 1; }
count() { local a; read -r a _ < "$out/sink.count" 2>/dev/null || a=0; echo "${a:-0}"; }
waitcount() { # want deadline(epoch s) -> echo arrival time or TIMEOUT
  while :; do [ "$(count)" -ge "$1" ] && { echo "$EPOCHREALTIME"; return 0; }
    [ "$EPOCHSECONDS" -ge "$2" ] && { echo TIMEOUT; return 1; }; sleep 0.02; done; }

# --- sink: one for the whole run, lives at most this long even if we die hard --
( echo $BASHPID > "$CG-sink/cgroup.procs"
  exec timeout $(( (2*R+2)*TLIM + 600 )) $PY "$LOAD" sink "$SINK" "$out/sink.crt" "$out/sink.key" "$out/sink.count" ) \
    > "$out/sink.log" 2>&1 &
SINKPID=$!
waitport "$SINK"

inject() { # target sessions msgs -> INJECT line; runs in the load cgroup
  ( echo $BASHPID > "$CG-load/cgroup.procs"
    exec timeout $((TLIM+10)) $PY "$LOAD" inject "$1" "$2" "$3" "$L" a@example.com b@example.net "$TLIM" ) 2>>"$out/inject.err"
}

runs() { # label target
  local label=$1 target=$2 rep c0 c1 h0 h1 g0 g1 t0 t2 m0 m1 l0 l1 k0 k1 b0 b1 line d0 d1 tl0 tl1
  # warm-up (TLS session caches, process pools, dkim key load)
  c0=$(count); inject "$target" 10 "$WARM" >/dev/null || true
  waitcount $((c0+WARM)) $((EPOCHSECONDS+TLIM)) >/dev/null || echo "# $label: warm-up incomplete" >&2
  sleep 1
  for rep in $(seq 1 "$R"); do
    read -r c0 tl0 d0 h0 < "$out/sink.count"
    m0=$(cgns mta); g0=$(cgns dkim); l0=$(cgns load); k0=$(cgns sink); b0=$(statbusy)
    t0=$EPOCHREALTIME
    line=$(inject "$target" "$S" "$N") || true
    t2=$(waitcount $((c0+N)) $(( EPOCHSECONDS + TLIM )) ) || true
    m1=$(cgns mta); g1=$(cgns dkim); l1=$(cgns load); k1=$(cgns sink); b1=$(statbusy)
    sleep 0.1; read -r c1 tl1 d1 h1 < "$out/sink.count"
    awk -v L="$label" -v rep="$rep" -v n="$N" -v s="$S" -v l="$L" -v t0="$t0" -v t2="$t2" \
        -v inj="$line" -v got="$((c1-c0))" -v tls="$((tl1-tl0))" -v dk="$((d1-d0))" -v hs="$((h1-h0))" \
        -v m="$((m1-m0+g1-g0))" -v g="$((g1-g0))" -v ld="$((l1-l0))" -v k="$((k1-k0))" -v b="$((b1-b0))" -v hz="$HZ" 'BEGIN{
      e2e=(t2=="TIMEOUT"||t2=="")?-1:t2-t0; split(inj,a,/[ =]/); isec=a[7];
      printf "RESULT mta=%s rep=%d sessions=%d size=%d n=%d delivered=%d tls=%d dkim_signed=%d sink_handshakes=%d inject_s=%.3f e2e_s=%.3f msgs_per_s=%.1f mta_us_per_msg=%.0f milter_us_per_msg=%.0f load_us_per_msg=%.0f sink_us_per_msg=%.0f cores_busy=%.2f\n",
        L,rep,s,l,n,got,tls,dk,hs,isec,e2e,(e2e>0?n/e2e:0),m/1e3/n,g/1e3/n,ld/1e3/n,k/1e3/n,(e2e>0?b/hz/e2e:0) }'
    sleep 2
  done
}

# --- Postfix (+ OpenDKIM) -------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
command -v postfix >/dev/null || apt-get install -y -qq postfix >/dev/null
if [ "$DKIMPF" = yes ] && ! command -v opendkim >/dev/null; then
  apt-get install -y -qq opendkim >/dev/null 2>&1 || DKIMPF=no; fi
postfix stop >/dev/null 2>&1 || true
bash "$shared/setup-postfix.sh" >/dev/null
postconf -e "smtpd_tls_cert_file = $out/mta.crt" "smtpd_tls_key_file = $out/mta.key" \
  "smtpd_tls_security_level = may" "smtp_tls_security_level = may" \
  'smtpd_tls_session_cache_database = btree:${data_directory}/smtpd_scache' \
  'smtp_tls_session_cache_database = btree:${data_directory}/smtp_scache'
if [ "$DKIMPF" = yes ]; then
  cat > "$out/opendkim.conf" <<EOC
Syslog no
Mode s
Domain example.com
Selector bench
KeyFile $out/dkim.key
Socket inet:$MILTER@127.0.0.1
Canonicalization relaxed/relaxed
SignatureAlgorithm rsa-sha256
RequireSafeKeys false
UserID opendkim
InternalHosts 127.0.0.0/8
EOC
  ( echo $BASHPID > "$CG-dkim/cgroup.procs"; exec opendkim -f -x "$out/opendkim.conf" ) >"$out/opendkim.log" 2>&1 &
  DKIMPID=$!
  waitport "127.0.0.1:$MILTER"
  postconf -e "smtpd_milters = inet:127.0.0.1:$MILTER" 'non_smtpd_milters = $smtpd_milters' \
    "milter_default_action = tempfail" "milter_protocol = 6"
else
  postconf -X smtpd_milters non_smtpd_milters >/dev/null 2>&1 || true
fi
echo "# tls-relay: $(date -u +%FT%TZ) n=$N sessions=$S size=$L reps=$R postfix_dkim=$DKIMPF cpus=$(nproc)"
: > "$out/postfix.txt"
for pv in $PFVAR; do
  if [ "$pv" = reuse ]; then   # Postfix >= 3.4: reuse TLS connections via tlsproxy
    postconf -M "tlsproxy/unix=tlsproxy unix - - n - 0 tlsproxy"
    postconf -e "smtp_tls_connection_reuse = yes"
  else
    postconf -MX tlsproxy/unix >/dev/null 2>&1 || true
    postconf -X smtp_tls_connection_reuse >/dev/null 2>&1 || true
  fi
  ( echo $BASHPID > "$CG-mta/cgroup.procs"; exec postfix start ) >"$out/postfix-start.log" 2>&1
  PFSTARTED=yes
  waitport "$PFX"
  runs "postfix-$pv" "$PFX" | tee -a "$out/postfix.txt"
  timeout 60 postfix stop >/dev/null 2>&1; PFSTARTED=""
  sleep 1
done
postconf -MX tlsproxy/unix >/dev/null 2>&1 || true
postconf -X smtp_tls_connection_reuse >/dev/null 2>&1 || true
[ -n "$DKIMPID" ] && { kill "$DKIMPID"; wait "$DKIMPID" 2>/dev/null || true; DKIMPID=""; }
postconf -X smtpd_milters non_smtpd_milters milter_default_action milter_protocol >/dev/null 2>&1 || true

# --- Tern -----------------------------------------------------------------------
cat > "$out/tern.yaml" <<EOC
host-name: bench.localdomain
spool-dir: $out/tern/spool
run-dir: $out/tern/run
log-dir: $out/tern/log
user: nobody
smtp-listener: ["$TERN"]
smtp-server-tls-certificate: $out/mta.crt
smtp-server-tls-private-key: $out/mta.key
sources:
  127.0.0.0/8: { always-allow-relaying: yes }
domain-keys:
  - { selector: bench, domain: example.com, key-file: $out/dkim.key }
virtual-mtas:
  mta1: { smtp-source-host: "127.0.0.1 bench.localdomain", dkim-sign: yes }
dns: { nameservers: ["127.0.0.1:1"] }
domains:
  "*": { route: "[${SINK%:*}]:${SINK##*:}", max-smtp-out: 20, max-msg-per-connection: 1000 }
EOC
mkdir -p "$out/tern"; chmod 755 "$out/tern"
( echo $BASHPID > "$CG-mta/cgroup.procs"; exec "$top/build/sbin/ternd" -f "$out/tern.yaml" ) >"$out/ternd.log" 2>&1 &
TERNPID=$!
waitport "$TERN"
runs tern "$TERN" | tee "$out/tern.txt"

# --- table ------------------------------------------------------------------------
$PY - "$out/postfix.txt" "$out/tern.txt" "$DKIMPF" <<'PY'
import re, statistics, sys
def rows(p):
    return [dict(re.findall(r"(\w+)=([-\w.]+)", l)) for l in open(p) if l.startswith("RESULT")]
def med(rs, k):
    return statistics.median(float(r[k]) for r in rs) if rs else 0
p, t = rows(sys.argv[1]), rows(sys.argv[2])
print("\n| MTA | msg/s (median; runs) | MTA CPU µs/msg (of it OpenDKIM) | injector CPU µs/msg | sink CPU µs/msg | delivered / over TLS / DKIM-signed / sink TLS handshakes (last run) |")
print("|---|---|---|---|---|---|")
pv = {}
for r in p:
    pv.setdefault(r["mta"], []).append(r)
dk = " + OpenDKIM" if sys.argv[3] == "yes" else " (no DKIM)"
for name, rs in [("Postfix" + dk + (", TLS reuse" if k.endswith("reuse") else ""), v) for k, v in pv.items()] + [("Tern", t)]:
    last = rs[-1] if rs else {}
    print("| %s | %.0f (%s) | %.0f (%.0f) | %.0f | %.0f | %s / %s / %s / %s |" % (
        name, med(rs, "msgs_per_s"), ", ".join("%.0f" % float(r["msgs_per_s"]) for r in rs),
        med(rs, "mta_us_per_msg"), med(rs, "milter_us_per_msg"), med(rs, "load_us_per_msg"), med(rs, "sink_us_per_msg"),
        last.get("delivered"), last.get("tls"), last.get("dkim_signed"), last.get("sink_handshakes")))
tm, tc = med(t, "msgs_per_s"), med(t, "mta_us_per_msg")
for k, v in pv.items():
    pm, pc = med(v, "msgs_per_s"), med(v, "mta_us_per_msg")
    print("| ratio Tern / %s | ×%.2f | ×%.3f | | | |" % (k, tm / pm if pm else 0, tc / pc if pc else 0))
PY
