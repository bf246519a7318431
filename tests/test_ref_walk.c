/* SPDX-License-Identifier: MIT */
/*
 * The reference walker must itself be able to fail: hand-built tables with
 * entries encoded bit by bit from the manuals, one rule broken at a time,
 * must be decoded, or rejected, exactly as the CPU would.
 */
#include <string.h>

#include "tcommon.h"

#define BIT(n) (1ull << (n))

struct rig {
	struct test_hal *hal;
	struct ref_walker w;
	struct aspace_platform pf;
	aspace_hpa_t root, t[4]; /* root and one table per lower level */
	aspace_hpa_t data;	 /* 1 GiB aligned output address */
	const char *fmt;
};

static uint64_t *slot(struct rig *r, aspace_hpa_t table, unsigned idx)
{
	return test_hal_ptr(r->hal, table + idx * 8, 8);
}

static aspace_hpa_t table(struct rig *r, uint64_t size)
{
	aspace_hpa_t hpa;

	T_ASSERT(!test_hal_ops(r->hal)->alloc(r->hal, size, &hpa), "alloc");
	memset(test_hal_ptr(r->hal, hpa, size), 0, size);
	return hpa;
}

static void rig_init(struct rig *r, const char *fmt)
{
	struct test_hal_opts o = {.frame_bytes = GIB, .linear_bytes = GIB};

	memset(r, 0, sizeof(*r));
	r->fmt = fmt;
	r->hal = test_hal_new(&o);
	r->data = test_hal_linear_base(r->hal);
}

static void rig_done(struct rig *r)
{
	test_hal_delete(r->hal);
}

static void start(struct rig *r, enum aspace_format fmt,
		  const struct aspace_hw_root *hw)
{
	char err[200];

	T_ASSERT(!ref_init(&r->w, fmt, hw, &r->pf, test_hal_read64, r->hal, err,
			   sizeof(err)),
		 "%s: ref_init: %s", r->fmt, err);
}

/* Walk gpa and check the outcome; perm/mt/size only for REF_OK. */
static void expect(struct rig *r, const char *what, aspace_gpa_t gpa,
		   enum ref_status st, aspace_hpa_t hpa, uint64_t size,
		   unsigned perm, enum ref_memtype mt)
{
	struct ref_result res;

	ref_walk(&r->w, gpa, &res);
	if (res.status != st) {
		t_err("%s %s: gpa %#llx status %d (%s), want %d", r->fmt, what,
		      (unsigned long long)gpa, res.status, res.why, st);
		return;
	}
	if (st != REF_OK)
		return;
	T_EXPECT(res.hpa == hpa && res.leaf_size == size && res.perm == perm &&
			 res.mt == mt,
		 "%s %s: hpa %#llx size %#llx perm %#x mt %s; want %#llx "
		 "%#llx %#x %s",
		 r->fmt, what, (unsigned long long)res.hpa,
		 (unsigned long long)res.leaf_size, res.perm,
		 ref_memtype_name(res.mt), (unsigned long long)hpa,
		 (unsigned long long)size, perm, ref_memtype_name(mt));
}

#define OK(r, what, gpa, hpa, size, perm, mt)                                  \
	expect(r, what, gpa, REF_OK, hpa, size, perm, mt)
#define BAD(r, what, gpa) expect(r, what, gpa, REF_INVALID, 0, 0, 0, 0)
#define ABSENT(r, what, gpa) expect(r, what, gpa, REF_NOT_PRESENT, 0, 0, 0, 0)
#define RWX (ASPACE_READ | ASPACE_WRITE | ASPACE_EXEC)

/* ---- Intel EPT (SDM Vol. 3C, EPT paging-structure entries) ---- */

static void test_ept(void)
{
	struct rig r;
	struct aspace_hw_root hw = {0};
	uint64_t *pml4e, *pdpte, *pde, *pte, *big;
	const uint64_t wb = 6 << 3 | BIT(6); /* memory type WB, ignore PAT */

	rig_init(&r, "EPT4");
	r.root = table(&r, 4096);
	for (int i = 0; i < 3; i++)
		r.t[i] = table(&r, 4096);
	hw.root = r.root;
	hw.root_size = 4096;
	hw.levels = 4;
	hw.eptp = r.root | 3 << 3 | 6;
	r.pf.hpa_bits = 46;
	start(&r, ASPACE_FMT_EPT4, &hw);
	pml4e = slot(&r, r.root, 0);
	pdpte = slot(&r, r.t[0], 0);
	pde = slot(&r, r.t[1], 0);
	pte = slot(&r, r.t[2], 1);
	*pml4e = r.t[0] | 7;
	*pdpte = r.t[1] | 7;
	*pde = r.t[2] | 7;
	*pte = r.data | wb | 7;
	OK(&r, "4K RWX WB", 0x1234, r.data + 0x234, 4096, RWX, REF_MT_WB);
	ABSENT(&r, "empty PTE", 0x2000);
	*pte = r.data | 1 | 0 << 3;
	OK(&r, "4K R UC", 0x1000, r.data, 4096, ASPACE_READ, REF_MT_DEVICE);
	*pte = r.data | 3 | 1 << 3;
	OK(&r, "4K RW WC", 0x1000, r.data, 4096, ASPACE_READ | ASPACE_WRITE,
	   REF_MT_NC);
	*pte = r.data | 2 | wb;
	BAD(&r, "write without read", 0x1000);
	*pte = r.data | 4 | wb;
	BAD(&r, "execute-only", 0x1000);
	for (unsigned mt = 2; mt <= 7; mt += (mt == 3 ? 4 : 1)) {
		*pte = r.data | 7 | mt << 3;
		BAD(&r, "reserved memory type", 0x1000);
	}
	*pte = (r.data | BIT(47)) | 7 | wb;
	BAD(&r, "address bit above MAXPHYADDR", 0x1000);
	*pte = r.data | 7 | wb;
	*pde = r.t[2] | 7 | BIT(3);
	BAD(&r, "reserved bit 3 in a PDE pointing to a table", 0x1000);
	*pde = r.t[2] | 7;
	*pml4e = r.t[0] | 7 | BIT(7);
	BAD(&r, "bit 7 in a PML4E", 0x1000);
	*pml4e = r.t[0] | 7;
	big = slot(&r, r.t[1], 1);
	*big = r.data | BIT(7) | wb | 3;
	OK(&r, "2M leaf", 0x200000 + 0x12345, r.data + 0x12345, 2 * MIB,
	   ASPACE_READ | ASPACE_WRITE, REF_MT_WB);
	*big = r.data | BIT(12) | BIT(7) | wb | 3;
	BAD(&r, "2M leaf with address bit 12", 0x200000);
	big = slot(&r, r.t[0], 1);
	*big = r.data | BIT(7) | wb | 7;
	OK(&r, "1G leaf", GIB + 5, r.data + 5, GIB, RWX, REF_MT_WB);
	r.w.no_1g = true;
	BAD(&r, "1G leaf without the capability", GIB);
	expect(&r, "GPA beyond 48 bits", BIT(48) | 0x1000, REF_OUT_OF_RANGE, 0,
	       0, 0, 0);
	rig_done(&r);
}

/* ---- Arm stage 2, 4 KiB granule (Arm ARM VMSAv8-64) ---- */

#define S2_AF BIT(10)
#define S2_SH_IS (3ull << 8)
#define S2_RW (3ull << 6)
#define S2_WB (0xfull << 2)
#define S2_XN (2ull << 53)

static void test_s2(void)
{
	struct rig r;
	struct aspace_hw_root hw = {0};
	uint64_t *l1, *l2, *l3, *top;
	uint64_t page = 3 | S2_AF | S2_SH_IS | S2_RW | S2_WB;
	char err[200];

	/* 40-bit IPA: starts at level 1 with 2 concatenated tables. */
	rig_init(&r, "S2-40");
	r.root = table(&r, 8192);
	r.t[1] = table(&r, 4096);
	r.t[2] = table(&r, 4096);
	hw.root = r.root;
	hw.root_size = 8192;
	hw.levels = 3;
	hw.vttbr = r.root | 7ull << 48;
	hw.vtcr = 24 | 1 << 6 | 1 << 8 | 1 << 10 | 3 << 12 | 2 << 16 | BIT(31);
	start(&r, ASPACE_FMT_S2_4K, &hw);
	l1 = slot(&r, r.root, 0);
	l2 = slot(&r, r.t[1], 0);
	l3 = slot(&r, r.t[2], 1);
	*l1 = r.t[1] | 3;
	*l2 = r.t[2] | 3;
	*l3 = r.data | page;
	OK(&r, "page RWX WB", 0x1008, r.data + 8, 4096, RWX, REF_MT_WB);
	*l3 = r.data | page | S2_XN;
	OK(&r, "XN", 0x1000, r.data, 4096, ASPACE_READ | ASPACE_WRITE,
	   REF_MT_WB);
	*l3 = r.data | page | 1ull << 53;
	BAD(&r, "XN=0b01 without FEAT_XNX", 0x1000);
	*l3 = (r.data | page) & ~S2_AF;
	BAD(&r, "AF=0", 0x1000);
	*l3 = (r.data | page) & ~(1ull << 8);
	BAD(&r, "normal memory, outer shareable", 0x1000);
	*l3 = (r.data | page) & ~(2ull << 8);
	BAD(&r, "SH=0b01 reserved", 0x1000);
	*l3 = (r.data | page) & ~S2_WB & ~S2_SH_IS;
	*l3 |= 1ull << 2; /* Device-nGnRE, SH ignored */
	OK(&r, "device", 0x1000, r.data, 4096, RWX, REF_MT_DEVICE);
	*l3 = (r.data | page) & ~S2_WB;
	*l3 |= 5ull << 2;
	OK(&r, "normal NC", 0x1000, r.data, 4096, RWX, REF_MT_NC);
	*l3 = (r.data | page) & ~(2ull << 6);
	OK(&r, "read-only", 0x1000, r.data, 4096, ASPACE_READ | ASPACE_EXEC,
	   REF_MT_WB);
	*l3 = r.data | BIT(41) | page;
	BAD(&r, "output address above PS", 0x1000);
	*l3 = (r.data | page) & ~2ull;
	BAD(&r, "0b01 at level 3", 0x1000);
	*l3 = r.data | page;
	*l2 = r.t[2] | 3 | BIT(63);
	BAD(&r, "NSTable in a stage-2 table descriptor", 0x1000);
	*l2 = r.t[2] | 3 | BIT(61);
	BAD(&r, "APTable in a stage-2 table descriptor", 0x1000);
	*l2 = r.t[2] | 3;
	top = slot(&r, r.root, 513); /* second concatenated table */
	*top = r.data | (page & ~2ull);
	OK(&r, "1G block in the second root table", 513 * GIB + 9, r.data + 9,
	   GIB, RWX, REF_MT_WB);
	expect(&r, "IPA beyond 40 bits", BIT(40), REF_OUT_OF_RANGE, 0, 0, 0, 0);
	hw.vttbr = (r.root + 4096) | 7ull << 48;
	hw.root = r.root + 4096;
	T_EXPECT(ref_init(&r.w, ASPACE_FMT_S2_4K, &hw, &r.pf, test_hal_read64,
			  r.hal, err, sizeof(err)),
		 "S2: a root not aligned to its 8 KiB accepted");
	hw.root = r.root;
	hw.vttbr = r.root;
	hw.vtcr = 16 | 1 << 6 | 1 << 8 | 1 << 10 | 3 << 12 | 2 << 16 | BIT(31);
	T_EXPECT(ref_init(&r.w, ASPACE_FMT_S2_4K, &hw, &r.pf, test_hal_read64,
			  r.hal, err, sizeof(err)),
		 "S2: 48-bit IPA starting at level 1 accepted");
	rig_done(&r);

	/* 48-bit IPA, 4 levels: a block at level 0 is invalid. */
	rig_init(&r, "S2-48");
	r.root = table(&r, 4096);
	hw.root = r.root;
	hw.root_size = 4096;
	hw.levels = 4;
	hw.vttbr = r.root;
	hw.vtcr = 16 | 2 << 6 | 1 << 8 | 1 << 10 | 3 << 12 | 5 << 16 | BIT(31);
	start(&r, ASPACE_FMT_S2_4K, &hw);
	*slot(&r, r.root, 0) = r.data | (page & ~2ull);
	BAD(&r, "block at level 0", 0x1000);
	rig_done(&r);
}

/* ---- RISC-V G-stage (privileged spec, H extension) ---- */

#define PTE_V BIT(0)
#define PTE_R BIT(1)
#define PTE_W BIT(2)
#define PTE_X BIT(3)
#define PTE_U BIT(4)
#define PTE_A BIT(6)
#define PTE_D BIT(7)

static uint64_t ppn(aspace_hpa_t hpa)
{
	return hpa >> 12 << 10;
}

static void test_riscv(void)
{
	struct rig r;
	struct aspace_hw_root hw = {0};
	uint64_t *l2, *l1, *l0, *hi;
	const uint64_t leaf =
		PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D;
	char err[200];

	rig_init(&r, "Sv39x4");
	r.root = table(&r, 16384);
	r.t[1] = table(&r, 4096);
	r.t[0] = table(&r, 4096);
	hw.root = r.root;
	hw.root_size = 16384;
	hw.levels = 3;
	hw.hgatp = 8ull << 60 | 5ull << 44 | r.root >> 12;
	start(&r, ASPACE_FMT_SV39X4, &hw);
	l2 = slot(&r, r.root, 0);
	l1 = slot(&r, r.t[1], 0);
	l0 = slot(&r, r.t[0], 1);
	*l2 = ppn(r.t[1]) | PTE_V;
	*l1 = ppn(r.t[0]) | PTE_V;
	*l0 = ppn(r.data) | leaf;
	OK(&r, "4K RWX", 0x1010, r.data + 0x10, 4096, RWX, REF_MT_NONE);
	*l0 = ppn(r.data) | (leaf & ~PTE_U);
	BAD(&r, "U=0", 0x1000);
	*l0 = ppn(r.data) | (leaf & ~PTE_A);
	BAD(&r, "A=0", 0x1000);
	*l0 = ppn(r.data) | (leaf & ~PTE_D);
	BAD(&r, "writable with D=0", 0x1000);
	*l0 = ppn(r.data) | (leaf & ~PTE_D & ~PTE_W);
	OK(&r, "read-only with D=0", 0x1000, r.data, 4096,
	   ASPACE_READ | ASPACE_EXEC, REF_MT_NONE);
	*l0 = ppn(r.data) | (leaf & ~PTE_R & ~PTE_X);
	BAD(&r, "W without R", 0x1000);
	*l0 = ppn(r.data) | leaf | 2ull << 61;
	BAD(&r, "PBMT without Svpbmt", 0x1000);
	r.w.svpbmt = true;
	OK(&r, "PBMT IO", 0x1000, r.data, 4096, RWX, REF_MT_DEVICE);
	*l0 = ppn(r.data) | leaf | 1ull << 61;
	OK(&r, "PBMT NC", 0x1000, r.data, 4096, RWX, REF_MT_NC);
	*l0 = ppn(r.data) | leaf | 3ull << 61;
	BAD(&r, "PBMT=3", 0x1000);
	*l0 = ppn(r.data) | leaf | BIT(54);
	BAD(&r, "reserved bit 54", 0x1000);
	*l0 = ppn(r.data) | leaf | BIT(63);
	BAD(&r, "N without Svnapot", 0x1000);
	*l0 = ppn(r.data) | leaf;
	*l1 = ppn(r.t[0]) | PTE_V | PTE_A;
	BAD(&r, "A on a non-leaf", 0x1000);
	*l1 = ppn(r.t[0]) | PTE_V | PTE_U;
	BAD(&r, "U on a non-leaf", 0x1000);
	*l1 = ppn(r.data) | leaf;
	OK(&r, "2M superpage", 0x1000, r.data + 0x1000, 2 * MIB, RWX,
	   REF_MT_WB);
	*l1 = ppn(r.data + PAGE) | leaf;
	BAD(&r, "misaligned superpage", 0x1000);
	/* GPA bits 40:39 index the x4 root beyond 512 entries. */
	hi = slot(&r, r.root, 1536);
	*hi = ppn(r.data) | leaf;
	OK(&r, "1G leaf at root index 1536", 1536 * GIB + 7, r.data + 7, GIB,
	   RWX, REF_MT_WB);
	expect(&r, "GPA beyond 41 bits", BIT(41), REF_OUT_OF_RANGE, 0, 0, 0, 0);
	hw.hgatp = 9ull << 60 | r.root >> 12;
	T_EXPECT(ref_init(&r.w, ASPACE_FMT_SV39X4, &hw, &r.pf, test_hal_read64,
			  r.hal, err, sizeof(err)),
		 "Sv39x4: hgatp MODE 9 accepted");
	hw.hgatp = 8ull << 60 | (r.root + 4096) >> 12;
	hw.root = r.root + 4096;
	T_EXPECT(ref_init(&r.w, ASPACE_FMT_SV39X4, &hw, &r.pf, test_hal_read64,
			  r.hal, err, sizeof(err)),
		 "Sv39x4: a root not 16 KiB aligned accepted");
	rig_done(&r);
}

int main(int argc, char **argv)
{
	t_init("test_ref_walk", argc, argv);
	test_ept();
	test_s2();
	test_riscv();
	return t_finish("test_ref_walk", "hand-built entries per manual rule");
}
