// SPDX-License-Identifier: GPL-2.0
/*
 * Inner maps of the data plane (slot tables, the VIP index): created with
 * the spec the outer maps expect, written and read through a mapping.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>

#include "dp_internal.h"

/*
 * Inner maps: as struct chlb_table and struct chlb_vip_index_map in
 * bpf/maps.h (the outer maps refuse any other spec). Mappable, so a
 * whole table is written with one memcpy.
 */
static int dp_create_inner(const char *name, __u32 value_size, __u32 n)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_MMAPABLE);
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, sizeof(__u32), value_size, n, &mo);
	return fd < 0 ? -errno : fd;
}

/* A new, empty slot table of table_size entries; its fd or -errno. */
int dp_create_table(__u32 table_size)
{
	return dp_create_inner("chlb_table", sizeof(__u32), table_size);
}

int dp_create_vip_index(__u32 max_vips)
{
	return dp_create_inner("chlb_vip_index", sizeof(struct chlb_vip_slot),
			       chlb_vip_index_entries(max_vips));
}

/*
 * The mapping of an array map stores element i at i * round_up(value
 * size, 8), as the kernel lays array elements out: a __u32 table has a
 * stride of 8. Copies n values of vsize bytes in (write) or out (!write).
 */
int dp_map_copy(int fd, void *buf, __u32 n, size_t vsize, int write)
{
	size_t stride = (vsize + 7) & ~(size_t)7, page = sysconf(_SC_PAGESIZE);
	size_t maplen = ((size_t)n * stride + page - 1) / page * page;
	__u8 *mem, *b = buf;
	__u32 i;

	mem = mmap(NULL, maplen, write ? PROT_READ | PROT_WRITE : PROT_READ,
		   MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return -errno;
	for (i = 0; i < n; i++) {
		if (write)
			memcpy(mem + i * stride, b + i * vsize, vsize);
		else
			memcpy(b + i * vsize, mem + i * stride, vsize);
	}
	munmap(mem, maplen);
	return 0;
}
