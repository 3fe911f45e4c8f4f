#!/bin/sh
#
# 70-fuzz-smoke.t - build the libFuzzer harnesses, run every seed once.
#
# Purpose:      when clang can build and run a -fsanitize=fuzzer program
#               here, "make fuzz" builds t/fuzz/fuzz_*.c into build-fuzz/
#               (ASan + UBSan + libFuzzer), and each harness runs over its
#               seed corpus t/fuzz/corpus/<name>/ with -runs=0: every seed
#               executes once, nothing is mutated.  A crash, a sanitizer
#               report, a harness assertion or a timeout is "not ok", with
#               the end of its output as "# " comments.  Without clang or
#               libFuzzer the whole file is skipped ("1..0 # SKIP").
#               Scratch output (the first corpus directory, where libFuzzer
#               would write) goes to a temporary directory: the committed
#               seeds are only read.  Takes a few seconds once built; a
#               cold build is well under a minute.
# Used by:      prove (make check, make check-quick).
# Trust:        runs only binaries built from t/fuzz/ and common/.
# Spool access: none.
# See:          t/fuzz/README, Makefile (fuzz, fuzz-run).

here=$(cd "$(dirname "$0")" && pwd) || exit 1
root=$(dirname "$here")
cd "$root" || exit 1

cc=${FUZZ_CC:-clang}
make=${MAKE:-make}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-70-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT HUP INT TERM

# Can this machine build and run a libFuzzer program at all?
cat >"$tmp/probe.c" <<'EOF'
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }
EOF
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "1..0 # SKIP $cc not found"
	exit 0
fi
if ! "$cc" -fsanitize=fuzzer,address,undefined -o "$tmp/probe" \
    "$tmp/probe.c" >"$tmp/probe.log" 2>&1 ||
    ! "$tmp/probe" -runs=1 >>"$tmp/probe.log" 2>&1; then
	echo "1..0 # SKIP $cc cannot build or run -fsanitize=fuzzer programs"
	exit 0
fi

names=
for s in t/fuzz/fuzz_*.c; do
	[ -f "$s" ] || continue
	n=${s##*/}
	names="$names ${n%.c}"
done
total=1
for n in $names; do
	total=$((total + 1))
done
echo "1..$total"

comment() {
	tail -n "${2:-40}" "$1" | sed 's/^/# /'
}

if timeout 120 "$make" -j2 FUZZ_CC="$cc" fuzz >"$tmp/build.log" 2>&1; then
	echo "ok 1 - make fuzz"
	built=1
else
	echo "not ok 1 - make fuzz"
	comment "$tmp/build.log"
	built=0
fi

i=1
for n in $names; do
	i=$((i + 1))
	short=${n#fuzz_}
	seeds=t/fuzz/corpus/$short
	bin=build-fuzz/$n
	if [ "$built" -ne 1 ] || [ ! -x "$bin" ]; then
		echo "not ok $i - $n: not built"
		continue
	fi
	if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
		echo "not ok $i - $n: no seeds in $seeds"
		continue
	fi
	mkdir -p "$tmp/out/$short"
	if timeout 60 "$bin" -runs=0 -timeout=10 "$tmp/out/$short" "$seeds" \
	    >"$tmp/$n.log" 2>&1; then
		echo "ok $i - $n: $(ls "$seeds" | wc -l | tr -d ' ') seeds"
	else
		echo "not ok $i - $n: failed on its seeds"
		comment "$tmp/$n.log"
	fi
done
exit 0
