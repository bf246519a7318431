# tests: the `make check` suite (single-threaded correctness).
# Helpers shared by the tests: a simulated host-physical memory HAL, a
# reference walker written from the manuals, and the shadow model.
noinst_LTLIBRARIES += tests/libtestutil.la
tests_libtestutil_la_SOURCES = \
	tests/test_hal.c tests/test_hal.h \
	tests/ref_walk.c tests/ref_walk.h \
	tests/model.c tests/model.h \
	tests/tcommon.c tests/tcommon.h
# The HAL checks that no call comes from inside a read section (liburcu).
tests_libtestutil_la_CFLAGS = $(AM_CFLAGS) $(URCU_CFLAGS)
tests_libtestutil_la_LIBADD = $(URCU_LIBS)

TEST_LIBS = tests/libtestutil.la libaspace.la -lpthread

check_PROGRAMS += tests/test_random tests/test_hw_root tests/test_bad_input \
	tests/test_alloc_fail tests/test_pitfalls tests/test_ref_walk \
	tests/test_translate tests/example
TESTS += tests/test_random tests/test_hw_root tests/test_bad_input \
	tests/test_alloc_fail tests/test_pitfalls tests/test_ref_walk \
	tests/test_translate tests/example

tests_test_random_SOURCES = tests/test_random.c
tests_test_random_LDADD = $(TEST_LIBS)
tests_test_hw_root_SOURCES = tests/test_hw_root.c
tests_test_hw_root_LDADD = $(TEST_LIBS)
tests_test_bad_input_SOURCES = tests/test_bad_input.c
tests_test_bad_input_LDADD = $(TEST_LIBS)
tests_test_alloc_fail_SOURCES = tests/test_alloc_fail.c
tests_test_alloc_fail_LDADD = $(TEST_LIBS)
tests_test_pitfalls_SOURCES = tests/test_pitfalls.c
tests_test_pitfalls_LDADD = $(TEST_LIBS)
tests_test_ref_walk_SOURCES = tests/test_ref_walk.c
tests_test_ref_walk_LDADD = $(TEST_LIBS)
tests_test_translate_SOURCES = tests/test_translate.c
tests_test_translate_LDADD = $(TEST_LIBS)
# The README example: the public header and the built-in host HAL only.
tests_example_SOURCES = tests/example.c
tests_example_LDADD = libaspace.la

# ---- test_query (owned by the query helper): find_free_area, populate,
# check_access, the range query and dump against a model.
check_PROGRAMS += tests/test_query
TESTS += tests/test_query
tests_test_query_SOURCES = tests/test_query.c
tests_test_query_LDADD = $(TEST_LIBS)

# Copy-on-write clones and shared mappings, scenario by scenario.
check_PROGRAMS += tests/test_clone
TESTS += tests/test_clone
tests_test_clone_SOURCES = tests/test_clone.c
tests_test_clone_CFLAGS = $(AM_CFLAGS) $(JEMALLOC_CFLAGS)
tests_test_clone_LDADD = libaspace.la $(JEMALLOC_LIBS) -lpthread

# The area set's lookup index against a linear scan (src/area.c built in),
# also with a fanout of 2, which makes many index levels out of few areas.
check_PROGRAMS += tests/test_areas tests/test_areas_fan2
TESTS += tests/test_areas tests/test_areas_fan2
tests_test_areas_SOURCES = tests/test_areas.c src/area.c
tests_test_areas_CFLAGS = $(AM_CFLAGS) $(URCU_CFLAGS)
tests_test_areas_LDADD = $(TEST_LIBS)
tests_test_areas_fan2_SOURCES = tests/test_areas.c src/area.c
tests_test_areas_fan2_CFLAGS = $(AM_CFLAGS) $(URCU_CFLAGS) \
	-DAREA_FANOUT_SHIFT=1 -DTEST_NAME='"test_areas_fan2"'
tests_test_areas_fan2_LDADD = $(TEST_LIBS)

# The optional alloc_batch HAL hook (library side, short batches) and the
# built-in host HAL's per-thread frame pools.
check_PROGRAMS += tests/test_alloc_batch
TESTS += tests/test_alloc_batch
tests_test_alloc_batch_SOURCES = tests/test_alloc_batch.c
tests_test_alloc_batch_LDADD = $(TEST_LIBS)
