#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Medians of alternating A/B runs (see ab.sh).

usage: ab.py DIR   (DIR holds roundN-A.json and roundN-B.json)

For each benchmark: the median time per iteration of each side over the
rounds, B/A, and whether the two sides' ranges overlap (if they do not, the
difference is larger than the round-to-round noise). With scipy, also the
Mann-Whitney U test's p-value."""

import glob
import os
import statistics
import sys

import benchjson


def mann_whitney(a, b):
    try:
        from scipy.stats import mannwhitneyu
    except ImportError:
        return None
    if len(a) < 3 or len(b) < 3:
        return None
    return mannwhitneyu(a, b, alternative="two-sided").pvalue


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    times = {"A": {}, "B": {}}
    for side in "AB":
        for path in sorted(glob.glob(os.path.join(sys.argv[1],
                                                  "round*-%s.json" % side))):
            _, records, errors = benchjson.load(path)
            for name, msg in errors:
                print("ERROR %s (%s): %s" % (name, path, msg))
            for name, rec in records.items():
                times[side].setdefault(name, []).append(rec.ns())
    names = [n for n in times["A"] if n in times["B"]]
    if not names:
        sys.exit("ab.py: no benchmark ran on both sides")
    width = max(len(n) for n in names)
    print("%-*s %12s %12s %8s  %s" % (width, "benchmark (median ns/iter)",
                                       "A", "B", "B/A", "verdict"))
    for name in names:
        a, b = times["A"][name], times["B"][name]
        ma, mb = statistics.median(a), statistics.median(b)
        if max(a) < min(b):
            verdict = "B slower (ranges apart)"
        elif max(b) < min(a):
            verdict = "B faster (ranges apart)"
        else:
            verdict = "within noise"
        p = mann_whitney(a, b)
        if p is not None:
            verdict += ", U-test p=%.3f" % p
        print("%-*s %12.1f %12.1f %8.3f  %s" % (width, name, ma, mb,
                                               mb / ma if ma else 0.0,
                                               verdict))
    print("\n%d rounds per side; JSON in %s" % (len(times["A"][names[0]]),
                                                sys.argv[1]))


if __name__ == "__main__":
    main()
