/* Runs every unit-test suite of the core; exits non-zero on any failure. */
#include <stdlib.h>

#include <apr_general.h>

#include "suites.h"

int main(void)
{
    SRunner *runner;
    int failed;

    bounds_count_json_allocations();
    apr_initialize();
    atexit(apr_terminate);

    runner = srunner_create(util_suite());
    srunner_add_suite(runner, path_suite());
    srunner_add_suite(runner, schema_suite());
    srunner_add_suite(runner, filter_suite());
    srunner_add_suite(runner, sqlfilter_suite());
    srunner_add_suite(runner, patch_suite());
    srunner_add_suite(runner, store_suite());
    srunner_add_suite(runner, seat_suite());
    srunner_add_suite(runner, request_suite());
    srunner_add_suite(runner, service_suite());
    srunner_add_suite(runner, logthrottle_suite());
    srunner_add_suite(runner, bounds_suite());
    srunner_add_suite(runner, walk_suite());
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
