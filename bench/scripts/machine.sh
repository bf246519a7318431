#!/bin/sh
# Describes the machine and the build a benchmark run used.
# usage: machine.sh SRCDIR   (CC, CXX, CFLAGS, CXXFLAGS, BENCH_CFLAGS from
# the environment, as the bench target passes them)
srcdir=${1:-.}

field() { printf '%-14s %s\n' "$1:" "$2"; }

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
[ -n "$cpu" ] || cpu=$(uname -m)
field date "$(date -u '+%Y-%m-%dT%H:%M:%SZ')"
field host "$(uname -n)"
field cpu "$cpu"
field cores "$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)"
field mhz "$(sed -n 's/^cpu MHz[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
field memory "$(sed -n 's/^MemTotal:[[:space:]]*//p' /proc/meminfo)"
field kernel "$(uname -sr)"
field hypervisor "$(grep -q '^flags.* hypervisor' /proc/cpuinfo && echo yes || echo no)"
field loadavg "$(cut -d' ' -f1-3 /proc/loadavg)"
field governor "$(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null || echo n/a)"
field cc "${CC:-cc} ($(${CC:-cc} --version 2>/dev/null | head -n 1))"
field cxx "${CXX:-c++} ($(${CXX:-c++} --version 2>/dev/null | head -n 1))"
field cflags "${CFLAGS:-}"
field bench_cflags "${BENCH_CFLAGS:-}"
field cxxflags "${CXXFLAGS:-}"
field benchmark "$(pkg-config --modversion benchmark 2>/dev/null || echo unknown)"
rev=$(git -C "$srcdir" rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$rev" != unknown ] &&
   [ -n "$(git -C "$srcdir" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	rev="$rev (uncommitted changes)"
fi
field git_rev "$rev"
