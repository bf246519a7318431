#!/bin/sh
# Runs the same benchmarks on two builds alternately (A B A B ...) so that
# both see the same machine weather, then compares the medians per build.
# usage: ab.sh A B [FILTER] [ROUNDS]
#   A, B: build directories (their bench/aspace_bench is run) or binaries
#   FILTER: --benchmark_filter regex (default: everything); ROUNDS: 5
# Environment: AB_MIN_TIME (default 0.2), AB_ARGS (more flags),
# AB_OUT (directory for the per-round JSON; default a temporary one).
set -e
if [ $# -lt 2 ]; then
	sed -n '2,9s/^# \{0,1\}//p' "$0" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
python=${BENCH_PYTHON:-/usr/bin/python3}

binary() {
	if [ -d "$1" ]; then
		echo "$1/bench/aspace_bench"
	else
		echo "$1"
	fi
}

a=$(binary "$1")
b=$(binary "$2")
filter=${3:-.}
rounds=${4:-5}
for x in "$a" "$b"; do
	[ -x "$x" ] || { echo "ab.sh: $x is not an executable benchmark" >&2; exit 2; }
done
out=${AB_OUT:-$(mktemp -d /tmp/aspace-ab.XXXXXX)}
mkdir -p "$out"
# One run per round and build: the rounds are the repetitions.
export BENCH_REPETITIONS=1

i=1
while [ "$i" -le "$rounds" ]; do
	for side in A B; do
		if [ $side = A ]; then bin=$a; else bin=$b; fi
		echo "round $i/$rounds: $side ($bin)" >&2
		# shellcheck disable=SC2086 # AB_ARGS is a list of flags
		"$bin" --benchmark_filter="$filter" \
			--benchmark_min_time="${AB_MIN_TIME:-0.2}" \
			--benchmark_out="$out/round$i-$side.json" \
			--benchmark_out_format=json ${AB_ARGS:-} \
			>"$out/round$i-$side.log" 2>&1 ||
			{ cat "$out/round$i-$side.log" >&2; exit 1; }
	done
	i=$((i + 1))
done
exec "$python" "$here/ab.py" "$out"
