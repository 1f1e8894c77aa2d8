/* SPDX-License-Identifier: GPL-2.0 */
/* The backend object: commands in backend.c, listing in backend_list.c. */
#ifndef CHLB_BACKEND_H
#define CHLB_BACKEND_H

#include <linux/types.h>

int backend_help(void);
int backend_list(int argc, char **argv);
const char *backend_state_name(__u32 flags);

#endif /* CHLB_BACKEND_H */
