/* SPDX-License-Identifier: MIT */
/*
 * Copy-on-write clones and shared mappings, scenario by scenario on three
 * formats: contents seen through each space after writes on either side,
 * split shared blocks, chains of clones, share_from between spaces, and
 * destroy in either order with every frame back in the HAL at the end.
 */
#include <aspace/aspace.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jemalloc/jemalloc.h>
static long outstanding;
static int c_alloc(void *ctx, size_t size, aspace_hpa_t *hpa)
{
	void *p = mallocx(size, MALLOCX_ALIGN(size));
	if (!p)
		return -ENOMEM;
	memset(p, 0xa5, size);
	*hpa = (uintptr_t)p;
	__atomic_add_fetch(&outstanding, 1, 0);
	return 0;
}
static void c_free(void *ctx, aspace_hpa_t h, size_t size)
{
	memset((void *)h, 0x5a, size);
	sdallocx((void *)h, size, MALLOCX_ALIGN(size));
	__atomic_sub_fetch(&outstanding, 1, 0);
}
static void *p2v(void *c, aspace_hpa_t h)
{
	return (void *)h;
}
static struct aspace_hal hal = {
	.alloc = c_alloc, .free = c_free, .phys_to_virt = p2v};
#define CHECK(x)                                                               \
	do {                                                                   \
		if (!(x)) {                                                    \
			fprintf(stderr, "%s:%d: %s failed\n", __FILE__,        \
				__LINE__, #x);                                 \
			exit(1);                                               \
		}                                                              \
	} while (0)
#define B 0x100000000ull
static void fill(struct aspace *as, uint64_t g, size_t n, int v)
{
	char *b = malloc(n);
	memset(b, v, n);
	CHECK(aspace_write(as, g, b, n) == 0);
	free(b);
}
/* A 64 GiB space of format fmt on the counting test HAL. */
static struct aspace_config test_config(int fmt)
{
	return (struct aspace_config){.format = fmt,
				      .base = 0,
				      .size = 1ull << 36,
				      .gpa_bits =
					      fmt == ASPACE_FMT_S2_4K ? 40 : 0,
				      .hal = &hal};
}

static int check(struct aspace *as, uint64_t g, size_t n, int v)
{
	char *b = malloc(n);
	CHECK(aspace_read(as, g, b, n) == 0);
	for (size_t i = 0; i < n; i++)
		if (b[i] != (char)v) {
			free(b);
			return 0;
		}
	free(b);
	return 1;
}
static int test_cow(void)
{
	int fmts[] = {ASPACE_FMT_EPT4, ASPACE_FMT_S2_4K, ASPACE_FMT_SV39X4};
	for (int f = 0; f < 3; f++)
		for (int order = 0; order < 2; order++) {
			struct aspace_config cfg = test_config(fmts[f]);
			struct aspace *p, *c;
			struct aspace_xlate x;
			struct aspace_stats st;
			CHECK(aspace_create(&cfg, &p) == 0);
			CHECK(aspace_map_alloc(p, B, 8 << 20,
					       ASPACE_READ | ASPACE_WRITE,
					       false) == 0);
			fill(p, B, 4 << 20, 1); /* 2M frames */
			CHECK(aspace_unmap(p, B + (4 << 20) + 0x1000, 0x1000) ==
			      0); /* split 2M region? nothing there yet */
			CHECK(aspace_map_linear(p, 0x200000000ull,
						0x300000000ull, 1 << 21,
						ASPACE_READ) == 0);
			fill(p, B + (6 << 20) + 5, 100, 7);
			CHECK(aspace_unmap(p, B + (6 << 20) + 0x3000, 0x1000) ==
			      0); /* split a 2M alloc frame */
			CHECK(aspace_clone(p, &c) == 0);
			CHECK(check(c, B, 4 << 20, 1));
			CHECK(check(c, B + (6 << 20) + 5, 100, 7));
			CHECK(aspace_translate(c, 0x200000000ull, &x) == 0 &&
			      x.hpa == 0x300000000ull);
			CHECK(aspace_translate(p, B, &x) == 0 &&
			      !(x.flags & ASPACE_WRITE));
			fill(c, B + 100, 10, 2);
			CHECK(check(p, B + 100, 10, 1));
			CHECK(check(c, B + 100, 10, 2));
			CHECK(check(c, B + 110, 10, 1));
			fill(p, B + (6 << 20) + 5, 10, 3);
			CHECK(check(c, B + (6 << 20) + 5, 100, 7));
			CHECK(check(p, B + (6 << 20) + 15, 90, 7));
			fill(p, B, 10, 4);
			CHECK(check(p, B, 10, 4));
			CHECK(check(c, B, 10, 1)); /* parent now sole owner of
						      2M frame -> reuse */
			aspace_stats(p, &st);
			printf("%s parent: cow_breaks %lu reuses %lu\n",
			       aspace_format_name(fmts[f]), st.cow_breaks,
			       st.cow_reuses);
			aspace_stats(c, &st);
			printf("   child: cow_breaks %lu reuses %lu\n",
			       st.cow_breaks, st.cow_reuses);
			CHECK(aspace_unmap(c, B + (2 << 20) + 0x1000, 0x3000) ==
			      0); /* split shared 2M in child */
			CHECK(check(p, B + (2 << 20), 2 << 20, 1));
			CHECK(check(c, B + (2 << 20), 0x1000, 1));
			CHECK(check(c, B + (2 << 20) + 0x4000, 0x1000, 1));
			struct aspace *c2;
			CHECK(aspace_clone(c, &c2) == 0);
			fill(c2, B + (6 << 20), 4096, 9);
			CHECK(check(c, B + (6 << 20) + 5, 100, 7));
			if (order) {
				aspace_destroy(p);
				CHECK(check(c, B + (6 << 20) + 5, 100, 7));
				CHECK(check(c2, B + (6 << 20), 4096, 9));
				aspace_destroy(c);
				CHECK(check(c2, B + (6 << 20) + 4096, 100, 0));
				CHECK(check(c2, B + (6 << 20) + 0x2000, 100,
					    0));
				aspace_destroy(c2);
			} else {
				aspace_destroy(c2);
				aspace_destroy(c);
				CHECK(check(p, B + (6 << 20) + 5, 10, 3));
				aspace_destroy(p);
			}
			printf("   outstanding after destroy: %ld\n",
			       outstanding);
			CHECK(outstanding == 0);
		}
	return 0;
}
static int test_share(void)
{
	int fmts[] = {ASPACE_FMT_EPT4, ASPACE_FMT_S2_4K, ASPACE_FMT_SV57X4};
	for (int f = 0; f < 3; f++)
		for (int order = 0; order < 2; order++) {
			struct aspace_config cfg = test_config(fmts[f]);
			struct aspace *a, *b, *c;
			struct aspace_xlate x;
			CHECK(aspace_create(&cfg, &a) == 0);
			CHECK(aspace_create(&cfg, &b) == 0);
			CHECK(aspace_map_alloc(a, B, 8 << 20,
					       ASPACE_READ | ASPACE_WRITE,
					       false) == 0);
			CHECK(aspace_map_linear(a, B + (8 << 20),
						0x300000000ull, 1 << 20,
						ASPACE_READ) == 0);
			fill(a, B + (1 << 20), 100, 1);
			CHECK(aspace_clone(a, &c) ==
			      0); /* a's frames now COW with c */
			{
				int rr = aspace_share_from(b, a, B + 0x1000,
							   (8 << 20) + 0x2000);
				if (rr)
					printf("share_from=%d\n", rr);
				CHECK(rr == 0);
			} /* partial areas, both kinds */
			CHECK(aspace_share_from(b, a, B + (9 << 20), 0x1000) ==
			      -EFAULT);
			CHECK(aspace_translate(b, B, &x) == -EINVAL ||
			      aspace_translate(b, B, &x) == -ENOENT);
			CHECK(check(b, B + (1 << 20), 100, 1));
			fill(b, B + (1 << 20), 10, 2);
			CHECK(check(a, B + (1 << 20), 10, 2));
			CHECK(check(c, B + (1 << 20), 10,
				    1)); /* shared a<->b, not c */
			fill(a, B + (3 << 20), 10, 3);
			CHECK(check(b, B + (3 << 20), 10, 3));
			CHECK(check(c, B + (3 << 20), 10, 0));
			CHECK(aspace_translate(b, B + (8 << 20) + 0x1000, &x) ==
				      0 &&
			      x.hpa == 0x300001000ull);
			CHECK(aspace_share_from(b, a, B + 0x1000, 0x1000) ==
			      -EEXIST);
			struct aspace *d;
			CHECK(aspace_clone(a, &d) == 0);
			fill(a, B + (1 << 20), 10, 4);
			CHECK(check(d, B + (1 << 20), 10, 4));
			CHECK(check(b, B + (1 << 20), 10,
				    4)); /* shared areas shared by clones too */
			CHECK(aspace_protect(a, B + (2 << 20) + 0x1000, 0x1000,
					     ASPACE_READ) ==
			      0); /* split shared 2M in a */
			fill(b, B + (2 << 20) + 0x1000, 10, 5);
			CHECK(check(a, B + (2 << 20) + 0x1000, 10, 5));
			CHECK(aspace_unshare(b, B + (2 << 20), 1 << 20) == 0);
			CHECK(check(a, B + (2 << 20) + 0x1000, 10, 5));
			if (order) {
				aspace_destroy(a);
				CHECK(check(b, B + (1 << 20), 10, 4));
				CHECK(check(d, B + (3 << 20), 10, 3));
				aspace_destroy(d);
				aspace_destroy(c);
				CHECK(check(b, B + (3 << 20), 10, 3));
				aspace_destroy(b);
			} else {
				aspace_destroy(b);
				aspace_destroy(c);
				aspace_destroy(d);
				CHECK(check(a, B + (3 << 20), 10, 3));
				aspace_destroy(a);
			}
			printf("%s order %d: outstanding %ld\n",
			       aspace_format_name(fmts[f]), order, outstanding);
			CHECK(outstanding == 0);
		}
	return 0;
}

int main(void)
{
	if (test_cow() || test_share())
		return 1;
	puts("test_clone: PASS");
	return 0;
}
