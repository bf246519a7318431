/* SPDX-License-Identifier: MIT */
/*
 * Translation and guest-memory access from the host.
 */
#include <errno.h>
#include <string.h>

#include "rcu.h"

/* Walk gpa; a frozen entry is a block mid-split: wait for it. */
static inline int lookup_stable(struct aspace *as, aspace_gpa_t gpa,
				struct pt_lookup *l)
{
	int r = pt_lookup(as, gpa, l);

	while (caa_unlikely(r == -EAGAIN)) {
		caa_cpu_relax();
		r = pt_lookup(as, gpa, l);
	}
	return r;
}

static void xlate_fill(struct aspace *as, aspace_gpa_t gpa,
		       const struct pt_lookup *l, const struct area *a,
		       struct aspace_xlate *out)
{
	uint64_t size = PT_LEVEL_SIZE(l->level);

	out->hpa = pte_addr(&as->fmt, l->pte) + (gpa & (size - 1));
	out->leaf_size = size;
	out->flags = pte_decode_flags(&as->fmt, l->pte);
	if (!as->fmt.mt_encoded) /* the platform's PMAs decide: report intent */
		out->flags |= a->flags & (ASPACE_DEVICE | ASPACE_UNCACHED);
	out->area_start = a->start;
	out->area_size = a->end - a->start;
}

int aspace_vcpu_translate(struct aspace_vcpu *v, aspace_gpa_t gpa,
			  struct aspace_xlate *out)
{
	struct aspace *as = v->as;
	struct pt_lookup l;
	const struct area *a;
	int r;

	if (gpa < as->base || gpa > as->last)
		return -EINVAL;
	rcu_lock(as);
	r = lookup_stable(as, gpa, &l);
	if (r == 0) {
		/* A leaf outside any area belongs to a map still in progress.
		 */
		a = vcpu_area(v, gpa);
		if (a)
			xlate_fill(as, gpa, &l, a, out);
		else
			r = -ENOENT;
	}
	rcu_unlock(as);
	return r;
}

int aspace_translate(struct aspace *as, aspace_gpa_t gpa,
		     struct aspace_xlate *out)
{
	struct pt_lookup l;
	const struct area *a;
	int r;

	if (gpa < as->base || gpa > as->last)
		return -EINVAL;
	pthread_mutex_lock(&as->lock);
	r = lookup_stable(as, gpa, &l);
	if (r == 0) {
		a = area_find(as->areas, gpa);
		if (a)
			xlate_fill(as, gpa, &l, a, out);
		else
			r = -ENOENT;
	}
	pthread_mutex_unlock(&as->lock);
	return r;
}

/* ---- guest memory ---- */

/* Who is asking: a vCPU (RCU, own cache) or the control path (locked). */
struct accessor {
	struct aspace *as;
	struct aspace_vcpu *vcpu;
	struct frame_cache *cache;
	struct counters *cnt;
};

typedef void (*segment_fn)(void *host, size_t len, size_t off, void *ctx);

/*
 * Call fn for each host segment of [gpa, gpa + len), split at leaf
 * boundaries, faulting lazy pages in as a device access would.
 */
static int guest_segments(struct accessor *acc, aspace_gpa_t gpa, size_t len,
			  unsigned access, segment_fn fn, void *ctx)
{
	struct aspace *as = acc->as;
	size_t off = 0;

	if (!len)
		return 0;
	if (gpa < as->base || gpa > as->last || len - 1 > as->last - gpa)
		return -EFAULT;
	while (off < len) {
		aspace_gpa_t at = gpa + off;
		const struct area *a = acc->vcpu ? vcpu_area(acc->vcpu, at)
						 : area_find(as->areas, at);
		struct pt_lookup l;
		int r;

		if (!a || (a->flags & ASPACE_DEVICE))
			return -EFAULT;
		r = lookup_stable(as, at, &l);
		/* Fault lazy pages in; a write breaks copy-on-write sharing. */
		if (r == -ENOENT ||
		    (access == ASPACE_WRITE && (l.pte & as->fmt.cow_bit))) {
			if (cache_topup(as, acc->cache, as->fmt.levels))
				return -ENOMEM;
			r = fault_resolve_access(as, acc->cache, acc->cnt, a,
						 at, access);
			/* -EBUSY: wait for a clone outside the read section. */
			if (r && r != -EEXIST && r != -EAGAIN)
				return r;
			continue;
		}
		uint64_t size = PT_LEVEL_SIZE(l.level);
		uint64_t in = at & (size - 1);
		size_t n = (size_t)MIN(size - in, (uint64_t)(len - off));

		fn(pt_va(as, pte_addr(&as->fmt, l.pte) + in), n, off, ctx);
		off += n;
	}
	return 0;
}

struct iov_ctx {
	struct iovec *iov;
	int n, used;
};

static void iov_segment(void *host, size_t len, size_t off, void *ctx)
{
	struct iov_ctx *c = ctx;

	if (c->used < c->n) {
		c->iov[c->used].iov_base = host;
		c->iov[c->used].iov_len = len;
	}
	c->used++;
}

static void read_segment(void *host, size_t len, size_t off, void *buf)
{
	memcpy((char *)buf + off, host, len);
}

static void write_segment(void *host, size_t len, size_t off, void *buf)
{
	memcpy(host, (const char *)buf + off, len);
}

static int acc_iov(struct accessor *acc, aspace_gpa_t gpa, size_t len,
		   struct iovec *iov, int n)
{
	struct iov_ctx c = {.iov = iov, .n = n};
	int r = guest_segments(acc, gpa, len, ASPACE_WRITE, iov_segment, &c);

	if (r)
		return r;
	return c.used > n ? -ENOSPC : c.used;
}

/* Copying again after -EBUSY is harmless: the bytes are the same. */
#define CONTROL_ACCESS(as, call)                                               \
	({                                                                     \
		struct accessor acc = {(as), NULL, &(as)->ctl_cache,           \
				       &(as)->ctl};                            \
		int r_;                                                        \
		do {                                                           \
			pthread_mutex_lock(&(as)->lock);                       \
			r_ = (call);                                           \
			pthread_mutex_unlock(&(as)->lock);                     \
		} while (r_ == -EBUSY);                                        \
		r_;                                                            \
	})

#define VCPU_ACCESS(v, call)                                                   \
	({                                                                     \
		struct accessor acc = {(v)->as, (v), &(v)->cache, &(v)->cnt};  \
		int r_;                                                        \
		for (;;) {                                                     \
			rcu_lock((v)->as);                                     \
			r_ = (call);                                           \
			rcu_unlock((v)->as);                                   \
			if (r_ != -EBUSY)                                      \
				break;                                         \
			caa_cpu_relax();                                       \
		}                                                              \
		r_;                                                            \
	})

int aspace_guest_iov(struct aspace *as, aspace_gpa_t gpa, size_t len,
		     struct iovec *iov, int n)
{
	return CONTROL_ACCESS(as, acc_iov(&acc, gpa, len, iov, n));
}

int aspace_read(struct aspace *as, aspace_gpa_t gpa, void *buf, size_t len)
{
	return CONTROL_ACCESS(as, guest_segments(&acc, gpa, len, ASPACE_READ,
						 read_segment, buf));
}

int aspace_write(struct aspace *as, aspace_gpa_t gpa, const void *buf,
		 size_t len)
{
	return CONTROL_ACCESS(as, guest_segments(&acc, gpa, len, ASPACE_WRITE,
						 write_segment, (void *)buf));
}

int aspace_vcpu_read(struct aspace_vcpu *v, aspace_gpa_t gpa, void *buf,
		     size_t len)
{
	return VCPU_ACCESS(v, guest_segments(&acc, gpa, len, ASPACE_READ,
					     read_segment, buf));
}

int aspace_vcpu_write(struct aspace_vcpu *v, aspace_gpa_t gpa, const void *buf,
		      size_t len)
{
	return VCPU_ACCESS(v, guest_segments(&acc, gpa, len, ASPACE_WRITE,
					     write_segment, (void *)buf));
}
