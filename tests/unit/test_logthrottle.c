/* Holding back repeated log lines (scim_logthrottle.h). */

#include <string.h>

#include <apr_strings.h>

#include "scim_logthrottle.h"
#include "suites.h"

#define WINDOW apr_time_from_sec(10)

static scim_log_throttle_t throttle;

static void setup(void)
{
    memset(&throttle, 0, sizeof(throttle));
    throttle.window = WINDOW;
}

START_TEST(first_line_logged_repeats_held_back_then_counted)
{
    apr_time_t t0 = apr_time_from_sec(1000);
    unsigned held = 99;
    int i;

    ck_assert_int_eq(scim_log_throttle_admit(&throttle, "k", t0, &held), 1);
    ck_assert_uint_eq(held, 0);
    for (i = 1; i <= 5; i++) {
        ck_assert_int_eq(scim_log_throttle_admit(&throttle, "k",
                                                 t0 + apr_time_from_sec(i),
                                                 &held), 0);
    }
    /* the window counts from the line last logged */
    ck_assert_int_eq(scim_log_throttle_admit(&throttle, "k", t0 + WINDOW,
                                             &held), 1);
    ck_assert_uint_eq(held, 5);
    ck_assert_int_eq(scim_log_throttle_admit(&throttle, "k",
                                             t0 + 3 * WINDOW, &held), 1);
    ck_assert_uint_eq(held, 0);
}
END_TEST

START_TEST(keys_are_independent)
{
    unsigned held;

    ck_assert_int_eq(scim_log_throttle_admit(&throttle, "a", 1, &held), 1);
    ck_assert_int_eq(scim_log_throttle_admit(&throttle, "b", 2, &held), 1);
    ck_assert_int_eq(scim_log_throttle_admit(&throttle, "a", 3, &held), 0);
    ck_assert_int_eq(scim_log_throttle_admit(&throttle, "b", 4, &held), 0);
}
END_TEST

START_TEST(full_table_gives_up_the_oldest_key)
{
    char key[32];
    unsigned held;
    int i;

    for (i = 0; i < SCIM_LOG_THROTTLE_SLOTS; i++) {
        apr_snprintf(key, sizeof(key), "key%d", i);
        ck_assert_int_eq(scim_log_throttle_admit(&throttle, key, 100 + i,
                                                 &held), 1);
    }
    /* a new key takes key0's slot; key1 is still held back */
    ck_assert_int_eq(scim_log_throttle_admit(&throttle, "new", 200, &held), 1);
    ck_assert_int_eq(scim_log_throttle_admit(&throttle, "key1", 201, &held),
                     0);
    ck_assert_int_eq(scim_log_throttle_admit(&throttle, "key0", 202, &held),
                     1);
}
END_TEST

START_TEST(long_keys_compare_on_their_prefix)
{
    char a[SCIM_LOG_THROTTLE_KEY_MAX + 20], b[sizeof(a)];
    unsigned held;

    memset(a, 'x', sizeof(a) - 1);
    a[sizeof(a) - 1] = '\0';
    memcpy(b, a, sizeof(b));
    b[sizeof(b) - 2] = 'y';
    ck_assert_int_eq(scim_log_throttle_admit(&throttle, a, 1, &held), 1);
    ck_assert_int_eq(scim_log_throttle_admit(&throttle, b, 2, &held), 0);
}
END_TEST

Suite *logthrottle_suite(void)
{
    Suite *s = suite_create("logthrottle");
    TCase *tc = tcase_create("admit");

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, first_line_logged_repeats_held_back_then_counted);
    tcase_add_test(tc, keys_are_independent);
    tcase_add_test(tc, full_table_gives_up_the_oldest_key);
    tcase_add_test(tc, long_keys_compare_on_their_prefix);
    suite_add_tcase(s, tc);
    return s;
}
