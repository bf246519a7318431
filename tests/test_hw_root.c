/* SPDX-License-Identifier: MIT */
/*
 * aspace_hw_root against register values computed here from the manuals:
 * EPTP (Intel SDM Vol. 3C), VTTBR_EL2/VTCR_EL2 (Arm ARM), hgatp (RISC-V
 * privileged spec). Also: the root frame is a zeroed, aligned HAL frame,
 * and the accessors report the configuration.
 */
#include <errno.h>
#include <string.h>

#include "tcommon.h"

struct expect {
	unsigned levels;
	uint64_t root_size;
	uint64_t reg; /* EPTP, VTCR or hgatp without the root / VMID */
};

/*
 * Arm ARM: the start level resolves at most 9 + 4 bits (16 concatenated
 * tables). The fewest levels that allow this give the shortest walk.
 */
static unsigned s2_levels(unsigned ipa)
{
	unsigned levels = 1;

	while (ipa > 12 + 9 * (levels - 1) + 13)
		levels++;
	return levels;
}

/* VTCR_EL2.PS: the smallest size that holds the host's addresses. */
static unsigned s2_ps(unsigned hpa_bits)
{
	static const unsigned sizes[] = {32, 36, 40, 42, 44, 48};
	unsigned want = hpa_bits ? hpa_bits : 48;

	for (unsigned ps = 0; ps < 6; ps++)
		if (sizes[ps] >= want)
			return ps;
	return 5;
}

static void expect_for(const struct t_fmt *f, const struct aspace_platform *pf,
		       struct expect *e)
{
	unsigned root_bits;

	memset(e, 0, sizeof(*e));
	switch (f->fmt) {
	case ASPACE_FMT_EPT4:
	case ASPACE_FMT_EPT5:
		/* Memory type WB (6), walk length - 1 in bits 5:3, no A/D. */
		e->levels = f->fmt == ASPACE_FMT_EPT5 ? 5 : 4;
		e->root_size = 4096;
		e->reg = 6 | (uint64_t)(e->levels - 1) << 3;
		break;
	case ASPACE_FMT_S2_4K:
		e->levels = s2_levels(f->gpa_bits);
		root_bits = f->gpa_bits - (12 + 9 * (e->levels - 1));
		e->root_size = 8ull << root_bits;
		if (e->root_size < 4096)
			e->root_size = 4096;
		/* T0SZ, SL0 (0: level 2, 1: level 1, 2: level 0), IRGN0 and
		 * ORGN0 write-back write-allocate, SH0 inner shareable, TG0
		 * 4 KiB, PS, RES1 bit 31; VS with FEAT_VMID16. */
		e->reg = (64 - f->gpa_bits) | (uint64_t)(e->levels - 2) << 6 |
			 1u << 8 | 1u << 10 | 3u << 12 |
			 (uint64_t)s2_ps(pf->hpa_bits) << 16 | 1ull << 31;
		if (pf->vmid16)
			e->reg |= 1u << 19;
		break;
	default:
		/* MODE 8/9/10 = Sv39x4/Sv48x4/Sv57x4, VMID 57:44. */
		e->levels = f->fmt == ASPACE_FMT_SV39X4	  ? 3
			    : f->fmt == ASPACE_FMT_SV48X4 ? 4
							  : 5;
		e->root_size = 16384;
		e->reg = (uint64_t)(e->levels + 5) << 60 | (uint64_t)pf->vmid
								   << 44;
		break;
	}
}

static void check_regs(const struct t_fmt *f, const struct aspace_platform *pf,
		       const struct aspace_hw_root *hw)
{
	struct expect e;
	const char *n = t_fmt_name(f);

	expect_for(f, pf, &e);
	T_EXPECT(hw->levels == e.levels, "%s: %u levels, want %u", n,
		 hw->levels, e.levels);
	T_EXPECT(hw->root_size == e.root_size,
		 "%s: root_size %#llx, want %#llx", n,
		 (unsigned long long)hw->root_size,
		 (unsigned long long)e.root_size);
	T_EXPECT(!(hw->root & (e.root_size - 1)) && !(hw->root & 0xfff),
		 "%s: root %#llx not aligned to %#llx", n,
		 (unsigned long long)hw->root, (unsigned long long)e.root_size);
	switch (f->fmt) {
	case ASPACE_FMT_EPT4:
	case ASPACE_FMT_EPT5:
		T_EXPECT(hw->eptp == (hw->root | e.reg),
			 "%s: EPTP %#llx, want %#llx", n,
			 (unsigned long long)hw->eptp,
			 (unsigned long long)(hw->root | e.reg));
		break;
	case ASPACE_FMT_S2_4K:
		T_EXPECT(hw->vtcr == e.reg,
			 "%s vmid %u hpa_bits %u: VTCR %#llx, "
			 "want %#llx",
			 n, pf->vmid, pf->hpa_bits,
			 (unsigned long long)hw->vtcr,
			 (unsigned long long)e.reg);
		T_EXPECT(hw->vttbr == (hw->root | (uint64_t)pf->vmid << 48),
			 "%s: VTTBR %#llx, want %#llx", n,
			 (unsigned long long)hw->vttbr,
			 (unsigned long long)(hw->root | (uint64_t)pf->vmid
								 << 48));
		break;
	default:
		T_EXPECT(hw->hgatp == (e.reg | hw->root >> 12),
			 "%s vmid %u: hgatp %#llx, want %#llx", n, pf->vmid,
			 (unsigned long long)hw->hgatp,
			 (unsigned long long)(e.reg | hw->root >> 12));
		break;
	}
}

/* The root is a zeroed frame of the HAL, and stays put. */
static void check_root_frame(struct t_as *t)
{
	const char *n = aspace_format_name(t->cfg.format);
	const uint8_t *p = test_hal_ptr(t->hal, t->hw.root, t->hw.root_size);
	aspace_hpa_t base;
	uint64_t bsize = test_hal_block_of(t->hal, t->hw.root, &base);
	struct aspace_hw_root again;

	T_EXPECT(bsize && base <= t->hw.root &&
			 base + bsize >= t->hw.root + t->hw.root_size,
		 "%s: root %#llx+%#llx is not an allocated HAL frame", n,
		 (unsigned long long)t->hw.root,
		 (unsigned long long)t->hw.root_size);
	for (uint64_t i = 0; p && i < t->hw.root_size; i++) {
		if (p[i]) {
			t_err("%s: root byte %llu is %#x: not zeroed", n,
			      (unsigned long long)i, p[i]);
			break;
		}
	}
	aspace_map_alloc(t->as, t->cfg.base, ASPACE_BLOCK_2M, ASPACE_READ,
			 true);
	aspace_hw_root(t->as, &again);
	T_EXPECT(!memcmp(&again, &t->hw, sizeof(again)),
		 "%s: hw_root changed after a map", n);
}

static void check_accessors(struct t_as *t)
{
	const char *n = aspace_format_name(t->cfg.format);

	T_EXPECT(aspace_base(t->as) == t->cfg.base, "%s: aspace_base", n);
	T_EXPECT(aspace_size(t->as) == t->cfg.size, "%s: aspace_size", n);
	T_EXPECT(aspace_format(t->as) == t->cfg.format, "%s: aspace_format", n);
	T_EXPECT(n && *n, "format %d has no name", t->cfg.format);
}

/* The PA size VTCR_EL2.PS encodes, in bits. */
static unsigned s2_ps_bits(unsigned hpa_bits)
{
	static const unsigned sizes[] = {32, 36, 40, 42, 44, 48};

	return sizes[s2_ps(hpa_bits)];
}

/*
 * Configurations the header calls invalid. A VMID above 255 needs
 * VTCR_EL2.VS (FEAT_VMID16); without it the CPU ignores VMID[15:8] and two
 * VMs would share TLB entries. An IPA range wider than the PA size in
 * VTCR_EL2.PS is a misconfiguration the CPU reports as a fault at walk time.
 */
static bool s2_invalid(const struct t_fmt *f, const struct aspace_platform *pf)
{
	if (f->fmt != ASPACE_FMT_S2_4K)
		return false;
	if (pf->vmid > 255 && !pf->vmid16)
		return true;
	return f->gpa_bits > s2_ps_bits(pf->hpa_bits);
}

/* An invalid configuration is -EINVAL and leaks nothing. */
static void check_refused(const struct t_fmt *f,
			  const struct aspace_platform *pf)
{
	struct test_hal_opts ho = {0};
	struct test_hal *h;
	struct aspace_config cfg = {.format = f->fmt, .gpa_bits = f->gpa_bits};
	struct aspace *as;
	int ret;

	h = test_hal_new(&ho);
	cfg.hal = test_hal_ops(h);
	cfg.size = 1ull << f->gpa_bits;
	cfg.platform = *pf;
	ret = aspace_create(&cfg, &as);
	if (!ret)
		aspace_destroy(as);
	T_EXPECT(ret == -EINVAL,
		 "%s vmid %#x vmid16 %d hpa_bits %u: create = %d, want -EINVAL",
		 t_fmt_name(f), pf->vmid, pf->vmid16, pf->hpa_bits, ret);
	T_EXPECT(test_hal_delete(h) == 0, "frames leaked by a failed create");
}

static unsigned run_one(const struct t_fmt *f, const struct aspace_platform *pf,
			bool direct)
{
	struct t_as t;
	struct t_as_opts o = {.fmt = *f, .platform = *pf};

	if (s2_invalid(f, pf)) {
		check_refused(f, pf);
		return 1;
	}

	o.hal.direct_map = direct;
	if (pf->hpa_bits && pf->hpa_bits < 34) {
		/* Keep every host address below 2^32. */
		o.hal.hpa_base = GIB;
		o.hal.frame_bytes = GIB;
		o.hal.linear_bytes = GIB;
	}
	/* t_as_create also decodes the registers with the reference walker. */
	t_as_create(&t, &o);
	check_regs(f, pf, &t.hw);
	check_root_frame(&t);
	check_accessors(&t);
	t_as_destroy(&t);
	return 1;
}

/* VMIDs wider than the register field must be refused, not truncated. */
static unsigned check_vmid_limits(void)
{
	struct test_hal_opts ho = {0};
	struct test_hal *h = test_hal_new(&ho);
	struct aspace_config cfg = {.format = ASPACE_FMT_SV48X4,
				    .size = 1ull << 40,
				    .hal = test_hal_ops(h)};
	struct aspace *as = NULL;
	int ret;

	cfg.platform.vmid = 1u << 14; /* hgatp.VMID is 14 bits on RV64 */
	ret = aspace_create(&cfg, &as);
	if (!ret) {
		struct aspace_hw_root hw;

		aspace_hw_root(as, &hw);
		t_err("Sv48x4 vmid %#x: create = 0 (hgatp %#llx), want -EINVAL",
		      cfg.platform.vmid, (unsigned long long)hw.hgatp);
		aspace_destroy(as);
	} else {
		T_EXPECT(ret == -EINVAL, "Sv48x4 vmid %#x: create = %d",
			 cfg.platform.vmid, ret);
	}
	T_EXPECT(test_hal_delete(h) == 0, "frames leaked by a failed create");
	return 1;
}

int main(int argc, char **argv)
{
	static const uint8_t hpa_bits[] = {0, 32, 36, 40, 42, 44, 48};
	unsigned n = 0;
	char what[64];

	t_init("test_hw_root", argc, argv);
	for (unsigned i = 0; i < t_nformats; i++) {
		struct aspace_platform pf = {0};

		n += run_one(&t_formats[i], &pf, true);
		pf.vmid = t_fmt_riscv(t_formats[i].fmt) ? 0x3fff : 0xab;
		n += run_one(&t_formats[i], &pf, false);
	}
	/*
	 * Every IPA size with a random PS, VMID and vmid16 (often invalid),
	 * and once more with a PS that covers it and vmid16 where needed.
	 */
	for (unsigned bits = 32; bits <= 48; bits++) {
		struct t_fmt f = {ASPACE_FMT_S2_4K, bits};
		struct aspace_platform pf = {0};

		pf.hpa_bits = hpa_bits[t_rand() % 7];
		pf.vmid = t_chance(50) ? t_range(0, 255) : t_range(256, 65535);
		pf.vmid16 = t_chance(50);
		n += run_one(&f, &pf, t_chance(50));
		while (s2_ps_bits(pf.hpa_bits) < bits)
			pf.hpa_bits = hpa_bits[t_rand() % 7];
		pf.vmid16 = pf.vmid16 || pf.vmid > 255;
		n += run_one(&f, &pf, t_chance(50));
	}
	n += check_vmid_limits();
	snprintf(what, sizeof(what), "%u configurations", n);
	return t_finish("test_hw_root", what);
}
