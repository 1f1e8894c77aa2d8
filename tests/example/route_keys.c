// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The library example of the README, built by tests/sh/install.sh against
 * an installed libchlb through pkg-config: route string keys to backends.
 */
#include <stdio.h>
#include <string.h>
#include <chlb/chlb.h>

int main(int argc, char **argv)
{
	struct chlb_ring_opts o = { .sz = sizeof(o), .seed = 42 };
	char buf[CHLB_ADDR_STRLEN];
	struct chlb_ring *ring;
	struct chlb_addr be;
	int i, err;

	err = chlb_ring__new(&o, &ring);
	if (err)
		goto out;
	if ((err = chlb_ring__add(ring, "10.0.0.1", 1)) ||
	    (err = chlb_ring__add(ring, "10.0.0.2", 2)))
		goto out;
	for (i = 1; i < argc; i++) {
		err = chlb_ring__route(ring, argv[i], strlen(argv[i]), &be);
		if (err)
			goto out;
		chlb_addr_format(&be, buf, sizeof(buf));
		printf("%s %s\n", argv[i], buf);
	}
out:
	if (err)
		fprintf(stderr, "Error: %s\n", chlb_strerror(err));
	chlb_ring__free(ring);
	return err ? 1 : 0;
}
