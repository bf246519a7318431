# tests: the `make check` suite (single-threaded correctness).
# Helpers shared by the tests: a simulated host-physical memory HAL, a
# reference walker written from the manuals, and the shadow model.
noinst_LTLIBRARIES += tests/libtestutil.la
tests_libtestutil_la_SOURCES = \
	tests/test_hal.c tests/test_hal.h \
	tests/ref_walk.c tests/ref_walk.h \
	tests/model.c tests/model.h \
	tests/tcommon.c tests/tcommon.h

TEST_LIBS = tests/libtestutil.la libaspace.la -lpthread

check_PROGRAMS += tests/test_random tests/test_hw_root tests/test_bad_input
TESTS += tests/test_random tests/test_hw_root tests/test_bad_input

tests_test_random_SOURCES = tests/test_random.c
tests_test_random_LDADD = $(TEST_LIBS)
tests_test_hw_root_SOURCES = tests/test_hw_root.c
tests_test_hw_root_LDADD = $(TEST_LIBS)
tests_test_bad_input_SOURCES = tests/test_bad_input.c
tests_test_bad_input_LDADD = $(TEST_LIBS)
