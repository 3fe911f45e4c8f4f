#!/bin/sh
# install-deps.sh - install the Debian packages Tern builds and tests with.
# Run by "make check".  As root, missing packages are installed (apt-get
# update first); otherwise the missing ones are listed and the build goes
# on (it fails later with a clear compiler or test error if they matter).
PKGS="build-essential pkg-config libevent-dev liblmdb-dev lmdb-utils
libyaml-dev libssl-dev zlib1g-dev libjansson-dev libopendkim-dev
swaks python3 python3-aiosmtpd python3-dnslib postfix perl procps
iproute2"
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
# Postfix is installed for smtp-source/smtp-sink only: keep its daemon off.
if command -v postfix >/dev/null 2>&1; then
	postfix stop >/dev/null 2>&1 || true
fi
exit 0
