# bench: the benchmark suite (see bench/README.md).
#
#   make bench             build, run every benchmark, write bench/results/
#                          (latest.json, machine.txt, summary.txt) and print
#                          the goal summary. BENCH_FILTER=regex,
#                          BENCH_MIN_TIME=seconds (default 0.2),
#                          BENCH_REPETITIONS=n (default 3, the key runs),
#                          BENCH_ARGS='more --benchmark_* flags'.
#   make bench-compare BASE=old.json [NEW=new.json] [THRESHOLD=5]
#                          compare.py table; exit 1 on a slowdown > THRESHOLD %.
#   make bench-instr       instructions per operation (callgrind or perf stat);
#                          INSTR_BASE=old instr.txt to compare.
#   make perf              perf record of the fault and translate runs.
#   make bench-plots       gnuplot SVGs of latest.json.
#
# The programs are check_PROGRAMS: `make check` compiles them (so they do
# not rot) without running them; `make` alone does not build them.

BENCH_SCRIPT_FILES = bench/scripts/run.sh bench/scripts/machine.sh \
	bench/scripts/benchjson.py bench/scripts/summary.py \
	bench/scripts/regress.py bench/scripts/compare.sh bench/scripts/ab.sh \
	bench/scripts/ab.py bench/scripts/instr.sh bench/scripts/perf.sh \
	bench/scripts/plots.py
EXTRA_DIST += $(BENCH_SCRIPT_FILES) bench/README.md

BENCH_CFLAGS_COMMON = $(AM_CFLAGS) -O2
BENCH_LDFLAGS_COMMON = $(AM_LDFLAGS) -no-install

check_PROGRAMS += bench/instr_driver
bench_instr_driver_SOURCES = bench/instr_driver.c
bench_instr_driver_CFLAGS = $(BENCH_CFLAGS_COMMON)
bench_instr_driver_LDFLAGS = $(BENCH_LDFLAGS_COMMON)
bench_instr_driver_LDADD = libaspace.la

BENCH_PY = /usr/bin/python3
BENCH_RESULTS = bench/results
BENCH_BIN = bench/aspace_bench$(EXEEXT)

.PHONY: bench bench-compare bench-instr perf bench-plots

if HAVE_BENCHMARK
check_PROGRAMS += bench/aspace_bench
bench_aspace_bench_SOURCES = bench/main.c bench/bench_util.c bench/bench_share.c \
	bench/bench_util.h bench/gbench.h bench/gbench_shim.cc \
	bench/bench_translate.c bench/bench_fault.c bench/bench_map.c \
	bench/bench_io.c bench/bench_areas.c
bench_aspace_bench_CFLAGS = $(BENCH_CFLAGS_COMMON)
bench_aspace_bench_CXXFLAGS = $(AM_CXXFLAGS) -O2 $(BENCHMARK_CFLAGS)
bench_aspace_bench_LDFLAGS = $(BENCH_LDFLAGS_COMMON)
bench_aspace_bench_LDADD = libaspace.la $(BENCHMARK_LIBS) -lpthread

bench: $(BENCH_BIN)
	@BENCH_FILTER='$(BENCH_FILTER)' BENCH_MIN_TIME='$(BENCH_MIN_TIME)' \
	BENCH_ARGS='$(BENCH_ARGS)' BENCH_PYTHON='$(BENCH_PY)' \
	CC='$(CC)' CXX='$(CXX)' CFLAGS='$(CFLAGS)' CXXFLAGS='$(CXXFLAGS)' \
	BENCH_CFLAGS='$(BENCH_CFLAGS_COMMON) $(CFLAGS)' \
	$(SHELL) $(srcdir)/bench/scripts/run.sh $(BENCH_BIN) \
		$(BENCH_RESULTS) $(srcdir)

perf: $(BENCH_BIN)
	@$(SHELL) $(srcdir)/bench/scripts/perf.sh $(BENCH_BIN) $(BENCH_RESULTS)
else
bench perf:
	@echo "$@: Google Benchmark was not found when configure ran;" \
	      "install libbenchmark-dev and re-run configure" >&2; exit 1
endif

bench-compare:
	@BENCH_PYTHON='$(BENCH_PY)' $(SHELL) \
		$(srcdir)/bench/scripts/compare.sh '$(BASE)' \
		'$(NEW)' '$(THRESHOLD)' $(BENCH_RESULTS)

bench-instr: bench/instr_driver$(EXEEXT)
	@INSTR_BASE='$(INSTR_BASE)' THRESHOLD='$(THRESHOLD)' $(SHELL) \
		$(srcdir)/bench/scripts/instr.sh bench/instr_driver$(EXEEXT) \
		$(BENCH_RESULTS)

bench-plots:
	@$(BENCH_PY) $(srcdir)/bench/scripts/plots.py \
		$(BENCH_RESULTS)/latest.json $(BENCH_RESULTS)
