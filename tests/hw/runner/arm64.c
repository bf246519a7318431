/* SPDX-License-Identifier: MIT */
/*
 * AArch64 runner for QEMU virt (virtualization=on, -cpu max). It runs at
 * EL2 with HCR_EL2.VM set and asks the stage-2 MMU with AT S12E1R/AT
 * S12E1W: with the EL1 MMU off the input address is the IPA, and PAR_EL1
 * returns the output address or the stage-2 fault (FST, with S = 1).
 * HCR_EL2.DC makes the absent stage 1 normal write-back memory, so the
 * PAR_EL1 memory attributes are those of the stage-2 leaf.
 */
#include "rt.h"

#define UART_BASE 0x09000000ul
#define UART_FR 0x18
#define UART_FR_TXFF 0x20
#define INPUT_ADDR 0x40400000ul
#define PSCI_SYSTEM_OFF 0x84000008ul

#define HCR_VM (1ul << 0)
#define HCR_DC (1ul << 12)
#define HCR_RW (1ul << 31)

#define sysreg_write(reg, v) __asm__ volatile("msr " #reg ", %0" ::"r"(v))
#define sysreg_read(reg)                                                       \
	({                                                                     \
		uint64_t v_;                                                   \
		__asm__ volatile("mrs %0, " #reg : "=r"(v_));                  \
		v_;                                                            \
	})

void hw_putc(char c)
{
	volatile uint32_t *uart = (volatile uint32_t *)UART_BASE;

	while (uart[UART_FR / 4] & UART_FR_TXFF)
		;
	uart[0] = (uint8_t)c;
}

void hw_exit(void)
{
	register uint64_t x0 __asm__("x0") = PSCI_SYSTEM_OFF;

	__asm__ volatile("smc #0" : "+r"(x0)::"memory");
	for (;;)
		;
}

void hw_unexpected(uint64_t esr, uint64_t elr, uint64_t far);
void hw_unexpected(uint64_t esr, uint64_t elr, uint64_t far)
{
	hw_puts("HWERROR exception esr ");
	hw_puthex(esr);
	hw_puts(" elr ");
	hw_puthex(elr);
	hw_puts(" far ");
	hw_puthex(far);
	hw_putc('\n');
	hw_exit();
}

static void report(uint64_t gpa, uint64_t par, struct hw_access *out)
{
	out->extra = par;
	if (par & 1) {
		/* Fault: FST[6:1], PTW bit 8, S bit 9. */
		out->status = 0x10000 | (par & 0x3fe);
		out->value = gpa;
	} else {
		out->status = 0;
		out->value = (par & 0x000ffffffffff000ul) | (gpa & 0xfff);
	}
}

void hw_read_probe(uint64_t gpa, struct hw_access *out)
{
	__asm__ volatile("at s12e1r, %0\n\tisb" ::"r"(gpa) : "memory");
	report(gpa, sysreg_read(par_el1), out);
}

void hw_write_probe(uint64_t gpa, uint64_t value, struct hw_access *out)
{
	(void)value;
	__asm__ volatile("at s12e1w, %0\n\tisb" ::"r"(gpa) : "memory");
	report(gpa, sysreg_read(par_el1), out);
}

int main(void);
int main(void)
{
	const struct hw_input *in = (const struct hw_input *)INPUT_ADDR;

	sysreg_write(vtcr_el2, in->aux);
	sysreg_write(vttbr_el2, in->root);
	sysreg_write(sctlr_el1, 0ul);
	sysreg_write(hcr_el2, HCR_VM | HCR_DC | HCR_RW);
	__asm__ volatile("isb\n\ttlbi vmalls12e1\n\tdsb sy\n\tisb" ::
				 : "memory");
	hw_puts("HWRUNNER ");
	hw_puthex(sysreg_read(vttbr_el2));
	hw_putc(' ');
	hw_puthex(sysreg_read(vtcr_el2));
	hw_puts(" mmfr0 ");
	hw_puthex(sysreg_read(id_aa64mmfr0_el1));
	hw_putc('\n');
	hw_run_probes(in);
	hw_exit();
	return 0;
}
