/* SPDX-License-Identifier: MIT */
/*
 * One targeted test per known pitfall of second-stage table code, run on
 * every format:
 *  - GPAs outside the window (or differing only in bits the index math
 *    could drop) must not alias mapped entries;
 *  - two faults on one lazy page map one frame, and keep what was written
 *    between them;
 *  - partial unmap/protect of 1 GiB and 2 MiB blocks split them, and the
 *    rest still maps the same host addresses (and data);
 *  - flags round-trip: permissions and memory types, encoded and decoded;
 *  - guest_iov is bounded by the requested range, not the area, and does
 *    not assume that alloc frames are contiguous;
 *  - tables emptied by unmap are freed, after a flush;
 *  - the fault hook sees exactly the faults no area resolves;
 *  - copy-on-write: shared frames are read-only on both sides, a write
 *    copies (2 MiB whole) and stays private, frames outlive the other side,
 *    and once alone a frame becomes writable in place.
 */
#include <errno.h>
#include <string.h>

#include "tcommon.h"

#define R ASPACE_READ
#define W ASPACE_WRITE
#define X ASPACE_EXEC
#define RW (R | W)

static const struct t_fmt *cur;

static const char *fname(void)
{
	return t_fmt_name(cur);
}

static void create(struct t_as *t, aspace_gpa_t base, uint64_t size, bool no_2m)
{
	struct t_as_opts o = {.fmt = *cur, .base = base, .size = size};

	o.hal.direct_map = t_chance(50);
	o.platform.svpbmt = t_fmt_riscv(cur->fmt);
	o.platform.no_block_2m = no_2m;
	o.platform.no_block_1g = no_2m;
	t_as_create(t, &o);
}

static unsigned width(void)
{
	return t_fmt_width(cur->fmt, cur->gpa_bits);
}

static void walk(struct t_as *t, aspace_gpa_t gpa, struct ref_result *r)
{
	ref_walk(&t->w, gpa, r);
	T_EXPECT(r->status != REF_INVALID, "%s: gpa %#llx: %s", fname(),
		 (unsigned long long)gpa, r->why);
}

/* gpa must translate to hpa, by the tables and by aspace_translate. */
static void expect_map(struct t_as *t, const char *what, aspace_gpa_t gpa,
		       aspace_hpa_t hpa)
{
	struct ref_result r;
	struct aspace_xlate x;
	int ret = aspace_translate(t->as, gpa, &x);

	walk(t, gpa, &r);
	T_EXPECT(r.status == REF_OK && r.hpa == hpa,
		 "%s %s: gpa %#llx walks to %#llx (status %d), want %#llx",
		 fname(), what, (unsigned long long)gpa,
		 (unsigned long long)r.hpa, r.status, (unsigned long long)hpa);
	T_EXPECT(!ret && x.hpa == hpa,
		 "%s %s: translate(%#llx) = %d, hpa %#llx, want %#llx", fname(),
		 what, (unsigned long long)gpa, ret, (unsigned long long)x.hpa,
		 (unsigned long long)hpa);
}

static void expect_unmapped(struct t_as *t, const char *what, aspace_gpa_t gpa)
{
	struct ref_result r;
	struct aspace_xlate x;
	int ret = aspace_translate(t->as, gpa, &x);
	bool inside = gpa >= t->cfg.base && gpa - t->cfg.base < t->cfg.size;

	walk(t, gpa, &r);
	T_EXPECT(r.status == REF_NOT_PRESENT || r.status == REF_OUT_OF_RANGE,
		 "%s %s: gpa %#llx is mapped (to %#llx)", fname(), what,
		 (unsigned long long)gpa, (unsigned long long)r.hpa);
	T_EXPECT(ret == (inside ? -ENOENT : -EINVAL),
		 "%s %s: translate(%#llx) = %d, want %d", fname(), what,
		 (unsigned long long)gpa, ret, inside ? -ENOENT : -EINVAL);
}

/* ---- out-of-window and index aliasing ---- */

/*
 * One page at each bit of the top-level index (and just above the
 * window): each must map its own frame, and the GPA without that bit
 * nothing.
 */
static void pitfall_aliasing(void)
{
	struct t_as t;
	unsigned wb = width(), first;
	aspace_hpa_t lin;

	create(&t, 0, 0, false);
	lin = test_hal_linear_base(t.hal);
	/* Every bit the root index resolves, and two below. */
	first = wb - t.w.root_bits - 2;
	for (unsigned b = first; b < wb; b++) {
		aspace_gpa_t g = (1ull << b) + PAGE;

		T_EXPECT(!aspace_map_linear(t.as, g,
					    lin + (b - first + 1) * PAGE, PAGE,
					    RW),
			 "%s: map at bit %u", fname(), b);
	}
	for (unsigned b = first; b < wb; b++) {
		aspace_gpa_t g = (1ull << b) + PAGE;
		aspace_hpa_t h = lin + (b - first + 1) * PAGE;
		struct aspace_xlate x;

		expect_map(&t, "index bit", g, h);
		expect_unmapped(&t, "alias below", g - (1ull << b));
		/* Past the width: the walker says out of range, and the
		 * library must refuse it rather than drop the top bits. */
		T_EXPECT(aspace_translate(t.as, g + (1ull << wb), &x) ==
				 -EINVAL,
			 "%s: translate of %#llx beyond %u bits", fname(),
			 (unsigned long long)(g + (1ull << wb)), wb);
		T_EXPECT(aspace_handle_fault(t.as, g + (1ull << wb), R) != 0,
			 "%s: fault beyond the width resolved", fname());
	}
	t_as_destroy(&t);
}

/* A window with a non-zero base: nothing outside it reaches an entry. */
static void pitfall_window(void)
{
	uint64_t top = 1ull << width();
	aspace_gpa_t base = top >= 16 * GIB ? 4 * GIB : GIB;
	uint64_t size = top >= 16 * GIB ? 4 * GIB : 2 * GIB;
	struct t_as t;
	struct t_snapshot before, after;
	aspace_gpa_t outside[] = {base - PAGE,	      base + size,
				  base + size + base, base - 2 * MIB,
				  top + base,	      top + base + size,
				  ~0ull & ~(PAGE - 1)};
	uint8_t buf[16];
	struct iovec iov[2];

	create(&t, base, size, false);
	T_EXPECT(!aspace_map_linear(t.as, base, test_hal_linear_base(t.hal),
				    2 * MIB, RW),
		 "%s: map at base", fname());
	T_EXPECT(!aspace_map_alloc(t.as, base + size - 2 * MIB, 2 * MIB, RW,
				   true),
		 "%s: map at the end", fname());
	t_snapshot(&t, &before, outside, 7);
	for (size_t i = 0; i < 7; i++) {
		aspace_gpa_t g = outside[i];
		int ret;

		ret = aspace_handle_fault(t.as, g, R);
		T_EXPECT(ret == -EFAULT || ret == -EINVAL,
			 "%s: fault at %#llx outside the window = %d", fname(),
			 (unsigned long long)g, ret);
		ret = aspace_read(t.as, g, buf, sizeof(buf));
		T_EXPECT(ret == -EFAULT || ret == -EINVAL,
			 "%s: read at %#llx outside the window = %d", fname(),
			 (unsigned long long)g, ret);
		ret = aspace_guest_iov(t.as, g, 16, iov, 2);
		T_EXPECT(ret == -EFAULT || ret == -EINVAL,
			 "%s: guest_iov at %#llx outside the window = %d",
			 fname(), (unsigned long long)g, ret);
		T_EXPECT(aspace_map_alloc(t.as, g, PAGE, RW, false) == -EINVAL,
			 "%s: map_alloc at %#llx outside the window", fname(),
			 (unsigned long long)g);
	}
	t_snapshot(&t, &after, outside, 7);
	t_snapshot_cmp(&before, &after, "accesses outside the window");
	t_snapshot_free(&before);
	t_snapshot_free(&after);
	t_as_destroy(&t);
}

/* ---- repeated faults ---- */

static void pitfall_double_fault(bool no_2m)
{
	struct t_as t;
	aspace_gpa_t g = 3 * GIB + 2 * MIB + 5 * PAGE;
	struct aspace_xlate x1, x2, x3;
	struct aspace_stats s1, s2;
	uint64_t held1, held2;
	uint8_t out[8];

	create(&t, 0, 0, no_2m);
	T_ASSERT(!aspace_map_alloc(t.as, 3 * GIB, 8 * MIB, RW, false),
		 "map_alloc");
	T_EXPECT(!aspace_handle_fault(t.as, g, R), "%s: first fault", fname());
	T_EXPECT(!aspace_translate(t.as, g, &x1), "%s: translate", fname());
	T_EXPECT(!aspace_write(t.as, g + 8, "pitfall", 8), "%s: write",
		 fname());
	aspace_barrier(t.as);
	aspace_stats(t.as, &s1);
	held1 = test_hal_bytes(t.hal) - s1.cache_frames * PAGE;
	/* Spurious: same access, then a write, then a neighbour. */
	T_EXPECT(!aspace_handle_fault(t.as, g, R), "%s: second fault", fname());
	T_EXPECT(!aspace_handle_fault(t.as, g, W), "%s: write fault", fname());
	T_EXPECT(!aspace_translate(t.as, g, &x2), "%s: translate", fname());
	aspace_barrier(t.as);
	aspace_stats(t.as, &s2);
	held2 = test_hal_bytes(t.hal) - s2.cache_frames * PAGE;
	T_EXPECT(x1.hpa == x2.hpa, "%s: the page moved from %#llx to %#llx",
		 fname(), (unsigned long long)x1.hpa,
		 (unsigned long long)x2.hpa);
	/* Frame caches may refill; nothing else may be taken. */
	T_EXPECT(held1 == held2 &&
			 s1.data_frames_bytes == s2.data_frames_bytes &&
			 s1.table_pages == s2.table_pages,
		 "%s: a spurious fault allocated memory", fname());
	T_EXPECT(!aspace_read(t.as, g + 8, out, 8) &&
			 !memcmp(out, "pitfall", 8),
		 "%s: data written between the faults is gone", fname());
	if (!no_2m) {
		/* The 2 MiB frame serves the whole block. */
		T_EXPECT(x1.leaf_size == 2 * MIB, "%s: lazy leaf %#llx",
			 fname(), (unsigned long long)x1.leaf_size);
		T_EXPECT(!aspace_handle_fault(t.as, g + MIB, W) &&
				 !aspace_translate(t.as, g + MIB, &x3) &&
				 x3.hpa == x1.hpa + MIB,
			 "%s: another page of the 2 MiB block got another "
			 "frame",
			 fname());
	}
	t_as_destroy(&t);
}

/* ---- block splits ---- */

static void split_1g(struct t_as *t, aspace_gpa_t g, aspace_hpa_t h)
{
	aspace_gpa_t hole = g + 300 * MIB + 7 * PAGE;
	aspace_gpa_t prot = g + 700 * MIB + 3 * PAGE;
	struct aspace_xlate x;

	T_ASSERT(!aspace_map_linear(t->as, g, h, GIB, RW | X), "map 1G");
	T_EXPECT(!aspace_translate(t->as, g, &x) && x.leaf_size == GIB,
		 "%s: no 1 GiB leaf", fname());
	T_EXPECT(!aspace_unmap(t->as, hole, PAGE), "%s: unmap in 1G", fname());
	T_EXPECT(!aspace_protect(t->as, prot, 2 * PAGE, R), "%s: protect in 1G",
		 fname());
	expect_unmapped(t, "1G hole", hole);
	for (uint64_t off = 0; off < GIB; off += 2 * MIB - PAGE) {
		if (g + off != hole)
			expect_map(t, "1G rest", g + off, h + off);
	}
	expect_map(t, "1G rest", hole - PAGE, h + (hole - PAGE - g));
	expect_map(t, "1G rest", hole + PAGE, h + (hole + PAGE - g));
	expect_map(t, "1G rest", g + GIB - PAGE, h + GIB - PAGE);
	T_EXPECT(!aspace_translate(t->as, prot + PAGE, &x) &&
			 (x.flags & ASPACE_PERM_MASK) == R,
		 "%s: protect in 1G did not take", fname());
	T_EXPECT(!aspace_translate(t->as, prot + 2 * PAGE, &x) &&
			 (x.flags & ASPACE_PERM_MASK) == (RW | X),
		 "%s: protect in 1G spilled over", fname());
}

static void split_2m_alloc(struct t_as *t, aspace_gpa_t g)
{
	uint8_t pat[PAGE], out[PAGE];
	struct aspace_xlate before, after;

	for (size_t i = 0; i < PAGE; i++)
		pat[i] = (uint8_t)(i * 13 + 1);
	T_ASSERT(!aspace_map_alloc(t->as, g, 2 * MIB, RW, true), "populate");
	for (uint64_t off = 0; off < 2 * MIB; off += 64 * KIB)
		T_ASSERT(!aspace_write(t->as, g + off, pat, PAGE), "write");
	T_EXPECT(!aspace_translate(t->as, g, &before), "%s: translate",
		 fname());
	T_EXPECT(!aspace_unmap(t->as, g + 128 * KIB, PAGE), "%s: unmap in 2M",
		 fname());
	T_EXPECT(!aspace_protect(t->as, g + 320 * KIB, PAGE, R),
		 "%s: protect in 2M", fname());
	for (uint64_t off = 0; off < 2 * MIB; off += 64 * KIB) {
		if (off == 128 * KIB) {
			expect_unmapped(t, "2M hole", g + off);
			continue;
		}
		T_EXPECT(!aspace_read(t->as, g + off, out, PAGE) &&
				 !memcmp(out, pat, PAGE),
			 "%s: data at +%#llx lost in the split", fname(),
			 (unsigned long long)off);
		if (before.leaf_size == 2 * MIB)
			expect_map(t, "2M rest", g + off, before.hpa + off);
	}
	T_EXPECT(!aspace_translate(t->as, g + 2 * MIB - PAGE, &after),
		 "%s: translate", fname());
}

static void pitfall_splits(void)
{
	struct t_as t;
	aspace_hpa_t lin;

	create(&t, 0, 0, false);
	lin = test_hal_linear_base(t.hal);
	if (t.w.levels >= 3)
		split_1g(&t, 4 * GIB % (1ull << width()), lin);
	/* A 2 MiB linear block. */
	T_ASSERT(!aspace_map_linear(t.as, 2 * GIB + 8 * MIB, lin + 2 * GIB,
				    2 * MIB, RW),
		 "map 2M");
	T_EXPECT(!aspace_unmap(t.as, 2 * GIB + 9 * MIB, PAGE),
		 "%s: unmap in 2M", fname());
	expect_map(&t, "2M rest", 2 * GIB + 8 * MIB, lin + 2 * GIB);
	expect_map(&t, "2M rest", 2 * GIB + 9 * MIB + PAGE,
		   lin + 2 * GIB + MIB + PAGE);
	expect_unmapped(&t, "2M hole", 2 * GIB + 9 * MIB);
	split_2m_alloc(&t, 2 * GIB + 16 * MIB);
	t_as_destroy(&t);
}

/* ---- flags ---- */

static void check_flags(struct t_as *t, aspace_gpa_t g, unsigned flags)
{
	struct ref_result r;
	struct aspace_xlate x;
	char a[32], b[32];

	walk(t, g, &r);
	T_EXPECT(r.status == REF_OK && r.perm == (flags & ASPACE_PERM_MASK) &&
			 r.mt == t_expected_mt(t, flags),
		 "%s: %s encoded as perm %#x type %s", fname(),
		 t_flags_str(flags, a, sizeof(a)), r.perm,
		 ref_memtype_name(r.mt));
	T_EXPECT(!aspace_translate(t->as, g, &x) &&
			 t_xlate_flags_ok(t, flags, x.flags),
		 "%s: %s decoded as %s", fname(),
		 t_flags_str(flags, a, sizeof(a)),
		 t_flags_str(x.flags, b, sizeof(b)));
}

static void pitfall_flags(void)
{
	static const unsigned perms[] = {R, RW, R | X, RW | X};
	static const unsigned types[] = {0, ASPACE_DEVICE, ASPACE_UNCACHED};
	struct t_as t;
	aspace_gpa_t g = GIB;
	aspace_hpa_t lin;

	create(&t, 0, 0, false);
	lin = test_hal_linear_base(t.hal);
	for (unsigned i = 0; i < 4; i++) {
		for (unsigned k = 0; k < 3; k++) {
			unsigned f = perms[i] | types[k];

			/* A 2 MiB block and a 4 KiB page of each. */
			T_EXPECT(!aspace_map_linear(t.as, g, lin, 2 * MIB, f),
				 "%s: map_linear %#x", fname(), f);
			check_flags(&t, g + 5 * PAGE, f);
			T_EXPECT(!aspace_map_linear(t.as, g + 2 * MIB,
						    lin + 2 * MIB + PAGE, PAGE,
						    f),
				 "%s: map_linear %#x", fname(), f);
			check_flags(&t, g + 2 * MIB, f);
			if (types[k] != ASPACE_DEVICE) {
				T_EXPECT(!aspace_map_alloc(t.as, g + 4 * MIB,
							   PAGE, f, true),
					 "%s: map_alloc %#x", fname(), f);
				check_flags(&t, g + 4 * MIB, f);
			}
			/* And protect must change permissions only. */
			T_EXPECT(!aspace_protect(t.as, g, 2 * MIB, R),
				 "%s: protect", fname());
			check_flags(&t, g + 7 * PAGE, R | types[k]);
			g += 8 * MIB;
		}
	}
	t_as_destroy(&t);
}

/* ---- guest_iov ---- */

static void pitfall_iov(void)
{
	struct t_as t;
	aspace_gpa_t g = 5 * GIB % (1ull << width());
	struct iovec iov[8];
	uint8_t buf[3 * PAGE];
	size_t len = 2 * PAGE + 150;
	aspace_gpa_t start = g + PAGE + 100;
	int n;

	/* 4 KiB frames, faulted backwards so that they are not in order. */
	create(&t, 0, 0, true);
	T_ASSERT(!aspace_map_alloc(t.as, g, 64 * PAGE, RW, false), "map_alloc");
	for (int p = 4; p >= 0; p--)
		T_EXPECT(!aspace_handle_fault(t.as, g + p * PAGE, W), "fault");
	n = aspace_guest_iov(t.as, start, len, iov, 8);
	T_EXPECT(n == 3, "%s: %d segments for 3 pages", fname(), n);
	for (int k = 0, off = 0; k < n && k < 8; off += iov[k].iov_len, k++) {
		struct ref_result r;

		walk(&t, start + off, &r);
		T_EXPECT(iov[k].iov_base == test_hal_ptr(t.hal, r.hpa, 1),
			 "%s: iov[%d] points to %p, gpa %#llx is at %p",
			 fname(), k, iov[k].iov_base,
			 (unsigned long long)(start + off),
			 test_hal_ptr(t.hal, r.hpa, 1));
		memset(iov[k].iov_base, 'a' + k, iov[k].iov_len);
	}
	if (n == 3) {
		size_t total = iov[0].iov_len + iov[1].iov_len + iov[2].iov_len;

		T_EXPECT(total == len && iov[0].iov_len == PAGE - 100,
			 "%s: segments of %zu+%zu+%zu bytes for %zu", fname(),
			 iov[0].iov_len, iov[1].iov_len, iov[2].iov_len, len);
		T_EXPECT(!aspace_read(t.as, start, buf, len) && buf[0] == 'a' &&
				 buf[PAGE - 100] == 'b' && buf[len - 1] == 'c',
			 "%s: host writes through the iov not read back",
			 fname());
	}
	T_EXPECT(aspace_guest_iov(t.as, start, len, iov, 2) == -ENOSPC,
		 "%s: 2 segments for 3 pages", fname());
	/* The area goes on, but the iov must stop where asked. */
	n = aspace_guest_iov(t.as, g, 10, iov, 8);
	T_EXPECT(n == 1 && iov[0].iov_len == 10, "%s: 10 bytes gave %d segs",
		 fname(), n);
	t_as_destroy(&t);
}

/* ---- freeing tables ---- */

static void pitfall_free_tables(void)
{
	struct t_as t;
	aspace_gpa_t g = (1ull << width()) - 2 * GIB;
	uint64_t empty, mark;
	struct aspace_stats st;
	struct test_hal_event ev[256];
	long n;
	bool flushed = false;

	create(&t, 0, 0, false);
	aspace_barrier(t.as);
	aspace_stats(t.as, &st);
	empty = test_hal_bytes(t.hal) - st.cache_frames * PAGE;
	/* Two areas share the last-level table. */
	T_ASSERT(!aspace_map_alloc(t.as, g, 4 * PAGE, RW, true), "populate");
	T_ASSERT(!aspace_map_linear(t.as, g + 8 * PAGE,
				    test_hal_linear_base(t.hal), PAGE, R),
		 "map_linear");
	T_EXPECT(!aspace_unmap(t.as, g, 4 * PAGE), "%s: unmap", fname());
	expect_map(&t, "shared table", g + 8 * PAGE,
		   test_hal_linear_base(t.hal));
	aspace_barrier(t.as);
	mark = test_hal_seq(t.hal);
	T_EXPECT(!aspace_unmap(t.as, g + 8 * PAGE, PAGE), "%s: unmap", fname());
	aspace_barrier(t.as);
	aspace_stats(t.as, &st);
	T_EXPECT(test_hal_bytes(t.hal) - st.cache_frames * PAGE == empty &&
			 st.table_pages == t.root_table_pages,
		 "%s: %#llx bytes held after unmapping everything, %#llx "
		 "before; %llu table pages",
		 fname(),
		 (unsigned long long)(test_hal_bytes(t.hal) -
				      st.cache_frames * PAGE),
		 (unsigned long long)empty, (unsigned long long)st.table_pages);
	n = test_hal_events_since(t.hal, mark, ev, 256);
	for (long k = 0; k < n; k++) {
		flushed |= ev[k].type == TEST_HAL_FLUSH;
		T_EXPECT(ev[k].type != TEST_HAL_FREE || flushed,
			 "%s: table %#llx freed before the flush", fname(),
			 (unsigned long long)ev[k].addr);
	}
	t_as_destroy(&t);
}

/* ---- the fault hook ---- */

struct hook_log {
	unsigned calls;
	aspace_gpa_t gpa;
	unsigned access;
};

static int hook(void *ctx, aspace_gpa_t gpa, unsigned access)
{
	struct hook_log *l = ctx;

	l->calls++;
	l->gpa = gpa;
	l->access = access;
	return 0x1234;
}

static void pitfall_fault_hook(void)
{
	struct t_as t;
	struct hook_log log = {0};
	int ret;

	create(&t, 0, 0, false);
	T_ASSERT(!aspace_map_alloc(t.as, GIB, 2 * MIB, R, false), "map_alloc");
	T_EXPECT(!aspace_set_fault_handler(t.as, hook, &log), "%s: set hook",
		 fname());
	ret = aspace_handle_fault(t.as, GIB + 4 * MIB, W);
	T_EXPECT(ret == 0x1234 && log.calls == 1 && log.gpa == GIB + 4 * MIB &&
			 log.access == W,
		 "%s: hook for a gap: ret %d, %u calls", fname(), ret,
		 log.calls);
	ret = aspace_handle_fault(t.as, GIB + PAGE, W);
	T_EXPECT(ret == 0x1234 && log.calls == 2,
		 "%s: hook for a denied write: ret %d, %u calls", fname(), ret,
		 log.calls);
	ret = aspace_handle_fault(t.as, GIB + PAGE, R);
	T_EXPECT(!ret && log.calls == 2, "%s: resolved fault went to the hook",
		 fname());
	T_EXPECT(!aspace_set_fault_handler(t.as, NULL, NULL), "%s: clear hook",
		 fname());
	T_EXPECT(aspace_handle_fault(t.as, GIB + 4 * MIB, W) == -EFAULT &&
			 log.calls == 2,
		 "%s: removed hook still called", fname());
	t_as_destroy(&t);
}

/* ---- copy-on-write clones ---- */

static aspace_hpa_t hpa_of(struct aspace *as, aspace_gpa_t gpa, unsigned *flags)
{
	struct aspace_xlate x;

	if (aspace_translate(as, gpa, &x))
		return 0;
	if (flags)
		*flags = x.flags;
	return x.hpa;
}

static void pitfall_cow(void)
{
	struct t_as t;
	struct aspace *b;
	struct ref_walker wb;
	struct aspace_hw_root hw;
	struct ref_result ra, rb;
	aspace_gpa_t g = GIB, p = GIB + 3 * PAGE;
	aspace_hpa_t shared, mine;
	char buf[8], err[200];
	unsigned fl = 0;

	create(&t, 0, 0, false);
	T_ASSERT(!aspace_map_alloc(t.as, g, 4 * MIB, RW, true), "populate");
	T_ASSERT(!aspace_write(t.as, p, "before!", 8), "write");
	T_ASSERT(!aspace_write(t.as, g + 3 * MIB, "second", 7), "write");
	shared = hpa_of(t.as, p, NULL);
	T_ASSERT(!aspace_clone(t.as, &b), "%s: clone", fname());
	T_ASSERT(!aspace_hw_root(b, &hw) &&
			 !ref_init(&wb, cur->fmt, &hw, &t.cfg.platform,
				   test_hal_read64, t.hal, err, sizeof(err)),
		 "%s: clone root: %s", fname(), err);
	walk(&t, p, &ra);
	ref_walk(&wb, p, &rb);
	T_EXPECT(ra.status == REF_OK && rb.status == REF_OK &&
			 ra.hpa == shared && rb.hpa == shared &&
			 !(ra.perm & W) && !(rb.perm & W),
		 "%s: a shared frame must be mapped read-only on both sides",
		 fname());
	/* A write in the clone copies the whole 2 MiB frame. */
	T_EXPECT(!aspace_handle_fault(b, p, W), "%s: write fault", fname());
	mine = hpa_of(b, p, &fl);
	ref_walk(&wb, p, &rb);
	T_EXPECT(mine && mine != shared && (fl & W) &&
			 rb.leaf_size == 2 * MIB &&
			 hpa_of(t.as, p, NULL) == shared,
		 "%s: the write did not get a private frame", fname());
	T_EXPECT(!aspace_write(b, p, "after!!", 8) &&
			 !aspace_read(t.as, p, buf, 8) &&
			 !memcmp(buf, "before!", 8),
		 "%s: a write in the clone reached the source", fname());
	T_EXPECT(!aspace_read(b, p - PAGE, buf, 1), "%s: read", fname());
	/* The source lets go; the clone's frames must survive it. */
	T_EXPECT(!aspace_unmap(t.as, g, 4 * MIB), "%s: unmap", fname());
	aspace_barrier(t.as);
	T_EXPECT(!aspace_read(b, g + 3 * MIB, buf, 7) &&
			 !memcmp(buf, "second", 7),
		 "%s: the clone lost a frame the source unmapped", fname());
	shared = hpa_of(b, g + 3 * MIB, NULL);
	T_EXPECT(test_hal_block_of(t.hal, shared, NULL),
		 "%s: a frame the clone maps went back to the HAL", fname());
	/* Alone now: the first write takes the frame over in place. */
	T_EXPECT(!aspace_handle_fault(b, g + 3 * MIB, W) &&
			 hpa_of(b, g + 3 * MIB, &fl) == shared && (fl & W),
		 "%s: an unshared frame was copied, or not made writable",
		 fname());
	aspace_destroy(b);
	t_as_destroy(&t);
}

int main(int argc, char **argv)
{
	char what[64];

	t_init("test_pitfalls", argc, argv);
	for (unsigned i = 0; i < t_nformats; i++) {
		cur = &t_formats[i];
		pitfall_aliasing();
		pitfall_window();
		pitfall_double_fault(false);
		pitfall_double_fault(true);
		pitfall_splits();
		pitfall_flags();
		pitfall_iov();
		pitfall_free_tables();
		pitfall_fault_hook();
		pitfall_cow();
	}
	snprintf(what, sizeof(what), "10 pitfalls x %u formats", t_nformats);
	return t_finish("test_pitfalls", what);
}
