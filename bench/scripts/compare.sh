#!/bin/sh
# Compares two benchmark runs (the `make bench-compare` target): the table
# of Google Benchmark's compare.py (with its U test where runs were
# repeated), then a list of slowdowns beyond THRESHOLD percent, which make
# the exit status 1.
# usage: compare.sh BASE.json [NEW.json] [THRESHOLD] [RESULTS_DIR]
base=$1
new=$2
threshold=${3:-5}
results=${4:-bench/results}
[ -n "$new" ] || new=$results/latest.json
python=${BENCH_PYTHON:-/usr/bin/python3}
compare=/usr/share/benchmark/compare.py
here=$(dirname "$0")

if [ -z "$base" ]; then
	echo "usage: make bench-compare BASE=old.json [NEW=new.json] [THRESHOLD=5]" >&2
	exit 2
fi
for f in "$base" "$new"; do
	[ -r "$f" ] || { echo "bench-compare: cannot read $f" >&2; exit 2; }
done
if [ -r "$compare" ] && "$python" -c 'import scipy' 2>/dev/null; then
	color=
	[ -t 1 ] || color=--no-color
	"$python" "$compare" $color -a benchmarks "$base" "$new" || true
else
	echo "($compare or scipy for $python missing: Debian packages" \
		"libbenchmark-tools python3-scipy; showing our own table only)"
fi
echo
exec "$python" "$here/regress.py" "$base" "$new" "$threshold"
