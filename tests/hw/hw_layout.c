/* SPDX-License-Identifier: MIT */
/*
 * Random layouts. Every operation goes through the public API, and the
 * driver's model predicts its return code; the probes are then placed where
 * translation is most likely to go wrong: area edges, split points, leaf
 * boundaries, lazily faulted pages, gaps, and the window's edges.
 */
#include "hw_layout.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE ASPACE_PAGE_SIZE
#define B2M ASPACE_BLOCK_2M
#define B1G ASPACE_BLOCK_1G
#define MEMTYPE (ASPACE_DEVICE | ASPACE_UNCACHED)
#define MAX_PRINTED_FAILURES 25

void hw_fail(struct hw_layout *l, const char *fmt, ...)
{
	va_list ap;

	if (++l->failures > MAX_PRINTED_FAILURES || l->c.quiet) {
		if (l->failures == MAX_PRINTED_FAILURES + 1 && !l->c.quiet)
			printf("FAIL %s: more failures not shown\n", l->name);
		return;
	}
	printf("FAIL %s: ", l->name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void push(uint64_t **v, size_t *n, size_t *cap, uint64_t x)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		*v = realloc(*v, *cap * sizeof(**v));
		if (!*v)
			abort();
	}
	(*v)[(*n)++] = x;
}

static uint64_t rnd(struct hw_layout *l, uint64_t n)
{
	return hw_rng_below(&l->rng, n);
}

static bool chance(struct hw_layout *l, unsigned num, unsigned den)
{
	return hw_rng_chance(&l->rng, num, den);
}

static uint64_t align_down(uint64_t x, uint64_t a)
{
	return x & ~(a - 1);
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/*
 * aspace_protect changes permissions only: each area keeps its memory
 * type, and a memory-type bit in the flags is -EINVAL (aspace.h).
 */
static bool protect_keeps_memtype(void)
{
	return true;
}

static unsigned random_flags(struct hw_layout *l, bool memtype)
{
	unsigned f = ASPACE_READ;

	if (chance(l, 2, 3))
		f |= ASPACE_WRITE;
	if (chance(l, 1, 3))
		f |= ASPACE_EXEC;
	if (memtype) {
		uint64_t r = rnd(l, 8);

		if (r == 0)
			f |= ASPACE_DEVICE;
		else if (r == 1)
			f |= ASPACE_UNCACHED;
	}
	return f;
}

static const char *errname(int rc)
{
	static char buf[32];

	switch (rc) {
	case 0:
		return "0";
	case -EEXIST:
		return "-EEXIST";
	case -EINVAL:
		return "-EINVAL";
	case -EFAULT:
		return "-EFAULT";
	case -ENOMEM:
		return "-ENOMEM";
	case -ENOENT:
		return "-ENOENT";
	default:
		snprintf(buf, sizeof(buf), "%d", rc);
		return buf;
	}
}

/* -ENOMEM is always allowed: the buffer is finite and a failed call must
 * change nothing, which the model then assumes. */
static bool check_rc(struct hw_layout *l, const char *call, int rc, int want)
{
	if (rc == want || rc == -ENOMEM)
		return rc == want;
	hw_fail(l, "%s returned %s, the model expects %s", call, errname(rc),
		errname(want));
	return false;
}

/*
 * A GPA for an area of `size` with gpa % align == off: next to an existing
 * area, around a hot spot, or anywhere, and not overlapping any area unless
 * overlap_ok (to exercise -EEXIST).
 */
static bool pick_gpa(struct hw_layout *l, uint64_t size, uint64_t align,
		     uint64_t off, bool overlap_ok, uint64_t *out)
{
	int tries;

	for (tries = 0; tries < 40; tries++) {
		uint64_t lo = l->op_lo, hi = l->op_hi, g, r = rnd(l, 10);

		if (r < 3 && l->model.n) {
			const struct hw_area *a =
				&l->model.areas[rnd(l, l->model.n)];

			g = chance(l, 1, 2) ? a->gpa + a->size : a->gpa - size;
			g = align_down(g, align) + off;
		} else {
			if (r < 8) {
				lo = l->hot[rnd(l, 4)];
				hi = lo +
				     (chance(l, 1, 2) ? 64 * B2M : 4 * B1G);
			}
			if (hi > l->op_hi)
				hi = l->op_hi;
			if (lo < l->op_lo)
				lo = l->op_lo;
			if (hi <= lo || hi - lo < size + align)
				continue;
			g = align_up(lo, align) +
			    rnd(l, (hi - size - align_up(lo, align)) / align) *
				    align +
			    off;
		}
		if (g < l->op_lo || g + size > l->op_hi || g + size < g)
			continue;
		if (!overlap_ok && hw_model_overlaps(&l->model, g, size))
			continue;
		*out = g;
		return true;
	}
	return false;
}

/* Host-physical range for linear areas in this layout. */
static void linear_zone(const struct hw_layout *l, uint64_t *lo, uint64_t *hi)
{
	unsigned hb = l->cfg.platform.hpa_bits;

	*lo = l->t->lin_lo;
	*hi = l->t->lin_hi;
	if (hb && hb < 64 && *hi > (1ull << hb))
		*hi = 1ull << hb;
}

static void op_map_linear(struct hw_layout *l)
{
	uint64_t cls = rnd(l, 3), align, size, off = 0, hpa, gpa, zlo, zhi;
	unsigned flags = random_flags(l, true);
	struct hw_area a;
	char call[128];
	int rc, want;

	linear_zone(l, &zlo, &zhi);
	if (cls == 2 && l->win_hi - l->win_lo < 4 * B1G)
		cls = 1;
	switch (cls) {
	case 0:
		align = PAGE;
		size = PAGE * (1 + rnd(l, chance(l, 1, 8) ? 2048 : 24));
		break;
	case 1:
		align = B2M;
		size = B2M * (1 + rnd(l, 4)) + PAGE * rnd(l, 3) * rnd(l, 300);
		off = chance(l, 1, 2) ? 0 : PAGE * rnd(l, 512);
		break;
	default:
		align = B1G;
		size = B1G * (1 + rnd(l, 2)) + B2M * rnd(l, 3) +
		       PAGE * rnd(l, 3);
		off = chance(l, 2, 3) ? 0 : B2M * rnd(l, 4) + PAGE * rnd(l, 2);
		break;
	}
	/* Shrink until the range fits the zone at this alignment. */
	while (align_up(zlo, align) + off + size > zhi && size > PAGE)
		size = align_down(size / 2, PAGE);
	if (align_up(zlo, align) + off + size > zhi)
		return;
	hpa = align_up(zlo, align) +
	      rnd(l, (zhi - off - size - align_up(zlo, align)) / align + 1) *
		      align +
	      off;
	if (!pick_gpa(l, size, align, off, chance(l, 1, 12), &gpa))
		return;
	want = hw_model_overlaps(&l->model, gpa, size) ? -EEXIST : 0;
	rc = aspace_map_linear(l->as, gpa, hpa, size, flags);
	snprintf(call, sizeof(call),
		 "map_linear(%#" PRIx64 ", %#" PRIx64 ", %#" PRIx64 ", %#x)",
		 gpa, hpa, size, flags);
	l->ops++;
	if (!check_rc(l, call, rc, want) || rc)
		return;
	a = (struct hw_area){gpa, size, flags, true, hpa};
	hw_model_add(&l->model, &a);
}

/*
 * vCPU calls from this (control) thread: a QSBR reader that stays online
 * would hold back the grace periods that unmap and protect wait for, so
 * the handle is offline between calls.
 */
static int vcpu_call_fault(struct hw_layout *l, uint64_t gpa, unsigned access)
{
	int rc;

	aspace_vcpu_online(l->vcpu);
	rc = aspace_vcpu_fault(l->vcpu, gpa, access);
	aspace_vcpu_quiescent(l->vcpu);
	aspace_vcpu_offline(l->vcpu);
	return rc;
}

static int vcpu_call_translate(struct hw_layout *l, uint64_t gpa,
			       struct aspace_xlate *x)
{
	int rc;

	aspace_vcpu_online(l->vcpu);
	rc = aspace_vcpu_translate(l->vcpu, gpa, x);
	aspace_vcpu_quiescent(l->vcpu);
	aspace_vcpu_offline(l->vcpu);
	return rc;
}

/* Fixes a fault and records it; the model says whether it must succeed. */
static void do_fault(struct hw_layout *l, uint64_t gpa, unsigned access)
{
	const struct hw_area *a = hw_model_find(&l->model, gpa);
	int want = a && (a->flags & access) ? 0 : -EFAULT;
	char call[96];
	int rc;

	if (!want && !a->linear) {
		/* Each fault may take a 2 MiB frame. */
		if (l->data_budget < B2M)
			return;
		l->data_budget -= B2M;
	}
	if (l->vcpu && chance(l, 1, 2)) {
		rc = vcpu_call_fault(l, gpa, access);
		snprintf(call, sizeof(call), "vcpu_fault(%#" PRIx64 ", %#x)",
			 gpa, access);
	} else {
		rc = aspace_handle_fault(l->as, gpa, access);
		snprintf(call, sizeof(call), "handle_fault(%#" PRIx64 ", %#x)",
			 gpa, access);
	}
	l->ops++;
	if (check_rc(l, call, rc, want) && !rc && !a->linear)
		push(&l->faulted, &l->nfaulted, &l->cap_faulted, gpa);
}

static unsigned random_access(struct hw_layout *l, unsigned flags)
{
	static const unsigned kinds[] = {ASPACE_READ, ASPACE_WRITE,
					 ASPACE_EXEC};
	unsigned k;

	/* Mostly allowed accesses; sometimes one the area forbids. */
	if (chance(l, 1, 6))
		return kinds[rnd(l, 3)];
	do
		k = kinds[rnd(l, 3)];
	while (!(flags & k));
	return k;
}

static void op_map_alloc(struct hw_layout *l)
{
	uint64_t r = rnd(l, 10), size, align = PAGE, gpa, i, nfaults;
	unsigned flags = random_flags(l, false);
	bool populate;
	struct hw_area a;
	char call[128];
	int rc, want;

	if (r < 6) {
		size = PAGE * (1 + rnd(l, 16));
	} else if (r < 9) {
		align = B2M;
		size = B2M * (1 + rnd(l, 3)) +
		       (chance(l, 1, 3) ? PAGE * rnd(l, 8) : 0);
	} else {
		size = PAGE * (1 + rnd(l, 1536));
	}
	populate = size <= 4 * B2M && chance(l, 1, 4);
	if (populate) {
		uint64_t cost = align_up(size, B2M) + B2M;

		if (cost > l->data_budget)
			populate = false;
		else
			l->data_budget -= cost;
	}
	if (!pick_gpa(l, size, align, 0, chance(l, 1, 12), &gpa))
		return;
	want = hw_model_overlaps(&l->model, gpa, size) ? -EEXIST : 0;
	rc = aspace_map_alloc(l->as, gpa, size, flags, populate);
	snprintf(call, sizeof(call),
		 "map_alloc(%#" PRIx64 ", %#" PRIx64 ", %#x, %d)", gpa, size,
		 flags, populate);
	l->ops++;
	if (!check_rc(l, call, rc, want) || rc)
		return;
	a = (struct hw_area){gpa, size, flags, false, 0};
	hw_model_add(&l->model, &a);
	nfaults = rnd(l, 5);
	for (i = 0; i < nfaults; i++)
		do_fault(l, gpa + PAGE * rnd(l, size / PAGE),
			 random_access(l, flags));
}

/* An area the random operations may touch: not the runner's guest pages. */
static const struct hw_area *random_area(struct hw_layout *l)
{
	const struct hw_area *a;
	int tries;

	for (tries = 0; tries < 8 && l->model.n; tries++) {
		a = &l->model.areas[rnd(l, l->model.n)];
		if (a->gpa >= l->op_lo)
			return a;
	}
	return NULL;
}

static void op_fault(struct hw_layout *l)
{
	const struct hw_area *a = random_area(l);

	if (!a || chance(l, 1, 8)) {
		/* Somewhere, most likely a gap. */
		do_fault(l,
			 l->op_lo + PAGE * rnd(l, (l->op_hi - l->op_lo) / PAGE),
			 ASPACE_READ);
		return;
	}
	do_fault(l, a->gpa + PAGE * rnd(l, a->size / PAGE),
		 random_access(l, a->flags));
}

/* A range around an area: a piece of it, all of it, or beyond it. */
static void random_range(struct hw_layout *l, const struct hw_area *a,
			 uint64_t *gpa, uint64_t *size)
{
	uint64_t pages = a->size / PAGE, start, len;

	switch (rnd(l, 4)) {
	case 0:
		*gpa = a->gpa;
		*size = a->size;
		return;
	case 1: /* crossing the start */
		start = a->gpa - PAGE * (1 + rnd(l, 4));
		len = (a->gpa - start) + PAGE * (1 + rnd(l, pages));
		break;
	default:
		start = a->gpa + PAGE * rnd(l, pages);
		len = PAGE * (1 + rnd(l, (a->gpa + a->size - start) / PAGE));
		if (chance(l, 1, 4))
			len += PAGE * rnd(l, 600); /* into what follows */
		break;
	}
	if (start < l->op_lo || start > a->gpa)
		start = a->gpa;
	if (start + len > l->win_hi || start + len < start)
		len = l->win_hi - start;
	*gpa = start;
	*size = len;
}

static void drop_faulted(struct hw_layout *l, uint64_t gpa, uint64_t size)
{
	size_t i = 0;

	while (i < l->nfaulted) {
		if (l->faulted[i] >= gpa && l->faulted[i] - gpa < size)
			l->faulted[i] = l->faulted[--l->nfaulted];
		else
			i++;
	}
}

static void op_unmap(struct hw_layout *l)
{
	uint64_t gpa, size;
	char call[96];
	int rc;

	const struct hw_area *a = random_area(l);

	if (!a)
		return;
	random_range(l, a, &gpa, &size);
	rc = aspace_unmap(l->as, gpa, size);
	snprintf(call, sizeof(call), "unmap(%#" PRIx64 ", %#" PRIx64 ")", gpa,
		 size);
	l->ops++;
	if (!check_rc(l, call, rc, 0))
		return;
	hw_model_remove(&l->model, gpa, size);
	drop_faulted(l, gpa, size);
	push(&l->edges, &l->nedges, &l->cap_edges, gpa);
	push(&l->edges, &l->nedges, &l->cap_edges, gpa + size);
}

/*
 * The model's verdict on protect (header): -EFAULT unless the range is
 * covered, -EINVAL when it would change an alloc area's memory type. The
 * header gives no order between the two, so both are accepted when both
 * apply (*alt).
 */
static int protect_expect(const struct hw_layout *l, uint64_t gpa,
			  uint64_t size, unsigned flags, int *alt)
{
	bool covered = hw_model_covered(&l->model, gpa, size);
	bool memtype_change = false;
	unsigned i;

	for (i = 0; i < l->model.n; i++) {
		const struct hw_area *a = &l->model.areas[i];

		if (a->gpa < gpa + size && gpa < a->gpa + a->size &&
		    !a->linear && (a->flags & MEMTYPE) != (flags & MEMTYPE))
			memtype_change = true;
	}
	if (protect_keeps_memtype() && (flags & MEMTYPE))
		memtype_change = true;
	*alt = memtype_change ? -EINVAL : 0;
	if (!covered)
		return -EFAULT;
	return *alt;
}

static bool range_has_alloc(const struct hw_layout *l, uint64_t gpa,
			    uint64_t size)
{
	unsigned i;

	for (i = 0; i < l->model.n; i++) {
		const struct hw_area *a = &l->model.areas[i];

		if (a->gpa < gpa + size && gpa < a->gpa + a->size && !a->linear)
			return true;
	}
	return false;
}

static void op_protect(struct hw_layout *l)
{
	uint64_t gpa, size;
	unsigned flags;
	char call[96];
	int rc, want, alt;

	const struct hw_area *a = random_area(l);

	if (!a)
		return;
	random_range(l, a, &gpa, &size);
	/* Keep alloc memory types mostly, so both verdicts are not mixed. */
	flags = random_flags(l, !range_has_alloc(l, gpa, size) ||
					chance(l, 1, 10));
	want = protect_expect(l, gpa, size, flags, &alt);
	rc = aspace_protect(l->as, gpa, size, flags);
	if (rc == alt && want == -EFAULT)
		want = alt;
	snprintf(call, sizeof(call), "protect(%#" PRIx64 ", %#" PRIx64 ", %#x)",
		 gpa, size, flags);
	l->ops++;
	if (!check_rc(l, call, rc, want) || rc)
		return;
	hw_model_protect(&l->model, gpa, size, flags, protect_keeps_memtype());
	push(&l->edges, &l->nedges, &l->cap_edges, gpa);
	push(&l->edges, &l->nedges, &l->cap_edges, gpa + size);
}

static void choose_window(struct hw_layout *l)
{
	uint64_t full = 1ull << l->c.gpa_bits;

	l->win_lo = 0;
	l->win_hi = full;
	/* A window that starts higher, unless the runner's guest needs GPA 0.
	 */
	if (!l->t->guest_size && chance(l, 1, 5))
		l->win_lo = B2M * rnd(l, (full / 2) / B2M);
	l->op_lo = l->win_lo;
	l->op_hi = l->win_hi;
	if (l->t->guest_size)
		l->op_lo = B2M; /* keep the guest's pages alone */
	/* Mostly where the runner can reach; rarely beyond, unprobed. */
	if (l->t->probe_gpa_limit && l->op_hi > l->t->probe_gpa_limit &&
	    chance(l, 9, 10))
		l->op_hi = l->t->probe_gpa_limit;
	l->hot[0] = l->op_lo;
	l->hot[1] = l->op_hi > 8 * B1G ? l->op_hi - 8 * B1G : l->op_lo;
	l->hot[2] = align_down(l->op_lo + rnd(l, l->op_hi - l->op_lo), B1G);
	l->hot[3] =
		align_down(l->op_lo + rnd(l, l->op_hi - l->op_lo), 512 * B1G);
	if (l->hot[3] < l->op_lo)
		l->hot[3] = l->op_lo;
}

static void choose_platform(struct hw_layout *l, struct aspace_platform *p)
{
	static const unsigned arm_hpa_bits[] = {0, 40, 44, 48};

	memset(p, 0, sizeof(*p));
	/* No CPU has 1 GiB leaves without 2 MiB ones (create rejects it). */
	p->no_block_2m = chance(l, 1, 12);
	p->no_block_1g = p->no_block_2m || chance(l, 1, 8);
	switch (l->t->kind) {
	case HW_QEMU_RISCV:
		p->svpbmt = chance(l, 1, 2);
		p->vmid = (uint16_t)rnd(l, 1u << 14);
		break;
	case HW_QEMU_ARM:
		/* Mostly a PA size that holds the IPA; sometimes a smaller
		 * one, which create must reject or VTCR_EL2.PS cover. */
		do
			p->hpa_bits = (uint8_t)arm_hpa_bits[rnd(l, 4)];
		while (p->hpa_bits && p->hpa_bits < l->c.gpa_bits &&
		       !chance(l, 1, 6));
		p->vmid = (uint16_t)rnd(l, 256);
		break;
	default:
		p->hpa_bits = chance(l, 1, 2) ? 40 : 0;
		break;
	}
}

static bool ipa_exceeds_pa(const struct hw_layout *l)
{
	unsigned hb = l->cfg.platform.hpa_bits;

	return l->c.fmt == ASPACE_FMT_S2_4K && hb && hb < l->c.gpa_bits;
}

/*
 * An IPA wider than the output size VTCR_EL2.PS: QEMU 7.2 faults every
 * access at level 0 (check_s2_mmu_setup: "CONSTRAINED UNPREDICTABLE and we
 * choose to fault"), and with PS = the CPU's PA size the Arm ARM's
 * AArch64.S2MinTxSZ (64 - PAMax) puts such a T0SZ out of range. Say so
 * directly instead of through a wall of probe mismatches.
 */
static void check_vtcr(struct hw_layout *l)
{
	static const unsigned ps_bits[8] = {32, 36, 40, 42, 44, 48, 52, 0};
	struct aspace_hw_root root;
	unsigned ps;

	if (l->c.fmt != ASPACE_FMT_S2_4K || aspace_hw_root(l->as, &root))
		return;
	ps = ps_bits[(root.vtcr >> 16) & 7];
	l->root_config_bad = ps < l->c.gpa_bits;
	if (l->root_config_bad)
		hw_fail(l,
			"VTCR_EL2 %#" PRIx64 ": PS gives %u output bits, "
			"less than the %u-bit IPA (platform.hpa_bits %u)",
			root.vtcr, ps, l->c.gpa_bits, l->cfg.platform.hpa_bits);
}

int hw_layout_build(struct hw_layout *l, const struct hw_case *c, unsigned nops)
{
	unsigned i;
	int rc;

	memset(l, 0, sizeof(*l));
	l->c = *c;
	l->t = hw_target_for_format(c->fmt);
	l->rng.state = c->seed;
	snprintf(l->name, sizeof(l->name), "%s/%u layout %u seed %#" PRIx64,
		 aspace_format_name(c->fmt), c->gpa_bits, c->index, c->seed);
	hw_model_init(&l->model);
	rc = hw_hal_init(&l->hal, l->t->buf_base, l->t->buf_size,
			 chance(l, 1, 2));
	if (rc)
		return rc;
	l->data_budget = l->t->buf_size / 2;
	choose_window(l);
	l->cfg.format = c->fmt;
	l->cfg.base = l->win_lo;
	l->cfg.size = l->win_hi - l->win_lo;
	l->cfg.gpa_bits = c->fmt == ASPACE_FMT_S2_4K ? c->gpa_bits : 0;
	l->cfg.hal = &l->hal.hal;
	choose_platform(l, &l->cfg.platform);
	l->cfg.rcu = chance(l, 1, 2) ? ASPACE_RCU_QSBR : ASPACE_RCU_MEMB;
	l->cfg.cache_batch = (unsigned)rnd(l, 40);
	rc = aspace_create(&l->cfg, &l->as);
	if (rc == -EINVAL && ipa_exceeds_pa(l)) {
		printf("note %s: create rejects a %u-bit IPA with a %u-bit "
		       "PA\n",
		       l->name, l->c.gpa_bits, l->cfg.platform.hpa_bits);
		return rc;
	}
	if (rc) {
		hw_fail(l, "aspace_create: %s", errname(rc));
		return rc;
	}
	check_vtcr(l);
	if (chance(l, 2, 3)) {
		l->vcpu = aspace_vcpu_attach(l->as);
		if (!l->vcpu) {
			hw_fail(l, "aspace_vcpu_attach: %s", strerror(errno));
			return -errno;
		}
		aspace_vcpu_offline(l->vcpu);
	}
	if (l->t->guest_size) {
		struct hw_area g = {l->t->guest_gpa, l->t->guest_size,
				    ASPACE_PERM_MASK, true, l->t->guest_hpa};

		rc = aspace_map_linear(l->as, g.gpa, g.hpa, g.size, g.flags);
		if (rc) {
			hw_fail(l, "mapping the runner's guest pages: %s",
				errname(rc));
			return rc;
		}
		hw_model_add(&l->model, &g);
	}
	for (i = 0; i < nops; i++) {
		uint64_t r = rnd(l, 100);

		if (r < 35)
			op_map_linear(l);
		else if (r < 60)
			op_map_alloc(l);
		else if (r < 72)
			op_fault(l);
		else if (r < 88)
			op_unmap(l);
		else
			op_protect(l);
	}
	return 0;
}

static void add_probe(struct hw_layout *l, uint64_t **v, size_t *n, size_t *cap,
		      uint64_t gpa)
{
	uint64_t page = align_down(gpa, PAGE);
	const struct hw_target *t = l->t;

	if (t->probe_gpa_limit && page >= t->probe_gpa_limit)
		return;
	if (t->guest_size && page >= t->guest_gpa &&
	    page < t->guest_gpa + t->guest_size)
		return;
	push(v, n, cap, page + 8 * rnd(l, PAGE / 8));
}

/* Pages just inside and outside an area, and around its leaf boundaries. */
static void probes_for_area(struct hw_layout *l, const struct hw_area *a,
			    uint64_t **v, size_t *n, size_t *cap)
{
	uint64_t end = a->gpa + a->size, b;
	int i;

	add_probe(l, v, n, cap, a->gpa);
	add_probe(l, v, n, cap, end - PAGE);
	if (a->gpa > l->win_lo)
		add_probe(l, v, n, cap, a->gpa - PAGE);
	if (end < l->win_hi)
		add_probe(l, v, n, cap, end);
	for (i = 0; i < 6; i++)
		add_probe(l, v, n, cap, a->gpa + PAGE * rnd(l, a->size / PAGE));
	for (i = 0; i < 3; i++) {
		b = align_up(a->gpa + rnd(l, a->size), i == 2 ? B1G : B2M);
		if (b > a->gpa && b < end) {
			add_probe(l, v, n, cap, b - PAGE);
			add_probe(l, v, n, cap, b);
		}
	}
}

static uint64_t format_max_gpa_bits(enum aspace_format fmt)
{
	switch (fmt) {
	case ASPACE_FMT_SV39X4:
		return 41;
	case ASPACE_FMT_SV48X4:
		return 50;
	case ASPACE_FMT_SV57X4:
		return 59;
	case ASPACE_FMT_EPT5:
		return 57;
	default:
		return 48;
	}
}

static void probe_gpas(struct hw_layout *l, uint64_t **v, size_t *n,
		       size_t *cap)
{
	uint64_t top = 1ull << format_max_gpa_bits(l->c.fmt);
	size_t i;

	for (i = 0; i < l->model.n; i++)
		probes_for_area(l, &l->model.areas[i], v, n, cap);
	for (i = 0; i < l->nfaulted; i++)
		add_probe(l, v, n, cap, l->faulted[i]);
	for (i = 0; i < l->nedges; i++) {
		if (l->edges[i] > l->win_lo)
			add_probe(l, v, n, cap, l->edges[i] - PAGE);
		if (l->edges[i] < l->win_hi)
			add_probe(l, v, n, cap, l->edges[i]);
	}
	for (i = 0; i < 128; i++)
		add_probe(l, v, n, cap,
			  l->win_lo + rnd(l, l->win_hi - l->win_lo));
	add_probe(l, v, n, cap, l->win_hi - PAGE);
	/* Outside the window: below its base, above its end (still inside
	 * what the format could address, and beyond). */
	for (i = 0; i < 8; i++) {
		if (l->win_lo)
			add_probe(l, v, n, cap, rnd(l, l->win_lo));
		if (l->win_hi < top)
			add_probe(l, v, n, cap,
				  l->win_hi + rnd(l, top - l->win_hi));
	}
	if (top < (1ull << 62))
		add_probe(l, v, n, cap, top + rnd(l, top));
}

static bool page_zero(const uint8_t *p)
{
	size_t i;

	for (i = 0; i < PAGE; i++)
		if (p[i])
			return false;
	return true;
}

/* aspace_translate against the model, for one GPA. */
static void model_check(struct hw_layout *l, const struct hw_expect *e, int rc,
			const struct aspace_xlate *x)
{
	const struct hw_area *a = hw_model_find(&l->model, e->gpa);
	bool in_window = e->gpa >= l->win_lo && e->gpa < l->win_hi;
	uint64_t want_hpa;
	const uint8_t *p;

	if (!in_window || !a) {
		if (rc != (in_window ? -ENOENT : -EINVAL))
			hw_fail(l,
				"translate(%#" PRIx64 ") = %s (hpa %#" PRIx64
				"), the model has no area there",
				e->gpa, errname(rc), x->hpa);
		return;
	}
	if (rc == -ENOENT && !a->linear)
		return; /* a lazy page not faulted (yet) */
	if (rc) {
		hw_fail(l,
			"translate(%#" PRIx64 ") = %s inside area %#" PRIx64
			"+%#" PRIx64 " (%s)",
			e->gpa, errname(rc), a->gpa, a->size,
			a->linear ? "linear" : "alloc");
		return;
	}
	if (x->flags != a->flags)
		hw_fail(l, "translate(%#" PRIx64 ") flags %#x, area flags %#x",
			e->gpa, x->flags, a->flags);
	if (x->area_start != a->gpa || x->area_size != a->size)
		hw_fail(l,
			"translate(%#" PRIx64 ") area %#" PRIx64 "+%#" PRIx64
			", the model's %#" PRIx64 "+%#" PRIx64,
			e->gpa, x->area_start, x->area_size, a->gpa, a->size);
	if (a->linear) {
		want_hpa = a->hpa + (e->gpa - a->gpa);
		if (x->hpa != want_hpa)
			hw_fail(l,
				"translate(%#" PRIx64 ") hpa %#" PRIx64
				", mapped to %#" PRIx64,
				e->gpa, x->hpa, want_hpa);
		return;
	}
	p = hw_hal_ptr(&l->hal, align_down(x->hpa, PAGE));
	if (!p || !hw_hal_page_allocated(&l->hal, align_down(x->hpa, PAGE)))
		hw_fail(l,
			"translate(%#" PRIx64 ") hpa %#" PRIx64
			" is not a frame the HAL handed out",
			e->gpa, x->hpa);
	else if (!page_zero(p))
		hw_fail(l,
			"alloc page at %#" PRIx64 " (hpa %#" PRIx64
			") is not zeroed",
			e->gpa, x->hpa);
}

static void check_vcpu_translate(struct hw_layout *l, uint64_t gpa, int rc,
				 const struct aspace_xlate *x)
{
	struct aspace_xlate v = {0};
	int vrc = vcpu_call_translate(l, gpa, &v);

	if (vrc != rc || (!rc && (v.hpa != x->hpa || v.flags != x->flags ||
				  v.leaf_size != x->leaf_size ||
				  v.area_start != x->area_start ||
				  v.area_size != x->area_size)))
		hw_fail(l,
			"gpa %#" PRIx64 ": vcpu_translate %s hpa %#" PRIx64
			" flags %#x, translate %s hpa %#" PRIx64 " flags %#x",
			gpa, errname(vrc), v.hpa, v.flags, errname(rc), x->hpa,
			x->flags);
}

static void check_faulted(struct hw_layout *l)
{
	struct aspace_xlate x;
	size_t i;

	for (i = 0; i < l->nfaulted; i++) {
		int rc = aspace_translate(l->as, l->faulted[i], &x);

		if (rc)
			hw_fail(l,
				"gpa %#" PRIx64 " was faulted in, but "
				"translate says %s",
				l->faulted[i], errname(rc));
	}
}

void hw_layout_probe_plan(struct hw_layout *l, size_t max_probes)
{
	uint64_t *gpas = NULL;
	size_t n = 0, cap = 0, i;

	probe_gpas(l, &gpas, &n, &cap);
	/* Too many: keep a random subset, in random order. */
	for (i = 0; i < n && i < max_probes; i++) {
		size_t j = i + rnd(l, n - i);
		uint64_t t = gpas[i];

		gpas[i] = gpas[j];
		gpas[j] = t;
	}
	if (n > max_probes)
		n = max_probes;
	l->expect = calloc(n ? n : 1, sizeof(*l->expect));
	if (!l->expect)
		abort();
	for (i = 0; i < n; i++) {
		struct hw_expect *e = &l->expect[i];
		struct aspace_xlate x = {0};
		int rc = aspace_translate(l->as, gpas[i], &x);

		e->gpa = gpas[i];
		if (rc && rc != -ENOENT && rc != -EINVAL)
			hw_fail(l, "translate(%#" PRIx64 ") = %s", e->gpa,
				errname(rc));
		e->mapped = rc == 0;
		e->hpa = x.hpa;
		e->flags = x.flags;
		e->leaf_size = x.leaf_size;
		model_check(l, e, rc, &x);
		if (l->vcpu)
			check_vcpu_translate(l, e->gpa, rc, &x);
	}
	l->nexpect = n;
	check_faulted(l);
	free(gpas);
}

void hw_layout_destroy(struct hw_layout *l)
{
	if (l->vcpu) {
		aspace_vcpu_online(l->vcpu);
		aspace_vcpu_detach(l->vcpu);
		l->vcpu = NULL;
	}
	if (l->as) {
		aspace_destroy(l->as);
		l->as = NULL;
		if (l->hal.pages_used)
			hw_fail(l,
				"%" PRIu64 " pages still held after "
				"aspace_destroy",
				l->hal.pages_used);
	}
	if (l->hal.error[0])
		hw_fail(l, "%s", l->hal.error);
	hw_hal_fini(&l->hal);
	hw_model_fini(&l->model);
	free(l->faulted);
	free(l->edges);
	free(l->expect);
	l->faulted = l->edges = NULL;
	l->expect = NULL;
}
