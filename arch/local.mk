# arch: one folder per format family; each describes its entries as data.
libaspace_la_SOURCES += \
	arch/x86/ept.h arch/x86/ept.c \
	arch/arm64/stage2.h arch/arm64/stage2.c \
	arch/riscv/gstage.h arch/riscv/gstage.c
