/* SPDX-License-Identifier: MIT */
/*
 * Invalid calls, table-driven: each must return its errno and change
 * nothing. "Nothing" is a full snapshot: every table entry (reference
 * walker), the memory the leaves map, stats, HAL counters and
 * aspace_translate at the interesting GPAs, before and after.
 */
#include <errno.h>
#include <string.h>

#include "tcommon.h"

/* Places in the test layout; addresses are sym + off. */
enum sym {
	ABS,	/* off itself */
	WBASE,	/* window base */
	WEND,	/* window end */
	LIN,	/* linear RW area, 2 MiB, 2 MiB leaf */
	ALLOC,	/* lazy RW area, 6 MiB, the first 4 MiB faulted */
	POP,	/* populated R area, 64 KiB */
	DEV,	/* linear DEVICE area, 64 KiB */
	GAP,	/* nothing mapped */
	LINHPA, /* host memory of LIN (for hpa) */
	ALIAS	/* LIN + 2^gpa_bits: outside, but the same table indices */
};

#define LIN_OFF 0
#define ALLOC_OFF (4 * MIB)
#define POP_OFF (16 * MIB)
#define DEV_OFF (32 * MIB)
#define GAP_OFF (64 * MIB)

enum op {
	MAP_LINEAR,
	MAP_ALLOC,
	UNMAP,
	PROTECT,
	FAULT,
	TRANSLATE,
	IOV,
	READ,
	WRITE,
};

struct bad_case {
	const char *name;
	enum op op;
	enum sym gs;
	int64_t goff;
	enum sym hs; /* hpa, for MAP_LINEAR */
	int64_t hoff;
	uint64_t size; /* also len, n for IOV in .n */
	bool wrap;     /* size = 2^64 - gpa + size: the range ends at size */
	unsigned flags;
	int n;
	int want, also; /* errno, and an accepted alternative (or 0) */
};

#define R ASPACE_READ
#define W ASPACE_WRITE
#define X ASPACE_EXEC
#define RW (R | W)

/* Name, op, where (place + offset), size, flags, errno; then extras. */
#define CASE(nm, o, g, go, sz, fl, w, ...)                                     \
	{                                                                      \
		.name = nm, .op = o, .gs = g, .goff = go, .size = sz,          \
		.flags = fl, .want = w, __VA_ARGS__                            \
	}

/* clang-format off */
static const struct bad_case cases[] = {
	/* map_linear */
	CASE("linear: unaligned gpa", MAP_LINEAR, GAP, 0x10, PAGE, RW, EINVAL,
	     .hs = LINHPA),
	CASE("linear: unaligned hpa", MAP_LINEAR, GAP, 0, PAGE, RW, EINVAL,
	     .hs = LINHPA, .hoff = 0x800),
	CASE("linear: unaligned size", MAP_LINEAR, GAP, 0, 0x1800, RW, EINVAL,
	     .hs = LINHPA),
	CASE("linear: size 0", MAP_LINEAR, GAP, 0, 0, RW, EINVAL, .hs = LINHPA),
	CASE("linear: gpa range wraps", MAP_LINEAR, GAP, PAGE, 2 * PAGE, RW,
	     EINVAL, .hs = LINHPA, .wrap = true),
	CASE("linear: hpa range wraps", MAP_LINEAR, GAP, 0, 2 * PAGE, RW,
	     EINVAL, .hs = ABS, .hoff = -(int64_t)PAGE),
	CASE("linear: below the window", MAP_LINEAR, WBASE, -(int64_t)PAGE,
	     2 * PAGE, RW, EINVAL, .hs = LINHPA),
	CASE("linear: across the window end", MAP_LINEAR, WEND, -(int64_t)PAGE,
	     2 * PAGE, RW, EINVAL, .hs = LINHPA),
	CASE("linear: past the window", MAP_LINEAR, WEND, 0, PAGE, RW, EINVAL,
	     .hs = LINHPA),
	CASE("linear: far past the window", MAP_LINEAR, ABS,
	     -(int64_t)(16 * PAGE), PAGE, RW, EINVAL, .hs = LINHPA),
	CASE("linear: same range as an area", MAP_LINEAR, LIN, 0, 2 * MIB, RW,
	     EEXIST, .hs = LINHPA),
	CASE("linear: overlaps an area's tail", MAP_LINEAR, ALLOC,
	     (int64_t)(6 * MIB - PAGE), 2 * PAGE, RW, EEXIST, .hs = LINHPA),
	CASE("linear: covers an area", MAP_LINEAR, POP, -(int64_t)PAGE,
	     128 * KIB, RW, EEXIST, .hs = LINHPA),
	CASE("linear: write-only", MAP_LINEAR, GAP, 0, PAGE, W, EINVAL,
	     .hs = LINHPA),
	CASE("linear: exec-only", MAP_LINEAR, GAP, 0, PAGE, X, EINVAL,
	     .hs = LINHPA),
	CASE("linear: no flags", MAP_LINEAR, GAP, 0, PAGE, 0, EINVAL,
	     .hs = LINHPA),
	CASE("linear: DEVICE|UNCACHED", MAP_LINEAR, GAP, 0, PAGE,
	     R | ASPACE_DEVICE | ASPACE_UNCACHED, EINVAL, .hs = LINHPA),
	CASE("linear: unknown flag 0x20", MAP_LINEAR, GAP, 0, PAGE, R | 0x20,
	     EINVAL, .hs = LINHPA),
	CASE("linear: unknown flag bit 31", MAP_LINEAR, GAP, 0, PAGE,
	     R | 0x80000000u, EINVAL, .hs = LINHPA),
	CASE("linear: hpa above platform.hpa_bits", MAP_LINEAR, GAP, 0, PAGE,
	     RW, EINVAL, .hs = ABS, .hoff = 1ll << 40),
	CASE("linear: hpa range crosses hpa_bits", MAP_LINEAR, GAP, 0,
	     2 * PAGE, RW, EINVAL, .hs = ABS,
	     .hoff = (1ll << 40) - (int64_t)PAGE),
	/* map_alloc */
	CASE("alloc: unaligned gpa", MAP_ALLOC, GAP, 0x200, PAGE, RW, EINVAL),
	CASE("alloc: unaligned size", MAP_ALLOC, GAP, 0, PAGE + 1, RW, EINVAL),
	CASE("alloc: size 0", MAP_ALLOC, GAP, 0, 0, RW, EINVAL),
	CASE("alloc: range wraps", MAP_ALLOC, GAP, PAGE, PAGE, RW, EINVAL,
	     .wrap = true),
	CASE("alloc: across the window end", MAP_ALLOC, WEND, -(int64_t)PAGE,
	     2 * PAGE, RW, EINVAL),
	CASE("alloc: below the window", MAP_ALLOC, WBASE, -(int64_t)(2 * PAGE),
	     PAGE, RW, EINVAL),
	CASE("alloc: overlap", MAP_ALLOC, LIN, (int64_t)(2 * MIB - PAGE),
	     2 * PAGE, RW, EEXIST),
	CASE("alloc: write-only", MAP_ALLOC, GAP, 0, PAGE, W, EINVAL),
	CASE("alloc: no flags", MAP_ALLOC, GAP, 0, PAGE, 0, EINVAL),
	CASE("alloc: DEVICE|UNCACHED", MAP_ALLOC, GAP, 0, PAGE,
	     R | ASPACE_DEVICE | ASPACE_UNCACHED, EINVAL),
	CASE("alloc: unknown flag", MAP_ALLOC, GAP, 0, PAGE, RW | 0x40, EINVAL),
	/* unmap */
	CASE("unmap: unaligned gpa", UNMAP, LIN, 0x10, PAGE, 0, EINVAL),
	CASE("unmap: unaligned size", UNMAP, LIN, 0, 0x10, 0, EINVAL),
	CASE("unmap: size 0", UNMAP, LIN, 0, 0, 0, EINVAL),
	CASE("unmap: range wraps", UNMAP, LIN, PAGE, PAGE, 0, EINVAL,
	     .wrap = true),
	CASE("unmap: across the window end", UNMAP, WEND, -(int64_t)PAGE,
	     2 * PAGE, 0, EINVAL),
	CASE("unmap: below the window", UNMAP, WBASE, -(int64_t)PAGE, 2 * PAGE,
	     0, EINVAL),
	/* protect */
	CASE("protect: a gap", PROTECT, GAP, 0, PAGE, R, EFAULT),
	CASE("protect: past an area's end", PROTECT, POP, (int64_t)(60 * KIB),
	     8 * KIB, R, EFAULT),
	CASE("protect: area, gap, area", PROTECT, LIN, 0, 8 * MIB, R, EFAULT),
	CASE("protect: write-only", PROTECT, LIN, 0, PAGE, W, EINVAL),
	CASE("protect: no flags", PROTECT, LIN, 0, PAGE, 0, EINVAL),
	CASE("protect: DEVICE|UNCACHED", PROTECT, LIN, 0, PAGE,
	     R | ASPACE_DEVICE | ASPACE_UNCACHED, EINVAL),
	CASE("protect: unknown flag", PROTECT, LIN, 0, PAGE, R | 0x100, EINVAL),
	CASE("protect: linear area to UNCACHED", PROTECT, LIN, 0, PAGE,
	     R | ASPACE_UNCACHED, EINVAL),
	CASE("protect: DEVICE area, DEVICE bit", PROTECT, DEV, 0, PAGE,
	     R | ASPACE_DEVICE, EINVAL),
	CASE("protect: alloc area to DEVICE", PROTECT, ALLOC, 0, 2 * MIB,
	     R | ASPACE_DEVICE, EINVAL),
	CASE("protect: alloc area to UNCACHED", PROTECT, POP, 0, PAGE,
	     R | ASPACE_UNCACHED, EINVAL),
	CASE("protect: unaligned gpa", PROTECT, LIN, 0x10, PAGE, R, EINVAL),
	CASE("protect: unaligned size", PROTECT, LIN, 0, 0x10, R, EINVAL),
	CASE("protect: size 0", PROTECT, LIN, 0, 0, R, EINVAL),
	CASE("protect: below the window", PROTECT, WBASE, -(int64_t)PAGE,
	     2 * PAGE, R, EINVAL, .also = EFAULT),
	/* faults */
	CASE("fault: a gap", FAULT, GAP, 0, 0, R, EFAULT),
	CASE("fault: write to a read-only area", FAULT, POP, 0, 0, W, EFAULT),
	CASE("fault: exec of a non-exec area", FAULT, ALLOC,
	     (int64_t)(5 * MIB), 0, X, EFAULT),
	CASE("fault: write to read-only DEVICE", FAULT, DEV, 0, 0, W, EFAULT),
	CASE("fault: outside the window", FAULT, WEND, 0, 0, R, EFAULT,
	     .also = EINVAL),
	CASE("fault: below the window", FAULT, WBASE, -(int64_t)PAGE, 0, R,
	     EFAULT, .also = EINVAL),
	CASE("fault: access 0", FAULT, ALLOC, (int64_t)(5 * MIB), 0, 0, EINVAL),
	CASE("fault: access DEVICE", FAULT, ALLOC, (int64_t)(5 * MIB), 0,
	     ASPACE_DEVICE, EINVAL),
	/* translate */
	CASE("translate: window end", TRANSLATE, WEND, 0, 0, 0, EINVAL),
	CASE("translate: below the window", TRANSLATE, WBASE, -(int64_t)PAGE,
	     0, 0, EINVAL),
	CASE("translate: 2^64 - 4 KiB", TRANSLATE, ABS, -(int64_t)PAGE, 0, 0,
	     EINVAL),
	CASE("translate: alias of a 2 MiB leaf", TRANSLATE, ALIAS, 0, 0, 0,
	     EINVAL),
	CASE("translate: alias of a 4 KiB leaf", TRANSLATE, ALIAS,
	     (int64_t)(ALLOC_OFF + 4 * PAGE), 0, 0, EINVAL),
	CASE("translate: alias of a hole", TRANSLATE, ALIAS,
	     (int64_t)(ALLOC_OFF + 5 * MIB), 0, 0, EINVAL),
	CASE("translate: a gap", TRANSLATE, GAP, 0, 0, 0, ENOENT),
	CASE("translate: unfaulted lazy page", TRANSLATE, ALLOC,
	     (int64_t)(5 * MIB), 0, 0, ENOENT),
	/* guest_iov: the range crosses the two 2 MiB frames of ALLOC */
	CASE("iov: n too small", IOV, ALLOC, (int64_t)(2 * MIB - 100), 200, 0,
	     ENOSPC, .n = 1),
	CASE("iov: n 0", IOV, LIN, 0, 100, 0, ENOSPC),
	CASE("iov: a gap", IOV, GAP, 0, 100, 0, EFAULT, .n = 8),
	CASE("iov: DEVICE area", IOV, DEV, 0, 100, 0, EFAULT, .n = 8),
	CASE("iov: runs past an area", IOV, LIN, (int64_t)(2 * MIB - 10), 20,
	     0, EFAULT, .n = 8),
	CASE("iov: outside the window", IOV, WEND, 0, 16, 0, EFAULT, .n = 8,
	     .also = EINVAL),
	/* read / write */
	CASE("read: a gap", READ, GAP, 5, 100, 0, EFAULT),
	CASE("read: DEVICE area", READ, DEV, 0, 8, 0, EFAULT),
	CASE("read: runs into a gap", READ, POP, (int64_t)(64 * KIB - 8), 16,
	     0, EFAULT),
	CASE("read: lazy area into a gap", READ, ALLOC,
	     (int64_t)(6 * MIB - 2 * PAGE), 3 * PAGE, 0, EFAULT),
	CASE("read: wraps around 2^64", READ, ABS, -8, 16, 0, EFAULT,
	     .also = EINVAL),
	CASE("write: a gap", WRITE, GAP, 0, 1, 0, EFAULT),
	CASE("write: DEVICE area", WRITE, DEV, 100, 8, 0, EFAULT),
	CASE("write: runs into a gap", WRITE, LIN, (int64_t)(2 * MIB - 8), 16,
	     0, EFAULT),
	CASE("write: lazy area into a gap", WRITE, ALLOC,
	     (int64_t)(6 * MIB - 2 * PAGE), 3 * PAGE, 0, EFAULT),
	CASE("write: gap into an area", WRITE, POP, -8, 16, 0, EFAULT),
	CASE("write: past the window", WRITE, WEND, -8, 16, 0, EFAULT,
	     .also = EINVAL),
};
/* clang-format on */

static bool verbose;

struct layout {
	aspace_gpa_t base, end;
	aspace_hpa_t lin_hpa;
	uint64_t gpa_limit; /* 2^gpa_bits */
};

static uint64_t resolve(const struct layout *l, enum sym s, int64_t off)
{
	static const uint64_t area_off[] = {
		[LIN] = LIN_OFF, [ALLOC] = ALLOC_OFF, [POP] = POP_OFF,
		[DEV] = DEV_OFF, [GAP] = GAP_OFF,
	};

	switch (s) {
	case ABS:
		return (uint64_t)off;
	case WBASE:
		return l->base + off;
	case WEND:
		return l->end + off;
	case LINHPA:
		return l->lin_hpa + off;
	case ALIAS:
		return l->gpa_limit + l->base + LIN_OFF + off;
	default:
		return l->base + area_off[s] + off;
	}
}

static void build_layout(struct t_as *t, unsigned gpa_bits, struct layout *l)
{
	struct aspace *as = t->as;
	int ret = 0;

	l->gpa_limit = 1ull << gpa_bits;
	l->base = t->cfg.base;
	l->end = t->cfg.base + t->cfg.size;
	l->lin_hpa = test_hal_linear_base(t->hal);
	ret |= aspace_map_linear(as, l->base + LIN_OFF, l->lin_hpa, 2 * MIB,
				 RW);
	ret |= aspace_map_alloc(as, l->base + ALLOC_OFF, 6 * MIB, RW, false);
	ret |= aspace_handle_fault(as, l->base + ALLOC_OFF, W);
	ret |= aspace_handle_fault(as, l->base + ALLOC_OFF + 2 * MIB, R);
	ret |= aspace_write(as, l->base + ALLOC_OFF + 2 * MIB - 3, "abcdef", 6);
	ret |= aspace_map_alloc(as, l->base + POP_OFF, 64 * KIB, R, true);
	ret |= aspace_write(as, l->base + POP_OFF + 123, "xyz", 3);
	ret |= aspace_map_linear(as, l->base + DEV_OFF, l->lin_hpa + 4 * MIB,
				 64 * KIB, R | ASPACE_DEVICE);
	T_ASSERT(!ret, "building the layout failed");
}

/*
 * aspace_translate, and aspace_vcpu_translate on a vCPU whose area cache
 * holds LIN (as after a translate there): both must give the same answer.
 */
static int translate_both(struct t_as *t, const struct layout *l,
			  aspace_gpa_t gpa)
{
	struct aspace_vcpu *v = aspace_vcpu_attach(t->as);
	struct aspace_xlate x;
	int ret, vret;

	T_ASSERT(v, "vcpu_attach");
	T_EXPECT(!aspace_vcpu_translate(v, l->base + LIN_OFF, &x),
		 "vcpu translate of LIN");
	ret = aspace_translate(t->as, gpa, &x);
	vret = aspace_vcpu_translate(v, gpa, &x);
	T_EXPECT(vret == ret, "%#llx: vcpu translate %d, translate %d",
		 (unsigned long long)gpa, vret, ret);
	aspace_vcpu_detach(v);
	return ret;
}

static int call(struct t_as *t, const struct layout *l,
		const struct bad_case *c)
{
	static uint8_t buf[4 * PAGE];
	struct iovec iov[8];
	aspace_gpa_t gpa = resolve(l, c->gs, c->goff);
	uint64_t size = c->wrap ? (0 - gpa) + c->size : c->size;

	memset(buf, 0x77, sizeof(buf));
	switch (c->op) {
	case MAP_LINEAR:
		return aspace_map_linear(t->as, gpa, resolve(l, c->hs, c->hoff),
					 size, c->flags);
	case MAP_ALLOC:
		return aspace_map_alloc(t->as, gpa, size, c->flags, false);
	case UNMAP:
		return aspace_unmap(t->as, gpa, size);
	case PROTECT:
		return aspace_protect(t->as, gpa, size, c->flags);
	case FAULT:
		return aspace_handle_fault(t->as, gpa, c->flags);
	case TRANSLATE:
		return translate_both(t, l, gpa);
	case IOV:
		return aspace_guest_iov(t->as, gpa, size, iov, c->n);
	case READ:
		return aspace_read(t->as, gpa, buf, size);
	case WRITE:
		return aspace_write(t->as, gpa, buf, size);
	}
	return 0;
}

static void run_cases(const struct t_fmt *f, aspace_gpa_t base, uint64_t size,
		      bool direct)
{
	unsigned width = t_fmt_width(f->fmt, f->gpa_bits);
	struct t_as t;
	struct t_as_opts o = {.fmt = *f, .base = base, .size = size};
	struct layout l;
	aspace_gpa_t probes[32];
	size_t np = 0;

	o.platform.hpa_bits = 40;
	o.platform.svpbmt = t_fmt_riscv(f->fmt);
	o.hal.direct_map = direct;
	t_as_create(&t, &o);
	build_layout(&t, width, &l);
	for (enum sym s = LIN; s <= GAP; s++) {
		probes[np++] = resolve(&l, s, 0);
		probes[np++] = resolve(&l, s, -(int64_t)PAGE);
		probes[np++] = resolve(&l, s, (int64_t)(2 * MIB));
	}
	probes[np++] = l.base;
	probes[np++] = l.end - PAGE;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];
		struct t_snapshot before, after;
		char what[160];
		int ret;

		if (verbose)
			printf("  %s: %s\n", t_fmt_name(f), c->name);
		fflush(stdout);
		t_snapshot(&t, &before, probes, np);
		ret = call(&t, &l, c);
		snprintf(what, sizeof(what), "%s %s", t_fmt_name(f), c->name);
		T_EXPECT(ret == -c->want || (c->also && ret == -c->also),
			 "%s: returned %d, want %d", what, ret, -c->want);
		t_snapshot(&t, &after, probes, np);
		if (t_snapshot_cmp(&before, &after, what)) {
			/* Start the next case from the intact layout. */
			t_as_destroy(&t);
			t_as_create(&t, &o);
			build_layout(&t, width, &l);
		}
		t_snapshot_free(&before);
		t_snapshot_free(&after);
	}
	t_as_destroy(&t);
}

/* Configurations aspace_create must refuse, leaving no frame behind. */
static void run_create_cases(void)
{
	static const struct {
		const char *name;
		enum aspace_format fmt;
		unsigned gpa_bits;
		aspace_gpa_t base;
		uint64_t size;
		unsigned zero;
	} bad[] = {
		{"format 0", 0, 0, 0, 1ull << 30, 0},
		{"format 99", 99, 0, 0, 1ull << 30, 0},
		{"S2 gpa_bits 31", ASPACE_FMT_S2_4K, 31, 0, 1ull << 30, 0},
		{"S2 gpa_bits 49", ASPACE_FMT_S2_4K, 49, 0, 1ull << 30, 0},
		{"S2 gpa_bits 0", ASPACE_FMT_S2_4K, 0, 0, 1ull << 30, 0},
		{"EPT4 gpa_bits 47", ASPACE_FMT_EPT4, 47, 0, 1ull << 30, 0},
		{"EPT4 gpa_bits 57", ASPACE_FMT_EPT4, 57, 0, 1ull << 30, 0},
		{"Sv39x4 gpa_bits 39", ASPACE_FMT_SV39X4, 39, 0, 1ull << 30, 0},
		{"EPT4 window past 2^48", ASPACE_FMT_EPT4, 0, 0,
		 (1ull << 48) + PAGE, 0},
		{"EPT4 window starts at 2^48", ASPACE_FMT_EPT4, 0, 1ull << 48,
		 PAGE, 0},
		{"S2-40 window past 2^40", ASPACE_FMT_S2_4K, 40, 1ull << 39,
		 (1ull << 39) + PAGE, 0},
		{"Sv39x4 window past 2^41", ASPACE_FMT_SV39X4, 0, 1ull << 40,
		 (1ull << 40) + GIB, 0},
		{"EPT5 window past 2^57", ASPACE_FMT_EPT5, 0,
		 (1ull << 57) - GIB, 2 * GIB, 0},
		{"size 0", ASPACE_FMT_EPT4, 0, 0, 0, 0},
		{"window wraps", ASPACE_FMT_EPT4, 0, ~0ull - PAGE + 1, 2 * PAGE,
		 0},
		{"unaligned base", ASPACE_FMT_EPT4, 0, 0x800, GIB, 0},
		{"unaligned size", ASPACE_FMT_EPT4, 0, 0, GIB + 0x10, 0},
		{"zero mode 3", ASPACE_FMT_EPT4, 0, 0, GIB, 3},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct test_hal_opts ho = {0};
		struct test_hal *h = test_hal_new(&ho);
		struct aspace_config cfg = {
			.format = bad[i].fmt,
			.gpa_bits = bad[i].gpa_bits,
			.base = bad[i].base,
			.size = bad[i].size,
			.hal = test_hal_ops(h),
			.zero = (enum aspace_zero)bad[i].zero,
		};
		struct aspace *as = NULL;
		int ret = aspace_create(&cfg, &as);
		uint64_t left;

		T_EXPECT(ret == -EINVAL, "create %s: returned %d, want -EINVAL",
			 bad[i].name, ret);
		if (!ret)
			aspace_destroy(as);
		left = test_hal_delete(h);
		T_EXPECT(!left, "create %s: %#llx bytes left in the HAL",
			 bad[i].name, (unsigned long long)left);
	}
}

int main(int argc, char **argv)
{
	static const struct t_fmt fmts[] = {
		{ASPACE_FMT_EPT4, 48},
		{ASPACE_FMT_S2_4K, 40},
		{ASPACE_FMT_SV39X4, 41},
		{ASPACE_FMT_EPT5, 57},
	};
	const size_t ncases = sizeof(cases) / sizeof(cases[0]);
	char what[64];

	t_init("test_bad_input", argc, argv);
	verbose = t_env_u64("ASPACE_VERBOSE", 0);
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		unsigned width = t_fmt_width(fmts[i].fmt, fmts[i].gpa_bits);
		/* Mostly a window with a non-zero base and a nearby end. */
		aspace_gpa_t base = t_chance(75) ? t_range(1, 64) * GIB : 0;
		uint64_t size =
			t_chance(75) ? 16 * GIB : (1ull << width) - base;

		/* Both translate paths: a HAL with a direct map or without */
		for (int direct = 0; direct <= 1; direct++)
			run_cases(&fmts[i], base, size, direct);
	}
	run_create_cases();
	snprintf(what, sizeof(what),
		 "%zu calls x 4 formats x 2 HALs, create cases", ncases);
	return t_finish("test_bad_input", what);
}
