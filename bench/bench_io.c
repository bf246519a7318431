// SPDX-License-Identifier: MIT
/*
 * Host access to guest memory: aspace_vcpu_read / aspace_vcpu_write and
 * aspace_guest_iov, 64 B to 1 MiB, starting 32 bytes before a page end so
 * that every access crosses pages. The area is populated with 4 KiB frames,
 * which are not contiguous on the host: each page is its own segment.
 */
#include "bench_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define IO_GPA (64 * GiB)
#define IO_AREA (4 * MiB)
#define IO_START (IO_GPA + ASPACE_PAGE_SIZE - 32)
#define IO_MAX (1 * MiB)
#define IO_IOV (IO_MAX / ASPACE_PAGE_SIZE + 2)

enum io_op { IO_READ, IO_WRITE, IO_IOV_OP };

struct io_case {
	enum io_op op;
	size_t len;
};

/* What is written must read back, or the loop measures an error path. */
static int io_check(struct aspace_vcpu *vcpu, char *buf, char *back, size_t len)
{
	int rc;

	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(i * 7 + 1);
	rc = aspace_vcpu_write(vcpu, IO_START, buf, len);
	if (!rc)
		rc = aspace_vcpu_read(vcpu, IO_START, back, len);
	if (!rc && memcmp(buf, back, len))
		rc = -EPROTO;
	return rc;
}

static void io_loop(gb_state *st, const struct io_case *c, struct aspace *as,
		    struct aspace_vcpu *vcpu, char *buf)
{
	struct iovec iov[IO_IOV];
	uint64_t n = gb_max_iterations(st);
	int bad = 0;

	while (gb_keep_running_batch(st, n))
		for (uint64_t i = 0; i < n; i++) {
			switch (c->op) {
			case IO_READ:
				bad |= aspace_vcpu_read(vcpu, IO_START, buf,
							c->len);
				break;
			case IO_WRITE:
				bad |= aspace_vcpu_write(vcpu, IO_START, buf,
							 c->len);
				break;
			case IO_IOV_OP: {
				int segs = aspace_guest_iov(
					as, IO_START, c->len, iov, IO_IOV);

				bad |= segs < 0 ? segs : 0;
				break;
			}
			}
			gb_clobber_memory();
		}
	bench_failed(st, bad, "guest access");
}

static void bm_io(gb_state *st, void *arg)
{
	const struct io_case *c = arg;
	char *buf = malloc(IO_MAX), *back = malloc(IO_MAX);
	struct aspace_vcpu *vcpu = NULL;
	struct aspace *as = NULL;
	int rc = buf && back ? 0 : -ENOMEM;

	if (!rc)
		rc = bench_create(bench_format_by_name("EPT4"), true, &as);
	if (!rc)
		rc = aspace_map_alloc(as, IO_GPA, IO_AREA,
				      ASPACE_READ | ASPACE_WRITE, true);
	if (!rc && !(vcpu = aspace_vcpu_attach(as)))
		rc = -errno;
	if (!rc)
		rc = io_check(vcpu, buf, back, c->len);
	if (bench_failed(st, rc, "guest access set-up")) {
		bench_drain(st);
	} else {
		io_loop(st, c, as, vcpu, buf);
		gb_set_bytes_processed(st,
				       (int64_t)(gb_iterations(st) * c->len));
	}
	if (vcpu)
		aspace_vcpu_detach(vcpu);
	if (as)
		aspace_destroy(as);
	free(buf);
	free(back);
}

void bench_register_io(int reps)
{
	static const size_t lens[] = {64, 4 * KiB, 64 * KiB, IO_MAX};
	static const char *const names[] = {"vcpu_read", "vcpu_write",
					    "guest_iov"};

	for (int op = IO_READ; op <= IO_IOV_OP; op++)
		for (unsigned i = 0; i < 4; i++) {
			struct io_case *c = malloc(sizeof(*c));

			if (!c)
				abort();
			*c = (struct io_case){op, lens[i]};
			bench_register(bm_io, c, "io/EPT4/%s/bytes:%zu",
				       names[op], lens[i]);
		}
}
