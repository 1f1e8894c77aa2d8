// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Snapshot and scratch-buffer memory. */
#include <errno.h>
#include <stdlib.h>

#include "ring_internal.h"

void chlb_snapshot_free(struct chlb_snapshot *snap)
{
	if (!snap)
		return;
	free(snap->table);
	free(snap->addrs);
	free(snap->slots);
	free(snap);
}

static int grow_bids(struct chlb_snapshot *s, uint32_t nbids)
{
	struct chlb_addr *addrs;
	uint32_t *slots, cap;

	if (nbids <= s->cap_bids)
		return 0;
	cap = nbids < 16 ? 16 : nbids + nbids / 2;
	addrs = realloc(s->addrs, cap * sizeof(*addrs));
	if (!addrs)
		return -ENOMEM;
	s->addrs = addrs;
	slots = realloc(s->slots, cap * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	s->slots = slots;
	s->cap_bids = cap;
	return 0;
}

/*
 * Make *snap (reused when it exists: the previous table's pages are already
 * faulted in) able to hold an m-slot table and nbids backend ids.
 */
int chlb_snapshot_reserve(struct chlb_snapshot **snap, uint32_t m,
			  uint32_t nbids)
{
	struct chlb_snapshot *s = *snap;
	int err;

	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -ENOMEM;
		s->table = malloc((size_t)m * sizeof(*s->table));
		if (!s->table) {
			free(s);
			return -ENOMEM;
		}
		s->m = m;
		*snap = s;
	}
	err = grow_bids(s, nbids);
	if (err)
		return err;
	s->nbids = nbids;
	return 0;
}

void chlb_build_buf_free(struct chlb_build_buf *buf)
{
	free(buf->points);
	free(buf->tmp);
	buf->points = NULL;
	buf->tmp = NULL;
	buf->cap_points = 0;
	buf->cap_tmp = 0;
}
