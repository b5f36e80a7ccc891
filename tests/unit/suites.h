/* The unit-test suites of the Apache-independent core; test_main.c runs them
 * all.  Each test_*.c file defines one of these. */
#ifndef SCIM_TEST_SUITES_H
#define SCIM_TEST_SUITES_H

#include <check.h>

Suite *util_suite(void);
Suite *path_suite(void);
Suite *schema_suite(void);
Suite *filter_suite(void);
Suite *sqlfilter_suite(void);
Suite *patch_suite(void);
Suite *store_suite(void);
Suite *seat_suite(void);
Suite *request_suite(void);
Suite *service_suite(void);
Suite *logthrottle_suite(void);
Suite *bounds_suite(void);
Suite *walk_suite(void);

/* Counts jansson's allocations for bounds_suite(); called before any
 * JSON value exists. */
void bounds_count_json_allocations(void);

#endif
