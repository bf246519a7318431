// SPDX-License-Identifier: MIT
/*
 * The benchmark suite. Google Benchmark flags select and shape the run
 * (--benchmark_filter, --benchmark_min_time, --benchmark_out, ...).
 * BENCH_REPETITIONS (default 3) sets how often the runs that the summary
 * compares are repeated; their medians are reported.
 */
#include "bench_util.h"

#include <stdlib.h>

/*
 * jemalloc (the host HAL's allocator) reads this at start-up. Without
 * purging, frames freed by one round of a fault benchmark are recycled by
 * the next instead of going back to the kernel and costing a host page
 * fault on their next first touch: the benchmarks measure the library
 * with a warm frame allocator, as a hypervisor's own frame pool would be.
 */
const char *malloc_conf = "dirty_decay_ms:-1,muzzy_decay_ms:-1";

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
	rc = gb_main(argc, argv);
	bench_run_at_end();
	return rc;
}
