#!/bin/sh
# SPDX-License-Identifier: MIT
# make check-hw: build the bare-metal runners with the cross compilers that
# are installed, then run tests/hw/hw_driver for every emulator found: the
# conformance layouts first, then the corruption self-test. Exit 77 (skip)
# when no emulator/compiler pair is installed.
#
# Environment: ASPACE_SEED, ASPACE_HW_LAYOUTS (default 6 per format; the
# long run uses 200), ASPACE_HW_FORMATS, ASPACE_HW_LAYOUT, ASPACE_HW_PROBES,
# ASPACE_HW_KEEP; see tests/hw/hw_driver.c.
set -u

srcdir=${srcdir:-.}
src=$srcdir/tests/hw/runner
driver=${HW_DRIVER:-./tests/hw/hw_driver}
out=tests/hw/runners
HOST_CC=${HOST_CC:-gcc}
BARE="-O2 -Wall -Wextra -fno-pie -no-pie -static -nostdlib -ffreestanding \
 -Wl,--build-id=none -Wl,--no-warn-rwx-segments"

mkdir -p "$out" || exit 99
have() { command -v "$1" >/dev/null 2>&1; }
targets=
skipped=

note_skip() {
	skipped="$skipped $1"
	echo "check-hw: $1 not checked: $2"
}

if have qemu-system-riscv64 && have riscv64-linux-gnu-gcc; then
	if riscv64-linux-gnu-gcc $BARE -march=rv64imac_zicsr_zifencei \
		-mabi=lp64 -mcmodel=medany -T "$src/riscv.ld" \
		-o "$out/riscv.elf" "$src/riscv_start.S" "$src/riscv.c" \
		"$src/rt.c"; then
		targets="$targets --riscv"
	else
		echo "check-hw: building the riscv64 runner failed"; exit 99
	fi
else
	note_skip "RISC-V (Sv39x4/Sv48x4/Sv57x4)" \
		"needs qemu-system-riscv64 (qemu-system-misc) and gcc-riscv64-linux-gnu"
fi

if have qemu-system-aarch64 && have aarch64-linux-gnu-gcc; then
	if aarch64-linux-gnu-gcc $BARE -mgeneral-regs-only -mstrict-align \
		-T "$src/arm64.ld" -o "$out/arm64.elf" "$src/arm64_start.S" \
		"$src/arm64.c" "$src/rt.c"; then
		targets="$targets --arm"
	else
		echo "check-hw: building the aarch64 runner failed"; exit 99
	fi
else
	note_skip "AArch64 stage 2 (S2_4K)" \
		"needs qemu-system-aarch64 (qemu-system-arm) and gcc-aarch64-linux-gnu"
fi

term_plugin=$(ls /usr/lib/*/bochs/plugins/libbx_term* 2>/dev/null | head -n 1)
if have bochs && [ -f /usr/share/bochs/VGABIOS-lgpl-latest ] && \
	[ -n "$term_plugin" ]; then
	if $HOST_CC $BARE -m32 -march=i686 -fno-stack-protector \
		-fno-asynchronous-unwind-tables -T "$src/x86.ld" \
		-o "$out/x86.elf" "$src/x86_start.S" "$src/x86.c" "$src/rt.c" &&
		objcopy -O binary "$out/x86.elf" "$out/x86.rom"; then
		targets="$targets --x86"
	else
		note_skip "x86 EPT4" "$HOST_CC cannot build the 32-bit runner (-m32)"
	fi
else
	note_skip "x86 EPT4" "needs bochs, bochsbios and bochs-term"
fi

if [ -z "$targets" ]; then
	echo "check-hw: SKIP: no emulator installed. On Debian:"
	echo "  apt-get install --no-install-recommends qemu-system-misc" \
		"qemu-system-arm gcc-riscv64-linux-gnu gcc-aarch64-linux-gnu" \
		"bochs bochsbios bochs-term"
	exit 77
fi

# One seed for both passes, printed by the driver.
if [ -z "${ASPACE_SEED:-}" ]; then
	ASPACE_SEED=$(od -An -N6 -tu8 /dev/urandom | tr -d ' ')
fi
export ASPACE_SEED

work=$(mktemp -d "${TMPDIR:-/tmp}/aspace-hw.XXXXXX") || exit 99
rc=0
"$driver" --runners "$out" --work "$work" $targets || rc=1
"$driver" --runners "$out" --work "$work" $targets --corrupt || rc=1
# Failing layouts leave their files for inspection.
rmdir "$work" 2>/dev/null || echo "check-hw: run files kept in $work"
exit $rc
