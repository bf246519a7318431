#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Slowdowns between two benchmark runs.

usage: regress.py BASE.json NEW.json [THRESHOLD_PERCENT]

Pairs benchmarks by name (ignoring how the runs were made: repetitions,
minimum time), compares the median time per iteration (wall time where the
run was timed by the wall clock, else CPU time) and lists every change.
Exit status 1 if one got slower by more than the threshold (default 5)."""

import sys

import benchjson


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    threshold = float(sys.argv[3]) if len(sys.argv) == 4 else 5.0
    _, base, base_err = benchjson.load(sys.argv[1])
    _, new, new_err = benchjson.load(sys.argv[2])
    common = [n for n in new if n in base]
    width = max([len(n) for n in common] + [10])
    print("%-*s %12s %12s %8s" % (width, "benchmark (median time/iter)",
                                   "base", "new", "change"))
    slower = []
    for name in common:
        b, n = base[name].ns(), new[name].ns()
        change = (n / b - 1.0) * 100.0 if b else 0.0
        mark = ""
        if change > threshold:
            mark = "  SLOWER"
            slower.append((name, change))
        elif change < -threshold:
            mark = "  faster"
        print("%-*s %12.1f %12.1f %+7.1f%%%s" % (width, name, b, n, change,
                                                mark))
    only_base = sorted(set(base) - set(new))
    only_new = sorted(set(new) - set(base))
    for title, names in (("only in base", only_base),
                         ("only in new", only_new)):
        if names:
            more = " (and %d more)" % (len(names) - 8) if len(names) > 8 \
                else ""
            print("%s: %s%s" % (title, ", ".join(names[:8]), more))
    for name, msg in new_err:
        print("ERROR in new run, %s: %s" % (name, msg))
    print("\n%d benchmarks compared, threshold %.1f%%: %d slower" % (
        len(common), threshold, len(slower)))
    for name, change in sorted(slower, key=lambda s: -s[1]):
        print("  REGRESSION %s %+.1f%%" % (name, change))
    return 1 if slower or new_err else 0


if __name__ == "__main__":
    sys.exit(main())
