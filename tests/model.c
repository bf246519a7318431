/* SPDX-License-Identifier: MIT */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE ASPACE_PAGE_SIZE

struct m_page {
	struct m_page *next;
	aspace_gpa_t gpa;
	uint8_t data[PAGE];
};

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size);
	if (!p) {
		fprintf(stderr, "model: out of memory\n");
		abort();
	}
	return p;
}

/* ---- interval sets ---- */

static void rs_reserve(struct m_rangeset *s, size_t n)
{
	if (n <= s->cap)
		return;
	s->cap = s->cap ? s->cap * 2 : 16;
	if (s->cap < n)
		s->cap = n;
	s->r = xrealloc(s->r, s->cap * sizeof(*s->r));
}

/* First range whose end is > addr. */
static size_t rs_lower(const struct m_rangeset *s, aspace_gpa_t addr)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->r[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void rs_remove(struct m_rangeset *s, aspace_gpa_t start, aspace_gpa_t end)
{
	size_t i = rs_lower(s, start), j;

	if (i == s->n)
		return; /* nothing ends after start (or the set is empty) */
	if (i < s->n && s->r[i].start < start && s->r[i].end > end) {
		/* Punch a hole: split one range in two. */
		rs_reserve(s, s->n + 1);
		memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof(*s->r));
		s->n++;
		s->r[i].end = start;
		s->r[i + 1].start = end;
		return;
	}
	if (i < s->n && s->r[i].start < start) {
		s->r[i].end = start;
		i++;
	}
	for (j = i; j < s->n && s->r[j].end <= end; j++)
		;
	if (j < s->n && s->r[j].start < end)
		s->r[j].start = end;
	memmove(&s->r[i], &s->r[j], (s->n - j) * sizeof(*s->r));
	s->n -= j - i;
}

void rs_add(struct m_rangeset *s, aspace_gpa_t start, aspace_gpa_t end)
{
	size_t i;

	if (start >= end)
		return;
	/* Ascending additions (tree walks) append or extend the last. */
	if (s->n && s->r[s->n - 1].end == start) {
		s->r[s->n - 1].end = end;
		return;
	}
	if (!s->n || s->r[s->n - 1].end < start) {
		rs_reserve(s, s->n + 1);
		s->r[s->n].start = start;
		s->r[s->n++].end = end;
		return;
	}
	rs_remove(s, start, end);
	i = rs_lower(s, start);
	rs_reserve(s, s->n + 1);
	memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof(*s->r));
	s->n++;
	s->r[i].start = start;
	s->r[i].end = end;
	/* Merge with touching neighbours. */
	if (i + 1 < s->n && s->r[i + 1].start == end) {
		s->r[i].end = s->r[i + 1].end;
		memmove(&s->r[i + 1], &s->r[i + 2],
			(s->n - i - 2) * sizeof(*s->r));
		s->n--;
	}
	if (i > 0 && s->r[i - 1].end == start) {
		s->r[i - 1].end = s->r[i].end;
		memmove(&s->r[i], &s->r[i + 1], (s->n - i - 1) * sizeof(*s->r));
		s->n--;
	}
}

bool rs_contains(const struct m_rangeset *s, aspace_gpa_t addr)
{
	size_t i = rs_lower(s, addr);

	return i < s->n && s->r[i].start <= addr;
}

bool rs_equal(const struct m_rangeset *a, const struct m_rangeset *b)
{
	return a->n == b->n &&
	       (!a->n || !memcmp(a->r, b->r, a->n * sizeof(*a->r)));
}

void rs_clear(struct m_rangeset *s)
{
	s->n = 0;
}

void rs_free(struct m_rangeset *s)
{
	free(s->r);
	memset(s, 0, sizeof(*s));
}

/* ---- page contents ---- */

static size_t bucket_of(const struct model *m, aspace_gpa_t page)
{
	return (size_t)((page >> 12) * 0x9e3779b97f4a7c15ull >> 40) %
	       m->nbuckets;
}

const uint8_t *model_page(const struct model *m, aspace_gpa_t page)
{
	for (struct m_page *p = m->buckets[bucket_of(m, page)]; p; p = p->next)
		if (p->gpa == page)
			return p->data;
	return NULL;
}

uint8_t *model_page_mut(struct model *m, aspace_gpa_t page)
{
	size_t b = bucket_of(m, page);
	struct m_page *p;

	for (p = m->buckets[b]; p; p = p->next)
		if (p->gpa == page)
			return p->data;
	p = calloc(1, sizeof(*p));
	if (!p)
		abort();
	p->gpa = page;
	p->next = m->buckets[b];
	m->buckets[b] = p;
	m->npages++;
	return p->data;
}

static void drop_pages(struct model *m, aspace_gpa_t start, aspace_gpa_t end)
{
	for (size_t b = 0; b < m->nbuckets; b++) {
		struct m_page **pp = &m->buckets[b];

		while (*pp) {
			struct m_page *p = *pp;

			if (p->gpa >= start && p->gpa < end) {
				*pp = p->next;
				free(p);
				m->npages--;
			} else {
				pp = &p->next;
			}
		}
	}
}

/* ---- areas ---- */

static void insert_at(struct model *m, size_t i, const struct m_area *a);

void model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
	m->nbuckets = 1024;
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	if (!m->buckets)
		abort();
}

void model_free(struct model *m)
{
	model_clear(m);
	free(m->areas);
	free(m->buckets);
	rs_free(&m->present);
}

void model_copy(struct model *dst, const struct model *src)
{
	model_clear(dst);
	for (size_t i = 0; i < src->n; i++)
		insert_at(dst, i, &src->areas[i]);
	for (size_t i = 0; i < src->present.n; i++)
		rs_add(&dst->present, src->present.r[i].start,
		       src->present.r[i].end);
	for (size_t b = 0; b < src->nbuckets; b++)
		for (const struct m_page *p = src->buckets[b]; p; p = p->next)
			memcpy(model_page_mut(dst, p->gpa), p->data, PAGE);
}

size_t model_lower(const struct model *m, aspace_gpa_t gpa)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (m->areas[mid].start + m->areas[mid].size <= gpa)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

long model_find(const struct model *m, aspace_gpa_t gpa)
{
	size_t i = model_lower(m, gpa);

	return i < m->n && m->areas[i].start <= gpa ? (long)i : -1;
}

bool model_overlaps(const struct model *m, aspace_gpa_t gpa, uint64_t size)
{
	size_t i = model_lower(m, gpa);

	return i < m->n && m->areas[i].start < gpa + size;
}

bool model_covered(const struct model *m, aspace_gpa_t gpa, uint64_t size)
{
	aspace_gpa_t at = gpa, end = gpa + size;

	for (size_t i = model_lower(m, gpa); at < end; i++) {
		if (i >= m->n || m->areas[i].start > at)
			return false;
		at = m->areas[i].start + m->areas[i].size;
	}
	return true;
}

static void insert_at(struct model *m, size_t i, const struct m_area *a)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		m->areas = xrealloc(m->areas, m->cap * sizeof(*m->areas));
	}
	memmove(&m->areas[i + 1], &m->areas[i], (m->n - i) * sizeof(*m->areas));
	m->areas[i] = *a;
	m->n++;
}

static void erase_at(struct model *m, size_t i)
{
	memmove(&m->areas[i], &m->areas[i + 1],
		(m->n - i - 1) * sizeof(*m->areas));
	m->n--;
}

void model_add(struct model *m, const struct m_area *a)
{
	insert_at(m, model_lower(m, a->start), a);
}

/* Cut the area holding gpa (if any) so that an area starts at gpa. */
static void cut_at(struct model *m, aspace_gpa_t gpa)
{
	long i = model_find(m, gpa);
	struct m_area *a, tail;

	if (i < 0 || m->areas[i].start == gpa)
		return;
	a = &m->areas[i];
	tail = *a;
	tail.start = gpa;
	tail.size = a->start + a->size - gpa;
	if (!a->alloc)
		tail.hpa = a->hpa + (gpa - a->start);
	a->size = gpa - a->start;
	insert_at(m, i + 1, &tail);
}

void model_remove(struct model *m, aspace_gpa_t gpa, uint64_t size)
{
	size_t i;

	cut_at(m, gpa);
	cut_at(m, gpa + size);
	i = model_lower(m, gpa);
	while (i < m->n && m->areas[i].start < gpa + size)
		erase_at(m, i);
	rs_remove(&m->present, gpa, gpa + size);
	drop_pages(m, gpa, gpa + size);
}

void model_protect(struct model *m, aspace_gpa_t gpa, uint64_t size,
		   unsigned flags)
{
	cut_at(m, gpa);
	cut_at(m, gpa + size);
	for (size_t i = model_lower(m, gpa);
	     i < m->n && m->areas[i].start < gpa + size; i++)
		m->areas[i].flags = (m->areas[i].flags & ~ASPACE_PERM_MASK) |
				    (flags & ASPACE_PERM_MASK);
}

void model_clear(struct model *m)
{
	m->n = 0;
	rs_clear(&m->present);
	drop_pages(m, 0, ~0ull);
}

aspace_hpa_t model_linear_hpa(const struct m_area *a, aspace_gpa_t gpa)
{
	return a->hpa + (gpa - a->start);
}

bool model_present(const struct model *m, aspace_gpa_t gpa)
{
	return rs_contains(&m->present, gpa);
}

void model_set_present(struct model *m, aspace_gpa_t gpa, uint64_t size)
{
	rs_add(&m->present, gpa, gpa + size);
}
