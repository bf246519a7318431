/* SPDX-License-Identifier: MIT */
/*
 * Translation and guest-memory access from the host.
 */
#include <errno.h>
#include <string.h>

#include "rcu.h"

/* Walk gpa; a frozen entry is a block mid-split: wait for it. */
static inline __attribute__((always_inline)) int
lookup_stable(struct aspace *as, aspace_gpa_t gpa, struct pt_lookup *l,
	      const struct pt_bits k)
{
	int r = pt_lookup_bits(as, gpa, l, k, false, 0);

	while (caa_unlikely(r == -EAGAIN)) {
		caa_cpu_relax();
		r = pt_lookup_bits(as, gpa, l, k, false, 0);
	}
	return r;
}

/*
 * A walk found a leaf; the vCPU's area cache may not cover gpa: look the
 * area up and fill in. Entered inside the read-side section; leaves it.
 */
__attribute__((noinline)) int vcpu_translate_area(struct aspace_vcpu *v,
						  aspace_gpa_t gpa,
						  struct aspace_xlate *out,
						  pte_t pte, unsigned level)
{
	struct aspace *as = v->as;
	const struct area *a = vcpu_area(v, gpa);
	const struct pt_lookup l = {
		.pte = pte, .level = level, .size = PT_LEVEL_SIZE(level)};
	/* A leaf outside any area: a map in progress, or gpa outside the
	 * window (where the walk's masked root index landed in it). */
	int r = gpa_in_window(as, gpa) ? -ENOENT : -EINVAL;

	if (a) {
		xlate_fill(as, gpa, &l, a, out, as->fmt.bits);
		r = 0;
	}
	rcu_unlock(as);
	return r;
}

/*
 * Off the fast path (translate.c): a HAL without a direct map, or a frozen
 * entry (a block mid-split: wait for it). Entered inside the read-side section;
 * leaves it.
 */
__attribute__((noinline, cold)) int
vcpu_translate_slow(struct aspace_vcpu *v, aspace_gpa_t gpa,
		    struct aspace_xlate *out)
{
	struct aspace *as = v->as;
	struct pt_lookup l;
	int r = -EINVAL;

	if (gpa_in_window(as, gpa)) {
		r = lookup_stable(as, gpa, &l, as->fmt.bits);
		if (r == 0)
			return vcpu_translate_area(v, gpa, out, l.pte, l.level);
	}
	rcu_unlock(as);
	return r;
}

/* Any format and HAL: the format's bits read from as->fmt. */
__attribute__((noinline)) int translate_generic(struct aspace_vcpu *v,
						aspace_gpa_t gpa,
						struct aspace_xlate *out)
{
	rcu_lock(v->as);
	return vcpu_translate_slow(v, gpa, out);
}

int aspace_translate(struct aspace *as, aspace_gpa_t gpa,
		     struct aspace_xlate *out)
{
	struct pt_lookup l;
	const struct area *a;
	int r;

	if (!gpa_in_window(as, gpa))
		return -EINVAL;
	as_lock(as);
	r = lookup_stable(as, gpa, &l, as->fmt.bits);
	if (r == 0) {
		a = area_find(as->areas, gpa);
		if (a)
			xlate_fill(as, gpa, &l, a, out, as->fmt.bits);
		else
			r = -ENOENT;
	}
	as_unlock(as);
	return r;
}

/* ---- guest memory ---- */

/* Who is asking: a vCPU (RCU, own cache) or the control path (locked). */
struct accessor {
	struct aspace *as;
	struct aspace_vcpu *vcpu;
	struct frame_cache *cache;
	struct counters *cnt;
	unsigned fault_how; /* FAULT_NO_HUGE once the HAL had no 2 MiB */
	bool need_2m;	    /* -ENOBUFS came from a fault wanting 2 MiB */
};

typedef void (*segment_fn)(void *host, size_t len, size_t off, void *ctx);

static const struct area *acc_area(struct accessor *acc, aspace_gpa_t gpa)
{
	return acc->vcpu ? vcpu_area(acc->vcpu, gpa)
			 : area_find(acc->as->areas, gpa);
}

/* Every byte of [gpa, gpa + len) lies in RAM areas: else -EFAULT. */
static int guest_check(struct accessor *acc, aspace_gpa_t gpa, size_t len)
{
	struct aspace *as = acc->as;
	aspace_gpa_t at = gpa, last = gpa + len - 1;

	if (!range_in_window(as, gpa, len))
		return -EFAULT;
	while (at <= last) {
		const struct area *a = acc_area(acc, at);

		if (!a || (a->flags & ASPACE_DEVICE))
			return -EFAULT;
		if (a->end - 1 >= last)
			break;
		at = a->end;
	}
	return 0;
}

/*
 * Call fn for each host segment of [gpa, gpa + len), split at leaf
 * boundaries. Reads (ASPACE_READ) fault nothing in: a lazy page not yet
 * faulted reads as zeros (fn gets NULL). Writes and iovs fault lazy pages
 * in and break copy-on-write sharing, as a device access would; with a
 * NULL fn that is all they do, so that a caller can make the whole range
 * ready before it changes a byte.
 */
static int guest_segments(struct accessor *acc, aspace_gpa_t gpa, size_t len,
			  unsigned access, segment_fn fn, void *ctx)
{
	struct aspace *as = acc->as;
	size_t off = 0;

	while (off < len) {
		aspace_gpa_t at = gpa + off;
		const struct area *a = acc_area(acc, at);
		struct pt_lookup l;
		int r;

		if (!a || (a->flags & ASPACE_DEVICE)) /* unmapped meanwhile */
			return -EFAULT;
		r = lookup_stable(as, at, &l, as->fmt.bits);
		if (access != ASPACE_READ &&
		    (r == -ENOENT || (l.pte & as->fmt.cow_bit))) {
			unsigned how = ASPACE_WRITE | acc->fault_how;

			/* A vCPU, in its read section, calls no HAL: the
			 * caller refills on -ENOBUFS and starts over. */
			if (acc->vcpu && acc->cache->n4k < as->fmt.levels)
				return -ENOBUFS;
			r = acc->vcpu
				    ? fault_resolve_access(as, acc->cache,
							   acc->cnt, a, at, how)
				    : fault_resolve_locked(as, acc->cache,
							   acc->cnt, a, at,
							   how);
			acc->need_2m = r == -ENOBUFS;
			/* -EBUSY: wait for a clone or a block split outside
			 * the read section; -ENOBUFS: refill there. */
			if (r && r != -EEXIST && r != -EAGAIN)
				return r;
			continue;
		}
		uint64_t size = PT_LEVEL_SIZE(l.level);
		uint64_t in = at & (size - 1);
		size_t n = (size_t)MIN(size - in, (uint64_t)(len - off));

		if (fn)
			fn(r ? NULL : pt_va(as, pte_addr(&as->fmt, l.pte) + in),
			   n, off, ctx);
		off += n;
	}
	return 0;
}

/* Check, make ready, then act: a failed call has written nothing. */
static int guest_access(struct accessor *acc, aspace_gpa_t gpa, size_t len,
			unsigned access, segment_fn fn, void *ctx)
{
	int r;

	if (!len)
		return 0;
	r = guest_check(acc, gpa, len);
	if (!r && access != ASPACE_READ)
		r = guest_segments(acc, gpa, len, access, NULL, NULL);
	if (!r)
		r = guest_segments(acc, gpa, len, access, fn, ctx);
	return r;
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
	if (host)
		memcpy((char *)buf + off, host, len);
	else
		memset((char *)buf + off, 0, len);
}

static void write_segment(void *host, size_t len, size_t off, void *buf)
{
	memcpy(host, (const char *)buf + off, len);
}

static int acc_iov(struct accessor *acc, aspace_gpa_t gpa, size_t len,
		   struct iovec *iov, int n)
{
	struct iov_ctx c = {.iov = iov, .n = n};
	int r = guest_access(acc, gpa, len, ASPACE_WRITE, iov_segment, &c);

	if (r)
		return r;
	return c.used > n ? -ENOSPC : c.used;
}

/*
 * -EBUSY: a clone of this space is write-protecting it, or a control
 * operation is about to split a block; start over outside the read section
 * (copying the same bytes again is harmless).
 */
#define CONTROL_ACCESS(as, call)                                               \
	({                                                                     \
		struct accessor acc = {(as),	   NULL, &(as)->ctl_cache,     \
				       &(as)->ctl, 0,	 false};               \
		int r_;                                                        \
		do {                                                           \
			as_lock((as));                                         \
			r_ = (call);                                           \
			as_unlock((as));                                       \
		} while (r_ == -EBUSY);                                        \
		r_;                                                            \
	})

/* After -ENOBUFS, outside the read section: 0 to try again, or -ENOMEM. */
static int vcpu_refill(struct accessor *acc)
{
	unsigned how = acc->fault_how;
	int r = cache_topup(acc->as, acc->cache, acc->as->fmt.levels);

	if (!r && acc->need_2m)
		r = fault_refill_2m(acc->as, acc->cache, &how);
	acc->fault_how = how;
	acc->need_2m = false;
	return r;
}

#define VCPU_ACCESS(v, call)                                                   \
	({                                                                     \
		struct accessor acc = {(v)->as,	  (v), &(v)->cache,            \
				       &(v)->cnt, 0,   false};                 \
		int r_;                                                        \
		for (;;) {                                                     \
			rcu_lock((v)->as);                                     \
			r_ = (call);                                           \
			rcu_unlock((v)->as);                                   \
			if (r_ == -ENOBUFS)                                    \
				r_ = vcpu_refill(&acc);                        \
			else if (r_ == -EBUSY)                                 \
				as_backoff((v)->as);                           \
			else                                                   \
				break;                                         \
			if (r_ && r_ != -EBUSY)                                \
				break;                                         \
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
	return CONTROL_ACCESS(as, guest_access(&acc, gpa, len, ASPACE_READ,
					       read_segment, buf));
}

int aspace_write(struct aspace *as, aspace_gpa_t gpa, const void *buf,
		 size_t len)
{
	return CONTROL_ACCESS(as, guest_access(&acc, gpa, len, ASPACE_WRITE,
					       write_segment, (void *)buf));
}

int aspace_vcpu_read(struct aspace_vcpu *v, aspace_gpa_t gpa, void *buf,
		     size_t len)
{
	return VCPU_ACCESS(v, guest_access(&acc, gpa, len, ASPACE_READ,
					   read_segment, buf));
}

int aspace_vcpu_write(struct aspace_vcpu *v, aspace_gpa_t gpa, const void *buf,
		      size_t len)
{
	return VCPU_ACCESS(v, guest_access(&acc, gpa, len, ASPACE_WRITE,
					   write_segment, (void *)buf));
}
