# stress: vCPU threads against control threads, every format and both RCU
# flavours, checked against the states the concurrent history allows
# (see stress/README.md).
#
#   make stress                      the default set, about 60 s
#   make stress STRESS_SECONDS=600   a long run
#
# STRESS_SECONDS, STRESS_OPS, STRESS_THREADS, STRESS_CONTROL,
# STRESS_FORMATS, STRESS_RCU and ASPACE_SEED (replay) are passed through,
# from the make command line or the environment. `make check` runs a
# short smoke run of the same program (stress/smoke.sh).

check_PROGRAMS += stress/stress
stress_stress_SOURCES = stress/stress.c stress/stress.h stress/hal.c \
	stress/model.c stress/oracle.c stress/vcpu.c stress/control.c \
			stress/race.c stress/queries.c stress/clone.c
# The HAL checks that no call comes from inside a read section (liburcu).
stress_stress_CFLAGS = $(AM_CFLAGS) $(URCU_CFLAGS)
stress_stress_LDADD = libaspace.la $(URCU_LIBS) -lpthread

TESTS += stress/smoke.sh

# Deterministic regression tests for bugs the stress test found.
STRESS_REGRESS = stress/regress_detach stress/regress_clone_qsbr \
	stress/regress_clear_cache stress/regress_cow_free \
	stress/regress_cow_split
check_PROGRAMS += $(STRESS_REGRESS)
TESTS += $(STRESS_REGRESS)
stress_regress_detach_LDADD = libaspace.la -lpthread
stress_regress_clone_qsbr_LDADD = libaspace.la -lpthread
stress_regress_clear_cache_LDADD = libaspace.la
stress_regress_cow_free_LDADD = libaspace.la -lpthread
stress_regress_cow_split_LDADD = libaspace.la -lpthread
EXTRA_DIST += stress/smoke.sh stress/tsan.supp stress/README.md stress/regress.h

# liburcu is not built with TSan: its internals get narrow suppressions,
# in `make stress` and for every program `make check` runs (the regression
# tests also run readers against synchronize_rcu), so nobody has to set
# TSAN_OPTIONS by hand. Options the caller sets still come last and win.
STRESS_TSAN_OPTIONS = suppressions=$(abs_top_srcdir)/stress/tsan.supp \
	second_deadlock_stack=1
STRESS_SAN_ENV = \
	TSAN_OPTIONS="$(STRESS_TSAN_OPTIONS) $$TSAN_OPTIONS" \
	UBSAN_OPTIONS="print_stacktrace=1 $$UBSAN_OPTIONS"
AM_TESTS_ENVIRONMENT = $(STRESS_SAN_ENV); export TSAN_OPTIONS UBSAN_OPTIONS;

.PHONY: stress
stress: stress/stress$(EXEEXT)
	$(AM_V_at)$(STRESS_SAN_ENV) \
	STRESS_SECONDS='$(STRESS_SECONDS)' STRESS_OPS='$(STRESS_OPS)' \
	STRESS_THREADS='$(STRESS_THREADS)' STRESS_CONTROL='$(STRESS_CONTROL)' \
	STRESS_FORMATS='$(STRESS_FORMATS)' STRESS_RCU='$(STRESS_RCU)' \
	ASPACE_SEED='$(ASPACE_SEED)' \
	./stress/stress$(EXEEXT)
