/* SPDX-License-Identifier: MIT */
/*
 * The oracle: whether one observation (a translate, a fault, a host access)
 * is what the header promises for one state of a slot. Callers try every
 * state the concurrent history allows and complain only if none fits; the
 * reason each state rejected the observation goes into the report.
 */
#include "stress.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

static bool leaf_size_ok(const struct oracle *o, uint64_t leaf)
{
	return leaf == PAGE || (leaf == SZ_2M && !o->no_2m) ||
	       (leaf == SZ_1G && !o->no_1g);
}

/*
 * Without Svpbmt a RISC-V leaf has no memory type; the library may report
 * the area's anyway, or none.
 */
static bool flags_match(const struct oracle *o, unsigned want, unsigned got)
{
	return got == want ||
	       (o->memtype_dropped && got == (want & ~MEMTYPE_MASK));
}

/* A frame a clone may share is mapped read-only until a write breaks it. */
static bool seg_flags_match(const struct oracle *o, const struct seg *sg,
			    unsigned got)
{
	return flags_match(o, sg->flags, got) ||
	       (sg->shared && flags_match(o, sg->flags & ~ASPACE_WRITE, got));
}

/* The area fields: the library area holding gpa could be this one. */
static bool area_ok(const struct sstate *st, const struct seg *sg,
		    const struct aspace_xlate *xl, char *why, size_t len)
{
	uint64_t area_end = xl->area_start + xl->area_size, lo, hi;

	st_run(st, sg, &lo, &hi);
	if (xl->area_start <= sg->start && area_end >= sg->start + sg->size &&
	    xl->area_start >= lo && area_end <= hi)
		return true;
	snprintf(why, len,
		 "area [%#" PRIx64 ",+%#" PRIx64 ") must hold [%#" PRIx64
		 ",+%#" PRIx64 ") and lie in [%#" PRIx64 ",%#" PRIx64 ")",
		 xl->area_start, xl->area_size, sg->start, sg->size, lo, hi);
	return false;
}

/* Geometry and flags shared by linear and alloc leaves. */
static bool leaf_ok(const struct oracle *o, const struct sstate *st,
		    const struct seg *sg, uint64_t gpa,
		    const struct aspace_xlate *xl, unsigned parts, char *why,
		    size_t len)
{
	uint64_t leaf = xl->leaf_size, start = gpa & ~(leaf - 1), lo, hi;
	char want[8], got[8];

	if (!seg_flags_match(o, sg, xl->flags)) {
		snprintf(why, len, "flags %s, expected %s",
			 flags_str(xl->flags, got), flags_str(sg->flags, want));
		return false;
	}
	if (!leaf_size_ok(o, leaf)) {
		snprintf(why, len, "leaf size %#" PRIx64 " not allowed", leaf);
		return false;
	}
	/* with the area from the same state, the leaf must lie in it */
	lo = xl->area_start;
	hi = xl->area_start + xl->area_size;
	if (!(parts & ORACLE_AREA))
		st_run(st, sg, &lo, &hi);
	if (start < lo || start + leaf > hi) {
		snprintf(why, len,
			 "leaf [%#" PRIx64 ",+%#" PRIx64
			 ") crosses the area [%#" PRIx64 ",%#" PRIx64 ")",
			 start, leaf, lo, hi);
		return false;
	}
	if ((xl->hpa - (gpa - start)) & (leaf - 1)) {
		snprintf(why, len, "hpa %#" PRIx64 " misaligned for the leaf",
			 xl->hpa);
		return false;
	}
	return true;
}

static bool alloc_frame_ok(const struct aspace_xlate *xl, uint64_t gpa,
			   int frame_state, char *why, size_t len)
{
	uint64_t leaf = xl->leaf_size;
	int leaf_order = __builtin_ctzll(leaf) - 12;

	if (!hal_in_arena(xl->hpa - (gpa & (leaf - 1)))) {
		snprintf(why, len, "hpa %#" PRIx64 " is not a HAL frame",
			 xl->hpa);
		return false;
	}
	if (frame_state >= 0 && frame_state < leaf_order + 1) {
		snprintf(why, len,
			 "hpa %#" PRIx64 " lies in a %s frame (HAL state %d)",
			 xl->hpa, frame_state ? "smaller" : "freed",
			 frame_state);
		return false;
	}
	return true;
}

bool oracle_translate(const struct oracle *o, const struct sstate *st,
		      uint64_t gpa, int rc, const struct aspace_xlate *xl,
		      int frame_state, unsigned parts, char *why, size_t len)
{
	const struct seg *sg = st_find(st, gpa);

	if (gpa < o->win_base || gpa - o->win_base >= o->win_size) {
		snprintf(why, len, "outside the window: expected -EINVAL");
		return rc == -EINVAL;
	}
	if (!sg) {
		snprintf(why, len, "no area: expected -ENOENT");
		return rc == -ENOENT;
	}
	if (rc == -ENOENT) {
		snprintf(why, len, "expected a present page");
		return sg->kind == SEG_ALLOC && !sg->populated;
	}
	if (rc) {
		snprintf(why, len, "unexpected error");
		return false;
	}
	if ((parts & ORACLE_AREA) && !area_ok(st, sg, xl, why, len))
		return false;
	if (!(parts & ORACLE_LEAF))
		return true;
	if (!leaf_ok(o, st, sg, gpa, xl, parts, why, len))
		return false;
	if (sg->kind == SEG_LINEAR) {
		uint64_t hpa = sg->hpa + (gpa - sg->start);

		snprintf(why, len, "expected hpa %#" PRIx64, hpa);
		return xl->hpa == hpa;
	}
	return alloc_frame_ok(xl, gpa, frame_state, why, len);
}

bool oracle_fault(const struct oracle *o, const struct sstate *st, uint64_t gpa,
		  unsigned access, int rc, char *why, size_t len)
{
	const struct seg *sg = st_find(st, gpa);

	if (!sg || (sg->flags & access) != access) {
		snprintf(why, len, "%s: a real fault, expected %d",
			 sg ? "access not allowed" : "no area",
			 o->real_fault_rc);
		return rc == o->real_fault_rc;
	}
	snprintf(why, len, "allowed access: expected 0");
	return rc == 0;
}

bool oracle_host_access(const struct sstate *st, uint64_t gpa, int rc,
			char *why, size_t len)
{
	const struct seg *sg = st_find(st, gpa);

	if (!sg || (sg->flags & ASPACE_DEVICE)) {
		snprintf(why, len, "%s: expected -EFAULT",
			 sg ? "device memory" : "no area");
		return rc == -EFAULT;
	}
	snprintf(why, len, "RAM: expected 0");
	return rc == 0;
}

bool oracle_run(const struct oracle *o, const struct seg *sg,
		const struct aspace_run *run, uint64_t at, char *why,
		size_t len)
{
	uint64_t leaf = run->leaf_size, hpa = run->hpa + (at - run->gpa);
	char want[8], got[8];

	if (!leaf_size_ok(o, leaf) ||
	    ((run->hpa - (run->gpa & (leaf - 1))) & (leaf - 1))) {
		snprintf(why, len, "bad leaf %#" PRIx64 " for hpa %#" PRIx64,
			 leaf, run->hpa);
		return false;
	}
	if (!seg_flags_match(o, sg, run->flags)) {
		snprintf(why, len, "flags %s, expected %s",
			 flags_str(run->flags, got),
			 flags_str(sg->flags, want));
		return false;
	}
	if (sg->kind == SEG_LINEAR) {
		snprintf(why, len,
			 "hpa %#" PRIx64 " at %#" PRIx64 ", expected %#" PRIx64,
			 hpa, at, sg->hpa + (at - sg->start));
		return hpa == sg->hpa + (at - sg->start);
	}
	snprintf(why, len,
		 "hpa %#" PRIx64 " at %#" PRIx64 " is not a HAL frame", hpa,
		 at);
	return hal_in_arena(hpa);
}

uint64_t oracle_linear_leaf(const struct oracle *o, const struct seg *sg,
			    uint64_t gpa)
{
	static const uint64_t sizes[] = {SZ_1G, SZ_2M};

	for (unsigned i = 0; i < 2; i++) {
		uint64_t s = sizes[i], start = gpa & ~(s - 1);

		if (!leaf_size_ok(o, s) || ((sg->hpa - sg->start) & (s - 1)))
			continue;
		if (start >= sg->start && start + s <= sg->start + sg->size)
			return s;
	}
	return PAGE;
}
