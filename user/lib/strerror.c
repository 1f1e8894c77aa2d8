// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Messages for every error the library returns, and algorithm names. */
#include <errno.h>
#include <string.h>

#include "ring_internal.h"

static const char *const chlb_errs[CHLB_ERR_MAX - CHLB_ERR_BASE] = {
	[0] = "unknown chlb error",
	[CHLB_ERR_ADDR_EMPTY - CHLB_ERR_BASE] = "empty address",
	[CHLB_ERR_ADDR_TOO_LONG - CHLB_ERR_BASE] = "address too long",
	[CHLB_ERR_ADDR_PREFIX - CHLB_ERR_BASE] =
		"a prefix is not an address (remove the /LEN)",
	[CHLB_ERR_ADDR_V4_OCTET - CHLB_ERR_BASE] =
		"IPv4 address part out of range (0-255)",
	[CHLB_ERR_ADDR_V4_FORM - CHLB_ERR_BASE] =
		"malformed IPv4 address (need four decimal parts a.b.c.d, no leading zeros)",
	[CHLB_ERR_ADDR_V6 - CHLB_ERR_BASE] = "malformed IPv6 address",
	[CHLB_ERR_ADDR_SYNTAX - CHLB_ERR_BASE] = "not an IPv4 or IPv6 address",
	[CHLB_ERR_WEIGHT - CHLB_ERR_BASE] = "weight out of range (1-256)",
	[CHLB_ERR_EXISTS - CHLB_ERR_BASE] = "backend already exists",
	[CHLB_ERR_NOT_FOUND - CHLB_ERR_BASE] = "no such backend",
	[CHLB_ERR_NO_BACKENDS - CHLB_ERR_BASE] = "no active backends",
	[CHLB_ERR_TOO_MANY - CHLB_ERR_BASE] = "too many backends",
	[CHLB_ERR_VNODES - CHLB_ERR_BASE] = "vnodes out of range (1-10000)",
	[CHLB_ERR_TABLE_SIZE - CHLB_ERR_BASE] =
		"table size out of range (1-16777216)",
	[CHLB_ERR_ALGO - CHLB_ERR_BASE] = "unknown algorithm",
	[CHLB_ERR_STATE - CHLB_ERR_BASE] = "unknown backend state",
};

const char *chlb_strerror(int err)
{
	const char *msg;

	if (err < 0)
		err = -err;
	if (err == 0)
		return "success";
	if (err > CHLB_ERR_BASE && err < CHLB_ERR_MAX)
		return chlb_errs[err - CHLB_ERR_BASE];
	if (err >= CHLB_ERR_BASE)
		return chlb_errs[0];
	/* strerrordesc_np: a constant string, unlike strerror() thread-safe */
	msg = strerrordesc_np(err);
	return msg ? msg : "unknown error";
}

const char *chlb_algo_name(enum chlb_algo algo)
{
	switch (algo) {
	case CHLB_ALGO_RING:
		return "ring";
	}
	return NULL;
}

int chlb_algo_parse(const char *name, enum chlb_algo *algo)
{
	if (!name || !algo)
		return -EINVAL;
	if (strcmp(name, "ring"))
		return -CHLB_ERR_ALGO;
	*algo = CHLB_ALGO_RING;
	return 0;
}
