// SPDX-License-Identifier: GPL-2.0
/*
 * Reading the controller state back from the pinned maps, and applying a
 * change to one VIP. The maps are the only record: no chlb process keeps
 * anything between runs, so every run rebuilds rings from chlb_backends.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <bpf/bpf.h>

#include "cli/cli.h"
#include "parse.h"
#include "pindir.h"
#include "state.h"

int state_lock(const char *pin_dir, bool write)
{
	return pindir_lock(pin_dir, write, CLI_E);
}

static int cmp_vip_id(const void *a, const void *b)
{
	const struct state_vip *x = a, *y = b;

	return (x->info.id > y->info.id) - (x->info.id < y->info.id);
}

/* All VIPs, sorted by id so every listing is stable across runs and hosts. */
static int read_vips(struct state *st)
{
	struct chlb_vip_key key, *prev = NULL;
	int err;

	st->vips = calloc(st->dp.max_vips ? st->dp.max_vips : 1, sizeof(*st->vips));
	if (!st->vips)
		return -ENOMEM;
	while (!bpf_map_get_next_key(st->dp.vips_fd, prev, &key)) {
		struct state_vip *v = &st->vips[st->nvips];

		if ((__u32)st->nvips >= st->dp.max_vips)
			return cli_err(-EOVERFLOW, "more VIPs than max_vips in %s", cli.pin_dir);
		v->key = key;
		err = bpf_map_lookup_elem(st->dp.vips_fd, &key, &v->info);
		if (err)
			return cli_err(err, "cannot read the VIP map: %s", strerror(-err));
		prev = &v->key;
		st->nvips++;
	}
	qsort(st->vips, st->nvips, sizeof(*st->vips), cmp_vip_id);
	return 0;
}

/* One batched syscall round for the whole array: keeps `backend add` fast. */
static int read_backends(struct state *st)
{
	__u32 n = st->dp.max_backends, done = 0, batch, count;
	__u32 *keys;
	int err = 0;

	st->backends = calloc(n, sizeof(*st->backends));
	st->retired = calloc(n, 1);
	keys = calloc(n, sizeof(*keys));
	if (!st->backends || !st->retired || !keys) {
		err = -ENOMEM;
		goto out;
	}
	while (done < n) {
		count = n - done;
		err = bpf_map_lookup_batch(st->dp.backends_fd, done ? &batch : NULL, &batch,
					   keys + done, st->backends + done, &count, NULL);
		done += count;
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		if (err) {
			cli_err(err, "cannot read the backend map: %s", strerror(-err));
			goto out;
		}
	}
out:
	free(keys);
	return err;
}

int state_open(struct state *st, bool write)
{
	__u32 zero = 0;
	int err;

	memset(st, 0, sizeof(*st));
	st->lock_fd = state_lock(cli.pin_dir, write);
	if (st->lock_fd < 0)
		return st->lock_fd;
	err = chlb_dp__open_pinned(cli.pin_dir, &st->dp, NULL, 0);
	if (err == -ENOENT)
		return cli_err(err, "chlb is not attached (no maps under %s); try 'chlb attach DEV'",
			       cli.pin_dir);
	if (err)
		return cli_err(err, "cannot open the maps under %s: %s", cli.pin_dir,
			       strerror(-err));
	st->dp_open = true;
	err = bpf_map_lookup_elem(st->dp.config_fd, &zero, &st->cfg);
	if (err)
		return cli_err(err, "cannot read the config map: %s", strerror(-err));
	err = pindir_check_netns(&st->cfg, CLI_E);
	if (!err)
		err = read_vips(st);
	if (!err)
		err = read_backends(st);
	return err;
}

void state_close(struct state *st)
{
	if (st->dp_open)
		chlb_dp__close(&st->dp);
	st->dp_open = false;
	free(st->vips);
	free(st->backends);
	free(st->retired);
	if (st->lock_fd >= 0)
		close(st->lock_fd);	/* releases the flock */
	st->vips = NULL;
	st->backends = NULL;
	st->retired = NULL;
	st->lock_fd = -1;
}

struct state_vip *state_find_vip(struct state *st, const struct chlb_vip_key *key)
{
	int i;

	for (i = 0; i < st->nvips; i++)
		if (!memcmp(&st->vips[i].key, key, sizeof(*key)))
			return &st->vips[i];
	return NULL;
}

struct state_vip *state_vip_by_id(struct state *st, __u32 id)
{
	int i;

	for (i = 0; i < st->nvips; i++)
		if (st->vips[i].info.id == id)
			return &st->vips[i];
	return NULL;
}

int state_get_vip(struct state *st, const char *text, struct state_vip **vip)
{
	struct chlb_vip_key key;
	int err = parse_vip(text, &key, CLI_E);

	if (err)
		return err;
	*vip = state_find_vip(st, &key);
	if (!*vip)
		return cli_err(-ENOENT, "unknown VIP '%s'; see 'chlb vip list'", text);
	return 0;
}

static bool in_vip(const struct chlb_backend *b, __u32 vip_id)
{
	return (b->flags & CHLB_BACKEND_F_IN_USE) && b->vip_id == vip_id;
}

int state_find_backend(struct state *st, __u32 vip_id, const struct chlb_addr *addr)
{
	__u32 id;

	for (id = 0; id < st->dp.max_backends; id++)
		if (in_vip(&st->backends[id], vip_id) &&
		    !memcmp(st->backends[id].addr, addr->bytes, CHLB_ADDR_LEN))
			return id;
	return -ENOENT;
}

int state_count_backends(struct state *st, __u32 vip_id)
{
	__u32 id;
	int n = 0;

	for (id = 0; id < st->dp.max_backends; id++)
		n += in_vip(&st->backends[id], vip_id);
	return n;
}

int state_free_backend_id(struct state *st)
{
	__u32 id;

	for (id = 0; id < st->dp.max_backends; id++)
		if (!(st->backends[id].flags & CHLB_BACKEND_F_IN_USE) && !st->retired[id])
			return id;
	return cli_err(-ENOSPC, "no free backend slot: all %u in use (--max-backends at attach)",
		       st->dp.max_backends);
}

int state_free_vip_id(struct state *st)
{
	__u32 id;

	for (id = 0; id < st->dp.max_vips; id++)
		if (!state_vip_by_id(st, id))
			return id;
	return cli_err(-ENOSPC, "no free VIP slot: all %u in use (--max-vips at attach)",
		       st->dp.max_vips);
}

int state_write_backend(struct state *st, __u32 id, const struct chlb_backend *b)
{
	int err = bpf_map_update_elem(st->dp.backends_fd, &id, b, BPF_ANY);

	if (err)
		return cli_err(err, "cannot write backend %u: %s", id, strerror(-err));
	st->backends[id] = *b;
	return 0;
}

int state_clear_backend(struct state *st, __u32 id)
{
	/*
	 * Only the in-use flag changes: the array update is a plain copy that
	 * a packet already past its in-use check may be reading, so the MAC
	 * it reads must stay what it was. gen survives too: the id's next
	 * backend gets gen + 1 (shared.h).
	 */
	struct chlb_backend gone = st->backends[id];
	int err;

	gone.flags = 0;
	err = state_write_backend(st, id, &gone);

	if (!err)
		err = chlb_dp__reset_backend_stats(&st->dp, id);
	st->retired[id] = 1;
	return err;
}
