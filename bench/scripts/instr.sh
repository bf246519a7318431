#!/bin/sh
# Instructions per operation of the key paths (the `make bench-instr`
# target). Each operation kind runs twice, N1 and N2 times; the difference
# of the two counts divided by N2 - N1 cancels set-up and tear-down, and
# instruction counts do not depend on the machine's load, so a change here
# is a change in the code, not noise.
# Counting: perf stat -e instructions:u where the CPU exposes it, else
# valgrind --tool=callgrind limited to the driver's run_ops().
# usage: instr.sh DRIVER RESULTS_DIR   (INSTR_BASE=old instr.txt and
# THRESHOLD=percent compare with an earlier result; exit 1 beyond it)
set -e
driver=$1
out=$2
threshold=${THRESHOLD:-5}
mkdir -p "$out"
tmp=$(mktemp -d /tmp/aspace-instr.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

if perf stat -x, -e instructions:u true 2>"$tmp/probe" >/dev/null &&
   grep -q '^[0-9]' "$tmp/probe"; then
	tool=perf
	echo "counting with perf stat -e instructions:u (whole process)"
elif command -v valgrind >/dev/null; then
	tool=callgrind
	echo "counting with valgrind --tool=callgrind inside run_ops()" \
		"(no hardware instruction counter here)"
else
	echo "bench-instr: neither a hardware instruction counter (perf) nor" \
		"valgrind is available" >&2
	exit 1
fi

count() { # op n -> instructions
	case $tool in
	perf)
		perf stat -x, -e instructions:u -o "$tmp/stat" "$driver" "$1" "$2"
		sed -n 's/^\([0-9][0-9]*\),.*instructions.*/\1/p' "$tmp/stat"
		;;
	callgrind)
		valgrind --tool=callgrind --toggle-collect=run_ops \
			--callgrind-out-file="$tmp/cg.out" \
			"$driver" "$1" "$2" 2>"$tmp/cg.log" ||
			{ cat "$tmp/cg.log" >&2; return 1; }
		sed -n 's/.*Collected : \([0-9][0-9]*\).*/\1/p' "$tmp/cg.log"
		;;
	esac
}

# N values: multiples of 512 (one leaf table) and of the frame-cache batch,
# so both runs amortise table and refill work alike.
n1=2048
n2=10240
result=$out/instr.txt
{
	echo "# instructions per operation ($tool; N=$n2 minus N=$n1)"
	echo "# $(date -u '+%Y-%m-%dT%H:%M:%SZ') $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)"
} >"$result.part"
for op in translate4k translate2m fault4k map4k; do
	c1=$(count $op $n1)
	c2=$(count $op $n2)
	[ -n "$c1" ] && [ -n "$c2" ] || { echo "bench-instr: no count for $op" >&2; exit 1; }
	per=$(awk -v a="$c1" -v b="$c2" -v n1=$n1 -v n2=$n2 \
		'BEGIN { printf "%.1f", (b - a) / (n2 - n1) }')
	printf '%-12s %10s\n' "$op" "$per" | tee -a "$result.part"
done
mv "$result.part" "$result"
echo "written: $result"

[ -n "$INSTR_BASE" ] || exit 0
echo
echo "compared with $INSTR_BASE (threshold $threshold%):"
awk -v t="$threshold" '
	FNR == NR { if ($1 !~ /^#/) base[$1] = $2; next }
	$1 !~ /^#/ && ($1 in base) {
		d = base[$1] ? ($2 / base[$1] - 1) * 100 : 0
		flag = d > t ? "  MORE INSTRUCTIONS" : ""
		if (d > t) bad = 1
		printf "%-12s %10s -> %10s %+7.1f%%%s\n", $1, base[$1], $2, d, flag
	}
	END { exit bad }' "$INSTR_BASE" "$result"
