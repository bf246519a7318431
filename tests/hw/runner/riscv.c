/* SPDX-License-Identifier: MIT */
/*
 * RISC-V runner for QEMU virt (-cpu rv64,h=true -bios none). It stays in
 * M-mode and probes through the G-stage with hlv.d/hsv.d, which translate
 * as a VS-mode access would: vsatp is 0 (bare), so the address given is
 * the guest-physical address, and hgatp selects the tables under test.
 */
#include "rt.h"

#define UART_BASE 0x10000000ul
#define UART_LSR 5
#define UART_LSR_THRE 0x20
#define TEST_FINISHER 0x100000ul
#define FINISHER_PASS 0x5555
#define INPUT_ADDR 0x80200000ul

#define MSTATUS_MPV (1ul << 39)
#define HSTATUS_SPV (1ul << 7)
#define HSTATUS_SPVP (1ul << 8)

struct trap_save {
	uint64_t cause, tval, tval2, count, scratch;
};
struct trap_save hw_trap_save;

uint64_t hw_hlv_d(uint64_t gpa);
void hw_hsv_d(uint64_t gpa, uint64_t value);
void hw_hfence_gvma(void);

#define csr_write(csr, v) __asm__ volatile("csrw " #csr ", %0" ::"r"(v))
#define csr_set(csr, v) __asm__ volatile("csrs " #csr ", %0" ::"r"(v))
#define csr_read(csr)                                                          \
	({                                                                     \
		uint64_t v_;                                                   \
		__asm__ volatile("csrr %0, " #csr : "=r"(v_));                 \
		v_;                                                            \
	})

void hw_putc(char c)
{
	volatile uint8_t *uart = (volatile uint8_t *)UART_BASE;

	while (!(uart[UART_LSR] & UART_LSR_THRE))
		;
	uart[0] = (uint8_t)c;
}

void hw_exit(void)
{
	*(volatile uint32_t *)TEST_FINISHER = FINISHER_PASS;
	for (;;)
		;
}

/* hlv/hsv act as VS-mode accesses only while the monitor says V=1 follows. */
static void arm_virtual_access(void)
{
	csr_set(mstatus, MSTATUS_MPV);
	csr_set(0x600, HSTATUS_SPV | HSTATUS_SPVP); /* hstatus */
}

/* Returns the fault cause, 0 when no trap happened. */
static uint64_t trap_since(uint64_t count, struct hw_access *out)
{
	if (*(volatile uint64_t *)&hw_trap_save.count == count)
		return 0;
	out->status = hw_trap_save.cause;
	/* mtval2 holds GPA >> 2 for guest-page faults. */
	out->value = hw_trap_save.tval2 << 2;
	out->extra = hw_trap_save.tval;
	return out->status;
}

void hw_read_probe(uint64_t gpa, struct hw_access *out)
{
	uint64_t count = hw_trap_save.count;
	uint64_t v;

	arm_virtual_access();
	v = hw_hlv_d(gpa);
	if (!trap_since(count, out)) {
		out->status = 0;
		out->value = v;
		out->extra = 0;
	}
}

void hw_write_probe(uint64_t gpa, uint64_t value, struct hw_access *out)
{
	uint64_t count = hw_trap_save.count;

	arm_virtual_access();
	hw_hsv_d(gpa, value);
	if (!trap_since(count, out)) {
		out->status = 0;
		out->value = value;
		out->extra = 0;
	}
}

int main(void);
int main(void)
{
	const struct hw_input *in = (const struct hw_input *)INPUT_ADDR;

	/* One NAPOT region over everything: S/U accesses need a PMP match. */
	csr_write(pmpaddr0, ~0ul);
	csr_write(pmpcfg0, 0x1ful);
	csr_write(0x280, 0ul);	    /* vsatp: bare first stage */
	csr_write(0x680, in->root); /* hgatp */
	hw_hfence_gvma();
	hw_puts("HWRUNNER ");
	hw_puthex(csr_read(0x680));
	hw_putc('\n');
	hw_run_probes(in);
	hw_exit();
	return 0;
}
