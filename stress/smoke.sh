#!/bin/sh
# A short run of the stress test for `make check`: every format, both RCU
# flavours, a few hundred milliseconds each. `make stress` is the real one.
srcdir=${srcdir:-.}
TSAN_OPTIONS="suppressions=$srcdir/stress/tsan.supp second_deadlock_stack=1 $TSAN_OPTIONS"
export TSAN_OPTIONS
exec ./stress/stress -s "${STRESS_SMOKE_SECONDS:-10}" -R 16
