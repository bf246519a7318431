// SPDX-License-Identifier: MIT
//
// The C interface of gbench.h over Google Benchmark. Only glue lives here:
// the benchmarks themselves are C.
#include "gbench.h"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace
{

benchmark::State *S(gb_state *st)
{
	return reinterpret_cast<benchmark::State *>(st);
}

const benchmark::State *S(const gb_state *st)
{
	return reinterpret_cast<const benchmark::State *>(st);
}

benchmark::internal::Benchmark *B(gb_bench *b)
{
	return reinterpret_cast<benchmark::internal::Benchmark *>(b);
}

gb_bench *C(benchmark::internal::Benchmark *b)
{
	return reinterpret_cast<gb_bench *>(b);
}

// Registration happens before gb_main parses the flags, so a scaled
// minimum time is remembered and applied once the base time is known.
struct scaled_min_time {
	benchmark::internal::Benchmark *bench;
	double scale;
};

std::vector<scaled_min_time> &scaled_min_times()
{
	static std::vector<scaled_min_time> v;
	return v;
}

// Google Benchmark 1.7's default for --benchmark_min_time.
constexpr double default_min_time = 0.5;

double min_time_flag(int argc, char **argv)
{
	static const char flag[] = "--benchmark_min_time=";
	double t = default_min_time;

	for (int i = 1; i < argc; i++)
		if (!std::strncmp(argv[i], flag, sizeof(flag) - 1))
			t = std::strtod(argv[i] + sizeof(flag) - 1, nullptr);
	return t > 0 ? t : default_min_time;
}

} // namespace

extern "C" {

gb_bench *gb_register(const char *name, gb_fn fn, void *arg)
{
	return C(benchmark::RegisterBenchmark(
		name, [fn, arg](benchmark::State &st) {
			fn(reinterpret_cast<gb_state *>(&st), arg);
		}));
}

gb_bench *gb_arg(gb_bench *b, int64_t x)
{
	return C(B(b)->Arg(x));
}

gb_bench *gb_args(gb_bench *b, const int64_t *xs, size_t n)
{
	return C(B(b)->Args(std::vector<int64_t>(xs, xs + n)));
}

gb_bench *gb_range(gb_bench *b, int64_t lo, int64_t hi)
{
	return C(B(b)->Range(lo, hi));
}

gb_bench *gb_dense_range(gb_bench *b, int64_t lo, int64_t hi, int step)
{
	return C(B(b)->DenseRange(lo, hi, step));
}

gb_bench *gb_range_multiplier(gb_bench *b, int mult)
{
	return C(B(b)->RangeMultiplier(mult));
}

gb_bench *gb_arg_name(gb_bench *b, const char *name)
{
	return C(B(b)->ArgName(name));
}

gb_bench *gb_threads(gb_bench *b, int n)
{
	return C(B(b)->Threads(n));
}

gb_bench *gb_thread_range(gb_bench *b, int lo, int hi)
{
	return C(B(b)->ThreadRange(lo, hi));
}

gb_bench *gb_use_real_time(gb_bench *b)
{
	return C(B(b)->UseRealTime());
}

gb_bench *gb_use_manual_time(gb_bench *b)
{
	return C(B(b)->UseManualTime());
}

gb_bench *gb_unit(gb_bench *b, enum gb_unit unit)
{
	static const benchmark::TimeUnit units[] = {
		benchmark::kNanosecond, benchmark::kMicrosecond,
		benchmark::kMillisecond, benchmark::kSecond};
	return C(B(b)->Unit(units[unit]));
}

gb_bench *gb_min_time_scale(gb_bench *b, double scale)
{
	scaled_min_times().push_back({B(b), scale});
	return b;
}

gb_bench *gb_min_warmup_time(gb_bench *b, double seconds)
{
	return C(B(b)->MinWarmUpTime(seconds));
}

gb_bench *gb_fixed_iterations(gb_bench *b, uint64_t n)
{
	return C(B(b)->Iterations(static_cast<benchmark::IterationCount>(n)));
}

gb_bench *gb_repetitions(gb_bench *b, int n)
{
	return C(B(b)->Repetitions(n));
}

gb_bench *gb_aggregates_only(gb_bench *b)
{
	return C(B(b)->ReportAggregatesOnly(true));
}

gb_bench *gb_display_aggregates_only(gb_bench *b)
{
	return C(B(b)->DisplayAggregatesOnly(true));
}

bool gb_keep_running(gb_state *st)
{
	return S(st)->KeepRunning();
}

bool gb_keep_running_batch(gb_state *st, uint64_t n)
{
	return S(st)->KeepRunningBatch(
		static_cast<benchmark::IterationCount>(n));
}

uint64_t gb_max_iterations(const gb_state *st)
{
	return static_cast<uint64_t>(S(st)->max_iterations);
}

uint64_t gb_iterations(const gb_state *st)
{
	return static_cast<uint64_t>(S(st)->iterations());
}

void gb_pause(gb_state *st)
{
	S(st)->PauseTiming();
}

void gb_resume(gb_state *st)
{
	S(st)->ResumeTiming();
}

void gb_set_iteration_time(gb_state *st, double seconds)
{
	S(st)->SetIterationTime(seconds);
}

void gb_set_items_processed(gb_state *st, int64_t items)
{
	S(st)->SetItemsProcessed(items);
}

void gb_set_bytes_processed(gb_state *st, int64_t bytes)
{
	S(st)->SetBytesProcessed(bytes);
}

void gb_counter(gb_state *st, const char *name, double value, unsigned flags)
{
	int f = benchmark::Counter::kDefaults;

	if (flags & GB_COUNTER_RATE)
		f |= benchmark::Counter::kIsRate;
	if (flags & GB_COUNTER_AVG_THREADS)
		f |= benchmark::Counter::kAvgThreads;
	if (flags & GB_COUNTER_ITER_INVARIANT)
		f |= benchmark::Counter::kIsIterationInvariant;
	if (flags & GB_COUNTER_AVG_ITERATIONS)
		f |= benchmark::Counter::kAvgIterations;
	if (flags & GB_COUNTER_INVERT)
		f |= benchmark::Counter::kInvert;
	S(st)->counters[name] = benchmark::Counter(
		value, static_cast<benchmark::Counter::Flags>(f));
}

void gb_set_label(gb_state *st, const char *label)
{
	S(st)->SetLabel(label);
}

void gb_skip_with_error(gb_state *st, const char *msg)
{
	S(st)->SkipWithError(msg);
}

int64_t gb_range_arg(const gb_state *st, size_t i)
{
	return S(st)->range(i);
}

int gb_thread_index(const gb_state *st)
{
	return S(st)->thread_index();
}

int gb_thread_count(const gb_state *st)
{
	return S(st)->threads();
}

void gb_add_context(const char *key, const char *value)
{
	benchmark::AddCustomContext(key, value);
}

int gb_main(int argc, char **argv)
{
	double base = min_time_flag(argc, argv);

	for (const scaled_min_time &m : scaled_min_times())
		m.bench->MinTime(base * m.scale);
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}

} // extern "C"
