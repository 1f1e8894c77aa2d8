/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The main() every CUnit test binary shares: register a table of suites
 * (CUnit's own CU_SuiteInfo/CU_TestInfo), run them verbose, exit 1 when
 * any assertion, test or suite set-up failed. Header-only because the
 * tsan_ring binary links library objects only, not the helper objects.
 */
#ifndef CHLB_TEST_CU_MAIN_H
#define CHLB_TEST_CU_MAIN_H

#include <stdio.h>
#include <CUnit/Basic.h>

/* One suite row: name, set-up, clean-up, NULL-terminated test table. */
#define CU_SUITE(name, init, clean, tests) { name, init, clean, NULL, NULL, tests }

static inline int cu_main(CU_SuiteInfo *suites)
{
	unsigned int failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	if (CU_register_suites(suites) != CUE_SUCCESS) {
		fprintf(stderr, "cannot register tests: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
		 CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

#endif /* CHLB_TEST_CU_MAIN_H */
