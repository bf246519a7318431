#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Plots of one benchmark run with gnuplot (the `make bench-plots` target).

usage: plots.py RESULTS.json OUTDIR

Writes OUTDIR/scaling_fault.svg and scaling_translate.svg (items/s against
vCPU threads, lock-free beside the mutex baseline) and formats.svg (per
format: translate, its floor, the lazy 4 KiB fault and map_linear per
entry), with the data files they are drawn from in OUTDIR/plots/."""

import os
import shutil
import subprocess
import sys

import benchjson

FORMATS = ["EPT4", "EPT5", "S2_40", "S2_48", "SV39X4", "SV48X4", "SV57X4"]
THREADS = (1, 2, 4, 8)


def write(path, rows):
    """rows[0] is the header: written as a comment, gnuplot reads data."""
    with open(path, "w") as f:
        f.write("# " + " ".join(str(x) for x in rows[0]) + "\n")
        for row in rows[1:]:
            f.write(" ".join(str(x) for x in row) + "\n")


def rate(records, name):
    rec = records.get(name)
    v = rec.get("items_per_second") if rec else None
    return "%.6g" % (v / 1e6) if v else "NaN"


def ns(records, name):
    rec = records.get(name)
    return "%.4g" % rec.ns() if rec else "NaN"


def per_entry(records, name):
    rec = records.get(name)
    if not rec or not rec.get("entries"):
        return "NaN"
    return "%.4g" % (rec.ns() / rec.get("entries"))


def scaling_plot(records, data, out, what, series, title):
    dat = os.path.join(data, "scaling_%s.dat" % what)
    rows = [["threads"] + [s[0] for s in series]]
    for t in THREADS:
        rows.append([t] + [rate(records, "%s/threads:%d" % (s[1], t))
                           for s in series])
    write(dat, rows)
    plots = ", ".join(
        "'%s' using 1:%d with linespoints lw 2 pt 7 title '%s'" %
        (dat, i + 2, s[0].replace("_", " ")) for i, s in enumerate(series))
    return """
set output '%s'
set title '%s'
set xlabel 'vCPU threads'
set ylabel 'million per second (whole run)'
set logscale x 2
set xrange [0.8:10]
set xtics (1, 2, 4, 8)
set yrange [0:*]
set key top left
set grid
plot %s
unset logscale x
""" % (os.path.join(out, "scaling_%s.svg" % what), title, plots)


def formats_plot(records, data, out):
    dat = os.path.join(data, "formats.dat")
    rows = [["format", "translate", "floor", "fault_4k", "fault_floor",
             "map_per_entry"]]
    floor = ns(records, "fault_floor/4k")
    for f in FORMATS:
        rows.append([f,
                     ns(records, "translate/%s/4k/cold/random" % f),
                     ns(records, "floor/%s/4k/cold/random" % f),
                     ns(records, "fault/%s/4k" % f), floor,
                     per_entry(records, "map_linear/%s/4k_hpa/MiB:1024" % f)])
    write(dat, rows)
    return """
reset
set termoption noenhanced
set output '%(svg)s'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set key top left
set yrange [0:*]
set xtics nomirror
set offsets 0, 0, graph 0.35, 0
set multiplot layout 3,1 title 'Per format (ns, lower is better)'
set title 'translate, random GPA in 1 GiB of 4 KiB leaves'
set ylabel 'ns'
plot '%(dat)s' using 2:xtic(1) title 'vcpu translate', '' using 3 title 'dependent-load floor'
set title 'lazy 4 KiB fault'
plot '%(dat)s' using 4:xtic(1) title 'vcpu fault', '' using 5 title 'frame pop + zeroing floor'
set title 'map linear 1 GiB in 4 KiB leaves'
set ylabel 'ns per entry'
plot '%(dat)s' using 6:xtic(1) title 'map linear' 
unset multiplot
""" % {"svg": os.path.join(out, "formats.svg"), "dat": dat}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        sys.exit("bench-plots: gnuplot not found (Debian: gnuplot-nox)")
    _, records, _ = benchjson.load(sys.argv[1])
    out = sys.argv[2]
    data = os.path.join(out, "plots")
    os.makedirs(data, exist_ok=True)
    script = "set terminal svg size 900,600 dynamic noenhanced font 'sans,11'\n"
    script += scaling_plot(
        records, data, out, "fault",
        [("lock-free_disjoint", "scale_fault/EPT4/disjoint/lockfree"),
         ("mutex_disjoint", "scale_fault/EPT4/disjoint/mutex"),
         ("lock-free_same_pages", "scale_fault/EPT4/same/lockfree"),
         ("mutex_same_pages", "scale_fault/EPT4/same/mutex"),
         ("floor_zeroing", "scale_floor/4k"),
         ("lock-free_L3_rounds", "scale_fault/EPT4/disjoint_l3/lockfree"),
         ("floor_L3_rounds", "scale_floor/4k_l3"),
         ("lock-free_streaming",
          "scale_fault/EPT4/disjoint_stream/lockfree"),
         ("floor_streaming", "scale_floor/4k_stream")],
        "Lazy 4 KiB faults, EPT4: vCPU path vs global mutex")
    script += scaling_plot(
        records, data, out, "translate",
        [("lock-free", "scale_translate/EPT4/lockfree"),
         ("mutex", "scale_translate/EPT4/mutex")],
        "Translate, random GPA in 1 GiB of 4 KiB leaves, EPT4")
    script += "set terminal svg size 900,1000 dynamic noenhanced font 'sans,11'\n"
    script += formats_plot(records, data, out)
    with open(os.path.join(data, "plots.gp"), "w") as f:
        f.write(script)
    subprocess.run([gnuplot, os.path.join(data, "plots.gp")], check=True)
    for svg in ("scaling_fault.svg", "scaling_translate.svg", "formats.svg"):
        print(os.path.join(out, svg))


if __name__ == "__main__":
    main()
