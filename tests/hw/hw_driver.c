/* SPDX-License-Identifier: MIT */
/*
 * Hardware conformance driver: are the tables aspace builds walked by real
 * MMU models the way aspace_translate says they are?
 *
 * For every format an emulator implements, it builds random layouts with
 * the public API (map_linear with 4K/2M/1G leaves, lazily faulted and
 * populated alloc areas, unmap and protect that split areas and blocks,
 * read-only, device and uncached areas) through a HAL whose frames come
 * from one buffer standing for host-physical memory at the emulator's RAM
 * (tests/hw/hw_hal.c). It checks each call's return code and each
 * translation against its own model of the areas, dumps the buffer, and
 * runs a bare-metal runner in the emulator that makes the emulated CPU's
 * second-stage MMU translate every probe GPA, for a read and for a write:
 *
 *   ASPACE_FMT_EPT4     Bochs 2.7 (cpu corei7_haswell_4770): a 32-bit VMX
 *                       hypervisor runs a PAE guest under the EPTP; GPAs
 *                       below 2^40 (Bochs' guest MAXPHYADDR).
 *   ASPACE_FMT_S2_4K    QEMU 7.2 aarch64 (virt, virtualization=on, -cpu
 *                       max): AT S12E1R/W at EL2 + PAR_EL1; every gpa_bits
 *                       from 32 to 48 in turn.
 *   ASPACE_FMT_SV39X4/SV48X4/SV57X4
 *                       QEMU 7.2 riscv64 (virt, rv64,h=true): hlv.d/hsv.d
 *                       from M-mode through hgatp.
 *   ASPACE_FMT_EPT5     not checked: Bochs 2.7 has no 5-level EPT.
 *
 * A probe the library maps must reach the same host-physical address (the
 * runner reads a word tagged with its own address, or AT reports it) and
 * must be writable exactly when the leaf grants WRITE; a write it forbids
 * must fault as a permission fault at that GPA. On AArch64 the memory type
 * (PAR_EL1.ATTR) must match DEVICE/UNCACHED/normal. A probe the library
 * does not map must fault as a translation fault at that GPA.
 * `--corrupt` proves the check can fail: it breaks one leaf entry that a
 * probe goes through and requires mismatches at exactly that leaf's probes.
 *
 * Environment: ASPACE_SEED (replay), ASPACE_HW_LAYOUTS (layouts per
 * format, default 6), ASPACE_HW_FORMATS (e.g. "ept4,s2_4k,sv39x4"),
 * ASPACE_HW_LAYOUT (run only this layout number), ASPACE_HW_PROBES (cap per
 * layout, default 1500), ASPACE_HW_OPS (operations per layout, default 40),
 * ASPACE_HW_KEEP=1 (keep the work files of passing layouts too).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hw_layout.h"
#include "hw_walk.h"

#define PAGE ASPACE_PAGE_SIZE

struct options {
	const char *runner_dir, *work_dir;
	bool target_ok[HW_NTARGETS];
	bool corrupt;
	uint64_t seed;
	unsigned layouts, only_layout, probes, ops;
	bool only;
	const char *formats;
	bool keep;
};

/* S2 widths, most interesting first: concatenated roots (40, 42, 43, 32),
 * every start level, then the rest. */
static const unsigned s2_widths[] = {40, 48, 32, 42, 43, 36, 44, 34, 39,
				     33, 35, 37, 38, 41, 45, 46, 47};

static unsigned format_bits(enum aspace_format fmt, unsigned index)
{
	switch (fmt) {
	case ASPACE_FMT_EPT4:
		return 48;
	case ASPACE_FMT_S2_4K:
		return s2_widths[index %
				 (sizeof(s2_widths) / sizeof(s2_widths[0]))];
	case ASPACE_FMT_SV39X4:
		return 41;
	case ASPACE_FMT_SV48X4:
		return 50;
	case ASPACE_FMT_SV57X4:
		return 59;
	default:
		return 57;
	}
}

static const char *format_key(enum aspace_format fmt)
{
	switch (fmt) {
	case ASPACE_FMT_EPT4:
		return "ept4";
	case ASPACE_FMT_EPT5:
		return "ept5";
	case ASPACE_FMT_S2_4K:
		return "s2_4k";
	case ASPACE_FMT_SV39X4:
		return "sv39x4";
	case ASPACE_FMT_SV48X4:
		return "sv48x4";
	default:
		return "sv57x4";
	}
}

static uint64_t mix(uint64_t x)
{
	struct hw_rng r = {x};

	return hw_rng_next(&r);
}

static uint64_t layout_seed(uint64_t seed, enum aspace_format fmt,
			    unsigned index)
{
	return mix(seed ^ mix((uint64_t)fmt << 32 | index));
}

/* ---- What the runner saw, in one vocabulary for all targets ---- */

enum seen_kind {
	SEEN_OK,
	SEEN_TRANSLATION, /* not-present / translation fault */
	SEEN_PERMISSION,
	SEEN_GUEST_PAGE_FAULT, /* RISC-V: either of the two above */
	SEEN_OTHER,
};

struct seen {
	enum seen_kind kind;
	uint64_t hpa;	/* SEEN_OK: address reached */
	bool hpa_known; /* the data read was a tag */
	uint64_t fault_gpa;
	bool gpa_known;
	unsigned attr; /* AArch64 PAR_EL1.ATTR */
	char what[96];
};

static bool untag(uint64_t v, uint64_t *hpa)
{
	*hpa = HW_TAG(v);
	return (*hpa >> 48) == 0;
}

static void seen_riscv(uint64_t st, uint64_t v, uint64_t x, bool write,
		       struct seen *s)
{
	if (!st) {
		s->kind = SEEN_OK;
		s->hpa_known = untag(v, &s->hpa);
		snprintf(s->what, sizeof(s->what), "read %#" PRIx64, v);
		return;
	}
	if (st == (write ? 23u : 21u)) {
		s->kind = SEEN_GUEST_PAGE_FAULT;
		s->fault_gpa = v; /* mtval2 << 2 */
		s->gpa_known = true;
		snprintf(s->what, sizeof(s->what),
			 "guest-page fault, mtval2<<2 %#" PRIx64, v);
		return;
	}
	s->kind = SEEN_OTHER;
	snprintf(s->what, sizeof(s->what),
		 "trap mcause %" PRIu64 " mtval %#" PRIx64
		 " (5/7: access fault, the output is outside RAM)",
		 st, x);
}

static void seen_arm(uint64_t st, uint64_t v, uint64_t par, struct seen *s)
{
	unsigned fst = (unsigned)(st >> 1) & 0x3f;

	if (!st) {
		s->kind = SEEN_OK;
		s->hpa = v;
		s->hpa_known = true;
		s->attr = (unsigned)(par >> 56);
		snprintf(s->what, sizeof(s->what), "PAR_EL1 %#" PRIx64, par);
		return;
	}
	s->fault_gpa = v;
	s->gpa_known = true;
	if (!((st >> 9) & 1))
		s->kind = SEEN_OTHER; /* a stage-1 fault: harness bug */
	else if (fst >= 0x04 && fst <= 0x07)
		s->kind = SEEN_TRANSLATION;
	else if (fst >= 0x0c && fst <= 0x0f)
		s->kind = SEEN_PERMISSION;
	else
		s->kind = SEEN_OTHER;
	snprintf(s->what, sizeof(s->what),
		 "PAR_EL1 %#" PRIx64 " (stage %u FST %#x)", par,
		 (unsigned)((st >> 9) & 1) + 1, fst);
}

static void seen_x86(uint64_t st, uint64_t v, uint64_t qual, struct seen *s)
{
	if (!st) {
		s->kind = SEEN_OK;
		s->hpa_known = untag(v, &s->hpa);
		snprintf(s->what, sizeof(s->what), "read %#" PRIx64, v);
		return;
	}
	if (st == 48) {
		/* Qualification bits 3-5: what the entries allowed; bit 8:
		 * the access was to the final GPA, not a guest table. */
		s->kind = (qual & 0x38) ? SEEN_PERMISSION : SEEN_TRANSLATION;
		if (!(qual & 0x100))
			s->kind = SEEN_OTHER;
		s->fault_gpa = v;
		s->gpa_known = true;
		snprintf(s->what, sizeof(s->what),
			 "EPT violation at %#" PRIx64
			 " qualification %#" PRIx64,
			 v, qual);
		return;
	}
	s->kind = SEEN_OTHER;
	if (st == 49)
		snprintf(s->what, sizeof(s->what),
			 "EPT misconfiguration at %#" PRIx64, v);
	else
		snprintf(s->what, sizeof(s->what),
			 "exit %#" PRIx64 " value %#" PRIx64 " extra %#" PRIx64,
			 st, v, qual);
}

static void decode(const struct hw_target *t, const struct hw_result *r,
		   bool write, struct seen *s)
{
	uint64_t st = write ? r->ws : r->rs, v = write ? r->wv : r->rv;
	uint64_t x = write ? r->wx : r->rx;

	memset(s, 0, sizeof(*s));
	switch (t->kind) {
	case HW_QEMU_RISCV:
		seen_riscv(st, v, x, write, s);
		break;
	case HW_QEMU_ARM:
		seen_arm(st, v, x, s);
		break;
	default:
		seen_x86(st, v, x, s);
		break;
	}
}

/* ---- Probes as the runner gets them ---- */

static uint64_t window_bits_of(const struct hw_layout *l)
{
	return l->c.gpa_bits;
}

/*
 * QEMU 7.2 bug: for the G-stage it applies the first stage's
 * sign-extension check, so a GPA with its top bit set (bit 40 of Sv39x4,
 * 49 of Sv48x4, 58 of Sv57x4) faults even when mapped. The sign-extended
 * GPA walks the same entries, so send that instead.
 */
static uint64_t gpa_as_sent(const struct hw_layout *l, uint64_t gpa)
{
	uint64_t bits = window_bits_of(l);

	if (l->t->kind == HW_QEMU_RISCV && gpa < (1ull << bits) &&
	    (gpa >> (bits - 1)) & 1)
		return gpa | ~((1ull << bits) - 1);
	return gpa;
}

static uint64_t gpa_mask(const struct hw_layout *l)
{
	return l->t->kind == HW_QEMU_RISCV ? (1ull << window_bits_of(l)) - 1
					   : ~0ull;
}

/* The word to tag so a read of it names its address, if it is safe to
 * write: never a table page or anything outside the linear zone. */
static uint64_t paint_address(struct hw_layout *l, const struct hw_expect *e)
{
	uint64_t w = e->hpa & ~7ull, page = w & ~(PAGE - 1);
	const uint8_t *p;
	size_t i;

	if (!l->t->reads_memory || !e->mapped)
		return 0;
	p = hw_hal_ptr(&l->hal, page);
	if (p) {
		if (!hw_hal_page_allocated(&l->hal, page))
			return 0;
		for (i = 0; i < PAGE; i++)
			if (p[i])
				return 0;
		return w;
	}
	return w >= l->t->lin_lo && w < l->t->lin_hi ? w : 0;
}

static struct hw_probe *make_probes(struct hw_layout *l)
{
	struct hw_probe *p = calloc(l->nexpect ? l->nexpect : 1, sizeof(*p));
	size_t i;

	if (!p)
		abort();
	for (i = 0; i < l->nexpect; i++) {
		p[i].gpa = gpa_as_sent(l, l->expect[i].gpa);
		p[i].paint = paint_address(l, &l->expect[i]);
	}
	return p;
}

/* ---- Comparison ---- */

static unsigned arm_attr_for(unsigned flags)
{
	/* Stage 1 off with HCR_EL2.DC: normal WB, combined with stage 2. */
	if (flags & ASPACE_DEVICE)
		return 0x04; /* Device-nGnRE */
	if (flags & ASPACE_UNCACHED)
		return 0x44; /* Normal non-cacheable */
	return 0xff;	     /* Normal write-back */
}

static void leaf_info(struct hw_layout *l, uint64_t gpa, char *buf, size_t n);

static bool fault_matches(const struct hw_layout *l, const struct seen *s,
			  uint64_t gpa, enum seen_kind want)
{
	uint64_t m = gpa_mask(l);

	if (s->kind == SEEN_GUEST_PAGE_FAULT)
		; /* RISC-V does not tell the two apart */
	else if (s->kind != want)
		return false;
	/* mtval2 drops the low two bits; HPFAR/AT keep the page only. */
	if (l->t->kind == HW_QEMU_ARM)
		return true;
	return ((s->fault_gpa & m) & ~3ull) == ((gpa & m) & ~3ull);
}

/*
 * One probe: returns true when the emulator agrees with aspace_translate.
 * Outside the window (or above what the format addresses) the hardware
 * may report an address-size fault at level 0 instead of a translation
 * fault; both mean "not mapped".
 */
static bool compare_probe(struct hw_layout *l, const struct hw_expect *e,
			  const struct hw_result *r, bool report)
{
	struct seen rd, wr;
	char why[160] = "", leaf[128];
	bool writable = e->flags & ASPACE_WRITE;

	decode(l->t, r, false, &rd);
	decode(l->t, r, true, &wr);
	if (e->mapped) {
		if (rd.kind != SEEN_OK)
			snprintf(why, sizeof(why), "read faulted");
		else if (!rd.hpa_known || rd.hpa != e->hpa)
			snprintf(why, sizeof(why),
				 "read reached another place");
		else if (l->t->kind == HW_QEMU_ARM &&
			 rd.attr != arm_attr_for(e->flags))
			snprintf(why, sizeof(why),
				 "memory attributes %#x, want %#x", rd.attr,
				 arm_attr_for(e->flags));
		else if (writable && wr.kind != SEEN_OK)
			snprintf(why, sizeof(why), "write faulted");
		else if (writable && l->t->kind == HW_QEMU_ARM &&
			 wr.hpa != e->hpa)
			snprintf(why, sizeof(why),
				 "write reached another place");
		else if (!writable &&
			 !fault_matches(l, &wr, e->gpa, SEEN_PERMISSION))
			snprintf(why, sizeof(why),
				 "write to a read-only leaf was not a "
				 "permission fault there");
	} else {
		bool outside = e->gpa < l->win_lo || e->gpa >= l->win_hi;
		bool rd_ok = fault_matches(l, &rd, e->gpa, SEEN_TRANSLATION);
		bool wr_ok = fault_matches(l, &wr, e->gpa, SEEN_TRANSLATION);

		if (outside && l->t->kind == HW_QEMU_ARM) {
			/* Address-size faults (FST 0x00-0x03) count too. */
			unsigned rf = (unsigned)(r->rs >> 1) & 0x3f;
			unsigned wf = (unsigned)(r->ws >> 1) & 0x3f;

			rd_ok = rd_ok || (r->rs && rf <= 3);
			wr_ok = wr_ok || (r->ws && wf <= 3);
		}
		if (!rd_ok)
			snprintf(why, sizeof(why),
				 "read of an unmapped GPA did not fault there");
		else if (!wr_ok)
			snprintf(
				why, sizeof(why),
				"write of an unmapped GPA did not fault there");
	}
	if (!why[0])
		return true;
	if (report) {
		leaf_info(l, e->gpa, leaf, sizeof(leaf));
		if (e->mapped)
			hw_fail(l,
				"gpa %#" PRIx64 ": %s. aspace: hpa %#" PRIx64
				" flags %#x leaf %#" PRIx64
				"; emulator: read %s,"
				" write %s; %s",
				e->gpa, why, e->hpa, e->flags, e->leaf_size,
				rd.what, wr.what, leaf);
		else
			hw_fail(l,
				"gpa %#" PRIx64 ": %s. aspace: not mapped; "
				"emulator: read %s, write %s; %s",
				e->gpa, why, rd.what, wr.what, leaf);
	}
	return false;
}

/* ---- Image walking (diagnostics and the corruption self-test) ---- */

static void *image_ptr(void *ctx, uint64_t hpa)
{
	return hw_hal_ptr(ctx, hpa);
}

static int root_of(struct hw_layout *l, struct aspace_hw_root *root,
		   struct hw_walk_fmt *wf)
{
	int rc = aspace_hw_root(l->as, root);

	if (rc)
		return rc;
	wf->format = l->c.fmt;
	wf->levels = root->levels;
	wf->gpa_bits = l->c.gpa_bits;
	wf->root = root->root;
	return 0;
}

static void leaf_info(struct hw_layout *l, uint64_t gpa, char *buf, size_t n)
{
	struct aspace_hw_root root;
	struct hw_walk_fmt wf;
	struct hw_leaf leaf;

	if (root_of(l, &root, &wf) ||
	    hw_walk(&wf, image_ptr, &l->hal, gpa, &leaf))
		snprintf(buf, n, "no valid leaf in the image");
	else
		snprintf(buf, n,
			 "leaf entry %#" PRIx64 " at hpa %#" PRIx64 " (2^%u)",
			 leaf.entry, leaf.entry_hpa, leaf.shift);
}

/* ---- Running a layout ---- */

static int make_work_dir(const struct options *o, const struct hw_layout *l,
			 char *dir, size_t n)
{
	snprintf(dir, n, "%s/%s-%u-%u", o->work_dir, format_key(l->c.fmt),
		 l->c.gpa_bits, l->c.index);
	if (mkdir(dir, 0755) && errno != EEXIST) {
		printf("FAIL cannot create %s: %s\n", dir, strerror(errno));
		return -1;
	}
	return 0;
}

static void remove_work_dir(const char *dir)
{
	static const char *const files[] = {
		"input.bin", "tables.bin", "disk.img", "bochsrc",
		"rc",	     "out.txt",	   "err.txt",  "bochs.log"};
	char path[512];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

/*
 * The CPU must have taken the root register as given: an hgatp MODE the
 * hart lacks leaves hgatp unchanged (WARL), and VMID bits it lacks read as
 * zero, which is no error; the EPTP and VTTBR read back whole.
 */
static void check_root_loaded(struct hw_layout *l, uint64_t root,
			      uint64_t loaded)
{
	uint64_t mask = ~0ull;

	if (l->t->kind == HW_QEMU_RISCV)
		mask = ~(0x3fffull << 44);
	if ((root ^ loaded) & mask)
		hw_fail(l, "root register %#" PRIx64 " read back as %#" PRIx64,
			root, loaded);
}

/* Runs the emulator over the layout's current image. */
static int run_emulator(const struct options *o, struct hw_layout *l,
			const char *dir, struct hw_result **res)
{
	struct aspace_hw_root root;
	struct hw_run_spec spec = {0};
	struct hw_probe *probes;
	char err[512];
	int rc;

	if (aspace_hw_root(l->as, &root)) {
		hw_fail(l, "aspace_hw_root failed");
		return -1;
	}
	probes = make_probes(l);
	*res = calloc(l->nexpect ? l->nexpect : 1, sizeof(**res));
	if (!*res)
		abort();
	spec.t = l->t;
	spec.runner_dir = o->runner_dir;
	spec.work_dir = dir;
	spec.svpbmt = l->cfg.platform.svpbmt;
	spec.probes = probes;
	spec.nprobes = l->nexpect;
	spec.hal = &l->hal;
	switch (l->t->kind) {
	case HW_QEMU_RISCV:
		spec.root = root.hgatp;
		break;
	case HW_QEMU_ARM:
		spec.root = root.vttbr;
		spec.aux = root.vtcr;
		break;
	default:
		spec.root = root.eptp;
		break;
	}
	rc = hw_run(&spec, *res, err, sizeof(err));
	if (!rc)
		check_root_loaded(l, spec.root, spec.root_loaded);
	if (rc) {
		/* Printed even in the quiet self-test. */
		printf("FAIL %s: emulator run failed: %s (files in %s)\n",
		       l->name, err, dir);
		l->failures++;
	}
	free(probes);
	return rc;
}

/*
 * What the emulators cannot show, read from the image with the manuals:
 * execute permission, EPT and Svpbmt memory types, RISC-V A/D (QEMU 7.2
 * sets them itself), and the leaf size aspace_translate reports.
 */
static void check_leaf_encoding(struct hw_layout *l, const struct hw_expect *e,
				unsigned *leaf_sizes)
{
	struct aspace_hw_root root;
	struct hw_walk_fmt wf;
	struct hw_leaf leaf;
	unsigned flags,
		mask = ASPACE_PERM_MASK | ASPACE_DEVICE | ASPACE_UNCACHED;
	bool riscv = l->t->kind == HW_QEMU_RISCV;
	char why[160];

	if (root_of(l, &root, &wf) ||
	    hw_walk(&wf, image_ptr, &l->hal, e->gpa, &leaf))
		return; /* the emulator's verdict covers it */
	leaf_sizes[(leaf.shift - 12) / 9 % 3]++;
	flags = hw_leaf_flags(l->c.fmt, leaf.entry, l->cfg.platform.svpbmt, why,
			      sizeof(why));
	/* Without Svpbmt the leaf has no memory type (the PMAs decide). */
	if (riscv && !l->cfg.platform.svpbmt)
		mask = ASPACE_PERM_MASK;
	if ((flags ^ e->flags) & mask || why[0] ||
	    (1ull << leaf.shift) != e->leaf_size)
		hw_fail(l,
			"gpa %#" PRIx64 ": leaf entry %#" PRIx64
			" at hpa %#" PRIx64 " (2^%u) encodes flags %#x%s%s; "
			"translate says flags %#x,"
			" leaf %#" PRIx64,
			e->gpa, leaf.entry, leaf.entry_hpa, leaf.shift, flags,
			why[0] ? "; " : "", why, e->flags, e->leaf_size);
}

static unsigned compare_all(struct hw_layout *l, const struct hw_result *res,
			    bool report, unsigned *leaf_sizes)
{
	unsigned bad = 0;
	size_t i;

	for (i = 0; i < l->nexpect; i++) {
		if (l->expect[i].mapped)
			check_leaf_encoding(l, &l->expect[i], leaf_sizes);
		if (!compare_probe(l, &l->expect[i], &res[i], report))
			bad++;
	}
	return bad;
}

static int run_layout(const struct options *o, const struct hw_case *c)
{
	struct hw_layout l;
	struct hw_result *res = NULL;
	char dir[400] = "";
	unsigned bad = 0, mapped = 0, leaf_sizes[3] = {0, 0, 0};
	int failed;

	if (hw_layout_build(&l, c, o->ops) == 0) {
		hw_layout_probe_plan(&l, o->probes);
		if (make_work_dir(o, &l, dir, sizeof(dir)) == 0 &&
		    run_emulator(o, &l, dir, &res) == 0)
			bad = compare_all(&l, res, !l.root_config_bad,
					  leaf_sizes);
	}
	failed = l.failures != 0;
	for (size_t i = 0; i < l.nexpect; i++)
		mapped += l.expect[i].mapped;
	printf("%s %s: %u ops, %zu probes (%u mapped: %u/%u/%u via 4K/2M/1G"
	       " leaves), %" PRIu64 " KiB of image, %u mismatches\n",
	       failed ? "FAIL" : "ok  ", l.name, l.ops, l.nexpect, mapped,
	       leaf_sizes[0], leaf_sizes[1], leaf_sizes[2],
	       hw_hal_dump_size(&l.hal) / 1024, bad);
	if (failed)
		printf("     replay: ASPACE_SEED=%#" PRIx64
		       " ASPACE_HW_FORMATS=%s ASPACE_HW_LAYOUT=%u; files in "
		       "%s\n",
		       o->seed, format_key(c->fmt), c->index, dir);
	else if (!o->keep)
		remove_work_dir(dir);
	fflush(stdout);
	hw_layout_destroy(&l);
	free(res);
	return failed || l.failures ? -1 : 0;
}

/* ---- The self-test: a corrupted entry must be caught ---- */

/* A mapped probe the intact image already gets right. */
static int pick_victim(struct hw_layout *l, struct hw_walk_fmt *wf,
		       const bool *skip, struct hw_leaf *leaf, size_t *victim)
{
	size_t i, start = (size_t)hw_rng_below(&l->rng, l->nexpect);

	for (i = 0; i < l->nexpect; i++) {
		size_t k = (start + i) % l->nexpect;

		if (l->expect[k].mapped && !skip[k] &&
		    !hw_walk(wf, image_ptr, &l->hal, l->expect[k].gpa, leaf)) {
			*victim = k;
			return 0;
		}
	}
	return -1;
}

static bool same_leaf(const struct hw_walk_fmt *wf, struct hw_layout *l,
		      uint64_t gpa, const struct hw_leaf *victim)
{
	struct hw_leaf leaf;

	return !hw_walk(wf, image_ptr, &l->hal, gpa, &leaf) &&
	       leaf.entry_hpa == victim->entry_hpa;
}

static bool *mismatches(struct hw_layout *l, const struct hw_result *res)
{
	bool *miss = calloc(l->nexpect ? l->nexpect : 1, sizeof(*miss));
	size_t i;

	if (!miss)
		abort();
	for (i = 0; i < l->nexpect; i++)
		miss[i] = !compare_probe(l, &l->expect[i], &res[i], false);
	return miss;
}

/*
 * Runs the intact image first: probes where the library and the emulator
 * already disagree (the main pass reports those) are left out, so the
 * self-test holds whatever the state of the library.
 */
static int run_corruption(const struct options *o, const struct hw_case *c)
{
	struct hw_layout l;
	struct hw_result *res = NULL;
	struct aspace_hw_root root;
	struct hw_walk_fmt wf;
	struct hw_leaf leaf = {0};
	enum hw_corruption kind = HW_CORRUPT_INVALIDATE;
	uint64_t bad_entry = 0, *slot = NULL;
	unsigned bad = 0, stray = 0;
	size_t victim = 0, i;
	bool victim_caught = false, *before = NULL, *after = NULL;
	char dir[400] = "";
	int rc = -1;

	if (hw_layout_build(&l, c, o->ops) == 0)
		hw_layout_probe_plan(&l, o->probes);
	if (!l.as || root_of(&l, &root, &wf) ||
	    make_work_dir(o, &l, dir, sizeof(dir)) ||
	    run_emulator(o, &l, dir, &res))
		goto out;
	before = mismatches(&l, res);
	free(res);
	res = NULL;
	if (pick_victim(&l, &wf, before, &leaf, &victim)) {
		printf("FAIL %s: no probe to corrupt\n", l.name);
		goto out;
	}
	kind = (enum hw_corruption)hw_rng_below(&l.rng, HW_CORRUPT_KINDS);
	if (kind == HW_CORRUPT_REVOKE_WRITE &&
	    !hw_leaf_writable(c->fmt, leaf.entry))
		kind = HW_CORRUPT_INVALIDATE;
	bad_entry = hw_corrupt_entry(c->fmt, &leaf, kind);
	slot = hw_hal_ptr(&l.hal, leaf.entry_hpa);
	/* Only the image changes: the expectations were taken before. */
	*slot = bad_entry;
	if (run_emulator(o, &l, dir, &res) == 0) {
		after = mismatches(&l, res);
		/* Walk the intact image to tell which probes use the leaf. */
		*slot = leaf.entry;
		for (i = 0; i < l.nexpect; i++) {
			if (!after[i] || before[i])
				continue;
			bad++;
			if (i == victim)
				victim_caught = true;
			if (!same_leaf(&wf, &l, l.expect[i].gpa, &leaf))
				stray++;
		}
		/* A revoked write shows only on writes; an invalid or moved
		 * leaf on every probe through it. */
		rc = bad && victim_caught && !stray ? 0 : -1;
	}
	*slot = leaf.entry;
	printf("%s corrupt %s: entry at hpa %#" PRIx64 " %#" PRIx64
	       " -> %#" PRIx64 " (%s) for gpa %#" PRIx64
	       ": %u new mismatches, %u outside that leaf, victim %s\n",
	       rc ? "FAIL" : "ok  ", l.name, leaf.entry_hpa, leaf.entry,
	       bad_entry,
	       kind == HW_CORRUPT_REVOKE_WRITE ? "write revoked"
	       : kind == HW_CORRUPT_INVALIDATE ? "invalidated"
					       : "output moved",
	       l.nexpect ? l.expect[victim].gpa : 0, bad, stray,
	       victim_caught ? "caught" : "missed");
	if (!rc && !o->keep)
		remove_work_dir(dir);
out:
	fflush(stdout);
	hw_layout_destroy(&l);
	free(res);
	free(before);
	free(after);
	return rc;
}

/* ---- Main ---- */

static unsigned env_uint(const char *name, unsigned def)
{
	const char *v = getenv(name);

	return v && *v ? (unsigned)strtoul(v, NULL, 0) : def;
}

static bool format_selected(const struct options *o, enum aspace_format fmt)
{
	const char *key = format_key(fmt), *p;
	size_t n = strlen(key);

	if (!o->formats || !*o->formats)
		return true;
	for (p = o->formats; (p = strstr(p, key)); p += n)
		if ((p == o->formats || p[-1] == ',') &&
		    (p[n] == 0 || p[n] == ','))
			return true;
	return false;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	const char *seed = getenv("ASPACE_SEED");
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runners") && i + 1 < argc)
			o->runner_dir = argv[++i];
		else if (!strcmp(argv[i], "--work") && i + 1 < argc)
			o->work_dir = argv[++i];
		else if (!strcmp(argv[i], "--corrupt"))
			o->corrupt = true;
		else if (!strcmp(argv[i], "--riscv"))
			o->target_ok[HW_QEMU_RISCV] = true;
		else if (!strcmp(argv[i], "--arm"))
			o->target_ok[HW_QEMU_ARM] = true;
		else if (!strcmp(argv[i], "--x86"))
			o->target_ok[HW_BOCHS] = true;
		else
			return -1;
	}
	if (!o->runner_dir || !o->work_dir)
		return -1;
	o->seed = seed && *seed
			  ? strtoull(seed, NULL, 0)
			  : (uint64_t)time(NULL) ^ (uint64_t)getpid() << 20;
	o->layouts = env_uint("ASPACE_HW_LAYOUTS", 6);
	o->probes = env_uint("ASPACE_HW_PROBES", 1500);
	o->ops = env_uint("ASPACE_HW_OPS", 40);
	o->only = getenv("ASPACE_HW_LAYOUT") && *getenv("ASPACE_HW_LAYOUT");
	o->only_layout = env_uint("ASPACE_HW_LAYOUT", 0);
	o->formats = getenv("ASPACE_HW_FORMATS");
	o->keep = env_uint("ASPACE_HW_KEEP", 0) != 0;
	return 0;
}

int main(int argc, char **argv)
{
	static const enum aspace_format formats[] = {
		ASPACE_FMT_EPT4,   ASPACE_FMT_EPT5,   ASPACE_FMT_S2_4K,
		ASPACE_FMT_SV39X4, ASPACE_FMT_SV48X4, ASPACE_FMT_SV57X4,
	};
	struct options o;
	unsigned failed = 0, ran = 0, f, i;

	if (parse_args(argc, argv, &o)) {
		fprintf(stderr,
			"usage: %s --runners DIR --work DIR [--riscv] [--arm] "
			"[--x86] [--corrupt]\n",
			argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("hw conformance: ASPACE_SEED=%#" PRIx64 " layouts/format %u%s\n",
	       o.seed, o.layouts, o.corrupt ? " (corruption self-test)" : "");
	for (f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
		const struct hw_target *t = hw_target_for_format(formats[f]);
		unsigned n = o.corrupt ? 1 : o.layouts;

		if (!format_selected(&o, formats[f]))
			continue;
		if (!t) {
			printf("skip %s: no emulator here implements it "
			       "(Bochs 2.7 has no 5-level EPT)\n",
			       aspace_format_name(formats[f]));
			continue;
		}
		if (!o.target_ok[t->kind]) {
			printf("skip %s: %s or its runner is not available\n",
			       aspace_format_name(formats[f]), t->name);
			continue;
		}
		for (i = 0; i < n; i++) {
			struct hw_case c;

			if (o.only && i != o.only_layout)
				continue;
			c.fmt = formats[f];
			c.index = i;
			c.gpa_bits = format_bits(formats[f], i);
			c.seed = layout_seed(o.seed, formats[f], i);
			/* The main pass reports the library's own failures. */
			c.quiet = o.corrupt;
			ran++;
			if (o.corrupt ? run_corruption(&o, &c)
				      : run_layout(&o, &c))
				failed++;
		}
	}
	printf("hw conformance: %u of %u layouts failed (ASPACE_SEED=%#" PRIx64
	       ")\n",
	       failed, ran, o.seed);
	if (!ran)
		return 77;
	return failed ? 1 : 0;
}
