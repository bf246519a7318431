/* SPDX-License-Identifier: MIT */
/*
 * Every rule below cites the manual section it comes from. Nothing here is
 * taken from the library: the point is to catch it emitting encodings the
 * CPU would treat differently from what the library meant.
 */
#include "ref_walk.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum entry_kind { E_NOT_PRESENT, E_TABLE, E_LEAF, E_INVALID };

struct decoded {
	enum entry_kind kind;
	aspace_hpa_t addr; /* next table, or leaf output address */
	unsigned perm;
	enum ref_memtype mt;
	char why[120];
};

static uint64_t bits(unsigned hi, unsigned lo)
{
	if (hi < lo)
		return 0;
	return (hi >= 63 ? ~0ull : (1ull << (hi + 1)) - 1) &
	       ~((1ull << lo) - 1);
}

static unsigned level_shift(unsigned level)
{
	return 12 + 9 * level;
}

__attribute__((format(printf, 2, 3))) static int invalid(struct decoded *d,
							 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	d->kind = E_INVALID;
	vsnprintf(d->why, sizeof(d->why), fmt, ap);
	va_end(ap);
	return 0;
}

/* 1 GiB / 2 MiB leaves exist only if the platform has them. */
static bool leaf_size_allowed(const struct ref_walker *w, unsigned level,
			      struct decoded *d)
{
	if (level == 2 && w->no_1g) {
		invalid(d, "1 GiB leaf on a platform without 1 GiB leaves");
		return false;
	}
	if (level == 1 && w->no_2m) {
		invalid(d, "2 MiB leaf on a platform without 2 MiB leaves");
		return false;
	}
	return true;
}

/*
 * Intel SDM Vol. 3C, "EPT Translation Mechanism" and "EPT
 * Misconfigurations": an entry is present if any of bits 2:0 is set;
 * write without read, execute-only without the capability, reserved memory
 * types 2/3/7, bit 7 in a PML4E/PML5E, bits 7:3 of a non-leaf entry, bits
 * 51:MAXPHYADDR and the low address bits of a large page are
 * misconfigurations.
 */
static int ept_decode(const struct ref_walker *w, unsigned level, uint64_t e,
		      struct decoded *d)
{
	unsigned rwx = e & 7, mt;
	bool leaf;

	if (!rwx) {
		d->kind = E_NOT_PRESENT;
		return 0;
	}
	if ((rwx & 3) == 2)
		return invalid(d, "EPT write without read (misconfiguration)");
	if (rwx == 4)
		return invalid(d, "EPT execute-only entry (needs capability)");
	if (e & bits(51, w->oa_bits))
		return invalid(d, "EPT reserved address bits 51:%u set",
			       w->oa_bits);
	if (level >= 3 && (e & (1u << 7)))
		return invalid(d, "EPT bit 7 set in a PML%uE", level + 1);
	leaf = level == 0 || (e & (1u << 7));
	if (!leaf) {
		if (e & bits(7, 3))
			return invalid(d, "EPT reserved bits 7:3 set in a "
					  "non-leaf entry");
		d->kind = E_TABLE;
		d->addr = e & bits(w->oa_bits - 1, 12);
		return 0;
	}
	if (level && (e & bits(level_shift(level) - 1, 12)))
		return invalid(d, "EPT reserved low address bits in a large "
				  "page");
	if (!leaf_size_allowed(w, level, d))
		return 0;
	mt = (e >> 3) & 7;
	switch (mt) {
	case 0:
		d->mt = REF_MT_DEVICE; /* UC */
		break;
	case 1:
		d->mt = REF_MT_NC; /* WC */
		break;
	case 4:
	case 5:
		d->mt = REF_MT_OTHER; /* WT, WP */
		break;
	case 6:
		d->mt = REF_MT_WB;
		break;
	default:
		return invalid(d, "EPT reserved memory type %u", mt);
	}
	d->kind = E_LEAF;
	d->addr = e & bits(w->oa_bits - 1, level_shift(level));
	d->perm = (e & 1 ? ASPACE_READ : 0) | (e & 2 ? ASPACE_WRITE : 0) |
		  (e & 4 ? ASPACE_EXEC : 0);
	return 0;
}

/*
 * Arm ARM, VMSAv8-64 stage 2 memory region attributes with HCR_EL2.FWB=0:
 * MemAttr[3:2] = 0 is Device (MemAttr[1:0] picks nGnRnE..GRE); otherwise
 * MemAttr[3:2] is the outer and MemAttr[1:0] the inner cacheability, with
 * inner 0b00 reserved.
 */
static int s2_memattr(unsigned memattr, unsigned sh, struct decoded *d)
{
	unsigned outer = memattr >> 2, inner = memattr & 3;

	if (sh == 1)
		return invalid(d, "S2 SH=0b01 is reserved");
	if (!outer) {
		d->mt = REF_MT_DEVICE;
		return 0;
	}
	if (!inner)
		return invalid(d, "S2 MemAttr %#x reserved (inner 0b00)",
			       memattr);
	if (sh != 3)
		return invalid(d,
			       "S2 normal memory with SH=%u, not inner "
			       "shareable",
			       sh);
	if (outer == 3 && inner == 3)
		d->mt = REF_MT_WB;
	else if (outer == 1 && inner == 1)
		d->mt = REF_MT_NC;
	else
		d->mt = REF_MT_OTHER;
	return 0;
}

static int s2_leaf(const struct ref_walker *w, unsigned level, uint64_t e,
		   struct decoded *d)
{
	unsigned xn = (e >> 53) & 3, s2ap = (e >> 6) & 3;
	unsigned shift = level_shift(level);

	if (e & bits(shift - 1, 12))
		return invalid(d, "S2 block with RES0 low output address bits");
	if (e & bits(50, 48))
		return invalid(d, "S2 RES0 bits 50:48 set in a leaf");
	if (e & bits(47, w->oa_bits))
		return invalid(d,
			       "S2 output address above PS (%u bits): "
			       "address size fault",
			       w->oa_bits);
	if (e & (1ull << 51))
		return invalid(d, "S2 DBM set without hardware dirty state");
	if (e & (1ull << 52))
		return invalid(d, "S2 Contiguous hint set");
	if (xn == 1 || xn == 3)
		return invalid(d, "S2 XN=%u needs FEAT_XNX", xn);
	if (!(e & (1u << 10)))
		return invalid(d, "S2 AF=0: access flag fault on first access");
	if (!leaf_size_allowed(w, level, d))
		return 0;
	s2_memattr((e >> 2) & 0xf, (e >> 8) & 3, d);
	if (d->kind == E_INVALID)
		return 0;
	d->kind = E_LEAF;
	d->addr = e & bits(47, shift);
	d->perm = (s2ap & 1 ? ASPACE_READ : 0) | (s2ap & 2 ? ASPACE_WRITE : 0) |
		  (xn ? 0 : ASPACE_EXEC);
	return 0;
}

/*
 * Arm ARM, VMSAv8-64 translation table descriptor formats (4 KiB granule):
 * bit 0 clear is invalid; 0b11 is a table at levels 0-2 and a page at level
 * 3; 0b01 is a block at levels 1 and 2 and invalid at levels 0 and 3.
 * Stage-2 table descriptors have no hierarchical attributes: bits 63:59 are
 * RES0.
 */
static int s2_decode(const struct ref_walker *w, unsigned level, uint64_t e,
		     struct decoded *d)
{
	unsigned arm_level = 3 - level;

	if (!(e & 1)) {
		d->kind = E_NOT_PRESENT;
		return 0;
	}
	if ((e & 3) == 1) {
		if (arm_level == 0)
			return invalid(d, "S2 block descriptor at level 0");
		if (arm_level == 3)
			return invalid(d, "S2 reserved descriptor 0b01 at "
					  "level 3");
		return s2_leaf(w, level, e, d);
	}
	if (arm_level == 3)
		return s2_leaf(w, level, e, d);
	if (e & bits(63, 59))
		return invalid(d, "S2 table descriptor with RES0 bits 63:59 "
				  "set");
	if (e & bits(50, 48))
		return invalid(d, "S2 table descriptor with RES0 bits 50:48");
	if (e & bits(47, w->oa_bits))
		return invalid(d, "S2 table address above PS (%u bits)",
			       w->oa_bits);
	d->kind = E_TABLE;
	d->addr = e & bits(47, 12);
	return 0;
}

/*
 * RISC-V privileged spec, "Virtual Address Translation Process" and the
 * hypervisor extension's "Two-Stage Address Translation": V=0 is invalid;
 * W without R is reserved; R=W=X=0 points to the next level and its A, D, U
 * (and PBMT, N) must be zero; G-stage leaves need U=1; without hardware A/D
 * updating, A=0 or a write with D=0 faults; a superpage with non-zero low
 * PPN bits faults; bits 60:54 are reserved; PBMT needs Svpbmt and 3 is
 * reserved; N needs Svnapot.
 */
static int rv_leaf(const struct ref_walker *w, unsigned level, uint64_t e,
		   struct decoded *d)
{
	unsigned pbmt = (e >> 61) & 3;
	uint64_t pa = ((e >> 10) & bits(43, 0)) << 12;

	if (!(e & (1u << 4)))
		return invalid(d, "RISC-V G-stage leaf with U=0");
	if (!(e & (1u << 6)))
		return invalid(d, "RISC-V leaf with A=0");
	if ((e & (1u << 2)) && !(e & (1u << 7)))
		return invalid(d, "RISC-V writable leaf with D=0");
	if (e & (1u << 5))
		return invalid(d, "RISC-V G bit set in a G-stage PTE");
	if (pbmt && !w->svpbmt)
		return invalid(d, "RISC-V PBMT=%u without Svpbmt", pbmt);
	if (pbmt == 3)
		return invalid(d, "RISC-V PBMT=3 is reserved");
	if (pa & bits(level_shift(level) - 1, 12))
		return invalid(d, "RISC-V misaligned superpage PPN");
	if (pa & bits(63, w->oa_bits))
		return invalid(d, "RISC-V PA above %u bits", w->oa_bits);
	if (!leaf_size_allowed(w, level, d))
		return 0;
	d->kind = E_LEAF;
	d->addr = pa;
	d->perm = (e & 2 ? ASPACE_READ : 0) | (e & 4 ? ASPACE_WRITE : 0) |
		  (e & 8 ? ASPACE_EXEC : 0);
	if (!w->svpbmt)
		d->mt = REF_MT_NONE;
	else
		d->mt = pbmt == 0   ? REF_MT_WB
			: pbmt == 1 ? REF_MT_NC
				    : REF_MT_DEVICE;
	return 0;
}

static int rv_decode(const struct ref_walker *w, unsigned level, uint64_t e,
		     struct decoded *d)
{
	unsigned rwx = (e >> 1) & 7;

	if (!(e & 1)) {
		d->kind = E_NOT_PRESENT;
		return 0;
	}
	if (e & bits(60, 54))
		return invalid(d, "RISC-V reserved bits 60:54 set");
	if (e & (1ull << 63))
		return invalid(d, "RISC-V N bit set without Svnapot");
	if ((rwx & 3) == 2)
		return invalid(d, "RISC-V W without R (reserved)");
	if (rwx)
		return rv_leaf(w, level, e, d);
	if (level == 0)
		return invalid(d, "RISC-V non-leaf PTE at the last level");
	if (e & 0xf0)
		return invalid(d, "RISC-V non-leaf PTE with U/G/A/D set");
	if (e & bits(62, 61))
		return invalid(d, "RISC-V non-leaf PTE with PBMT set");
	d->kind = E_TABLE;
	d->addr = ((e >> 10) & bits(43, 0)) << 12;
	if (d->addr & bits(63, w->oa_bits))
		return invalid(d, "RISC-V table PA above %u bits", w->oa_bits);
	return 0;
}

static void decode(const struct ref_walker *w, unsigned level, uint64_t e,
		   struct decoded *d)
{
	memset(d, 0, sizeof(*d));
	switch (w->fmt) {
	case ASPACE_FMT_EPT4:
	case ASPACE_FMT_EPT5:
		ept_decode(w, level, e, d);
		break;
	case ASPACE_FMT_S2_4K:
		s2_decode(w, level, e, d);
		break;
	default:
		rv_decode(w, level, e, d);
		break;
	}
}

__attribute__((format(printf, 3, 4))) static int init_err(char *err, size_t len,
							  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Intel SDM Vol. 3C, "Extended-Page-Table Pointer (EPTP)": bits 2:0 memory
 * type (0 UC or 6 WB), 5:3 walk length - 1, 6 A/D enable, 11:7 reserved or
 * features the library does not use, N-1:12 the root, 63:N reserved.
 */
static int ept_init(struct ref_walker *w, const struct aspace_hw_root *hw,
		    char *err, size_t len)
{
	uint64_t eptp = hw->eptp;
	unsigned want = w->fmt == ASPACE_FMT_EPT5 ? 5 : 4;

	if ((eptp & 7) != 0 && (eptp & 7) != 6)
		return init_err(err, len, "EPTP memory type %u invalid",
				(unsigned)(eptp & 7));
	if (((eptp >> 3) & 7) + 1 != want)
		return init_err(err, len, "EPTP walk length %u, want %u",
				(unsigned)((eptp >> 3) & 7) + 1, want);
	if (eptp & bits(11, 7))
		return init_err(err, len, "EPTP bits 11:7 set");
	if (eptp & bits(63, w->oa_bits))
		return init_err(err, len, "EPTP bits above MAXPHYADDR set");
	w->levels = want;
	w->gpa_bits = want == 5 ? 57 : 48;
	w->root_bits = 9;
	w->root = eptp & bits(w->oa_bits - 1, 12);
	w->root_size = 4096;
	return 0;
}

static unsigned s2_ps_bits(unsigned ps)
{
	static const unsigned ps_bits[] = {32, 36, 40, 42, 44, 48, 52};

	return ps < 7 ? ps_bits[ps] : 0;
}

/*
 * Arm ARM, VTCR_EL2 and VTTBR_EL2 (4 KiB granule): IPA size 64 - T0SZ;
 * SL0 0/1/2 start at level 2/1/0 (3 reserved without LPA2); the start level
 * resolves at most 9 + 4 bits (16 concatenated tables) and at least 1;
 * TG0 0 is 4 KiB; PS sizes 32..52; bit 31 RES1. VTTBR_EL2.BADDR holds the
 * root, aligned to the size of the (concatenated) start-level table.
 */
static int s2_init(struct ref_walker *w, const struct aspace_hw_root *hw,
		   char *err, size_t len)
{
	uint64_t vtcr = hw->vtcr;
	unsigned ipa = 64 - (vtcr & 0x3f), sl0 = (vtcr >> 6) & 3;
	unsigned ps = (vtcr >> 16) & 7;
	int root_bits;

	if (ipa < 25 || ipa > 48)
		return init_err(err, len, "VTCR T0SZ gives %u IPA bits", ipa);
	if (sl0 == 3)
		return init_err(err, len, "VTCR SL0=3 reserved (no LPA2)");
	if ((vtcr >> 14) & 3)
		return init_err(err, len, "VTCR TG0 is not 4 KiB");
	if (!(vtcr & (1ull << 31)))
		return init_err(err, len, "VTCR RES1 bit 31 clear");
	if (!s2_ps_bits(ps) || s2_ps_bits(ps) > 48)
		return init_err(err, len, "VTCR PS=%u not usable", ps);
	w->oa_bits = s2_ps_bits(ps);
	w->levels = 2 + sl0;
	root_bits = (int)ipa - (int)level_shift(w->levels - 1);
	if (root_bits < 1 || root_bits > 13)
		return init_err(err, len,
				"VTCR start level %u inconsistent with %u IPA "
				"bits",
				2 - sl0, ipa);
	w->gpa_bits = ipa;
	w->root_bits = root_bits;
	w->root_size = 8ull << root_bits;
	if (w->root_size < 4096)
		w->root_size = 4096;
	w->root = hw->vttbr & bits(47, 1);
	if (w->root & ((8ull << root_bits) - 1))
		return init_err(err, len,
				"VTTBR BADDR %#llx not aligned to the %llu "
				"byte start table",
				(unsigned long long)w->root, 8ull << root_bits);
	if (w->root & bits(47, w->oa_bits))
		return init_err(err, len, "VTTBR BADDR above PS");
	return 0;
}

/*
 * RISC-V privileged spec, hgatp: MODE 8/9/10 = Sv39x4/Sv48x4/Sv57x4, bits
 * 59:58 WPRI, VMID 57:44, PPN 43:0 whose two low bits read as zero because
 * the 16 KiB root must be 16 KiB aligned. GPAs are 2 bits wider than the
 * corresponding VA scheme.
 */
static int rv_init(struct ref_walker *w, const struct aspace_hw_root *hw,
		   char *err, size_t len)
{
	unsigned mode = hw->hgatp >> 60, want;

	want = w->fmt == ASPACE_FMT_SV39X4   ? 8
	       : w->fmt == ASPACE_FMT_SV48X4 ? 9
					     : 10;
	if (mode != want)
		return init_err(err, len, "hgatp MODE %u, want %u", mode, want);
	if (hw->hgatp & bits(59, 58))
		return init_err(err, len, "hgatp WPRI bits 59:58 set");
	if (hw->hgatp & 3)
		return init_err(err, len, "hgatp PPN not 16 KiB aligned");
	w->levels = mode - 5;
	w->gpa_bits = 12 + 9 * w->levels + 2;
	w->root_bits = 11;
	w->root = (hw->hgatp & bits(43, 0)) << 12;
	w->root_size = 16384;
	return 0;
}

int ref_init(struct ref_walker *w, enum aspace_format fmt,
	     const struct aspace_hw_root *hw, const struct aspace_platform *pf,
	     ref_read_fn read, void *read_ctx, char *err, size_t errlen)
{
	int ret;

	memset(w, 0, sizeof(*w));
	w->fmt = fmt;
	w->read = read;
	w->read_ctx = read_ctx;
	w->svpbmt = pf->svpbmt;
	w->no_1g = pf->no_block_1g;
	w->no_2m = pf->no_block_2m;
	switch (fmt) {
	case ASPACE_FMT_EPT4:
	case ASPACE_FMT_EPT5:
		w->oa_bits = pf->hpa_bits ? pf->hpa_bits : 52;
		ret = ept_init(w, hw, err, errlen);
		break;
	case ASPACE_FMT_S2_4K:
		ret = s2_init(w, hw, err, errlen);
		break;
	case ASPACE_FMT_SV39X4:
	case ASPACE_FMT_SV48X4:
	case ASPACE_FMT_SV57X4:
		w->oa_bits = pf->hpa_bits ? pf->hpa_bits : 56;
		ret = rv_init(w, hw, err, errlen);
		break;
	default:
		return init_err(err, errlen, "unknown format %d", (int)fmt);
	}
	if (ret)
		return ret;
	if (hw->root != w->root || hw->levels != w->levels ||
	    hw->root_size != w->root_size)
		return init_err(err, errlen,
				"hw_root fields (root %#llx, %u levels, %llu "
				"bytes) disagree with the registers (root "
				"%#llx, %u levels, %llu bytes)",
				(unsigned long long)hw->root, hw->levels,
				(unsigned long long)hw->root_size,
				(unsigned long long)w->root, w->levels,
				(unsigned long long)w->root_size);
	return 0;
}

static unsigned index_bits(const struct ref_walker *w, unsigned level)
{
	return level == w->levels - 1 ? w->root_bits : 9;
}

static void fill_leaf(const struct ref_walker *w, unsigned level,
		      aspace_gpa_t gpa, const struct decoded *d,
		      struct ref_result *r)
{
	uint64_t size = 1ull << level_shift(level);

	r->status = REF_OK;
	r->leaf_size = size;
	r->leaf_gpa = gpa & ~(size - 1);
	r->leaf_hpa = d->addr;
	r->hpa = d->addr + (gpa & (size - 1));
	r->perm = d->perm;
	r->mt = d->mt;
}

void ref_walk(const struct ref_walker *w, aspace_gpa_t gpa,
	      struct ref_result *r)
{
	aspace_hpa_t table = w->root;
	struct decoded d;

	memset(r, 0, sizeof(*r));
	if (gpa >> w->gpa_bits) {
		r->status = REF_OUT_OF_RANGE;
		snprintf(r->why, sizeof(r->why), "GPA %#llx wider than %u bits",
			 (unsigned long long)gpa, w->gpa_bits);
		return;
	}
	for (int level = w->levels - 1; level >= 0; level--) {
		uint64_t idx = (gpa >> level_shift(level)) &
			       ((1ull << index_bits(w, level)) - 1);

		r->level = level;
		r->entry_hpa = table + idx * 8;
		if (!w->read(w->read_ctx, r->entry_hpa, &r->entry)) {
			r->status = REF_INVALID;
			snprintf(r->why, sizeof(r->why),
				 "entry at hpa %#llx is not readable memory",
				 (unsigned long long)r->entry_hpa);
			return;
		}
		decode(w, level, r->entry, &d);
		switch (d.kind) {
		case E_NOT_PRESENT:
			r->status = REF_NOT_PRESENT;
			return;
		case E_INVALID:
			r->status = REF_INVALID;
			snprintf(r->why, sizeof(r->why), "level %d: %s", level,
				 d.why);
			return;
		case E_LEAF:
			fill_leaf(w, level, gpa, &d, r);
			return;
		case E_TABLE:
			table = d.addr;
			break;
		}
	}
	/* The level-0 decoders never return E_TABLE. */
	r->status = REF_INVALID;
	snprintf(r->why, sizeof(r->why), "walk ran past level 0");
}

struct visit_state {
	const struct ref_walker *w;
	const struct ref_visitor *v;
	aspace_gpa_t lo, hi; /* inclusive */
};

static int visit_table(struct visit_state *s, aspace_hpa_t hpa, unsigned level,
		       aspace_gpa_t gpa);

static int visit_entry(struct visit_state *s, aspace_hpa_t ehpa, unsigned level,
		       aspace_gpa_t gpa, uint64_t e, const struct decoded *d)
{
	struct ref_result r;

	if (d->kind == E_TABLE)
		return visit_table(s, d->addr, level - 1, gpa);
	memset(&r, 0, sizeof(r));
	r.level = level;
	r.entry = e;
	r.entry_hpa = ehpa;
	if (d->kind == E_LEAF) {
		fill_leaf(s->w, level, gpa, d, &r);
	} else {
		r.status = REF_INVALID;
		r.leaf_gpa = gpa;
		r.leaf_size = 1ull << level_shift(level);
		snprintf(r.why, sizeof(r.why), "level %u, gpa %#llx: %s", level,
			 (unsigned long long)gpa, d->why);
	}
	return s->v->leaf ? s->v->leaf(s->v->arg, &r) : 0;
}

static int read_entry(struct visit_state *s, aspace_hpa_t ehpa, uint64_t *e)
{
	struct ref_result r;

	if (s->w->read(s->w->read_ctx, ehpa, e))
		return 0;
	memset(&r, 0, sizeof(r));
	r.status = REF_INVALID;
	r.entry_hpa = ehpa;
	snprintf(r.why, sizeof(r.why), "table entry at hpa %#llx unreadable",
		 (unsigned long long)ehpa);
	return s->v->leaf ? s->v->leaf(s->v->arg, &r) : -1;
}

/* Entries in GPA order; the table itself is reported after them. */
static int visit_table(struct visit_state *s, aspace_hpa_t hpa, unsigned level,
		       aspace_gpa_t gpa)
{
	unsigned nbits = index_bits(s->w, level), shift = level_shift(level);
	uint64_t n = 1ull << nbits, e;
	struct ref_table t = {
		.hpa = hpa,
		.size = n * 8 < 4096 ? 4096 : n * 8,
		.level = level,
		.gpa = gpa,
		.span = n << shift,
	};
	struct decoded d;
	int ret;

	for (uint64_t i = 0; i < n; i++) {
		aspace_gpa_t first = gpa + (i << shift);
		aspace_gpa_t last = first + ((1ull << shift) - 1);

		if ((ret = read_entry(s, hpa + i * 8, &e)))
			return ret;
		if (!e)
			continue; /* not present in any format */
		decode(s->w, level, e, &d);
		if (d.kind == E_NOT_PRESENT)
			continue;
		t.present++;
		if (last < s->lo || first > s->hi)
			continue;
		if ((ret = visit_entry(s, hpa + i * 8, level, first, e, &d)))
			return ret;
	}
	if (s->v->table && (ret = s->v->table(s->v->arg, &t)))
		return ret;
	return 0;
}

int ref_visit(const struct ref_walker *w, aspace_gpa_t gpa, uint64_t size,
	      const struct ref_visitor *v)
{
	struct visit_state s = {.w = w, .v = v, .lo = gpa};

	if (!size)
		return 0;
	s.hi = gpa + (size - 1);
	if (s.hi < gpa)
		s.hi = ~0ull;
	return visit_table(&s, w->root, w->levels - 1, 0);
}

const char *ref_memtype_name(enum ref_memtype mt)
{
	static const char *const names[] = {"none", "WB", "NC", "device",
					    "other"};

	return mt <= REF_MT_OTHER ? names[mt] : "?";
}
