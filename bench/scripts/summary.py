#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Goal report of one benchmark run: every figure is computed from the JSON
of that run (medians where a benchmark was repeated).

usage: summary.py RESULTS.json
Exit status: 0, or 1 if a benchmark of the run reported an error."""

import sys

import benchjson

FORMATS = ["EPT4", "EPT5", "S2_40", "S2_48", "SV39X4", "SV48X4", "SV57X4"]


class Report:
    def __init__(self, records):
        self.r = records
        self.rows = []
        self.passed = self.missed = self.absent = 0

    def rec(self, name):
        return self.r.get(name)

    def ns(self, name):
        rec = self.r.get(name)
        return rec.ns() if rec else None

    def rate(self, name):
        rec = self.r.get(name)
        return rec.get("items_per_second") if rec else None

    def line(self, text):
        self.rows.append((text, None, None, None))

    def section(self, title):
        self.line("")
        self.line(title)

    def goal(self, what, value, target, ok, unit="x"):
        """ok: a function of the measured value."""
        if value is None:
            self.rows.append((what, "n/a", target, "NOT RUN"))
            self.absent += 1
            return
        good = ok(value)
        self.passed += good
        self.missed += not good
        self.rows.append((what, fmt(value, unit), target,
                          "PASS" if good else "MISS"))

    def peer(self, what, value, lo, hi, unit, lower_is_better=True):
        """A peer's figure (range lo..hi): BEAT beyond its best end,
        MATCH inside the range, MISS beyond its worst end."""
        target = "%s..%s" % (fmt(lo, unit), fmt(hi, unit)) if lo != hi \
            else fmt(lo, unit)
        if value is None:
            self.rows.append((what, "n/a", target, "NOT RUN"))
            return
        best, worst = (lo, hi) if lower_is_better else (hi, lo)
        if (value < best) if lower_is_better else (value > best):
            verdict = "BEAT"
        elif (value <= worst) if lower_is_better else (value >= worst):
            verdict = "MATCH"
        else:
            verdict = "MISS"
        self.rows.append((what, fmt(value, unit), "peer " + target,
                          verdict))

    def info(self, what, value, unit):
        self.rows.append((what, "n/a" if value is None else fmt(value, unit),
                          "", ""))

    def print(self):
        width = max(len(r[0]) for r in self.rows if r[1] is not None)
        for what, value, target, verdict in self.rows:
            if value is None:
                print(what)
            else:
                print("  %-*s %12s  %-18s %s" % (width, what, value,
                                                 target, verdict))


def fmt(v, unit):
    if unit == "x":
        return "%.2fx" % v
    if unit == "ns":
        return "%.1f ns" % v
    if unit == "/s":
        for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if v >= scale:
                return "%.2f%s/s" % (v / scale, suffix)
        return "%.0f/s" % v
    if unit == "":
        return "%g" % v
    return "%g %s" % (v, unit)


def ratio(a, b):
    return a / b if a is not None and b else None


def translate_goals(rep):
    """Two measurements of each ratio: translate and floor as separate runs
    (each structure alone in the caches), and interleaved in one run
    (xlate_ratio: alternating blocks, so both see the same machine, but
    each evicts the other from L2)."""
    rep.section("Translate vs its dependent-load floor (goal: within 2x; "
                "verdicts for the cases with an interleaved run).\n"
                "  chain = latency (each GPA depends on the last result), "
                "random = throughput (walks overlap), seq = 4 KiB steps")
    rep.line("  %-30s %21s %8s %-5s  %21s %8s %s" % (
        "case", "separate: xlate/floor", "ratio", "", "interleaved", "ratio",
        ""))
    cases = sorted(set(n[len("translate/"):] for n in rep.r
                       if n.startswith("translate/") and
                       not n.endswith("_qsbr")) |
                   set(n[len("xlate_ratio/"):] for n in rep.r
                       if n.startswith("xlate_ratio/") and
                       not n.endswith("_qsbr")),
                   key=lambda c: (c.split("/")[-1] != "chain",
                                  c.split("/")[-1] != "random", c))
    for case in cases:
        t, f = rep.ns("translate/" + case), rep.ns("floor/" + case)
        pair = rep.rec("xlate_ratio/" + case)
        cells = []
        for xt, xf, r in ((t, f, ratio(t, f)),
                          (pair.get("translate_ns") if pair else None,
                           pair.get("floor_ns") if pair else None,
                           pair.get("ratio") if pair else None)):
            if r is None:
                cells.append(("", "", ""))
                continue
            if pair is None:  # a case outside the goal set: shown only
                cells.append(("%.1f / %.1f ns" % (xt, xf), "%.2fx" % r, ""))
                continue
            good = r <= 2.0
            rep.passed += good
            rep.missed += not good
            cells.append(("%.1f / %.1f ns" % (xt, xf), "%.2fx" % r,
                          "PASS" if good else "MISS"))
        rep.line("  %-30s %21s %8s %-5s  %21s %8s %s" % (
            (case,) + cells[0] + cells[1]))
    if not cases:
        rep.goal("translate / floor", None, "<= 2.00x", None)
    qsbr = sorted(n for n in rep.r
                  if n.startswith("xlate_ratio/") and n.endswith("_qsbr"))
    if qsbr:
        rep.line("  the random (throughput) cases with QSBR read sections, "
                 "interleaved (no verdict: the default is memb)")
    for name in qsbr:
        pair = rep.rec(name)
        rep.line("  %-30s %21s %8s" % (
            name[len("xlate_ratio/"):],
            "%.1f / %.1f ns" % (pair.get("translate_ns"),
                                pair.get("floor_ns")),
            "%.2fx" % pair.get("ratio")))
    rep.info("translate_control/EPT4/4k/cold/random (mutex path)",
             rep.ns("translate_control/EPT4/4k/cold/random"), "ns")


def fault_goals(rep):
    rep.section("Lazy fault vs its floor: frame pop + zeroing "
                "(goal: 4 KiB within 1.5x)")
    floor4k = rep.ns("fault_floor/4k")
    rep.info("fault_floor/4k", floor4k, "ns")
    rec = rep.rec("fault/EPT4/4k")
    rep.info("fault/EPT4/4k", rec.ns() if rec else None, "ns")
    rep.info("fault/EPT4/4k host page faults per fault",
             rec.get("host_pf_per_op") if rec else None, "")
    for f in FORMATS:
        name = "fault/%s/4k" % f
        rep.goal(name + " / floor", ratio(rep.ns(name), floor4k),
                 "<= 1.50x", lambda v: v <= 1.5)
    floor_st = rep.ns("fault_floor/4k_stream")
    rep.info("fault_floor/4k_stream", floor_st, "ns")
    rep.goal("fault/EPT4/4k_stream / floor_stream",
             ratio(rep.ns("fault/EPT4/4k_stream"), floor_st), "<= 1.50x",
             lambda v: v <= 1.5)
    floor2m = rep.ns("fault_floor/2m")
    rep.info("fault_floor/2m", floor2m, "ns")
    for name in sorted(n for n in rep.r if n.startswith("fault/")
                       and n.endswith("/2m")):
        rep.info(name + " / floor (no goal)", ratio(rep.ns(name), floor2m),
                 "x")
    for size in ("4k", "2m"):
        rec = rep.rec("populate/EPT4/" + size)
        per_frame = 1e9 / rec.get("items_per_second") \
            if rec and rec.get("items_per_second") else None
        rep.info("populate/EPT4/%s per frame" % size, per_frame, "ns")


def map_goals(rep):
    rep.section("map_linear")
    rec = rep.rec("map_linear/EPT4/aligned/MiB:65536")
    rep.goal("64 GiB, 1 GiB aligned: entries written",
             rec.get("entries") if rec else None, "== 64",
             lambda v: v == 64, unit="")
    for f in FORMATS:
        rec = rep.rec("map_linear/%s/4k_hpa/MiB:1024" % f)
        ns = rec.ns() / rec.get("entries") \
            if rec and rec.get("entries") else None
        rep.info("1 GiB in 4 KiB leaves, %s: ns per entry" % f, ns, "ns")


def scaling(rep, family):
    """items/s by thread count for family (…/lockfree or …/mutex)."""
    return {t: rep.rate("%s/threads:%d" % (family, t)) for t in (1, 2, 4, 8)}


def scaling_goals(rep):
    rep.section("Thread scaling (items/s of the whole run; this machine "
                "has %s cpus)" % rep.cpus)
    fault = scaling(rep, "scale_fault/EPT4/disjoint/lockfree")
    fault_mutex = scaling(rep, "scale_fault/EPT4/disjoint/mutex")
    same = scaling(rep, "scale_fault/EPT4/same/lockfree")
    same_mutex = scaling(rep, "scale_fault/EPT4/same/mutex")
    xl = scaling(rep, "scale_translate/EPT4/lockfree")
    xl_mutex = scaling(rep, "scale_translate/EPT4/mutex")
    floor = scaling(rep, "scale_floor/4k")
    fault_l3 = scaling(rep, "scale_fault/EPT4/disjoint_l3/lockfree")
    fault_l3_mutex = scaling(rep, "scale_fault/EPT4/disjoint_l3/mutex")
    floor_l3 = scaling(rep, "scale_floor/4k_l3")
    fault_st = scaling(rep, "scale_fault/EPT4/disjoint_stream/lockfree")
    fault_st_mutex = scaling(rep, "scale_fault/EPT4/disjoint_stream/mutex")
    floor_st = scaling(rep, "scale_floor/4k_stream")
    for title, series in (("faults, disjoint pages, lock-free", fault),
                          ("faults, disjoint pages, mutex baseline",
                           fault_mutex),
                          ("their floor (frame pop + zeroing)", floor),
                          ("faults, 16 MiB rounds (L3), lock-free",
                           fault_l3),
                          ("faults, 16 MiB rounds (L3), mutex",
                           fault_l3_mutex),
                          ("their floor, 16 MiB (L3)", floor_l3),
                          ("faults, streaming zeroing, lock-free",
                           fault_st),
                          ("faults, streaming zeroing, mutex",
                           fault_st_mutex),
                          ("their floor, streaming zeroing", floor_st),
                          ("faults, same pages, lock-free", same),
                          ("faults, same pages, mutex baseline", same_mutex),
                          ("translate, lock-free", xl),
                          ("translate, mutex baseline", xl_mutex)):
        rep.line("  %-40s %s" % (title + ":", "  ".join(
            "%dT %-9s" % (t, fmt(v, "/s") if v else "n/a")
            for t, v in series.items())))
    # The fault goals, for both ways of zeroing a 4 KiB frame: the
    # default (cached stores) and ASPACE_ZERO_STREAM.
    for how, f, fm in (("", fault, fault_mutex),
                       (" (streaming zeroing)", fault_st, fault_st_mutex)):
        rep.goal("faults%s: 2 threads / 1 thread" % how, ratio(f[2], f[1]),
                 ">= 1.80x", lambda v: v >= 1.8)
        rep.goal("faults%s: 8 threads / 2 threads" % how,
                 ratio(f[8], f[2]), ">= 1.00x", lambda v: v >= 1.0)
        rep.goal("faults%s: lock-free / mutex at 2 threads" % how,
                 ratio(f[2], fm[2]), ">= 1.80x", lambda v: v >= 1.8)
    rep.goal("translate: 2 threads / 1 thread", ratio(xl[2], xl[1]),
             ">= 1.90x", lambda v: v >= 1.9)
    rep.goal("translate: 8 threads / 2 threads", ratio(xl[8], xl[2]),
             ">= 1.00x", lambda v: v >= 1.0)
    rep.goal("translate: lock-free / mutex at 2 threads",
             ratio(xl[2], xl_mutex[2]), ">= 1.80x", lambda v: v >= 1.8)
    rep.info("faults, same pages: lock-free / mutex at 2 threads",
             ratio(same[2], same_mutex[2]), "x")
    # The fault goal above cannot exceed what the zeroing in every fault
    # gains from a second thread: where memory bandwidth bounds it, the
    # floor's own scaling is the ceiling. The L3 rounds lift that bound.
    rep.info("floor (zeroing alone): 2 threads / 1 thread",
             ratio(floor[2], floor[1]), "x")
    rep.info("faults / floor, 2-thread scaling (1.00 = as the floor)",
             ratio(ratio(fault[2], fault[1]), ratio(floor[2], floor[1])),
             "x")
    rep.info("faults, L3 rounds: 2 threads / 1 thread",
             ratio(fault_l3[2], fault_l3[1]), "x")
    rep.info("floor, L3 rounds: 2 threads / 1 thread",
             ratio(floor_l3[2], floor_l3[1]), "x")
    rep.info("faults, L3 rounds: lock-free / mutex at 2 threads",
             ratio(fault_l3[2], fault_l3_mutex[2]), "x")
    rep.info("floor, streaming zeroing: 2 threads / 1 thread",
             ratio(floor_st[2], floor_st[1]), "x")
    rep.info("faults at 2 threads: streaming / cached zeroing",
             ratio(fault_st[2], fault[2]), "x")
    # Wall-clock scaling needs idle cores. CPU time per operation tells
    # whether the code itself slows down with more threads (contention)
    # even when other work takes the cores; it says nothing for code that
    # blocks (the mutex baseline sleeps off the CPU).
    for title, family in (("faults", "scale_fault/EPT4/disjoint/lockfree"),
                          ("translate", "scale_translate/EPT4/lockfree")):
        one = rep.rec("%s/threads:1" % family)
        two = rep.rec("%s/threads:2" % family)
        eff = one.cpu() / two.cpu() if one and two and two.cpu() else None
        rep.info("%s lock-free: CPU per op, 1 thread / 2 threads "
                 "(1.00 = no contention)" % title, eff, "x")
    rep.peers = (fault, fault_mutex)


def area_info(rep):
    rep.section("Area-set lookup: translate at random GPAs across N areas")
    for n in (10, 100, 1000, 10000, 100000):
        rep.info("areas:%d" % n, rep.ns("areas/EPT4/translate/areas:%d" % n),
                 "ns")
        rep.info("areas:%d, latency chain" % n,
                 rep.ns("areas/EPT4/translate_chain/areas:%d" % n), "ns")


def peer_figures(rep):
    rep.section("Peer figures (single thread unless said)")
    rec = rep.rec("map_linear/EPT4/4k_hpa/MiB:1024")
    ns = rec.ns() / rec.get("entries") if rec and rec.get("entries") \
        else None
    rep.peer("map_linear 1 GiB in 4 KiB leaves, ns/page", ns, 13.5, 14.6,
             "ns")
    rep.peer("translate, random GPA in 1 GiB of 4 KiB leaves",
             rep.ns("translate/EPT4/4k/cold/random"), 9, 15, "ns")
    rep.peer("translate, random GPA in 2 MiB blocks",
             rep.ns("translate/EPT4/2m/cold/random"), 5, 9, "ns")
    for leaf, lo, hi in (("4k", 9, 15), ("2m", 5, 9)):
        rep.peer("same, %s, QSBR read sections" % leaf,
                 rep.ns("translate/EPT4/%s/cold/random_qsbr" % leaf), lo, hi,
                 "ns")
    rep.peer("lazy 4 KiB fault with allocation and zeroing",
             rep.ns("fault/EPT4/4k"), 450, 450, "ns")
    fault, fault_mutex = rep.peers
    rep.peer("lock-free faults, 1 thread (peer: VM-wide mutex)", fault[1],
             2.5e6, 2.5e6, "/s", lower_is_better=False)
    rep.peer("lock-free faults, 8 threads (peer: VM-wide mutex)", fault[8],
             1.3e6, 1.3e6, "/s", lower_is_better=False)
    rep.peer("our mutex baseline, 1 thread", fault_mutex[1], 2.5e6, 2.5e6,
             "/s", lower_is_better=False)
    rep.peer("our mutex baseline, 8 threads", fault_mutex[8], 1.3e6, 1.3e6,
             "/s", lower_is_better=False)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    context, records, errors = benchjson.load(sys.argv[1])
    rep = Report(records)
    rep.cpus = context.get("num_cpus", "?")
    print("aspace benchmark summary: %s" % sys.argv[1])
    print("  %s, %s cpus at %s MHz, run %s" % (
        context.get("host_name", "?"), rep.cpus,
        context.get("mhz_per_cpu", "?"), context.get("date", "?")))
    print("  times are medians of the repetitions where a run was "
          "repeated; ratios compare runs of this one invocation")
    translate_goals(rep)
    fault_goals(rep)
    map_goals(rep)
    scaling_goals(rep)
    area_info(rep)
    peer_figures(rep)
    rep.print()
    print("\n%d goals met, %d missed, %d not run" % (rep.passed, rep.missed,
                                                     rep.absent))
    for name, msg in errors:
        print("ERROR %s: %s" % (name, msg))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
