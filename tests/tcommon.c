/* SPDX-License-Identifier: MIT */
#include "tcommon.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t seed, rng_state;
static unsigned errors;
static const char *test_name = "test";

/* splitmix64: tiny, good enough, and replayable from one number. */
uint64_t t_rand(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t t_range(uint64_t lo, uint64_t hi)
{
	uint64_t span = hi - lo + 1;

	if (!span)
		return t_rand();
	return lo + t_rand() % span;
}

bool t_chance(unsigned percent)
{
	return t_rand() % 100 < percent;
}

uint64_t t_env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

uint64_t t_init(const char *name, int argc, char **argv)
{
	const char *s = getenv("ASPACE_SEED");

	test_name = name;
	if (argc > 1)
		s = argv[1];
	if (s && *s)
		seed = strtoull(s, NULL, 0);
	else
		seed = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
	rng_state = seed;
	printf("%s: seed %" PRIu64 " (replay: ASPACE_SEED=%" PRIu64 ")\n", name,
	       seed, seed);
	fflush(stdout);
	return seed;
}

uint64_t t_seed(void)
{
	return seed;
}

static void vreport(const char *file, int line, const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "%s: FAIL %s:%d: ", test_name, file, line);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " [seed %" PRIu64 "]\n", seed);
}

void t_fail_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(file, line, fmt, ap);
	va_end(ap);
	printf("%s: FAILED (replay: ASPACE_SEED=%" PRIu64 ")\n", test_name,
	       seed);
	exit(1);
}

void t_err_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(file, line, fmt, ap);
	va_end(ap);
	errors++;
}

unsigned t_errors(void)
{
	return errors;
}

int t_finish(const char *name, const char *what)
{
	if (errors) {
		printf("%s: FAILED: %u error(s); %s (seed %" PRIu64 ")\n", name,
		       errors, what, seed);
		return 1;
	}
	printf("%s: PASS: %s (seed %" PRIu64 ")\n", name, what, seed);
	return 0;
}

const struct t_fmt t_formats[] = {
	{ASPACE_FMT_EPT4, 48},	 {ASPACE_FMT_EPT5, 57},
	{ASPACE_FMT_S2_4K, 32},	 {ASPACE_FMT_S2_4K, 36},
	{ASPACE_FMT_S2_4K, 39},	 {ASPACE_FMT_S2_4K, 40},
	{ASPACE_FMT_S2_4K, 42},	 {ASPACE_FMT_S2_4K, 44},
	{ASPACE_FMT_S2_4K, 48},	 {ASPACE_FMT_SV39X4, 41},
	{ASPACE_FMT_SV48X4, 50}, {ASPACE_FMT_SV57X4, 59},
};
const unsigned t_nformats = sizeof(t_formats) / sizeof(t_formats[0]);

unsigned t_fmt_width(enum aspace_format fmt, unsigned gpa_bits)
{
	switch (fmt) {
	case ASPACE_FMT_EPT4:
		return 48;
	case ASPACE_FMT_EPT5:
		return 57;
	case ASPACE_FMT_S2_4K:
		return gpa_bits;
	case ASPACE_FMT_SV39X4:
		return 41;
	case ASPACE_FMT_SV48X4:
		return 50;
	case ASPACE_FMT_SV57X4:
		return 59;
	}
	return 0;
}

bool t_fmt_riscv(enum aspace_format fmt)
{
	return fmt == ASPACE_FMT_SV39X4 || fmt == ASPACE_FMT_SV48X4 ||
	       fmt == ASPACE_FMT_SV57X4;
}

const char *t_fmt_name(const struct t_fmt *f)
{
	static char buf[8][32];
	static unsigned next;
	char *b = buf[next++ % 8];

	if (f->fmt == ASPACE_FMT_S2_4K)
		snprintf(b, 32, "S2-%u", f->gpa_bits);
	else
		snprintf(b, 32, "%s", aspace_format_name(f->fmt));
	return b;
}

void t_as_create(struct t_as *t, const struct t_as_opts *o)
{
	struct aspace_stats st;
	char err[256];
	int ret;

	memset(t, 0, sizeof(*t));
	t->hal = test_hal_new(&o->hal);
	t->cfg.format = o->fmt.fmt;
	t->cfg.gpa_bits = o->fmt.fmt == ASPACE_FMT_S2_4K ? o->fmt.gpa_bits : 0;
	t->cfg.base = o->base;
	t->cfg.size =
		o->size ? o->size
			: (1ull << t_fmt_width(o->fmt.fmt, o->fmt.gpa_bits)) -
				  o->base;
	t->cfg.hal = test_hal_ops(t->hal);
	t->cfg.platform = o->platform;
	t->cfg.cache_batch = o->cache_batch;
	t->cfg.rcu = o->rcu;
	t->cfg.zero = o->zero;
	ret = aspace_create(&t->cfg, &t->as);
	T_ASSERT(!ret, "aspace_create(%s, base %#llx size %#llx) = %d",
		 t_fmt_name(&o->fmt), (unsigned long long)t->cfg.base,
		 (unsigned long long)t->cfg.size, ret);
	ret = aspace_hw_root(t->as, &t->hw);
	T_ASSERT(!ret, "aspace_hw_root = %d", ret);
	if (ref_init(&t->w, o->fmt.fmt, &t->hw, &o->platform, test_hal_read64,
		     t->hal, err, sizeof(err)))
		t_fail("%s: hardware root rejected: %s", t_fmt_name(&o->fmt),
		       err);
	aspace_barrier(t->as);
	aspace_stats(t->as, &st);
	t->root_table_pages = st.table_pages;
	t->root_bytes = test_hal_bytes(t->hal) - st.cache_frames * PAGE;
}

void t_as_destroy(struct t_as *t)
{
	uint64_t left;

	aspace_destroy(t->as);
	left = test_hal_bytes(t->hal);
	T_EXPECT(left == 0, "%#llx bytes still allocated after aspace_destroy",
		 (unsigned long long)left);
	test_hal_delete(t->hal);
	t->as = NULL;
	t->hal = NULL;
}

enum ref_memtype t_expected_mt(const struct t_as *t, unsigned flags)
{
	if (t_fmt_riscv(t->cfg.format) && !t->cfg.platform.svpbmt)
		return REF_MT_NONE;
	if (flags & ASPACE_DEVICE)
		return REF_MT_DEVICE;
	if (flags & ASPACE_UNCACHED)
		return REF_MT_NC;
	return REF_MT_WB;
}

bool t_xlate_flags_ok(const struct t_as *t, unsigned want, unsigned got)
{
	unsigned mt = ASPACE_DEVICE | ASPACE_UNCACHED;

	if ((want & ASPACE_PERM_MASK) != (got & ASPACE_PERM_MASK))
		return false;
	if (got & ~ASPACE_FLAGS_MASK)
		return false;
	/* Without Svpbmt the leaf carries no type to decode. */
	if (t_expected_mt(t, want) == REF_MT_NONE)
		return (got & mt) == 0 || (got & mt) == (want & mt);
	return (got & mt) == (want & mt);
}

const char *t_flags_str(unsigned flags, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s%s", flags & ASPACE_READ ? "R" : "-",
		 flags & ASPACE_WRITE ? "W" : "-",
		 flags & ASPACE_EXEC ? "X" : "-",
		 flags & ASPACE_DEVICE ? "+dev" : "",
		 flags & ASPACE_UNCACHED ? "+nc" : "",
		 flags & ~ASPACE_FLAGS_MASK ? "+junk" : "");
	return buf;
}

/* ---- snapshots ---- */

struct snap_builder {
	struct t_snapshot *s;
	struct test_hal *hal;
	size_t cap_leaves, cap_tables;
};

/* A multiply-rotate hash over 8-byte words (leaves are page multiples). */
static uint64_t hash_bytes(uint64_t h, const uint8_t *p, uint64_t len)
{
	const uint64_t *w = (const uint64_t *)p;

	for (uint64_t i = 0; i < len / 8; i++) {
		h = (h ^ w[i]) * 0x9e3779b97f4a7c15ull;
		h = h << 29 | h >> 35;
	}
	return h;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return p;
	*cap = *cap ? *cap * 2 : 64;
	if (*cap < need)
		*cap = need;
	p = realloc(p, *cap * elem);
	if (!p)
		t_fail("out of memory");
	return p;
}

static int snap_table(void *arg, const struct ref_table *t)
{
	struct snap_builder *b = arg;
	struct t_snapshot *s = b->s;

	s->tables = grow(s->tables, &b->cap_tables, s->ntables + 1,
			 sizeof(*s->tables));
	s->tables[s->ntables++] = t->hpa;
	return 0;
}

static int snap_leaf(void *arg, const struct ref_result *r)
{
	struct snap_builder *b = arg;
	struct t_snapshot *s = b->s;
	struct t_snap_leaf *l;

	if (r->status == REF_INVALID && !s->invalid[0])
		snprintf(s->invalid, sizeof(s->invalid), "%s", r->why);
	s->leaves = grow(s->leaves, &b->cap_leaves, s->nleaves + 1,
			 sizeof(*s->leaves));
	l = &s->leaves[s->nleaves++];
	l->gpa = r->leaf_gpa;
	l->size = r->leaf_size;
	l->entry = r->entry;
	l->entry_hpa = r->entry_hpa;
	if (r->status == REF_OK && r->leaf_size <= ASPACE_BLOCK_2M) {
		const uint8_t *p =
			test_hal_ptr(b->hal, r->leaf_hpa, r->leaf_size);

		if (p)
			s->content = hash_bytes(s->content ^ r->leaf_gpa, p,
						r->leaf_size);
	}
	return 0;
}

void t_snapshot(struct t_as *t, struct t_snapshot *s,
		const aspace_gpa_t *probes, size_t nprobes)
{
	struct snap_builder b = {.s = s, .hal = t->hal};
	struct ref_visitor v = {snap_table, snap_leaf, &b};
	struct test_hal_counts c;

	memset(s, 0, sizeof(*s));
	aspace_barrier(t->as);
	ref_visit(&t->w, 0, ~0ull, &v);
	aspace_stats(t->as, &s->st);
	test_hal_counts(t->hal, &c);
	s->hal_bytes = c.bytes;
	s->hal_frames = c.frames_total;
	s->nprobes = nprobes;
	s->probes = calloc(nprobes + 1, sizeof(*s->probes));
	s->xret = calloc(nprobes + 1, sizeof(*s->xret));
	s->xlate = calloc(nprobes + 1, sizeof(*s->xlate));
	if (!s->probes || !s->xret || !s->xlate)
		t_fail("out of memory");
	for (size_t i = 0; i < nprobes; i++) {
		s->probes[i] = probes[i];
		s->xret[i] = aspace_translate(t->as, probes[i], &s->xlate[i]);
	}
}

static int cmp_stats(const struct aspace_stats *a, const struct aspace_stats *b,
		     const char *what)
{
#define CMP_FIELD(f)                                                           \
	if (a->f != b->f) {                                                    \
		t_err("%s: stats." #f " %llu -> %llu", what,                   \
		      (unsigned long long)a->f, (unsigned long long)b->f);     \
		return 1;                                                      \
	}
	CMP_FIELD(mapped_4k);
	CMP_FIELD(mapped_2m);
	CMP_FIELD(mapped_1g);
	CMP_FIELD(table_pages);
	CMP_FIELD(data_frames_bytes);
#undef CMP_FIELD
	return 0;
}

static int cmp_xlate(const struct t_snapshot *a, const struct t_snapshot *b,
		     size_t i, const char *what)
{
	const struct aspace_xlate *x = &a->xlate[i], *y = &b->xlate[i];

	if (a->xret[i] != b->xret[i]) {
		t_err("%s: translate(%#llx) returned %d, now %d", what,
		      (unsigned long long)a->probes[i], a->xret[i], b->xret[i]);
		return 1;
	}
	if (a->xret[i])
		return 0;
	if (x->hpa != y->hpa || x->leaf_size != y->leaf_size ||
	    x->flags != y->flags || x->area_start != y->area_start ||
	    x->area_size != y->area_size) {
		t_err("%s: translate(%#llx) changed: hpa %#llx->%#llx leaf "
		      "%#llx->%#llx flags %#x->%#x area %#llx+%#llx -> "
		      "%#llx+%#llx",
		      what, (unsigned long long)a->probes[i],
		      (unsigned long long)x->hpa, (unsigned long long)y->hpa,
		      (unsigned long long)x->leaf_size,
		      (unsigned long long)y->leaf_size, x->flags, y->flags,
		      (unsigned long long)x->area_start,
		      (unsigned long long)x->area_size,
		      (unsigned long long)y->area_start,
		      (unsigned long long)y->area_size);
		return 1;
	}
	return 0;
}

static int cmp_tree(const struct t_snapshot *a, const struct t_snapshot *b,
		    const char *what)
{
	size_t i;

	for (i = 0; i < a->nleaves && i < b->nleaves; i++) {
		const struct t_snap_leaf *x = &a->leaves[i], *y = &b->leaves[i];

		if (x->gpa != y->gpa || x->size != y->size ||
		    x->entry != y->entry || x->entry_hpa != y->entry_hpa) {
			t_err("%s: leaf #%zu was gpa %#llx size %#llx entry "
			      "%#llx, now gpa %#llx size %#llx entry %#llx",
			      what, i, (unsigned long long)x->gpa,
			      (unsigned long long)x->size,
			      (unsigned long long)x->entry,
			      (unsigned long long)y->gpa,
			      (unsigned long long)y->size,
			      (unsigned long long)y->entry);
			return 1;
		}
	}
	if (a->nleaves != b->nleaves) {
		t_err("%s: %zu leaves before, %zu after", what, a->nleaves,
		      b->nleaves);
		return 1;
	}
	if (a->ntables != b->ntables) {
		t_err("%s: %zu tables before, %zu after", what, a->ntables,
		      b->ntables);
		return 1;
	}
	for (i = 0; i < a->ntables; i++) {
		if (a->tables[i] != b->tables[i]) {
			t_err("%s: table #%zu moved from %#llx to %#llx", what,
			      i, (unsigned long long)a->tables[i],
			      (unsigned long long)b->tables[i]);
			return 1;
		}
	}
	return 0;
}

int t_snapshot_cmp(const struct t_snapshot *a, const struct t_snapshot *b,
		   const char *what)
{
	if (b->invalid[0] && strcmp(a->invalid, b->invalid)) {
		t_err("%s: invalid entry: %s", what, b->invalid);
		return 1;
	}
	if (cmp_tree(a, b, what) || cmp_stats(&a->st, &b->st, what))
		return 1;
	/* Frames parked in a frame cache are accounted, not leaked. */
	if (a->hal_bytes - a->st.cache_frames * PAGE !=
		    b->hal_bytes - b->st.cache_frames * PAGE ||
	    a->hal_frames - a->st.cache_frames !=
		    b->hal_frames - b->st.cache_frames) {
		t_err("%s: HAL holds %llu frames / %#llx bytes (%llu cached), "
		      "before %llu / %#llx (%llu cached)",
		      what, (unsigned long long)b->hal_frames,
		      (unsigned long long)b->hal_bytes,
		      (unsigned long long)b->st.cache_frames,
		      (unsigned long long)a->hal_frames,
		      (unsigned long long)a->hal_bytes,
		      (unsigned long long)a->st.cache_frames);
		return 1;
	}
	for (size_t i = 0; i < a->nprobes && i < b->nprobes; i++)
		if (cmp_xlate(a, b, i, what))
			return 1;
	if (a->content != b->content) {
		t_err("%s: the contents of mapped memory changed", what);
		return 1;
	}
	return 0;
}

void t_snapshot_free(struct t_snapshot *s)
{
	free(s->leaves);
	free(s->tables);
	free(s->probes);
	free(s->xret);
	free(s->xlate);
	memset(s, 0, sizeof(*s));
}
