#!/bin/sh
# tests/fuzz/replay.sh  Replay every checked-in fuzz corpus (make check)
#
# Each tests/fuzz/replay_<target> program gets tests/fuzz/corpus/<target>/.
# A crash or sanitizer report fails the test.
srcdir=${srcdir:-.}
status=0
found=0
for prog in tests/fuzz/replay_*; do
	[ -x "$prog" ] || continue
	name=${prog##*/replay_}
	corpus="$srcdir/tests/fuzz/corpus/$name"
	[ -d "$corpus" ] || continue
	found=$((found + 1))
	"$prog" "$corpus" || status=1
done
[ "$found" -gt 0 ] || { echo "replay.sh: no replay programs found" >&2; exit 1; }
exit $status
