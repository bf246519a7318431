// SPDX-License-Identifier: MIT
/*
 * Runs N operations of one kind, for counting instructions per operation
 * (bench/scripts/instr.sh runs it under callgrind or perf stat with two
 * values of N and divides the difference, which cancels the set-up):
 *
 *	instr_driver translate4k|translate2m|fault4k|map4k N
 *
 * translate4k/2m: aspace_vcpu_translate at N random GPAs of 1 GiB mapped
 *                 with 4 KiB / 2 MiB leaves;
 * fault4k:        N lazy 4 KiB vCPU faults, page after page, on frames
 *                 recycled from an earlier (uncounted) pass;
 * map4k:          one map_linear of N pages at a 4 KiB aligned HPA.
 * The operations run inside run_ops(), which the counting can be limited
 * to (callgrind --toggle-collect=run_ops).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aspace/aspace.h>

#define GiB (1ull << 30)
#define GPA (64 * GiB)
#define HPA (64 * GiB) /* translation never dereferences it */
#define RW (ASPACE_READ | ASPACE_WRITE)

enum op { TRANSLATE_4K, TRANSLATE_2M, FAULT_4K, MAP_4K };

static const char *const op_names[] = {"translate4k", "translate2m", "fault4k",
				       "map4k"};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Not inlined: the instruction count can be limited to this function. */
__attribute__((noinline)) int run_ops(enum op op, struct aspace *as,
				      struct aspace_vcpu *vcpu, uint64_t n);

__attribute__((noinline)) int run_ops(enum op op, struct aspace *as,
				      struct aspace_vcpu *vcpu, uint64_t n)
{
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	struct aspace_xlate x;
	int bad = 0;

	switch (op) {
	case TRANSLATE_4K:
	case TRANSLATE_2M:
		for (uint64_t i = 0; i < n; i++)
			bad |= aspace_vcpu_translate(
				vcpu, GPA + (xorshift(&rng) & (GiB - 1)), &x);
		break;
	case FAULT_4K:
		for (uint64_t i = 0; i < n; i++)
			bad |= aspace_vcpu_fault(vcpu, GPA + i * 4096,
						 ASPACE_WRITE);
		break;
	case MAP_4K:
		bad = aspace_map_linear(as, GPA, HPA + 4096, n * 4096, RW);
		break;
	}
	return bad;
}

static int setup(enum op op, struct aspace *as)
{
	switch (op) {
	case TRANSLATE_4K:
		return aspace_map_linear(as, GPA, HPA + 4096, GiB, RW);
	case TRANSLATE_2M:
		return aspace_map_linear(as, GPA, HPA + (2u << 20), GiB, RW);
	case FAULT_4K:
		return aspace_map_alloc(as, GPA, GiB, RW, false);
	case MAP_4K:
		return 0;
	}
	return -EINVAL;
}

/*
 * Fault N pages once and unmap them, so that the counted run recycles
 * frames the allocator already holds, as the timed benchmarks do.
 */
static int warm_faults(struct aspace *as, struct aspace_vcpu *vcpu, uint64_t n)
{
	int bad = 0;

	for (uint64_t i = 0; i < n; i++)
		bad |= aspace_vcpu_fault(vcpu, GPA + i * 4096, ASPACE_WRITE);
	if (!bad)
		bad = aspace_unmap(as, GPA, GiB);
	return bad ? bad : setup(FAULT_4K, as);
}

int main(int argc, char **argv)
{
	struct aspace_config cfg = {
		.format = ASPACE_FMT_EPT4,
		.size = 1ull << 40,
		/* Lazy faults take 4 KiB frames only without 2M leaves. */
		.platform = {.no_block_2m = true, .no_block_1g = true},
	};
	struct aspace_vcpu *vcpu = NULL;
	struct aspace *as = NULL;
	unsigned op;
	uint64_t n;
	int rc;

	if (argc != 3)
		goto usage;
	for (op = 0; op < 4; op++)
		if (!strcmp(argv[1], op_names[op]))
			break;
	n = strtoull(argv[2], NULL, 0);
	if (op == 4 || n == 0 || n > GiB / 4096)
		goto usage;
	if (op == TRANSLATE_2M)
		cfg.platform = (struct aspace_platform){0};
	rc = aspace_create(&cfg, &as);
	if (!rc)
		rc = setup(op, as);
	if (!rc && op != MAP_4K && !(vcpu = aspace_vcpu_attach(as)))
		rc = -errno;
	if (!rc && op == FAULT_4K)
		rc = warm_faults(as, vcpu, n);
	if (!rc)
		rc = run_ops(op, as, vcpu, n);
	if (rc)
		fprintf(stderr, "instr_driver %s: %s\n", argv[1],
			strerror(-rc));
	if (vcpu)
		aspace_vcpu_detach(vcpu);
	if (as)
		aspace_destroy(as);
	return rc ? 1 : 0;
usage:
	fprintf(stderr,
		"usage: instr_driver translate4k|translate2m|fault4k|map4k "
		"N (1..262144)\n");
	return 2;
}
