# src: the arch-neutral core.
libaspace_la_SOURCES += \
	src/internal.h src/pt_format.h src/rcu.h \
	src/aspace.c src/area.c src/fault.c src/frames.c src/guest.c \
	src/hal_host.c src/rcu.c src/share.c src/translate.c src/walk.c
libaspace_la_SOURCES += src/query.c
