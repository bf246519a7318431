// SPDX-License-Identifier: MIT
/*
 * Every specialisation of aspace_vcpu_translate (guest.c builds one per
 * format family, walk depth and RCU flavour, plus a generic one for HALs
 * without a direct map) against two models it does not share code with:
 * the reference walker decoding the raw tables, and the list of what was
 * mapped. Each configuration maps 4 KiB, 2 MiB and 1 GiB leaves, a device
 * range and leaves holes, then translates GPAs at random (seeded) in and
 * around them, beyond the window, and at the window's aliases.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "tcommon.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)

/* A mapped range and what translating inside it must give. */
struct region {
	aspace_gpa_t gpa;
	uint64_t size;
	uint64_t hpa_off; /* from the HAL's linear base */
	unsigned flags;
	uint64_t leaf; /* the leaf map_linear must pick (before depth limits) */
};

/*
 * HPAs aligned to the leaf wanted and no more, in disjoint parts of the
 * 4 GiB linear region; GPAs below 4 GiB, so that every format (S2-32 has
 * a 4 GiB window) holds the same layout.
 */
static const struct region regions[] = {
	{2 * GIB, GIB, 0, ASPACE_READ | ASPACE_WRITE, GIB},
	{GIB, 8 * MIB, GIB + 2 * MIB, ASPACE_READ | ASPACE_EXEC, 2 * MIB},
	{GIB + 64 * MIB, 4 * MIB + 12 * 1024, 2 * GIB + 4096, ASPACE_READ,
	 4096},
	{3 * GIB, 64 * 1024, 3 * GIB,
	 ASPACE_READ | ASPACE_WRITE | ASPACE_DEVICE, 4096},
};
#define NREGIONS (sizeof(regions) / sizeof(regions[0]))

static unsigned probes = 3000;
/* Outcomes seen: translated, -ENOENT, -EINVAL (a test that tried all). */
static unsigned long seen[3];

/* The largest leaf the format's depth allows at or below r's. */
static uint64_t leaf_of(const struct t_as *t, const struct region *r)
{
	if (r->leaf == GIB && t->w.levels < 3)
		return 2 * MIB;
	return r->leaf;
}

/* A GPA near a region (edges included), in a hole, or past the window. */
static aspace_gpa_t pick_gpa(const struct t_as *t, uint64_t limit)
{
	const struct region *r = &regions[t_range(0, NREGIONS - 1)];
	uint64_t off;

	switch (t_range(0, 9)) {
	case 0: /* just outside, either side */
		return t_chance(50) ? r->gpa - 4096 : r->gpa + r->size;
	case 1: /* a hole between the regions */
		return GIB + 32 * MIB + t_range(0, 31) * 4096;
	case 2: /* an alias: the same index bits above the input size */
		return limit + r->gpa + t_range(0, r->size / 4096 - 1) * 4096;
	case 3: /* the last page of the window or just past it */
		return t_chance(50) ? t->cfg.base + t->cfg.size - 4096
				    : t->cfg.base + t->cfg.size;
	default:
		off = t_range(0, r->size - 1) & ~7ull;
		return r->gpa + off;
	}
}

static const struct region *region_of(aspace_gpa_t gpa)
{
	for (size_t i = 0; i < NREGIONS; i++)
		if (gpa >= regions[i].gpa &&
		    gpa - regions[i].gpa < regions[i].size)
			return &regions[i];
	return NULL;
}

/* One GPA: the vCPU call against both models and the control path. */
static void check_gpa(struct t_as *t, struct aspace_vcpu *v, aspace_gpa_t gpa,
		      uint64_t limit, const char *cfg)
{
	aspace_hpa_t lin = test_hal_linear_base(t->hal);
	const struct region *r = gpa < limit ? region_of(gpa) : NULL;
	bool in_window = gpa >= t->cfg.base && gpa < t->cfg.base + t->cfg.size;
	struct aspace_xlate x = {0}, c = {0};
	struct ref_result ref;
	int want = !in_window ? -EINVAL : r ? 0 : -ENOENT;
	int got = aspace_vcpu_translate(v, gpa, &x);
	int ctl = aspace_translate(t->as, gpa, &c);
	char fw[16], fg[16];

	T_EXPECT(got == want, "%s: %#" PRIx64 ": returned %d, want %d", cfg,
		 gpa, got, want);
	T_EXPECT(ctl == got, "%s: %#" PRIx64 ": control path %d, vCPU %d", cfg,
		 gpa, ctl, got);
	seen[got == 0 ? 0 : got == -ENOENT ? 1 : 2]++;
	if (got || want)
		return;
	ref_walk(&t->w, gpa, &ref);
	T_EXPECT(ref.status == REF_OK && ref.hpa == x.hpa &&
			 ref.leaf_size == x.leaf_size,
		 "%s: %#" PRIx64 ": walker says status %d hpa %#" PRIx64
		 " leaf %#" PRIx64 " (%s), vCPU %#" PRIx64 " leaf %#" PRIx64,
		 cfg, gpa, ref.status, ref.hpa, ref.leaf_size, ref.why, x.hpa,
		 x.leaf_size);
	T_EXPECT(x.hpa == lin + r->hpa_off + (gpa - r->gpa) &&
			 x.leaf_size == leaf_of(t, r),
		 "%s: %#" PRIx64 ": hpa %#" PRIx64 " leaf %#" PRIx64
		 ", mapped %#" PRIx64 " leaf %#" PRIx64,
		 cfg, gpa, x.hpa, x.leaf_size,
		 lin + r->hpa_off + (gpa - r->gpa), leaf_of(t, r));
	T_EXPECT(t_xlate_flags_ok(t, r->flags, x.flags) &&
			 ref.perm == (r->flags & ASPACE_PERM_MASK) &&
			 ref.mt == t_expected_mt(t, r->flags),
		 "%s: %#" PRIx64 ": flags %s, mapped %s", cfg, gpa,
		 t_flags_str(x.flags, fg, sizeof(fg)),
		 t_flags_str(r->flags, fw, sizeof(fw)));
	T_EXPECT(x.area_start == r->gpa && x.area_size == r->size,
		 "%s: %#" PRIx64 ": area %#" PRIx64 "+%#" PRIx64, cfg, gpa,
		 x.area_start, x.area_size);
	T_EXPECT(x.hpa == c.hpa && x.leaf_size == c.leaf_size &&
			 x.flags == c.flags && x.area_start == c.area_start &&
			 x.area_size == c.area_size,
		 "%s: %#" PRIx64 ": control path differs", cfg, gpa);
}

static void run_config(const struct t_fmt *f, bool svpbmt, enum aspace_rcu rcu,
		       bool direct)
{
	unsigned width = t_fmt_width(f->fmt, f->gpa_bits);
	uint64_t limit = 1ull << width;
	struct t_as_opts o = {.fmt = *f, .rcu = rcu};
	aspace_hpa_t lin;
	struct aspace_vcpu *v;
	char cfg[80];
	struct t_as t;

	o.platform.svpbmt = svpbmt;
	o.hal.direct_map = direct;
	/* Mostly the whole width; sometimes a window ending at 4 GiB, so
	 * that GPAs past its end but inside the tables' reach are tried. */
	if (t_chance(25))
		o.size = 4 * GIB;
	t_as_create(&t, &o);
	snprintf(cfg, sizeof(cfg), "%s%s, %s, %s HAL", t_fmt_name(f),
		 svpbmt ? "+svpbmt" : "",
		 rcu == ASPACE_RCU_QSBR ? "QSBR" : "memb",
		 direct ? "direct" : "callback");
	lin = test_hal_linear_base(t.hal);
	for (size_t i = 0; i < NREGIONS; i++) {
		const struct region *r = &regions[i];
		int ret = aspace_map_linear(t.as, r->gpa, lin + r->hpa_off,
					    r->size, r->flags);

		T_ASSERT(!ret, "%s: map_linear %#" PRIx64 "+%#" PRIx64 " = %d",
			 cfg, r->gpa, r->size, ret);
	}
	v = aspace_vcpu_attach(t.as);
	T_ASSERT(v, "%s: vcpu_attach", cfg);
	for (unsigned i = 0; i < probes && !t_errors(); i++)
		check_gpa(&t, v, pick_gpa(&t, limit), limit, cfg);
	aspace_vcpu_detach(v);
	t_as_destroy(&t);
}

int main(int argc, char **argv)
{
	unsigned configs = 0;
	char what[128];

	t_init("test_translate", argc, argv);
	probes = (unsigned)t_env_u64("ASPACE_PROBES", probes);
	for (unsigned i = 0; i < t_nformats; i++)
		for (int pbmt = 0; pbmt <= t_fmt_riscv(t_formats[i].fmt);
		     pbmt++)
			for (int q = 0; q <= 1; q++)
				for (int direct = 0; direct <= 1; direct++) {
					run_config(&t_formats[i], pbmt,
						   q ? ASPACE_RCU_QSBR
						     : ASPACE_RCU_MEMB,
						   direct);
					configs++;
				}
	T_EXPECT(seen[0] && seen[1] && seen[2],
		 "outcomes: %lu translated, %lu -ENOENT, %lu -EINVAL", seen[0],
		 seen[1], seen[2]);
	snprintf(what, sizeof(what),
		 "%u configurations x %u GPAs (%lu/%lu/%lu ok/ENOENT/EINVAL)",
		 configs, probes, seen[0], seen[1], seen[2]);
	return t_finish("test_translate", what);
}
