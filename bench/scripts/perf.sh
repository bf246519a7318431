#!/bin/sh
# perf profiles of the fault and translate benchmarks (the `make perf`
# target): perf record while the benchmark runs, then the top symbols.
# usage: perf.sh BENCH_BINARY RESULTS_DIR
# Environment: PERF_MIN_TIME (default 0.5), PERF_TOP (lines, default 25).
bin=$1
out=$2
min_time=${PERF_MIN_TIME:-0.5}
top=${PERF_TOP:-25}
mkdir -p "$out"

if ! command -v perf >/dev/null; then
	echo "perf: not installed (Debian: apt-get install linux-perf)" >&2
	exit 1
fi
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo '?')
if ! perf stat -e cpu-clock true >/dev/null 2>"$out/perf-probe.txt"; then
	echo "perf cannot count here: kernel.perf_event_paranoid=$paranoid," \
		"uid $(id -u). As root, or with paranoid <= 1 for user" \
		"profiling, it should; perf said:" >&2
	cat "$out/perf-probe.txt" >&2
	exit 1
fi
# Hardware counters are often missing in VMs: then sample on the
# cpu-clock software timer, which shows where time goes just the same
# but cannot count cycles or cache misses.
if perf stat -x, -e cycles true 2>&1 >/dev/null | grep -q '^[0-9]'; then
	event=cycles
	echo "perf: hardware cycle counter available; sampling cycles"
else
	event=cpu-clock
	echo "perf: no hardware cycle counter here (perf stat -e cycles says" \
		"not supported; paranoid=$paranoid, uid $(id -u)); sampling the" \
		"cpu-clock software event instead"
fi

profile() { # name filter
	data=$out/perf-$1.data
	echo
	echo "== $1: $2 (perf record -e $event) =="
	BENCH_REPETITIONS=1 perf record -q -e "$event" -o "$data" -- \
		"$bin" --benchmark_filter="$2" --benchmark_min_time="$min_time" \
		>"$out/perf-$1.bench.txt" || { echo "perf record failed" >&2; return 1; }
	grep -E '^(fault|translate|scale)' "$out/perf-$1.bench.txt" || true
	echo "-- by object --"
	perf report -i "$data" --stdio --no-children -F overhead,dso \
		--percent-limit 1 2>/dev/null | grep -v '^#' | grep -v '^$' |
		tee "$out/perf-$1.dso.txt"
	echo "-- top symbols --"
	perf report -i "$data" --stdio --no-children -F overhead,dso,sym \
		--percent-limit 0.5 2>/dev/null | grep -v '^#' | grep -v '^$' |
		head -n "$top" | tee "$out/perf-$1.top.txt"
}

status=0
profile fault '^fault/EPT4/4k|^scale_fault/EPT4/disjoint/lockfree/.*threads:2$' || status=1
profile translate '^translate/EPT4/(4k|2m)/cold/random' || status=1
echo
echo "perf data in $out/perf-*.data (perf report -i FILE for more)"
exit $status
