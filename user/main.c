// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include "chlb.skel.h"

int main(void)
{
	puts("chlb " CHLB_VERSION);
	return 0;
}
