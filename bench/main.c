// SPDX-License-Identifier: MIT
/*
 * The benchmark suite. Google Benchmark flags select and shape the run
 * (--benchmark_filter, --benchmark_min_time, --benchmark_out, ...).
 * BENCH_REPETITIONS (default 3) sets how often the runs that the summary
 * compares are repeated; their medians are reported.
 */
#include "bench_util.h"

#include <stdlib.h>

int main(int argc, char **argv)
{
	const char *env = getenv("BENCH_REPETITIONS");
	int reps = env ? atoi(env) : 3, rc;

	if (reps < 1)
		reps = 1;
	bench_register_translate(reps);
	bench_register_fault(reps);
	bench_register_translate_scaling(reps);
	bench_register_fault_scaling(reps);
	bench_register_map(reps);
	bench_register_io(reps);
	bench_register_areas(reps);
	bench_register_share(reps);
	rc = gb_main(argc, argv);
	bench_run_at_end();
	return rc;
}
