/* SPDX-License-Identifier: MIT */
/*
 * The model of one slot: the areas the header's semantics say exist after
 * a sequence of map/unmap/protect calls, independent of how the library
 * stores them.
 */
#include "stress.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static uint64_t seg_end(const struct seg *sg)
{
	return sg->start + sg->size;
}

const struct seg *st_find(const struct sstate *st, uint64_t gpa)
{
	for (unsigned i = 0; i < st->n; i++)
		if (gpa >= st->s[i].start && gpa < seg_end(&st->s[i]))
			return &st->s[i];
	return NULL;
}

bool st_overlaps(const struct sstate *st, uint64_t gpa, uint64_t size)
{
	for (unsigned i = 0; i < st->n; i++)
		if (st->s[i].start < gpa + size && gpa < seg_end(&st->s[i]))
			return true;
	return false;
}

/* Segments are sorted, so coverage is a walk without holes. */
bool st_covered(const struct sstate *st, uint64_t gpa, uint64_t size)
{
	uint64_t at = gpa;

	for (unsigned i = 0; i < st->n && at < gpa + size; i++) {
		const struct seg *sg = &st->s[i];

		if (seg_end(sg) <= at)
			continue;
		if (sg->start > at)
			return false;
		at = seg_end(sg);
	}
	return at >= gpa + size;
}

void st_insert(struct sstate *st, const struct seg *sg)
{
	unsigned i = 0;

	while (i < st->n && st->s[i].start < sg->start)
		i++;
	memmove(&st->s[i + 1], &st->s[i], (st->n - i) * sizeof(st->s[0]));
	st->s[i] = *sg;
	st->n++;
}

/* Cut the segment that strictly contains gpa in two. */
static void split_at(struct sstate *st, uint64_t gpa)
{
	for (unsigned i = 0; i < st->n; i++) {
		struct seg *sg = &st->s[i];
		struct seg tail;

		if (gpa <= sg->start || gpa >= seg_end(sg))
			continue;
		tail = *sg;
		tail.start = gpa;
		tail.size = seg_end(sg) - gpa;
		if (tail.kind == SEG_LINEAR)
			tail.hpa += gpa - sg->start;
		sg->size = gpa - sg->start;
		st_insert(st, &tail);
		return;
	}
}

void st_unmap(struct sstate *st, uint64_t gpa, uint64_t size)
{
	unsigned out = 0;

	split_at(st, gpa);
	split_at(st, gpa + size);
	for (unsigned i = 0; i < st->n; i++) {
		const struct seg *sg = &st->s[i];

		if (sg->start >= gpa && seg_end(sg) <= gpa + size)
			continue;
		st->s[out++] = *sg;
	}
	st->n = out;
}

/* protect changes permissions only: every area keeps its memory type */
void st_protect(struct sstate *st, uint64_t gpa, uint64_t size, unsigned perm)
{
	split_at(st, gpa);
	split_at(st, gpa + size);
	for (unsigned i = 0; i < st->n; i++) {
		struct seg *sg = &st->s[i];

		if (sg->start >= gpa && seg_end(sg) <= gpa + size)
			sg->flags = perm | (sg->flags & MEMTYPE_MASK);
	}
}

/*
 * Splits happen where the calls put them; a library may keep an area whole
 * where a split changed nothing, but never join pieces that are not one
 * contiguous mapping of the same kind.
 */
static bool joinable(const struct seg *a, const struct seg *b)
{
	if (seg_end(a) != b->start || a->kind != b->kind)
		return false;
	if (a->kind == SEG_LINEAR)
		return a->hpa + a->size == b->hpa;
	return true;
}

void st_run(const struct sstate *st, const struct seg *sg, uint64_t *lo,
	    uint64_t *hi)
{
	unsigned i = (unsigned)(sg - st->s), a = i, b = i;

	while (a > 0 && joinable(&st->s[a - 1], &st->s[a]))
		a--;
	while (b + 1 < st->n && joinable(&st->s[b], &st->s[b + 1]))
		b++;
	*lo = st->s[a].start;
	*hi = seg_end(&st->s[b]);
}

static uint64_t pack_meta(const struct seg *sg)
{
	return sg->flags | (uint64_t)sg->kind << 8 |
	       (uint64_t)sg->populated << 12 | (uint64_t)sg->shared << 13 |
	       (uint64_t)sg->area_id << 32;
}

void st_store(_Atomic uint64_t *w, const struct sstate *st)
{
	atomic_store_explicit(&w[0], st->n, memory_order_relaxed);
	for (unsigned i = 0; i < st->n; i++) {
		_Atomic uint64_t *sw = &w[1 + SEG_WORDS * i];

		atomic_store_explicit(&sw[0], st->s[i].start,
				      memory_order_relaxed);
		atomic_store_explicit(&sw[1], st->s[i].size,
				      memory_order_relaxed);
		atomic_store_explicit(&sw[2], st->s[i].hpa,
				      memory_order_relaxed);
		atomic_store_explicit(&sw[3], pack_meta(&st->s[i]),
				      memory_order_relaxed);
	}
}

/* A torn copy (of a version being overwritten) must still be harmless. */
void st_load(_Atomic uint64_t *w, struct sstate *st)
{
	uint64_t n = atomic_load_explicit(&w[0], memory_order_relaxed);

	st->n = n > MAX_SEGS ? MAX_SEGS : (unsigned)n;
	for (unsigned i = 0; i < st->n; i++) {
		_Atomic uint64_t *sw = &w[1 + SEG_WORDS * i];
		uint64_t meta;

		st->s[i].start =
			atomic_load_explicit(&sw[0], memory_order_relaxed);
		st->s[i].size =
			atomic_load_explicit(&sw[1], memory_order_relaxed);
		st->s[i].hpa =
			atomic_load_explicit(&sw[2], memory_order_relaxed);
		meta = atomic_load_explicit(&sw[3], memory_order_relaxed);
		st->s[i].flags = meta & 0xff;
		st->s[i].kind = (meta >> 8) & 0xf;
		st->s[i].populated = (meta >> 12) & 1;
		st->s[i].shared = (meta >> 13) & 1;
		st->s[i].area_id = (uint32_t)(meta >> 32);
	}
}

const char *flags_str(unsigned flags, char buf[8])
{
	buf[0] = flags & ASPACE_READ ? 'r' : '-';
	buf[1] = flags & ASPACE_WRITE ? 'w' : '-';
	buf[2] = flags & ASPACE_EXEC ? 'x' : '-';
	buf[3] = flags & ASPACE_DEVICE	   ? 'D'
		 : flags & ASPACE_UNCACHED ? 'U'
					   : 'B';
	buf[4] = flags & ~ASPACE_FLAGS_MASK ? '?' : '\0';
	buf[5] = '\0';
	return buf;
}

void st_describe(const struct sstate *st, char *buf, size_t len)
{
	size_t at = 0;
	char fl[8];

	buf[0] = '\0';
	if (!st->n)
		snprintf(buf, len, "(empty)");
	for (unsigned i = 0; i < st->n && at < len; i++) {
		const struct seg *sg = &st->s[i];
		int w;

		if (sg->kind == SEG_LINEAR)
			w = snprintf(buf + at, len - at,
				     "%s[%#" PRIx64 ",+%#" PRIx64
				     ") linear hpa=%#" PRIx64 " %s",
				     i ? " " : "", sg->start, sg->size, sg->hpa,
				     flags_str(sg->flags, fl));
		else
			w = snprintf(buf + at, len - at,
				     "%s[%#" PRIx64 ",+%#" PRIx64
				     ") alloc#%u %s%s %s",
				     i ? " " : "", sg->start, sg->size,
				     sg->area_id,
				     sg->populated ? "populated" : "lazy",
				     sg->shared ? " shared" : "",
				     flags_str(sg->flags, fl));
		if (w < 0)
			break;
		at += (size_t)w;
	}
}
