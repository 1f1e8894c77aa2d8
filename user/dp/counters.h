/* SPDX-License-Identifier: GPL-2.0 */
/* Names of the data plane's global counters (enum chlb_counter). */
#ifndef CHLB_COUNTERS_H
#define CHLB_COUNTERS_H

#include <chlb/shared.h>

/* snake_case name of counter c, used for both JSON keys and table rows. */
const char *counter_name(enum chlb_counter c);

#endif /* CHLB_COUNTERS_H */
