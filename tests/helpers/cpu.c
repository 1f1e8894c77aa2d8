// SPDX-License-Identifier: GPL-2.0
/* Pinning the calling thread to a CPU; see cpu.h. */
#include <errno.h>
#include <sched.h>

#include "cpu.h"

int cpu_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

int cpu_pin_here(void)
{
	int cpu = sched_getcpu();

	return cpu < 0 ? -errno : cpu_pin(cpu);
}
