// SPDX-License-Identifier: GPL-2.0
/*
 * The undo journal's maps (shared.h): records are written in one batch,
 * then the head in one update, so a reader sees either no pending
 * transaction or one whose records are all there.
 */
#include <errno.h>
#include <stdlib.h>
#include <bpf/bpf.h>

#include "dp_internal.h"

__u32 chlb_dp__journal_cap(const struct chlb_dp *dp)
{
	return 2 * dp->max_vips + dp->max_backends;
}

static int dp_journal_head(struct chlb_dp *dp, __u32 state, __u32 count, __u64 seq)
{
	struct chlb_journal_head h = { .state = state, .count = count, .seq = seq };
	__u32 zero = 0;

	return bpf_map_update_elem(dp->journal_head_fd, &zero, &h, BPF_ANY) ? -errno : 0;
}

int chlb_dp__journal_write(struct chlb_dp *dp, const struct chlb_journal_rec *recs, __u32 n,
			   __u64 seq)
{
	__u32 *keys, i, count = n;
	int err = 0;

	if (n > chlb_dp__journal_cap(dp))
		return -E2BIG;
	keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		keys[i] = i;
	if (n && bpf_map_update_batch(dp->journal_fd, keys, recs, &count, NULL))
		err = -errno;
	free(keys);
	return err ? err : dp_journal_head(dp, CHLB_JOURNAL_PENDING, n, seq);
}

int chlb_dp__journal_read(struct chlb_dp *dp, struct chlb_journal_head *head,
			  struct chlb_journal_rec *recs)
{
	__u32 zero = 0, i;

	if (bpf_map_lookup_elem(dp->journal_head_fd, &zero, head))
		return -errno;
	if (head->state != CHLB_JOURNAL_PENDING)
		return 0;
	if (head->count > chlb_dp__journal_cap(dp))
		return -EUCLEAN;
	for (i = 0; recs && i < head->count; i++)
		if (bpf_map_lookup_elem(dp->journal_fd, &i, &recs[i]))
			return -errno;
	return 0;
}

int chlb_dp__journal_done(struct chlb_dp *dp, __u64 seq)
{
	return dp_journal_head(dp, CHLB_JOURNAL_IDLE, 0, seq);
}
