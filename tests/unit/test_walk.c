/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Walks (scim_walk.h): cursors are checked strictly, continuations are
 * found only for their own list, position and row count. */

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "scim_walk.h"
#include "suites.h"

static apr_pool_t *pool;
static void *table;

static const scim_walk_list_t users = {
    "acme", "User", NULL, NULL, SCIM_WALK_RESOURCES
};
static const scim_walk_key_t key = {
    "2026-12-01T21:54:39.123Z", "2819c223-7f76-453a-919d-413861904646"
};

static void setup(void)
{
    apr_pool_create(&pool, NULL);
    table = calloc(1, scim_walk_table_size());
    scim_walk_install(table, NULL, NULL);
}

static void teardown(void)
{
    scim_walk_install(NULL, NULL, NULL);
    free(table);
    apr_pool_destroy(pool);
}

static void assert_invalid(const scim_walk_list_t *list, const char *cursor)
{
    scim_walk_key_t got = { NULL, NULL };
    scim_error_t *err = scim_walk_cursor_key(pool, list, cursor, &got);

    ck_assert_msg(err != NULL, "cursor '%s' was taken", cursor);
    ck_assert_int_eq(err->status, 400);
    ck_assert_str_eq(err->scim_type, SCIM_TYPE_INVALID_CURSOR);
}

START_TEST(cursor_gives_back_its_key)
{
    const char *cursor = scim_walk_cursor(pool, &users, &key);
    scim_walk_list_t members = users;
    scim_walk_key_t member_key = { "", key.id }, got;
    size_t i;

    ck_assert_ptr_nonnull(cursor);
    ck_assert_int_le((int)strlen(cursor), SCIM_WALK_MAX_CURSOR);
    /* RFC 9865 2: unreserved characters only */
    for (i = 0; cursor[i]; i++) {
        ck_assert_msg(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
                             "wxyz0123456789-_", cursor[i]) != NULL,
                      "'%c' in %s", cursor[i], cursor);
    }
    /* opaque: the key is not readable in it */
    ck_assert_ptr_null(strstr(cursor, "2819c223"));
    ck_assert_ptr_null(scim_walk_cursor_key(pool, &users, cursor, &got));
    ck_assert_str_eq(got.created, key.created);
    ck_assert_str_eq(got.id, key.id);

    members.group_id = "g1";
    members.order = SCIM_WALK_MEMBERS;
    cursor = scim_walk_cursor(pool, &members, &member_key);
    ck_assert_ptr_null(scim_walk_cursor_key(pool, &members, cursor, &got));
    ck_assert_str_eq(got.created, "");
    ck_assert_str_eq(got.id, key.id);
}
END_TEST

START_TEST(cursor_of_another_list_is_invalid)
{
    const char *cursor = scim_walk_cursor(pool, &users, &key);
    scim_walk_list_t other;

    other = users;
    other.org = "umbrella";
    assert_invalid(&other, cursor);
    other = users;
    other.rtype = "Group";
    assert_invalid(&other, cursor);
    other = users;
    other.filter = "active eq true";
    assert_invalid(&other, cursor);
    other = users;
    other.group_id = "g1";
    other.order = SCIM_WALK_MEMBERS;
    assert_invalid(&other, cursor);
}
END_TEST

START_TEST(altered_cursors_are_invalid)
{
    const char *cursor = scim_walk_cursor(pool, &users, &key);
    size_t len = strlen(cursor), i;

    /* every character changed, each in turn */
    for (i = 0; i < len; i++) {
        char *bad = apr_pstrdup(pool, cursor);

        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        assert_invalid(&users, bad);
        bad[i] = '=';
        assert_invalid(&users, bad);
    }
    /* cut short, lengthened, padded */
    for (i = 0; i < len; i++) {
        assert_invalid(&users, apr_pstrndup(pool, cursor, i));
    }
    assert_invalid(&users, apr_pstrcat(pool, cursor, "A", NULL));
    assert_invalid(&users, apr_pstrcat(pool, cursor, "AA", NULL));
    assert_invalid(&users, apr_pstrcat(pool, cursor, "==", NULL));
    assert_invalid(&users, apr_pstrcat(pool, "A", cursor, NULL));
}
END_TEST

START_TEST(hostile_cursors_are_invalid)
{
    char *big = apr_palloc(pool, 100001);

    memset(big, 'A', 100000);
    big[100000] = '\0';
    assert_invalid(&users, big);
    assert_invalid(&users, "x");
    assert_invalid(&users, "AAAA");
    assert_invalid(&users, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_invalid(&users, "not a cursor");
    assert_invalid(&users, "%00%00");
    assert_invalid(&users, "\xff\xfe\xfd\xfc");
    assert_invalid(&users, "Cg");            /* "\n" without a check */
}
END_TEST

START_TEST(keys_a_cursor_cannot_hold)
{
    scim_walk_key_t bad = key;

    bad.id = "a\nb";
    ck_assert_ptr_null(scim_walk_cursor(pool, &users, &bad));
    bad.id = "";
    ck_assert_ptr_null(scim_walk_cursor(pool, &users, &bad));
    bad.id = apr_psprintf(pool, "%065d", 1);
    ck_assert_ptr_null(scim_walk_cursor(pool, &users, &bad));
    bad = key;
    bad.created = "";
    ck_assert_ptr_null(scim_walk_cursor(pool, &users, &bad));
}
END_TEST

START_TEST(continuation_found_for_its_list_position_and_total)
{
    scim_walk_list_t other = users;
    scim_walk_key_t got;

    ck_assert_int_eq(scim_walk_recall(pool, &users, 101, 500, &got), 0);
    scim_walk_remember(&users, 101, 500, &key);
    ck_assert_int_eq(scim_walk_recall(pool, &users, 101, 500, &got), 1);
    ck_assert_str_eq(got.created, key.created);
    ck_assert_str_eq(got.id, key.id);
    /* read again: a page asked twice */
    ck_assert_int_eq(scim_walk_recall(pool, &users, 101, 500, &got), 1);
    /* a row added or removed since: the positions moved */
    ck_assert_int_eq(scim_walk_recall(pool, &users, 101, 501, &got), 0);
    ck_assert_int_eq(scim_walk_recall(pool, &users, 101, 499, &got), 0);
    ck_assert_int_eq(scim_walk_recall(pool, &users, 102, 500, &got), 0);
    other.org = "umbrella";
    ck_assert_int_eq(scim_walk_recall(pool, &other, 101, 500, &got), 0);
    other = users;
    other.rtype = "Group";
    ck_assert_int_eq(scim_walk_recall(pool, &other, 101, 500, &got), 0);
    other = users;
    other.group_id = "g1";
    other.order = SCIM_WALK_MEMBERS;
    ck_assert_int_eq(scim_walk_recall(pool, &other, 101, 500, &got), 0);
}
END_TEST

START_TEST(continuations_are_bounded)
{
    scim_walk_key_t got;
    int i, found = 0;

    /* ten times more pages than slots: the table keeps at most its
     * slots, and what it gives back is right */
    for (i = 0; i < 10 * SCIM_WALK_SLOTS; i++) {
        scim_walk_key_t k = { key.created, apr_itoa(pool, i) };

        scim_walk_remember(&users, 2 + i, 1000000, &k);
    }
    for (i = 0; i < 10 * SCIM_WALK_SLOTS; i++) {
        if (scim_walk_recall(pool, &users, 2 + i, 1000000, &got)) {
            ck_assert_str_eq(got.id, apr_itoa(pool, i));
            found++;
        }
    }
    ck_assert_int_le(found, SCIM_WALK_SLOTS);
    ck_assert_int_gt(found, 0);
}
END_TEST

START_TEST(no_table_no_continuation)
{
    scim_walk_key_t got;

    scim_walk_install(NULL, NULL, NULL);
    scim_walk_remember(&users, 101, 500, &key);
    ck_assert_int_eq(scim_walk_recall(pool, &users, 101, 500, &got), 0);
}
END_TEST

Suite *walk_suite(void)
{
    Suite *s = suite_create("walk");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, cursor_gives_back_its_key);
    tcase_add_test(tc, cursor_of_another_list_is_invalid);
    tcase_add_test(tc, altered_cursors_are_invalid);
    tcase_add_test(tc, hostile_cursors_are_invalid);
    tcase_add_test(tc, keys_a_cursor_cannot_hold);
    tcase_add_test(tc, continuation_found_for_its_list_position_and_total);
    tcase_add_test(tc, continuations_are_bounded);
    tcase_add_test(tc, no_table_no_continuation);
    suite_add_tcase(s, tc);
    return s;
}
