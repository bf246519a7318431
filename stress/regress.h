/* SPDX-License-Identifier: MIT */
/* Shared by the regression tests: a watchdog that turns a hang into FAIL. */
#ifndef ASPACE_STRESS_REGRESS_H
#define ASPACE_STRESS_REGRESS_H

#include <signal.h>
#include <string.h>
#include <unistd.h>

static const char *regress_hang_msg;

static void regress_hung(int sig)
{
	(void)sig;
	if (write(2, regress_hang_msg, strlen(regress_hang_msg)) < 0)
		_exit(1);
	_exit(1);
}

/* After seconds, print msg (a line: "FAIL: ... deadlocked\n") and exit 1. */
static inline void regress_watchdog(const char *msg, unsigned seconds)
{
	regress_hang_msg = msg;
	signal(SIGALRM, regress_hung);
	alarm(seconds);
}

#endif
