// SPDX-License-Identifier: GPL-2.0
/* The daemon that manages an instance; see managed.h. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "managed.h"
#include "parse.h"

__u64 managed_start_time(__u32 pid)
{
	unsigned long long start = 0;
	char path[64], buf[1024], *p;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	/* after "pid (comm)" come fields 3..; the start time is field 22 */
	for (i = 3; p && i <= 22; i++)
		p = strchr(p + 1, ' ');
	if (p)
		sscanf(p + 1, "%llu", &start);
	return start;
}

const char *managed_source_name(__u32 source)
{
	return source == CHLB_SOURCE_FILE ? "file" : source == CHLB_SOURCE_ETCD ? "etcd" : "none";
}

int managed_daemon(struct inst *in, struct chlb_daemon_info *d, bool *alive,
		   struct chlb_err *e)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(in->dp.daemon_fd, &zero, d))
		return err_fail(e, -errno, "cannot read the daemon map: %s", strerror(errno));
	*alive = d->pid && managed_start_time(d->pid) == d->start_time;
	return 0;
}

int managed_claim(struct inst *in, __u32 source, const char *desc, struct chlb_err *e)
{
	struct chlb_daemon_info d = { .pid = getpid(), .source = source };
	struct timespec now;
	bool alive;
	__u32 zero = 0;
	int err;

	err = managed_daemon(in, &d, &alive, e);
	if (err)
		return err;
	if (alive && d.pid != (__u32)getpid())
		return err_usage(e, -EBUSY, "a chlb daemon (pid %u, %s source %s) already manages %s",
				 d.pid, managed_source_name(d.source), d.desc, in->pin_dir);
	clock_gettime(CLOCK_REALTIME, &now);
	d = (struct chlb_daemon_info){ .pid = getpid(), .source = source,
				       .start_time = managed_start_time(getpid()),
				       .since_ns = now.tv_sec * 1000000000ull + now.tv_nsec };
	snprintf(d.desc, sizeof(d.desc), "%s", desc);
	if (bpf_map_update_elem(in->dp.daemon_fd, &zero, &d, BPF_ANY))
		return err_fail(e, -errno, "cannot register the daemon: %s", strerror(errno));
	return 0;
}

int managed_release(struct inst *in)
{
	struct chlb_daemon_info d, none = {};
	__u32 zero = 0;

	if (bpf_map_lookup_elem(in->dp.daemon_fd, &zero, &d) || d.pid != (__u32)getpid())
		return 0;
	return bpf_map_update_elem(in->dp.daemon_fd, &zero, &none, BPF_ANY) ? -errno : 0;
}

static bool is_managed(const struct model_vip *v)
{
	return v->info.flags & CHLB_VIP_F_MANAGED;
}

int managed_check(struct inst *in, const struct chlb_vip_key *key, bool force,
		  struct chlb_err *e)
{
	const struct model_vip *v = key ? model_find_vip(&in->m, key) : NULL;
	struct chlb_daemon_info d;
	char text[CLI_VIP_STRLEN];
	bool alive;
	int i, err;

	if (force || (key && (!v || !is_managed(v))))
		return 0;
	for (i = 0; !key && !v && i < in->m.nvips; i++)
		v = is_managed(&in->m.vips[i]) ? &in->m.vips[i] : NULL;
	if (!v)
		return 0;
	err = managed_daemon(in, &d, &alive, e);
	if (err || !alive)
		return err;
	format_vip(&v->key, text, sizeof(text));
	return err_usage(e, -EPERM, "VIP '%s' is managed by the chlb daemon (pid %u, %s %s): "
			 "change the source, or give --force (the daemon's next apply, for a "
			 "source change or a health verdict, overwrites it)", text, d.pid,
			 managed_source_name(d.source), d.desc);
}
