// SPDX-License-Identifier: GPL-2.0
/* The live tables; see live.h. */
#include <errno.h>
#include <string.h>

#include "build.h"
#include "live.h"

int live_table(struct inst *in, __u32 vip_id, __u32 *slots, struct chlb_err *e)
{
	__u32 s;
	int err;

	err = chlb_dp__get_table(&in->dp, vip_id, slots);
	if (err == -ENOENT)
		for (s = 0, err = 0; s < in->m.table_size; s++)
			slots[s] = CHLB_NO_BACKEND;
	if (err)
		return err_fail(e, err, "cannot read the table of VIP %u: %s", vip_id,
				strerror(-err));
	return 0;
}

int live_checksum(struct inst *in, __u32 vip_id, __u32 *slots, uint64_t *sum, struct chlb_err *e)
{
	int err = live_table(in, vip_id, slots, e);

	if (!err)
		*sum = build_checksum(&in->m, slots);
	return err;
}
