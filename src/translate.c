/* SPDX-License-Identifier: MIT */
/*
 * The vCPU translate fast path: aspace_vcpu_translate and its variants.
 *
 * liburcu's memb read section tests at every lock and unlock whether the
 * kernel offers sys_membarrier (one load through the GOT and a branch,
 * three times per section); a liburcu built with
 * CONFIG_RCU_FORCE_SYS_MEMBARRIER folds the test to "yes". This file is
 * compiled as if it were, and xlate_fn_for() hands its memb variants only
 * to address spaces created once liburcu has found sys_membarrier (it
 * looks once, at start-up, and never changes its mind): elsewhere the
 * generic translate in guest.c serves, which tests as usual. Nothing else
 * may take a memb read section in this file.
 */
#define CONFIG_RCU_FORCE_SYS_MEMBARRIER 1

#include <assert.h>
#include <errno.h>

#include "rcu.h"
#include "arm64/stage2.h"
#include "riscv/gstage.h"
#include "x86/ept.h"

/*
 * The fast path: a direct-mapped walk and the area this vCPU found last.
 * Anything else is a tail call to a slower path, so that no call is made
 * with state live and the fast path saves few registers.
 *
 * The window check waits for the outcome: the root index is masked, so a
 * GPA outside the window walks some entry in bounds, and its leaf is then
 * in no area (areas lie inside the window), which the area paths see.
 */
static inline __attribute__((always_inline)) int
vcpu_translate(struct aspace_vcpu *v, aspace_gpa_t gpa,
	       struct aspace_xlate *out, const struct pt_bits k,
	       const enum aspace_rcu rcu, const unsigned levels)
{
	struct aspace *as = v->as;
	const struct area *a;
	struct pt_lookup l;
	int r;

	rcu_lock_flavour(rcu);
	r = pt_lookup_bits(as, gpa, &l, k, true, levels);
	if (caa_unlikely(r == -EAGAIN))
		return vcpu_translate_slow(v, gpa, out);
	if (caa_likely(r == 0)) {
		a = vcpu_area_cached(v, areas_get(as), gpa);
		if (caa_unlikely(!a))
			return vcpu_translate_area(v, gpa, out, l.pte, l.level);
		xlate_fill(as, gpa, &l, a, out, k);
		rcu_unlock_flavour(as, rcu);
		return 0;
	}
	if (!gpa_in_window(as, gpa))
		r = -EINVAL;
	rcu_unlock_flavour(as, rcu);
	return r;
}

/*
 * The vCPU translate is the hottest call: one dispatch, chosen at create,
 * then a walk and decode with the format family's entry bits
 * (arch/x86/ept.h, arch/arm64/stage2.h, arch/riscv/gstage.h), the number
 * of levels and the RCU flavour as constants, rather than masks and a
 * depth loaded from as->fmt on the way. One function per variant, so
 * each saves only the registers it uses.
 */
enum xlate_family { XLATE_EPT, XLATE_S2, XLATE_GSTAGE, XLATE_PBMT, XLATE_N };

#define XLATE_VARIANT(name, rcu, levels, ...)                                  \
	static __attribute__((noinline)) int name(struct aspace_vcpu *v,       \
						  aspace_gpa_t gpa,            \
						  struct aspace_xlate *out)    \
	{                                                                      \
		return vcpu_translate(v, gpa, out,                             \
				      (struct pt_bits)__VA_ARGS__, rcu,        \
				      levels);                                 \
	}

/* Both flavours of family fam with n levels, and their table entry. */
#define XLATE_LEVELS(fam, n, ...)                                              \
	XLATE_VARIANT(translate_##fam##n##_memb, ASPACE_RCU_MEMB, n,           \
		      __VA_ARGS__)                                             \
	XLATE_VARIANT(translate_##fam##n##_qsbr, ASPACE_RCU_QSBR, n,           \
		      __VA_ARGS__)
#define XLATE_ENTRY(fam, n)                                                    \
	[n] = {translate_##fam##n##_memb, translate_##fam##n##_qsbr}

XLATE_LEVELS(ept, 4, EPT_PT_BITS)
XLATE_LEVELS(ept, 5, EPT_PT_BITS)
XLATE_LEVELS(s2_, 2, S2_PT_BITS)
XLATE_LEVELS(s2_, 3, S2_PT_BITS)
XLATE_LEVELS(s2_, 4, S2_PT_BITS)
XLATE_LEVELS(gstage, 3, GSTAGE_PT_BITS(false))
XLATE_LEVELS(gstage, 4, GSTAGE_PT_BITS(false))
XLATE_LEVELS(gstage, 5, GSTAGE_PT_BITS(false))
XLATE_LEVELS(pbmt, 3, GSTAGE_PT_BITS(true))
XLATE_LEVELS(pbmt, 4, GSTAGE_PT_BITS(true))
XLATE_LEVELS(pbmt, 5, GSTAGE_PT_BITS(true))

/* [family][levels][qsbr]: NULL where the family has no such depth. */
static const xlate_fn xlate_fns[XLATE_N][6][2] = {
	[XLATE_EPT] = {XLATE_ENTRY(ept, 4), XLATE_ENTRY(ept, 5)},
	[XLATE_S2] = {XLATE_ENTRY(s2_, 2), XLATE_ENTRY(s2_, 3),
		      XLATE_ENTRY(s2_, 4)},
	[XLATE_GSTAGE] = {XLATE_ENTRY(gstage, 3), XLATE_ENTRY(gstage, 4),
			  XLATE_ENTRY(gstage, 5)},
	[XLATE_PBMT] = {XLATE_ENTRY(pbmt, 3), XLATE_ENTRY(pbmt, 4),
			XLATE_ENTRY(pbmt, 5)},
};

xlate_fn xlate_fn_for(const struct aspace *as)
{
	enum xlate_family fam;
	xlate_fn fn;

	/* The memb variants below assume sys_membarrier (see the top). */
	if (!as->direct ||
	    (as->rcu == ASPACE_RCU_MEMB && !as_memb_sys_membarrier()))
		return translate_generic;
	switch (as->fmt.id) {
	case ASPACE_FMT_EPT4:
	case ASPACE_FMT_EPT5:
		fam = XLATE_EPT;
		break;
	case ASPACE_FMT_S2_4K:
		fam = XLATE_S2;
		break;
	default:
		fam = as->fmt.bits.mt_encoded ? XLATE_PBMT : XLATE_GSTAGE;
	}
	fn = as->fmt.levels < 6 ? xlate_fns[fam][as->fmt.levels]
					   [as->rcu == ASPACE_RCU_QSBR]
				: NULL;
	assert(fn); /* a format whose depth has no variant: add it above */
	return fn ? fn : translate_generic;
}

int aspace_vcpu_translate(struct aspace_vcpu *v, aspace_gpa_t gpa,
			  struct aspace_xlate *out)
{
	return v->as->xlate(v, gpa, out);
}
