# tests/hw: hardware conformance. aspace's tables are walked by MMU models
# we did not write (QEMU riscv64 H extension, QEMU aarch64 EL2 stage 2,
# Bochs VMX with EPT). See tests/hw/README.md. `make check-hw` runs it; it
# skips (exit 77) when the emulators or cross compilers are missing.
check_PROGRAMS += tests/hw/hw_driver
tests_hw_hw_driver_SOURCES = \
	tests/hw/hw_driver.c \
	tests/hw/hw_layout.c tests/hw/hw_layout.h \
	tests/hw/hw_model.c tests/hw/hw_model.h \
	tests/hw/hw_hal.c tests/hw/hw_hal.h \
	tests/hw/hw_target.c tests/hw/hw_target.h \
	tests/hw/hw_walk.c tests/hw/hw_walk.h \
	tests/hw/hw_proto.h tests/hw/hw_rng.h
tests_hw_hw_driver_LDADD = libaspace.la -lpthread

# The bare-metal runners are built by check-hw.sh with the cross
# compilers, only when they are installed.
EXTRA_DIST += \
	tests/hw/README.md tests/hw/check-hw.sh \
	tests/hw/runner/rt.c tests/hw/runner/rt.h \
	tests/hw/runner/riscv.c tests/hw/runner/riscv_start.S \
	tests/hw/runner/riscv.ld \
	tests/hw/runner/arm64.c tests/hw/runner/arm64_start.S \
	tests/hw/runner/arm64.ld \
	tests/hw/runner/x86.c tests/hw/runner/x86_start.S \
	tests/hw/runner/x86.ld

# Prints as it goes (a long run takes minutes) and keeps a copy in
# tests/hw/check-hw.log. Exit 77 from the script (nothing installed) is a
# skip, reported the way the test harness reports one.
check-hw: tests/hw/hw_driver$(EXEEXT)
	@rm -f tests/hw/check-hw.rc; \
	{ srcdir='$(srcdir)' $(SHELL) '$(srcdir)/tests/hw/check-hw.sh'; \
	  echo $$? > tests/hw/check-hw.rc; } 2>&1 | tee tests/hw/check-hw.log; \
	rc=`cat tests/hw/check-hw.rc`; \
	case $$rc in \
	0) echo "PASS: check-hw";; \
	77) echo "SKIP: check-hw (see above)"; rc=0;; \
	*) echo "FAIL: check-hw (log: tests/hw/check-hw.log)";; \
	esac; exit $$rc

CLEANFILES += tests/hw/check-hw.log tests/hw/check-hw.rc
clean-local: clean-hw-runners
clean-hw-runners:
	-rm -rf tests/hw/runners

.PHONY: check-hw clean-hw-runners
