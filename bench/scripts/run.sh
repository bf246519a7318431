#!/bin/sh
# Runs the benchmark suite and writes its results (the `make bench` target).
# usage: run.sh BENCH_BINARY RESULTS_DIR SRCDIR
# Environment: BENCH_FILTER (regex, default all), BENCH_MIN_TIME (seconds,
# default 0.2), BENCH_REPETITIONS (key runs, default 3), BENCH_INTERLEAVE
# (default 1: the repetitions of different benchmarks run in random order,
# so that the 1- and 2-thread runs a ratio compares see the same machine
# weather; 0: one benchmark after the other), BENCH_ARGS (more Google
# Benchmark flags), BENCH_PYTHON (default /usr/bin/python3).
set -e
bin=$1
out=$2
srcdir=$3
scripts=$srcdir/bench/scripts
python=${BENCH_PYTHON:-/usr/bin/python3}
min_time=${BENCH_MIN_TIME:-0.2}
filter=${BENCH_FILTER:-.}
interleave=true
[ "${BENCH_INTERLEAVE:-1}" = 0 ] && interleave=false

mkdir -p "$out"
sh "$scripts/machine.sh" "$srcdir" >"$out/machine.txt"
{
	printf '%-14s %s\n' "min_time:" "$min_time"
	printf '%-14s %s\n' "filter:" "$filter"
	printf '%-14s %s\n' "repetitions:" "${BENCH_REPETITIONS:-3}"
	printf '%-14s %s\n' "interleaved:" "$interleave"
	printf '%-14s %s\n' "extra_args:" "${BENCH_ARGS:-}"
} >>"$out/machine.txt"
cat "$out/machine.txt"
echo

start=$(date +%s)
# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
"$bin" --benchmark_filter="$filter" --benchmark_min_time="$min_time" \
	--benchmark_out="$out/latest.json.part" --benchmark_out_format=json \
	--benchmark_enable_random_interleaving="$interleave" ${BENCH_ARGS:-}
mv "$out/latest.json.part" "$out/latest.json"
stamp=$(date -u +%Y%m%d-%H%M%S)
cp "$out/latest.json" "$out/run-$stamp.json"
cp "$out/machine.txt" "$out/run-$stamp.machine.txt"
echo
echo "benchmarks ran for $(($(date +%s) - start)) s; JSON: $out/latest.json" \
	"(also $out/run-$stamp.json), machine: $out/machine.txt"
echo

if [ -x "$python" ]; then
	"$python" "$scripts/summary.py" "$out/latest.json" | tee "$out/summary.txt"
	# tee hides the summary's status; errors in the run fail the target.
	! grep -q '^ERROR ' "$out/summary.txt"
else
	echo "no $python: summary skipped (needs python3, standard library only)"
fi
