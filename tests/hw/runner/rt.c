/* SPDX-License-Identifier: MIT */
#include "rt.h"

void hw_puts(const char *s)
{
	while (*s)
		hw_putc(*s++);
}

void hw_puthex(uint64_t v)
{
	char buf[17];
	int i = 16;

	buf[i] = 0;
	do {
		buf[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	hw_puts(&buf[i]);
}

static void put_field(uint64_t v)
{
	hw_putc(' ');
	hw_puthex(v);
}

static void run_one(uint64_t index, const struct hw_probe *p)
{
	struct hw_access rd, wr;

	if (p->paint)
		*(volatile uint64_t *)(uintptr_t)p->paint = HW_TAG(p->paint);
	hw_read_probe(p->gpa, &rd);
	/* Writing back what was read keeps the probed word intact. */
	hw_write_probe(p->gpa, rd.status ? 0 : rd.value, &wr);
	hw_putc('P');
	put_field(index);
	put_field(rd.status);
	put_field(rd.value);
	put_field(rd.extra);
	put_field(wr.status);
	put_field(wr.value);
	put_field(wr.extra);
	hw_putc('\n');
}

void hw_run_probes(const struct hw_input *in)
{
	const struct hw_probe *probes = (const struct hw_probe *)(in + 1);
	uint64_t i;

	if (in->magic != HW_INPUT_MAGIC) {
		hw_puts("HWERROR bad input magic\n");
		return;
	}
	for (i = 0; i < in->nprobes; i++)
		run_one(i, &probes[i]);
	hw_puts("HWDONE ");
	hw_puthex(in->nprobes);
	hw_putc('\n');
}
