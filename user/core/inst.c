// SPDX-License-Identifier: GPL-2.0
/*
 * Opening an instance: lock, maps (layout checked), namespace, then the
 * journal. A reader that finds an interrupted transaction takes the lock
 * exclusively and rolls it back before reading, as a database reader
 * finding a hot journal does: no command ever reports a half-applied
 * change as the state.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/parse.h"
#include "inst.h"
#include "pindir.h"
#include "teardown.h"
#include "txn_internal.h"

static int open_maps(struct inst *in, struct chlb_err *e)
{
	char why[256] = "";
	int err;

	err = chlb_dp__open_pinned(in->pin_dir, &in->dp, why, sizeof(why));
	if (err == -ENOENT)
		return err_usage(e, err, "chlb is not attached (no maps under %s); "
				 "try 'chlb attach DEV'", in->pin_dir);
	if (err == -EPROTO && strstr(why, "missing"))
		return err_fail(e, err, "the instance under %s is incomplete (%s): run 'chlb detach'",
				in->pin_dir, why);
	if (err == -EPROTO)
		return err_fail(e, err, "the pins under %s were made by another chlb version (%s): "
				"run 'chlb detach' (with that version if this one cannot), then "
				"attach again", in->pin_dir, why);
	if (err)
		return err_fail(e, err, "cannot open the maps under %s: %s", in->pin_dir,
				strerror(-err));
	in->dp_open = true;
	return 0;
}

static int journal_pending(struct inst *in, bool *pending, struct chlb_err *e)
{
	struct chlb_journal_head head;
	int err = chlb_dp__journal_read(&in->dp, &head, NULL);

	if (err)
		return err_fail(e, err, "cannot read the journal: %s", strerror(-err));
	in->journal_seq = head.seq;
	*pending = head.state == CHLB_JOURNAL_PENDING;
	return 0;
}

/*
 * Roll back an interrupted transaction, under the exclusive lock. A reader
 * converts its lock; flock() drops it to do so, so another process may
 * have rolled back (or detached) meanwhile: look again once it is held.
 */
static int finish_journal(struct inst *in, bool write, struct chlb_err *e)
{
	bool pending, done = false;
	int err;

	err = journal_pending(in, &pending, e);
	if (err || !pending)
		return err;
	if (!write) {
		err = pindir_relock(in->lock_fd, in->pin_dir, true, e);
		if (!err)
			err = journal_pending(in, &pending, e);
	}
	if (!err && pending)
		err = recover(in, &done, NULL, e);
	in->recovered = done;
	if (!write && !err)
		err = pindir_relock(in->lock_fd, in->pin_dir, false, e);
	return err;
}

/*
 * What an attach killed half way left is removed by whichever command
 * comes next, as an interrupted change is rolled back: the instance was
 * never there, and a retried attach starts clean.
 */
static int finish_attach(struct inst *in, bool write, struct chlb_err *e)
{
	int err = 0;

	if (!teardown_interrupted(in->pin_dir))
		return 0;
	if (!write)
		err = pindir_relock(in->lock_fd, in->pin_dir, true, e);
	if (!err && teardown_interrupted(in->pin_dir))
		err = teardown(in->pin_dir, false, NULL, e);
	if (err)
		return err;
	return err_usage(e, -ENOENT, "chlb is not attached under %s (an interrupted attach was "
			 "cleaned up); try 'chlb attach DEV'", in->pin_dir);
}

int inst_open(struct inst *in, const char *pin_dir, bool write, struct chlb_err *e)
{
	int verbose = in->verbose, err;

	memset(in, 0, sizeof(*in));
	in->verbose = verbose;
	in->pin_dir = pin_dir;
	in->lock_fd = pindir_lock(pin_dir, write, e);
	if (in->lock_fd < 0)
		return in->lock_fd;
	err = finish_attach(in, write, e);
	if (!err)
		err = open_maps(in, e);
	if (!err)
		err = model_read(&in->dp, &in->m);
	if (err && !err_has(e))
		err_fail(e, err, "cannot read the maps under %s: %s", pin_dir, strerror(-err));
	if (!err)
		err = pindir_check_netns(&in->m.cfg, e);
	if (!err)
		err = finish_journal(in, write, e);
	if (!err && in->recovered)
		err = inst_reload(in, e);
	return err;
}

int inst_reload(struct inst *in, struct chlb_err *e)
{
	int err;

	model_free(&in->m);
	err = model_read(&in->dp, &in->m);
	if (err)
		return err_fail(e, err, "cannot read the maps under %s: %s", in->pin_dir,
				strerror(-err));
	return 0;
}

void inst_close(struct inst *in)
{
	model_free(&in->m);
	if (in->dp_open)
		chlb_dp__close(&in->dp);
	in->dp_open = false;
	if (in->lock_fd >= 0)
		close(in->lock_fd);	/* releases the flock */
	in->lock_fd = -1;
}

int inst_get_vip(struct inst *in, const char *text, struct model_vip **vip,
		 struct chlb_err *e)
{
	struct chlb_vip_key key;
	int err = parse_vip(text, &key, e);

	if (err)
		return err;
	*vip = model_find_vip(&in->m, &key);
	if (!*vip)
		return err_usage(e, -ENOENT, "unknown VIP '%s'; see 'chlb vip list'", text);
	return 0;
}
