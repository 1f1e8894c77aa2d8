// SPDX-License-Identifier: GPL-2.0
/* Removing the bpffs pin directories tests create (one per test process). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pin_dir.h"

#define BPFFS "/sys/fs/bpf"

void pin_dir_remove(const char *dir)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(dir);
}

void pin_dir_remove_stale(const char *prefix)
{
	size_t n = strlen(prefix);
	struct dirent *de;
	char path[512];
	DIR *d = opendir(BPFFS);
	long pid;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, n))
			continue;
		pid = strtol(de->d_name + n, NULL, 10);
		if (pid > 0 && kill(pid, 0) && errno == ESRCH) {
			snprintf(path, sizeof(path), BPFFS "/%s", de->d_name);
			pin_dir_remove(path);
		}
	}
	closedir(d);
}
