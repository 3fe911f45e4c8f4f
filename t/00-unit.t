#!/bin/sh
#
# 00-unit.t - run the C unit tests, one TAP line per test binary.
#
# Purpose:      runs every $TERN_BUILD/t/test_* binary (default build/,
#               relative to the repository root, which is the parent of
#               this t/ directory) under "timeout 60", checks that it
#               exited 0 and that its own TAP output is complete (plan
#               met, every "not ok" marked TODO), and prints "ok N -
#               test_name" or "not ok N - test_name".  A failing binary's
#               whole output follows as "# " comments; for a passing one
#               only its failing TODO checks (known bugs) are listed.
#               A t/unit/test_*.c with no binary is a failure: run
#               "make all" first.
# Used by:      prove (make check, make check-quick, make asan).
# Trust:        runs only binaries built from t/unit/.
# Spool access: none (the unit tests use temporary files only).
# See:          t/unit/tap.h, Makefile (the build/t/% rule).

here=$(cd "$(dirname "$0")" && pwd) || exit 1
root=$(dirname "$here")
build=${TERN_BUILD:-build}
case $build in
/*)	bindir=$build/t ;;
*)	bindir=$root/$build/t ;;
esac
cd "$root" || exit 1

tmp=$(mktemp "${TMPDIR:-/tmp}/tern-00-unit.XXXXXX") || exit 1
trap 'rm -f "$tmp"' EXIT HUP INT TERM

# The list: every built test_* binary, plus every test source not built.
list=
for b in "$bindir"/test_*; do
	[ -f "$b" ] && [ -x "$b" ] && list="$list ${b##*/}"
done
for s in t/unit/test_*.c; do
	[ -f "$s" ] || continue
	n=${s##*/}
	n=${n%.c}
	case " $list " in
	*" $n "*) ;;
	*)	list="$list $n" ;;
	esac
done
list=$(for n in $list; do echo "$n"; done | sort)

total=$(echo "$list" | grep -c .)
if [ "$total" -eq 0 ]; then
	echo "1..1"
	echo "not ok 1 - no unit tests found in $bindir (run make all)"
	exit 1
fi
echo "1..$total"

i=0
failed=0
for n in $list; do
	i=$((i + 1))
	bin=$bindir/$n
	if [ ! -x "$bin" ]; then
		echo "not ok $i - $n"
		echo "# $bin was not built (run make all)"
		failed=$((failed + 1))
		continue
	fi
	if [ -f "t/unit/$n.c" ] && [ "t/unit/$n.c" -nt "$bin" ]; then
		echo "# warning: $bin is older than t/unit/$n.c"
	fi
	timeout 60 "$bin" >"$tmp" 2>&1 </dev/null
	rc=$?

	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$tmp" | head -n 1)
	ran=$(grep -c -E '^(not )?ok [0-9]' "$tmp")
	bad=$(grep -E '^not ok [0-9]' "$tmp" | grep -c -v '# TODO')
	todo=$(grep -E '^not ok [0-9]' "$tmp" | grep -c '# TODO')

	why=
	if [ "$rc" -eq 124 ]; then
		why="timed out after 60s"
	elif [ "$rc" -gt 128 ]; then
		why="killed by signal $((rc - 128))"
	elif [ "$rc" -ne 0 ]; then
		why="exit status $rc, $bad failed"
	elif [ -z "$plan" ]; then
		why="no TAP plan"
	elif [ "$plan" -ne "$ran" ]; then
		why="planned $plan, ran $ran"
	elif [ "$bad" -ne 0 ]; then
		why="$bad failed"
	fi

	if [ -z "$why" ]; then
		echo "ok $i - $n ($ran checks, $todo TODO)"
		grep -E '^not ok [0-9].*# TODO' "$tmp" | sed 's/^/#   /'
	else
		echo "not ok $i - $n ($why)"
		sed 's/^/# /' "$tmp"
		failed=$((failed + 1))
	fi
done
[ "$failed" -eq 0 ]
