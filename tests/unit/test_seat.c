/* Membership states and the access decision of scim_seat. */

#include "scim_seat.h"
#include "suites.h"

START_TEST(unknown_member_refused)
{
    ck_assert_int_eq(scim_seat_decide(NULL, 0, SCIM_SEATS_UNLIMITED),
                     SCIM_ACCESS_UNKNOWN);
}
END_TEST

START_TEST(inactive_member_refused_even_with_seat)
{
    scim_seat_member_t m = { .active = 0, .seat = 1 };

    ck_assert_int_eq(scim_seat_decide(&m, 0, 5), SCIM_ACCESS_INACTIVE);
    ck_assert(!scim_access_admits(scim_seat_decide(&m, 0, 5)));
}
END_TEST

START_TEST(seat_holder_admitted_when_full)
{
    scim_seat_member_t m = { .active = 1, .seat = 1 };

    /* A holder keeps the seat even when the limit was lowered below the
     * seats in use. */
    ck_assert_int_eq(scim_seat_decide(&m, 9, 2), SCIM_ACCESS_ADMIT);
}
END_TEST

START_TEST(free_seat_taken)
{
    scim_seat_member_t m = { .active = 1, .seat = 0 };

    ck_assert_int_eq(scim_seat_decide(&m, 1, 2), SCIM_ACCESS_TAKE_SEAT);
    ck_assert_int_eq(scim_seat_decide(&m, 1000, SCIM_SEATS_UNLIMITED),
                     SCIM_ACCESS_TAKE_SEAT);
    ck_assert(scim_access_admits(SCIM_ACCESS_TAKE_SEAT));
}
END_TEST

START_TEST(no_free_seat_refused)
{
    scim_seat_member_t m = { .active = 1, .seat = 0 };

    ck_assert_int_eq(scim_seat_decide(&m, 2, 2), SCIM_ACCESS_NO_SEAT);
    ck_assert_int_eq(scim_seat_decide(&m, 3, 2), SCIM_ACCESS_NO_SEAT);
    ck_assert_str_eq(scim_access_name(SCIM_ACCESS_NO_SEAT), "no-seat");
}
END_TEST

START_TEST(state_names_round_trip)
{
    ck_assert_str_eq(scim_state_name(SCIM_STATE_LINKED), "linked");
    ck_assert_str_eq(scim_state_name(SCIM_STATE_PROVISIONED), "provisioned");
    ck_assert_int_eq(scim_state_parse("linked"), SCIM_STATE_LINKED);
    ck_assert_int_eq(scim_state_parse("provisioned"), SCIM_STATE_PROVISIONED);
    /* pgsql's driver answers "" for NULL */
    ck_assert_int_eq(scim_state_parse(""), SCIM_STATE_PROVISIONED);
    ck_assert_int_eq(scim_state_parse(NULL), SCIM_STATE_PROVISIONED);
}
END_TEST

Suite *seat_suite(void)
{
    Suite *s = suite_create("seat");
    TCase *tc = tcase_create("decide");

    tcase_add_test(tc, unknown_member_refused);
    tcase_add_test(tc, inactive_member_refused_even_with_seat);
    tcase_add_test(tc, seat_holder_admitted_when_full);
    tcase_add_test(tc, free_seat_taken);
    tcase_add_test(tc, no_free_seat_refused);
    tcase_add_test(tc, state_names_round_trip);
    suite_add_tcase(s, tc);
    return s;
}
