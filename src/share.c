/* SPDX-License-Identifier: MIT */
/*
 * Frame families: reference counts of data frames that more than one
 * mapping holds (copy-on-write clones, shared mappings), and of 2 MiB
 * frames split into 4 KiB leaves. See struct frame_family.
 *
 * Every address space using the same HAL (alloc function and context)
 * belongs to one family, found in a small registry, so frames can move
 * between any two of them.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct frame_family *registry;

static bool same_hal(const struct aspace_hal *a, const struct aspace_hal *b)
{
	return a->alloc == b->alloc && a->free == b->free && a->ctx == b->ctx;
}

struct frame_family *family_get(const struct aspace_hal *hal)
{
	struct frame_family *fam;

	pthread_mutex_lock(&registry_lock);
	for (fam = registry; fam; fam = fam->next)
		if (same_hal(&fam->hal, hal))
			break;
	if (!fam && posix_memalign((void **)&fam, 64, sizeof(*fam)) == 0) {
		memset(fam, 0, sizeof(*fam));
		fam->hal = *hal;
		for (unsigned i = 0; i < SHARE_STRIPES; i++)
			pthread_mutex_init(&fam->share[i].lock, NULL);
		pthread_mutex_init(&fam->huge_lock, NULL);
		fam->next = registry;
		registry = fam;
	}
	if (fam)
		fam->users++;
	pthread_mutex_unlock(&registry_lock);
	return fam;
}

void family_put(struct frame_family *fam)
{
	struct frame_family **pp;

	pthread_mutex_lock(&registry_lock);
	if (--fam->users == 0) {
		for (pp = &registry; *pp != fam; pp = &(*pp)->next)
			;
		*pp = fam->next;
		for (unsigned i = 0; i < SHARE_STRIPES; i++) {
			pthread_mutex_destroy(&fam->share[i].lock);
			free(fam->share[i].map.v);
		}
		pthread_mutex_destroy(&fam->huge_lock);
		free(fam->huge.v);
		free(fam);
	}
	pthread_mutex_unlock(&registry_lock);
}

static unsigned stripe(aspace_hpa_t hpa)
{
	return (unsigned)((hpa >> 12) * 0x9e3779b97f4a7c15ull >> 58);
}

pthread_mutex_t *share_lock(struct frame_family *fam, aspace_hpa_t hpa)
{
	return &fam->share[stripe(hpa)].lock;
}

struct hpa_map *share_map(struct frame_family *fam, aspace_hpa_t hpa)
{
	return &fam->share[stripe(hpa)].map;
}

/* More than one mapping holds key. Caller holds share_lock(key). */
bool frame_shared(struct frame_family *fam, aspace_hpa_t hpa)
{
	return hpa_map_get(share_map(fam, hpa), hpa) > 1;
}

int huge_reserve(struct frame_family *fam, size_t more)
{
	int r;

	pthread_mutex_lock(&fam->huge_lock);
	r = hpa_map_reserve(&fam->huge, more);
	pthread_mutex_unlock(&fam->huge_lock);
	return r;
}

/*
 * A mapping of the whole 2 MiB frame at hpa became 512 leaves of 4 KiB
 * (room reserved). The count is of such leaves in every space, and the
 * entry holds one reference to the frame: the first splitter's; a space
 * that splits a frame already split elsewhere (a shared area) gives up
 * its own reference to the whole frame instead.
 */
void huge_split(struct frame_family *fam, aspace_hpa_t hpa)
{
	uint32_t pages, refs;

	pthread_mutex_lock(&fam->huge_lock);
	pages = hpa_map_get(&fam->huge, hpa);
	hpa_map_set(&fam->huge, hpa, pages + PT_ENTRIES);
	pthread_mutex_unlock(&fam->huge_lock);
	if (!pages)
		return;
	hpa = share_key(hpa, ASPACE_BLOCK_2M);
	pthread_mutex_lock(share_lock(fam, hpa));
	refs = hpa_map_get(share_map(fam, hpa), hpa);
	hpa_map_set(share_map(fam, hpa), hpa, refs <= 2 ? 0 : refs - 1);
	pthread_mutex_unlock(share_lock(fam, hpa));
}

/*
 * A mapping of the data frame [*hpa, *hpa + *size) went away. True when
 * nothing maps the memory any more: the caller frees [*hpa, *hpa + *size),
 * which may have grown to the whole 2 MiB frame a 4 KiB leaf was part of.
 */
bool frame_drop(struct frame_family *fam, aspace_hpa_t *hpa, uint64_t *size)
{
	aspace_hpa_t key = share_key(*hpa, *size);
	pthread_mutex_t *lock = share_lock(fam, key);
	struct hpa_map *m = share_map(fam, key);
	uint32_t refs, pages;
	aspace_hpa_t base;

	pthread_mutex_lock(lock);
	refs = hpa_map_get(m, key);
	if (refs > 1)
		hpa_map_set(m, key, refs == 2 ? 0 : refs - 1);
	pthread_mutex_unlock(lock);
	if (refs > 1 || *size != ASPACE_PAGE_SIZE)
		return refs <= 1;
	base = ALIGN_DOWN(*hpa, ASPACE_BLOCK_2M);
	pthread_mutex_lock(&fam->huge_lock);
	pages = hpa_map_get(&fam->huge, base);
	if (pages)
		hpa_map_set(&fam->huge, base, pages - 1);
	pthread_mutex_unlock(&fam->huge_lock);
	if (pages != 1)
		return pages == 0;
	/*
	 * The last leaf of a split 2 MiB frame: their set held one reference
	 * to the whole frame, which another space may share too.
	 */
	*hpa = base;
	*size = ASPACE_BLOCK_2M;
	return frame_drop(fam, hpa, size);
}

/* ---- clone ---- */

static int clone_areas(struct aspace *src, struct aspace *dst)
{
	const struct area_set *s = src->areas;
	struct area_set *set = area_set_new(MAX(s->n, 16), 0);

	if (!set)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		const struct area *a = s->v[i];
		struct area *copy =
			area_new(a->start, a->end, a->hpa, a->flags, a->kind);

		if (!copy) {
			while (i--)
				free(set->v[i]);
			free(set);
			return -ENOMEM;
		}
		area_set_push(set, copy);
	}
	free(dst->areas);
	dst->areas = set;
	return 0;
}

int aspace_clone(struct aspace *src, struct aspace **out)
{
	struct pt_op sop = {.as = src}, dop;
	struct aspace *dst;
	struct fault_handler *h;
	int r;

	r = aspace_create(&src->cfg, &dst);
	if (r)
		return r;
	dop = (struct pt_op){.as = dst};
	as_lock(src);
	__atomic_store_n(&src->cloning, 1, __ATOMIC_SEQ_CST);
	/* dst is private until we return: its set needs no publishing. */
	r = clone_areas(src, dst);
	for (size_t i = 0; !r && i < dst->areas->n; i++) {
		const struct area *a = src->areas->v[i];

		r = pt_clone_range(&sop, &dop, a, a->start, a->end);
	}
	/*
	 * No write may reach a shared frame through a stale translation: the
	 * flush ends the CPUs' ones, the grace period the host accessors'.
	 */
	flush_run(src, &sop.flush);
	as_grace_period(src);
	__atomic_store_n(&src->cloning, 0, __ATOMIC_RELEASE);
	stack_release(dst, &dop.tables, ASPACE_PAGE_SIZE);
	h = __atomic_load_n(&src->handler, __ATOMIC_ACQUIRE);
	if (!r && h)
		r = aspace_set_fault_handler(dst, h->fn, h->ctx);
	if (r) {
		/* Drop dst's references, then make src's leaves whole again. */
		aspace_destroy(dst);
		for (size_t i = 0; i < src->areas->n; i++)
			if (src->areas->v[i]->kind == AREA_ALLOC)
				pt_unshare_area(src, src->areas->v[i]);
		dst = NULL;
	}
	as_unlock(src);
	*out = dst;
	return r;
}
