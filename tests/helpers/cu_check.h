/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CHECK(cond, desc): a CUnit assertion that also says which case failed.
 * Data plane tests run one checking function over a table of cases, so a
 * bare CU_ASSERT names only that function's line; desc names the case.
 * cond is evaluated once; CUnit records it as its own text, as CU_ASSERT.
 */
#ifndef CHLB_TEST_CU_CHECK_H
#define CHLB_TEST_CU_CHECK_H

#include <stdio.h>
#include <CUnit/CUnit.h>

#define CHECK(cond, desc)                                                             \
	do {                                                                          \
		int ok_ = !!(cond);                                                   \
		CU_assertImplementation(ok_, __LINE__, #cond, __FILE__, "", CU_FALSE); \
		if (!ok_)                                                             \
			fprintf(stderr, "\n    [%s] failed: %s", desc, #cond);        \
	} while (0)

#endif /* CHLB_TEST_CU_CHECK_H */
