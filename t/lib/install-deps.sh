#!/bin/sh
# install-deps.sh - install the Debian packages Tern builds and tests with.
# Run by "make check".  As root, missing packages are installed (apt-get
# update first); otherwise the missing ones are listed and the build goes
# on (it fails later with a clear compiler or test error if they matter).
PKGS="build-essential pkg-config libevent-dev liblmdb-dev lmdb-utils
libyaml-dev libssl-dev zlib1g-dev libjansson-dev libopendkim-dev
swaks python3 python3-dnslib perl procps iproute2 clang libclang-rt-14-dev
libcrypt-dev openssl whois python3-dkim python3-nacl libmail-dkim-perl
libsisimai-perl"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing Debian packages:$missing" >&2
	echo "install-deps: run 'sudo apt-get install$missing'" >&2
	exit 0
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || exit 1
apt-get install -y -qq --no-install-recommends $missing >/dev/null || exit 1
# (Postfix, for smtp-source/smtp-sink, is the benchmark's business:
# bench/relay.sh installs it.  The tests do not need it.)
exit 0
