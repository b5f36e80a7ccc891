/* The store against a real database through apr_dbd: schema creation,
 * indexed lookups, uniqueness, versions, and what happens to the database
 * underneath (another connection changes the schema, the file goes, the
 * disk fills, the server drops the connection).  Every test runs on
 * SQLite, and on PostgreSQL when SCIM_TEST_PGSQL_PARAMS names a server. */

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include "scim_db.h"
#include "scim_store.h"
#include "scim_store_int.h"
#include "store_fixture.h"
#include "suites.h"

static apr_pool_t *pool;
static scim_store_t *store;

/* A fresh database, opened through apr_dbd as mod_dbd would, and the
 * store over it. */
static void open_store(void)
{
    store = store_fixture_open(&pool);
}

static void open_store_pgsql(void)
{
    store = store_fixture_open_driver("pgsql", &pool);
}

/* A statement on the fixture's connection, or on another one. */
static void run_sql(apr_dbd_t *handle, const char *sql)
{
    int n;

    ck_assert_msg(apr_dbd_query(store_fixture_driver(), handle, &n, sql)
                  == 0, "%s: %s", sql,
                  apr_dbd_error(store_fixture_driver(), handle, 0));
}

/* The first column of a query's last row (a PRAGMA, a process id). */
static const char *query_value(apr_dbd_t *handle, const char *sql)
{
    const apr_dbd_driver_t *driver = store_fixture_driver();
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *value = NULL;

    ck_assert_msg(apr_dbd_select(driver, pool, handle, &res, sql, 1) == 0,
                  "%s: %s", sql, apr_dbd_error(driver, handle, 0));
    while (apr_dbd_get_row(driver, pool, res, &row, -1) == 0) {
        value = apr_pstrdup(pool, apr_dbd_get_entry(driver, row, 0));
    }
    return value;
}

/* The store of the next request over the fixture's connection (and its
 * table of prepared statements, as mod_dbd keeps it). */
static scim_store_t *next_request(scim_error_t **err)
{
    apr_pool_t *request;
    scim_store_t *st = NULL;

    apr_pool_create(&request, pool);
    *err = scim_store_open(request, store_fixture_driver(),
                           store_fixture_handle(), store_fixture_prepared(),
                           pool, &st);
    return st;
}

static scim_record_t *user(const char *id, const char *user_name,
                           const char *external_id)
{
    scim_record_t *rec = apr_pcalloc(pool, sizeof(*rec));

    rec->rtype = "User";
    rec->id = id;
    rec->name = user_name;
    rec->external_id = external_id;
    rec->created = rec->last_modified = scim_now(pool);
    rec->version = 1;
    rec->state = "provisioned";
    rec->resource = scim_json_pool_own(pool,
        json_pack("{s:s}", "userName", user_name));
    return rec;
}

START_TEST(creates_schema_and_reads_back)
{
    scim_record_t *got = NULL;

    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u1", "Alice@Example.com",
                                              "ext-1"), NULL));
    ck_assert_ptr_null(scim_store_get(store, "acme", "User", "u1", &got));
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got->id, "u1");
    ck_assert_str_eq(got->name, "Alice@Example.com");
    ck_assert_str_eq(got->external_id, "ext-1");
    ck_assert_str_eq(got->state, "provisioned");
    ck_assert_int_eq(got->version, 1);
    ck_assert_str_eq(json_string_value(json_object_get(got->resource,
                                                       "userName")),
                     "Alice@Example.com");
}
END_TEST

START_TEST(organizations_are_separate)
{
    scim_record_t *got = NULL;
    apr_array_header_t *found = apr_array_make(pool, 1,
                                               sizeof(scim_record_t *));
    int count = -1;

    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u1", "bob", NULL), NULL));
    /* the same userName in another organization is fine */
    ck_assert_ptr_null(scim_store_create(store, "globex",
                                         user("u2", "bob", NULL), NULL));
    ck_assert_ptr_null(scim_store_get(store, "globex", "User", "u1", &got));
    ck_assert_ptr_null(got);
    ck_assert_ptr_null(scim_store_find(store, "acme", "User",
                                       SCIM_STORE_BY_NAME, "BOB", 0, found));
    ck_assert_int_eq(found->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(found, 0, scim_record_t *)->id, "u1");
    ck_assert_ptr_null(scim_store_count(store, "globex", "User", &count));
    ck_assert_int_eq(count, 1);
}
END_TEST

START_TEST(user_name_unique_ignoring_case)
{
    scim_error_t *err;

    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u1", "Carol", NULL), NULL));
    err = scim_store_create(store, "acme", user("u2", "cAROL", NULL), NULL);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(err->status, 409);
    ck_assert_str_eq(err->scim_type, "uniqueness");
    /* renaming another user onto the name is refused too */
    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u3", "dave", NULL), NULL));
    {
        scim_record_t *rec = user("u3", "CAROL", NULL);
        rec->version = 2;
        err = scim_store_update(store, "acme", rec, NULL, 1, 1, NULL);
        ck_assert_ptr_nonnull(err);
        ck_assert_int_eq(err->status, 409);
    }
}
END_TEST

START_TEST(update_checks_version)
{
    scim_record_t *rec = user("u1", "erin", "x1"), *got = NULL;
    scim_error_t *err;

    ck_assert_ptr_null(scim_store_create(store, "acme", rec, NULL));
    rec = user("u1", "Erin", "x2");
    rec->version = 2;
    ck_assert_ptr_null(scim_store_update(store, "acme", rec, NULL, 1, 1,
                                         NULL));
    /* a writer that read version 1 lost the race */
    rec->version = 2;
    err = scim_store_update(store, "acme", rec, NULL, 1, 1, NULL);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(err->status, 412);
    ck_assert_ptr_null(scim_store_get(store, "acme", "User", "u1", &got));
    ck_assert_int_eq(got->version, 2);
    ck_assert_str_eq(got->external_id, "x2");
    rec = user("nope", "nobody", NULL);
    err = scim_store_update(store, "acme", rec, NULL, 1, 1, NULL);
    ck_assert_int_eq(err->status, 404);
}
END_TEST

/* A write that finds the database locked by another connection answers
 * 503 with Retry-After; once the lock is gone, the next request on the same
 * connection writes.  Each request has its own pool, as under httpd. */
START_TEST(busy_database_then_next_request_writes)
{
    const apr_dbd_driver_t *driver = store_fixture_driver();
    apr_dbd_t *handle = store_fixture_handle(), *other = NULL;
    apr_pool_t *request;
    scim_store_t *st = NULL;
    scim_error_t *err;
    int n;

    ck_assert_int_eq(apr_dbd_open(driver, pool, store_fixture_path(), &other),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_dbd_query(driver, other, &n, "BEGIN EXCLUSIVE"), 0);

    apr_pool_create(&request, pool);
    ck_assert_ptr_null(scim_store_open(request, driver, handle,
                                       apr_hash_make(pool), pool, &st));
    err = scim_store_create(st, "acme", user("u1", "ann", NULL), NULL);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(err->status, 503);
    ck_assert_int_eq(err->retry_after, SCIM_STORE_RETRY_AFTER);
    apr_pool_destroy(request);

    ck_assert_int_eq(apr_dbd_query(driver, other, &n, "ROLLBACK"), 0);
    apr_dbd_close(driver, other);

    apr_pool_create(&request, pool);
    ck_assert_ptr_null(scim_store_open(request, driver, handle,
                                       apr_hash_make(pool), pool, &st));
    ck_assert_ptr_null(scim_store_create(st, "acme",
                                         user("u1", "ann", NULL), NULL));
    apr_pool_destroy(request);
}
END_TEST

START_TEST(delete_removes_and_reports_absent)
{
    scim_record_t *got = NULL;
    scim_error_t *err;

    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u1", "frank", NULL), NULL));
    ck_assert_ptr_null(scim_store_delete(store, "acme", "User", "u1"));
    ck_assert_ptr_null(scim_store_get(store, "acme", "User", "u1", &got));
    ck_assert_ptr_null(got);
    err = scim_store_delete(store, "acme", "User", "u1");
    ck_assert_int_eq(err->status, 404);
    /* the name is free again */
    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u2", "FRANK", NULL), NULL));
}
END_TEST

START_TEST(pages_in_stable_order)
{
    apr_array_header_t *page = apr_array_make(pool, 4,
                                              sizeof(scim_record_t *));
    int i;

    for (i = 0; i < 7; i++) {
        scim_record_t *rec = user(apr_psprintf(pool, "id%d", i),
                                  apr_psprintf(pool, "user%d", i), NULL);
        rec->created = "2026-01-01T00:00:00.000Z";   /* ties: id decides */
        ck_assert_ptr_null(scim_store_create(store, "acme", rec, NULL));
    }
    ck_assert_ptr_null(scim_store_page(store, pool, "acme", "User", 2, 3, 0,
                                       page));
    ck_assert_int_eq(page->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(page, 0, scim_record_t *)->id, "id2");
    ck_assert_str_eq(APR_ARRAY_IDX(page, 2, scim_record_t *)->id, "id4");
}
END_TEST

START_TEST(open_sets_a_connection_up_once)
{
    apr_hash_t *again = apr_hash_make(pool);
    scim_store_t *second = NULL;
    int n;

    /* a second connection to a migrated database, then its next request */
    ck_assert_ptr_null(scim_store_open(pool, store_fixture_driver(), store_fixture_handle(),
                                       again, pool,
                                       &second));
    n = (int)apr_hash_count(again);
    ck_assert_int_gt(n, 0);
    ck_assert_ptr_null(scim_store_open(pool, store_fixture_driver(), store_fixture_handle(),
                                       again, pool,
                                       &second));
    ck_assert_ptr_nonnull(second);
    ck_assert_int_eq((int)apr_hash_count(again), n);
    ck_assert_int_eq(scim_store_stats(second).statements, 0);
    ck_assert_int_eq(scim_store_schema_version(), 8);
}
END_TEST

/* Users written before the e-mail index existed (schema v1) have no index
 * rows; migrating fills in what the index keeps of theirs, on both
 * drivers, and leaves users that have rows alone. */
START_TEST(migration_indexes_emails_of_users_written_before_the_index)
{
    scim_record_t *old = user("old1", "old-one", NULL);
    scim_record_t *kept = user("new1", "new-one", NULL);
    apr_array_header_t *found = apr_array_make(pool, 2,
                                               sizeof(scim_record_t *));
    scim_store_t *migrated = NULL;
    int n;

    old->resource = scim_json_pool_own(pool, json_pack(
        "{s:s,s:[{s:s},{s:s},{s:i},{s:s}]}", "userName", "old-one",
        "emails", "value", "Old.One@Example.COM", "value", "",
        "value", 5, "type", "work"));
    kept->resource = scim_json_pool_own(pool, json_pack(
        "{s:s,s:[{s:s}]}", "userName", "new-one", "emails", "value",
        "new@example.com"));
    ck_assert_ptr_null(scim_store_create(store, "acme", old, NULL));
    ck_assert_int_eq(apr_dbd_query(store_fixture_driver(),
                                   store_fixture_handle(), &n,
                                   "DELETE FROM scim_emails"), 0);
    ck_assert_ptr_null(scim_store_create(store, "acme", kept, NULL));
    ck_assert_int_eq(apr_dbd_query(store_fixture_driver(),
                                   store_fixture_handle(), &n,
                                   "UPDATE scim_schema_version"
                                   " SET version = 5"), 0);
    ck_assert_ptr_null(scim_store_find(store, "acme", "User",
                                       SCIM_STORE_BY_EMAIL,
                                       "old.one@example.com", 0, found));
    ck_assert_int_eq(found->nelts, 0);

    ck_assert_ptr_null(scim_store_open(pool, store_fixture_driver(),
                                       store_fixture_handle(),
                                       apr_hash_make(pool), pool,
                                       &migrated));
    ck_assert_ptr_null(scim_store_find(migrated, "acme", "User",
                                       SCIM_STORE_BY_EMAIL,
                                       "OLD.one@example.com", 0, found));
    ck_assert_int_eq(found->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(found, 0, scim_record_t *)->id, "old1");
    found->nelts = 0;
    ck_assert_ptr_null(scim_store_find(migrated, "acme", "User",
                                       SCIM_STORE_BY_EMAIL,
                                       "new@example.com", 0, found));
    ck_assert_int_eq(found->nelts, 1);
    ck_assert_int_eq(apr_dbd_query(store_fixture_driver(),
                                   store_fixture_handle(), &n,
                                   "DELETE FROM scim_emails"), 0);
    ck_assert_int_eq(n, 2);     /* neither "", 5 nor a row twice */
}
END_TEST

static scim_record_t *group(const char *id, const char *display_name)
{
    scim_record_t *rec = user(id, display_name, NULL);

    rec->rtype = "Group";
    rec->state = NULL;
    rec->resource = scim_json_pool_own(pool,
        json_pack("{s:s}", "displayName", display_name));
    return rec;
}

static apr_array_header_t *member_ops(int kind, ...)
{
    apr_array_header_t *ops = apr_array_make(pool, 4,
                                             sizeof(scim_member_op_t));
    va_list ap;
    const char *id;

    va_start(ap, kind);
    while ((id = va_arg(ap, const char *))) {
        scim_member_op_t *op = apr_array_push(ops);
        op->kind = kind;
        op->member_id = id;
    }
    va_end(ap);
    return ops;
}

static int member_count(const char *group_id)
{
    int n = -1;

    ck_assert_ptr_null(scim_store_member_count(store, "acme", group_id, &n));
    return n;
}

START_TEST(group_members_are_rows)
{
    apr_array_header_t *members = apr_array_make(pool, 4,
                                                 sizeof(scim_member_t));
    scim_store_stats_t before;
    scim_record_t *g;
    scim_member_t *m;

    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u1", "Ann", NULL), NULL));
    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u2", "bea", NULL), NULL));
    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         group("g1", "Engineering"),
                                         member_ops(SCIM_MEMBER_ADD, "u1",
                                                    NULL)));
    ck_assert_int_eq(member_count("g1"), 1);

    /* adding one member touches one membership row and the group's
     * version, not the other members */
    g = group("g1", "Engineering");
    g->version = 2;
    before = scim_store_stats(store);
    ck_assert_ptr_null(scim_store_update(store, "acme", g, NULL, 1, 0,
                                         member_ops(SCIM_MEMBER_ADD, "u2",
                                                    "u1", NULL)));
    /* the group's version, u2's membership and u2's version; u1 no-op */
    ck_assert_int_eq(scim_store_stats(store).rows_written
                     - before.rows_written, 3);
    ck_assert_int_eq(member_count("g1"), 2);
    ck_assert_ptr_null(scim_store_members(store, "acme", "g1", 0, 10,
                                          members));
    ck_assert_int_eq(members->nelts, 2);
    m = &APR_ARRAY_IDX(members, 0, scim_member_t);
    ck_assert_str_eq(m->id, "u1");
    ck_assert_str_eq(m->type, "User");
    ck_assert_str_eq(m->display, "Ann");

    /* the users' groups, several users in one call */
    {
        apr_hash_t *groups = apr_hash_make(pool);
        const char *ids[] = { "u2", "nobody", "u1" };
        apr_array_header_t *of_u2;

        ck_assert_ptr_null(scim_store_groups_of(store, "acme", ids, 3,
                                                groups));
        ck_assert_int_eq((int)apr_hash_count(groups), 2);
        of_u2 = apr_hash_get(groups, "u2", APR_HASH_KEY_STRING);
        ck_assert_int_eq(of_u2->nelts, 1);
        ck_assert_str_eq(APR_ARRAY_IDX(of_u2, 0, scim_member_t).display,
                         "Engineering");
    }
}
END_TEST

START_TEST(unknown_member_changes_nothing)
{
    scim_record_t *g, *got = NULL;
    scim_error_t *err;

    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u1", "Ann", NULL), NULL));
    ck_assert_ptr_null(scim_store_create(store, "globex",
                                         user("x1", "Xavier", NULL), NULL));
    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         group("g1", "Ops"), NULL));
    g = group("g1", "Ops");
    g->version = 2;
    /* x1 exists, but in another organization */
    err = scim_store_update(store, "acme", g, NULL, 1, 0,
                            member_ops(SCIM_MEMBER_ADD, "u1", "x1", NULL));
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(err->status, 400);
    ck_assert_str_eq(err->scim_type, "invalidValue");
    ck_assert_int_eq(member_count("g1"), 0);
    ck_assert_ptr_null(scim_store_get(store, "acme", "Group", "g1", &got));
    ck_assert_int_eq(got->version, 1);
    /* a create with a bad member leaves no group behind */
    err = scim_store_create(store, "acme", group("g2", "Sales"),
                            member_ops(SCIM_MEMBER_ADD, "nope", NULL));
    ck_assert_int_eq(err->status, 400);
    ck_assert_ptr_null(scim_store_get(store, "acme", "Group", "g2", &got));
    ck_assert_ptr_null(got);
}
END_TEST

START_TEST(deletes_take_memberships_along)
{
    scim_record_t *got = NULL;

    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u1", "Ann", NULL), NULL));
    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u2", "Bea", NULL), NULL));
    ck_assert_ptr_null(scim_store_create(store, "acme", group("g1", "A"),
                                         member_ops(SCIM_MEMBER_ADD, "u1",
                                                    "u2", NULL)));
    ck_assert_ptr_null(scim_store_create(store, "acme", group("g2", "B"),
                                         member_ops(SCIM_MEMBER_ADD, "u1",
                                                    "g1", NULL)));
    ck_assert_ptr_null(scim_store_delete(store, "acme", "User", "u1"));
    ck_assert_int_eq(member_count("g1"), 1);
    ck_assert_int_eq(member_count("g2"), 1);
    ck_assert_ptr_null(scim_store_delete(store, "acme", "Group", "g1"));
    ck_assert_int_eq(member_count("g1"), 0);
    ck_assert_int_eq(member_count("g2"), 0);
    /* deleting a group never deletes its users */
    ck_assert_ptr_null(scim_store_get(store, "acme", "User", "u2", &got));
    ck_assert_ptr_nonnull(got);
}
END_TEST

START_TEST(replace_clears_then_adds)
{
    scim_record_t *g = group("g1", "Team");
    apr_array_header_t *ops;
    scim_member_op_t *op;

    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u1", "Ann", NULL), NULL));
    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u2", "Bea", NULL), NULL));
    ck_assert_ptr_null(scim_store_create(store, "acme", g,
                                         member_ops(SCIM_MEMBER_ADD, "u1",
                                                    NULL)));
    ops = member_ops(SCIM_MEMBER_ADD, NULL);
    op = apr_array_push(ops);
    op->kind = SCIM_MEMBER_CLEAR;
    op->member_id = NULL;
    op = apr_array_push(ops);
    op->kind = SCIM_MEMBER_ADD;
    op->member_id = "u2";
    g->version = 2;
    ck_assert_ptr_null(scim_store_update(store, "acme", g, NULL, 1, 0, ops));
    ck_assert_int_eq(member_count("g1"), 1);
}
END_TEST

static int version_of(const char *rtype, const char *id)
{
    scim_record_t *got = NULL;

    ck_assert_ptr_null(scim_store_get(store, "acme", rtype, id, &got));
    ck_assert_ptr_nonnull(got);
    return got->version;
}

START_TEST(membership_changes_move_versions)
{
    scim_record_t *g = group("g1", "Team");

    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u1", "Ann", NULL), NULL));
    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u2", "Bea", NULL), NULL));
    ck_assert_ptr_null(scim_store_create(store, "acme", g,
                                         member_ops(SCIM_MEMBER_ADD, "u1",
                                                    NULL)));
    /* u1's groups changed when it was added */
    ck_assert_int_eq(version_of("User", "u1"), 2);
    ck_assert_int_eq(version_of("User", "u2"), 1);
    g->version = 2;
    ck_assert_ptr_null(scim_store_update(store, "acme", g, NULL, 1, 0,
                                         member_ops(SCIM_MEMBER_REMOVE, "u1",
                                                    "u2", NULL)));
    ck_assert_int_eq(version_of("User", "u1"), 3);
    ck_assert_int_eq(version_of("User", "u2"), 1);   /* was no member */
    g->version = 3;
    ck_assert_ptr_null(scim_store_update(store, "acme", g, NULL, 2, 0,
                                         member_ops(SCIM_MEMBER_ADD, "u2",
                                                    NULL)));
    ck_assert_int_eq(version_of("User", "u2"), 2);
    /* deleting a member moves its groups */
    ck_assert_ptr_null(scim_store_delete(store, "acme", "User", "u2"));
    ck_assert_int_eq(version_of("Group", "g1"), 4);
    /* deleting a group moves its users */
    ck_assert_ptr_null(scim_store_create(store, "acme", group("g2", "Two"),
                                         member_ops(SCIM_MEMBER_ADD, "u1",
                                                    NULL)));
    ck_assert_int_eq(version_of("User", "u1"), 4);
    ck_assert_ptr_null(scim_store_delete(store, "acme", "Group", "g2"));
    ck_assert_int_eq(version_of("User", "u1"), 5);
}
END_TEST

START_TEST(scan_chunks_follow_the_default_order)
{
    apr_array_header_t *chunk = apr_array_make(pool, 4,
                                               sizeof(scim_record_t *));
    scim_record_t *last;
    int i;

    for (i = 0; i < 5; i++) {
        scim_record_t *rec = user(apr_psprintf(pool, "id%d", i),
                                  apr_psprintf(pool, "user%d", i), NULL);
        rec->created = i < 3 ? "2026-01-01T00:00:00.000Z"
                             : "2026-01-02T00:00:00.000Z";
        ck_assert_ptr_null(scim_store_create(store, "acme", rec, NULL));
    }
    ck_assert_ptr_null(scim_store_scan_chunk(store, pool, "acme", "User",
                                             NULL, 2, chunk));
    ck_assert_int_eq(chunk->nelts, 2);
    last = APR_ARRAY_IDX(chunk, 1, scim_record_t *);
    ck_assert_str_eq(last->id, "id1");
    apr_array_clear(chunk);
    /* the next chunk starts after id1, across a change of created time */
    ck_assert_ptr_null(scim_store_scan_chunk(store, pool, "acme", "User",
                                             last, 2, chunk));
    ck_assert_int_eq(chunk->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(chunk, 0, scim_record_t *)->id, "id2");
    ck_assert_str_eq(APR_ARRAY_IDX(chunk, 1, scim_record_t *)->id, "id3");
    last = APR_ARRAY_IDX(chunk, 1, scim_record_t *);
    apr_array_clear(chunk);
    ck_assert_ptr_null(scim_store_scan_chunk(store, pool, "acme", "User",
                                             last, 2, chunk));
    ck_assert_int_eq(chunk->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(chunk, 0, scim_record_t *)->id, "id4");
}
END_TEST

START_TEST(groups_of_many_users_in_batches)
{
    const char *ids[120];
    apr_hash_t *groups = apr_hash_make(pool);
    scim_store_stats_t before;
    int i;

    for (i = 0; i < 120; i++) {
        ids[i] = apr_psprintf(pool, "u%03d", i);
        ck_assert_ptr_null(scim_store_create(store, "acme",
                                             user(ids[i], ids[i], NULL),
                                             NULL));
    }
    ck_assert_ptr_null(scim_store_create(store, "acme", group("g1", "G"),
                                         member_ops(SCIM_MEMBER_ADD, "u000",
                                                    "u055", "u119", NULL)));
    before = scim_store_stats(store);
    ck_assert_ptr_null(scim_store_groups_of(store, "acme", ids, 120,
                                            groups));
    /* 50 ids a statement */
    ck_assert_int_eq(scim_store_stats(store).statements - before.statements,
                     3);
    ck_assert_int_eq((int)apr_hash_count(groups), 3);
    ck_assert_ptr_nonnull(apr_hash_get(groups, "u119", APR_HASH_KEY_STRING));
    ck_assert_ptr_null(apr_hash_get(groups, "u054", APR_HASH_KEY_STRING));
}
END_TEST

/* A user and its groups in one statement: the groups in name order, as
 * scim_store_member_groups gives them; none, an empty list; no such user
 * (or another organization's), NULL. */
START_TEST(user_read_with_its_groups)
{
    apr_array_header_t *expected;
    scim_store_stats_t before;
    scim_record_t *rec = NULL;
    int i;

    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u1", "ann", NULL), NULL));
    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u2", "bob", NULL), NULL));
    ck_assert_ptr_null(scim_store_create(store, "acme", group("g1", "Zeta"),
                                         member_ops(SCIM_MEMBER_ADD, "u1",
                                                    NULL)));
    ck_assert_ptr_null(scim_store_create(store, "acme", group("g2", "alpha"),
                                         member_ops(SCIM_MEMBER_ADD, "u1",
                                                    NULL)));
    ck_assert_ptr_null(scim_store_create(store, "other",
                                         user("u3", "cy", NULL), NULL));

    before = scim_store_stats(store);
    ck_assert_ptr_null(scim_store_get_user_with_groups(store, "acme", "u1",
                                                       &rec));
    ck_assert_int_eq(scim_store_stats(store).statements - before.statements,
                     1);
    ck_assert_str_eq(rec->name, "ann");
    ck_assert_str_eq(json_string_value(json_object_get(rec->resource,
                                                       "userName")), "ann");
    ck_assert_ptr_null(scim_store_member_groups(store, "acme", "u1",
                                                &expected));
    ck_assert_int_eq(rec->groups->nelts, 2);
    ck_assert_int_eq(expected->nelts, 2);
    for (i = 0; i < 2; i++) {
        const scim_member_t *got = &APR_ARRAY_IDX(rec->groups, i,
                                                  scim_member_t);
        const scim_member_t *want = &APR_ARRAY_IDX(expected, i,
                                                   scim_member_t);

        ck_assert_str_eq(got->id, want->id);
        ck_assert_str_eq(got->display, want->display);
        ck_assert_str_eq(got->type, "Group");
    }
    ck_assert_str_eq(APR_ARRAY_IDX(rec->groups, 0, scim_member_t).display,
                     "alpha");

    ck_assert_ptr_null(scim_store_get_user_with_groups(store, "acme", "u2",
                                                       &rec));
    ck_assert_str_eq(rec->id, "u2");
    ck_assert_int_eq(rec->groups->nelts, 0);
    ck_assert_ptr_null(scim_store_get_user_with_groups(store, "acme", "u3",
                                                       &rec));
    ck_assert_ptr_null(rec);
    ck_assert_ptr_null(scim_store_get_user_with_groups(store, "acme", "g1",
                                                       &rec));
    ck_assert_ptr_null(rec);
}
END_TEST


/* An IdP's lookups (userName, externalId, e-mail) read the users found
 * and each one's groups in one statement: two users sharing an externalId
 * each get their own groups, in name order; the users come in the
 * default order. */
START_TEST(users_found_with_their_groups_in_one_statement)
{
    static const struct {
        scim_store_key_t key;
        const char *value;
        int users;
    } lookups[] = {
        { SCIM_STORE_BY_NAME, "ANN", 1 },
        { SCIM_STORE_BY_EXTERNAL_ID, "shared", 2 },
        { SCIM_STORE_BY_EMAIL, "Ann@Example.com", 1 },
        { SCIM_STORE_BY_ID, "u1", 1 },
        { SCIM_STORE_BY_NAME, "nobody", 0 },
    };
    scim_record_t *ann = user("u1", "ann", "shared");
    scim_record_t *bob = user("u2", "bob", "shared"), *got = NULL;
    scim_store_stats_t before;
    size_t i;

    json_object_set_new(ann->resource, "emails",
                        json_pack("[{s:s}]", "value", "ann@example.com"));
    ck_assert_ptr_null(scim_store_create(store, "acme", ann, NULL));
    ck_assert_ptr_null(scim_store_create(store, "acme", bob, NULL));
    ck_assert_ptr_null(scim_store_create(store, "acme", group("g1", "Zeta"),
                                         member_ops(SCIM_MEMBER_ADD, "u1",
                                                    "u2", NULL)));
    ck_assert_ptr_null(scim_store_create(store, "acme", group("g2", "alpha"),
                                         member_ops(SCIM_MEMBER_ADD, "u1",
                                                    NULL)));
    for (i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
        apr_array_header_t *found = apr_array_make(pool, 2,
                                                   sizeof(scim_record_t *));
        const scim_record_t *first, *second;

        before = scim_store_stats(store);
        ck_assert_ptr_null(scim_store_find(store, "acme", "User",
                                           lookups[i].key, lookups[i].value,
                                           1, found));
        ck_assert_int_eq(scim_store_stats(store).statements
                         - before.statements, 1);
        ck_assert_int_eq(found->nelts, lookups[i].users);
        if (!found->nelts) {
            continue;
        }
        first = APR_ARRAY_IDX(found, 0, scim_record_t *);
        ck_assert_str_eq(first->id, "u1");
        ck_assert_int_eq(first->groups->nelts, 2);
        ck_assert_str_eq(APR_ARRAY_IDX(first->groups, 0,
                                       scim_member_t).display, "alpha");
        ck_assert_str_eq(APR_ARRAY_IDX(first->groups, 1, scim_member_t).id,
                         "g1");
        if (found->nelts == 2) {
            second = APR_ARRAY_IDX(found, 1, scim_record_t *);
            ck_assert_str_eq(second->id, "u2");
            ck_assert_int_eq(second->groups->nelts, 1);
            ck_assert_str_eq(APR_ARRAY_IDX(second->groups, 0,
                                           scim_member_t).id, "g1");
        }
    }
    /* users sharing an externalId come in the default order, with their
     * groups or without, also after the first was renamed (PostgreSQL
     * then finds its index entry after the second's) */
    ck_assert_ptr_null(scim_store_get(store, "acme", "User", "u1", &got));
    ann = user("u1", "ann-renamed", "shared");
    ann->version = got->version + 1;
    ck_assert_ptr_null(scim_store_update(store, "acme", ann, NULL,
                                         got->version, 1, NULL));
    for (i = 0; i < 2; i++) {
        apr_array_header_t *found = apr_array_make(pool, 2,
                                                   sizeof(scim_record_t *));

        ck_assert_ptr_null(scim_store_find(store, "acme", "User",
                                           SCIM_STORE_BY_EXTERNAL_ID,
                                           "shared", (int)i, found));
        ck_assert_int_eq(found->nelts, 2);
        ck_assert_str_eq(APR_ARRAY_IDX(found, 0, scim_record_t *)->id, "u1");
        ck_assert_str_eq(APR_ARRAY_IDX(found, 1, scim_record_t *)->id, "u2");
    }
}
END_TEST

/* ---- access: identities, seats, audit ---------------------------------- */

static scim_record_t *active_user(const char *id, const char *user_name,
                                  const char *email)
{
    scim_record_t *rec = user(id, user_name, NULL);

    rec->active = 1;
    if (email) {
        json_object_set_new(rec->resource, "emails",
                            json_pack("[{s:s}]", "value", email));
    }
    return rec;
}

static scim_access_member_t *member_by(scim_link_attr_t attr,
                                       const char *identity)
{
    scim_access_member_t *m = NULL;

    ck_assert_ptr_null(scim_store_access_member(store, "acme", attr,
                                                identity, &m));
    return m;
}

START_TEST(identity_found_by_each_link_attribute)
{
    scim_record_t *u = active_user("u1", "Ann", "Ann@Example.COM");

    u->external_id = "obj-1";
    ck_assert_ptr_null(scim_store_create(store, "acme", u, NULL));
    ck_assert_str_eq(member_by(SCIM_LINK_USER_NAME, "ANN")->id, "u1");
    ck_assert_str_eq(member_by(SCIM_LINK_EMAIL, "ann@example.com")->id,
                     "u1");
    ck_assert_str_eq(member_by(SCIM_LINK_EXTERNAL_ID, "obj-1")->id, "u1");
    ck_assert_ptr_null(member_by(SCIM_LINK_EXTERNAL_ID, "OBJ-1"));
    ck_assert_ptr_null(member_by(SCIM_LINK_USER_NAME, "nobody"));
    /* an e-mail two users share names neither of them */
    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         active_user("u2", "Bea",
                                                     "ann@example.com"),
                                         NULL));
    ck_assert_ptr_null(member_by(SCIM_LINK_EMAIL, "ann@example.com"));
    /* a deleted user's e-mail goes with it */
    ck_assert_ptr_null(scim_store_delete(store, "acme", "User", "u2"));
    ck_assert_str_eq(member_by(SCIM_LINK_EMAIL, "ann@example.com")->id,
                     "u1");
}
END_TEST

/* The names of a member's groups, "," after each. */
static const char *group_names(const scim_access_member_t *m)
{
    const char *names = "";
    int i;

    for (i = 0; i < m->groups->nelts; i++) {
        names = apr_pstrcat(pool, names,
            APR_ARRAY_IDX(m->groups, i, scim_member_t).display, ",", NULL);
    }
    return names;
}

/* The member an identity names comes with its groups (name order), read
 * in the one statement, by each link attribute; groups do not hide that
 * an e-mail or an externalId names two users. */
START_TEST(identity_read_with_its_groups)
{
    static const scim_link_attr_t attrs[] = {
        SCIM_LINK_USER_NAME, SCIM_LINK_EMAIL, SCIM_LINK_EXTERNAL_ID
    };
    static const char *const identities[] = {
        "ann", "ann@example.com", "obj-1"
    };
    scim_record_t *ann = active_user("u1", "Ann", "Ann@Example.COM");
    scim_record_t *bea = active_user("u2", "Bea", "bea@example.com");
    scim_record_t *stored = NULL;
    scim_store_stats_t before;
    size_t i;

    ann->external_id = "obj-1";
    ck_assert_ptr_null(scim_store_create(store, "acme", ann, NULL));
    ck_assert_ptr_null(scim_store_create(store, "acme", bea, NULL));
    ck_assert_ptr_null(scim_store_create(store, "acme", group("g1", "Zeta"),
                                         member_ops(SCIM_MEMBER_ADD, "u1",
                                                    "u2", NULL)));
    ck_assert_ptr_null(scim_store_create(store, "acme", group("g2", "alpha"),
                                         member_ops(SCIM_MEMBER_ADD, "u1",
                                                    NULL)));
    for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
        scim_access_member_t *m;

        before = scim_store_stats(store);
        m = member_by(attrs[i], identities[i]);
        ck_assert_int_eq(scim_store_stats(store).statements
                         - before.statements, 1);
        ck_assert_str_eq(m->id, "u1");
        ck_assert_str_eq(group_names(m), "alpha,Zeta,");
    }
    ck_assert_str_eq(group_names(member_by(SCIM_LINK_USER_NAME, "bea")),
                     "Zeta,");
    /* a user in no group: an empty list */
    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         active_user("u3", "Cy", NULL),
                                         NULL));
    ck_assert_str_eq(group_names(member_by(SCIM_LINK_USER_NAME, "cy")), "");
    /* two users behind one e-mail, one externalId: neither */
    ck_assert_ptr_null(scim_store_get(store, "acme", "User", "u2", &stored));
    bea = active_user("u2", "Bea", "ann@example.com");
    bea->external_id = "obj-1";
    bea->created = stored->created;
    bea->version = stored->version + 1;
    ck_assert_ptr_null(scim_store_update(store, "acme", bea, stored,
                                         stored->version, 1, NULL));
    ck_assert_ptr_null(member_by(SCIM_LINK_EMAIL, "ann@example.com"));
    ck_assert_ptr_null(member_by(SCIM_LINK_EXTERNAL_ID, "obj-1"));
}
END_TEST

START_TEST(seats_granted_up_to_the_limit_and_freed_by_deactivation)
{
    scim_record_t *a = active_user("a", "a", NULL);
    int taken = -1, used = -1;

    ck_assert_ptr_null(scim_store_create(store, "acme", a, NULL));
    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         active_user("b", "b", NULL), NULL));
    ck_assert_ptr_null(scim_store_take_seat(store, "acme", "a", "a", 1,
                                            &taken));
    ck_assert_int_eq(taken, 1);
    ck_assert_ptr_null(scim_store_take_seat(store, "acme", "b", "b", 1,
                                            &taken));
    ck_assert_int_eq(taken, 0);
    ck_assert_ptr_null(scim_store_seats_used(store, "acme", &used));
    ck_assert_int_eq(used, 1);
    ck_assert(member_by(SCIM_LINK_USER_NAME, "a")->linked);
    ck_assert(!member_by(SCIM_LINK_USER_NAME, "b")->linked);
    /* deactivating a frees its seat in the same update (the link made
     * version 2) */
    a->active = 0;
    a->version = 3;
    ck_assert_ptr_null(scim_store_update(store, "acme", a, NULL, 2, 1,
                                         NULL));
    ck_assert_ptr_null(scim_store_seats_used(store, "acme", &used));
    ck_assert_int_eq(used, 0);
    ck_assert(member_by(SCIM_LINK_USER_NAME, "a")->linked);
    ck_assert_ptr_null(scim_store_take_seat(store, "acme", "b", "b", 1,
                                            &taken));
    ck_assert_int_eq(taken, 1);
    /* an inactive user never takes one */
    ck_assert_ptr_null(scim_store_take_seat(store, "acme", "a", "a", 0,
                                            &taken));
    ck_assert_int_eq(taken, 0);
}
END_TEST

/* The next version of a record as the service makes it from the one it
 * read: the same keys, one version on. */
static scim_record_t *next_version(const scim_record_t *old)
{
    scim_record_t *rec = scim_record_copy(pool, old);

    rec->resource = scim_json_pool_own(pool, json_deep_copy(old->resource));
    rec->version = old->version + 1;
    return rec;
}

static const char *found_by(scim_store_key_t key, const char *value)
{
    apr_array_header_t *found = apr_array_make(pool, 1,
                                               sizeof(scim_record_t *));

    ck_assert_ptr_null(scim_store_find(store, "acme", "User", key, value, 0,
                                       found));
    return found->nelts == 1 ? APR_ARRAY_IDX(found, 0, scim_record_t *)->id
                             : NULL;
}

/* Updates from the record read, as the service writes them: one that
 * leaves the indexed columns alone (a title) keeps every lookup, a
 * deactivation with the same keys still frees the seat held, a new
 * displayName reaches its column. */
START_TEST(updates_from_the_record_read_keep_lookups_and_free_seats)
{
    scim_record_t *rec = active_user("a", "ann", "ann@example.com");
    scim_record_t *old = NULL;
    int taken = -1, used = -1;

    rec->external_id = "x-ann";
    rec->display_name = "Ann A";
    ck_assert_ptr_null(scim_store_create(store, "acme", rec, NULL));
    ck_assert_ptr_null(scim_store_take_seat(store, "acme", "a", "ann", 1,
                                            &taken));
    ck_assert_int_eq(taken, 1);
    ck_assert_ptr_null(scim_store_get(store, "acme", "User", "a", &old));
    ck_assert_str_eq(old->display_name, "Ann A");

    rec = next_version(old);
    json_object_set_new(rec->resource, "title", json_string("CFO"));
    ck_assert_ptr_null(scim_store_update(store, "acme", rec, old,
                                         old->version, 1, NULL));
    ck_assert_ptr_null(scim_store_get(store, "acme", "User", "a", &old));
    ck_assert_int_eq(old->version, 3);
    ck_assert_str_eq(json_string_value(json_object_get(old->resource,
                                                       "title")), "CFO");
    ck_assert_int_eq(old->seat, 1);
    ck_assert_str_eq(found_by(SCIM_STORE_BY_NAME, "ANN"), "a");
    ck_assert_str_eq(found_by(SCIM_STORE_BY_EXTERNAL_ID, "x-ann"), "a");
    ck_assert_str_eq(found_by(SCIM_STORE_BY_EMAIL, "ann@example.com"), "a");

    rec = next_version(old);
    rec->active = 0;
    json_object_set_new(rec->resource, "active", json_false());
    ck_assert_ptr_null(scim_store_update(store, "acme", rec, old,
                                         old->version, 1, NULL));
    ck_assert_ptr_null(scim_store_seats_used(store, "acme", &used));
    ck_assert_int_eq(used, 0);
    ck_assert(!member_by(SCIM_LINK_USER_NAME, "ann")->active);

    ck_assert_ptr_null(scim_store_get(store, "acme", "User", "a", &old));
    rec = next_version(old);
    rec->display_name = "Ann B";
    ck_assert_ptr_null(scim_store_update(store, "acme", rec, old,
                                         old->version, 1, NULL));
    ck_assert_ptr_null(scim_store_get(store, "acme", "User", "a", &old));
    ck_assert_str_eq(old->display_name, "Ann B");
    ck_assert_int_eq(old->version, 5);
}
END_TEST

/* What a modification's change saw, and what it does: set external_id
 * (NULL: change nothing; after the first call too when settles), refuse,
 * or first let a rival connection move the row's version on, between the
 * read and the update. */
typedef struct {
    int calls;
    int seen_version;           /* at the last call */
    const char *external_id;
    int settles;
    int refuse;
    apr_dbd_t *rival;
    int rival_rv;
} change_probe_t;

#define SQLITE_BUSY_CODE 5

static scim_error_t *probe_change(scim_store_t *st, const scim_record_t *old,
                                  void *baton, scim_store_change_t *out)
{
    change_probe_t *probe = baton;
    int n;

    probe->seen_version = old->version;
    if (probe->calls++ == 0 && probe->rival) {
        probe->rival_rv = apr_dbd_query(store_fixture_driver(), probe->rival,
            &n, "UPDATE scim_resources SET version = version + 1"
                " WHERE id = 'u1'");
    }
    if (probe->refuse) {
        return scim_error_make(st->pool, 400, SCIM_TYPE_INVALID_VALUE,
                               "refused");
    }
    if (probe->external_id && !(probe->settles && probe->calls > 1)) {
        out->rec = next_version(old);
        out->rec->external_id = probe->external_id;
        out->resource_changed = 1;
        out->expected_version = old->version;
    }
    return NULL;
}

static int stored_version(void)
{
    scim_record_t *got = NULL;

    ck_assert_ptr_null(scim_store_get(store, "acme", "User", "u1", &got));
    return got->version;
}

/* Modifies u1 with probe, a rival writing at its first call; answers
 * whether the rival got in between (else it found the database locked). */
static int modify_against_a_rival(change_probe_t *probe,
                                  scim_store_change_t *change)
{
    scim_record_t *old = NULL;

    probe->calls = 0;
    probe->rival = store_fixture_connect();
    ck_assert_ptr_null(scim_store_modify(store, "acme", "User", "u1", 0,
                                         probe_change, probe, &old, change));
    apr_dbd_close(store_fixture_driver(), probe->rival);
    if (probe->rival_rv != 0) {
        ck_assert_int_eq(probe->rival_rv, SQLITE_BUSY_CODE);
        ck_assert_int_eq(probe->calls, 1);
        return 0;
    }
    ck_assert_int_eq(probe->calls, 2);
    return 1;
}

/* PUT and PATCH read, change and write in one scim_store_modify.  With
 * grouped writes (SQLite) the read is inside the write's transaction: a
 * rival cannot write in between (it finds the database locked) and the
 * change runs once; otherwise (PostgreSQL) the rival's write makes the
 * update miss the version read, and the whole modification runs again on
 * what the rival left, also when that leaves nothing to change. */
START_TEST(modify_changes_the_version_it_read)
{
    change_probe_t probe = { 0 };
    scim_store_change_t change;
    scim_record_t *old = NULL;
    scim_error_t *err;
    int grouped = scim_db_writes_grouped(store);

    /* a forked test opens the process's first database file */
    if (store_fixture_is_sqlite() && !getenv("CK_FORK")) {
        ck_assert(grouped);
    }
    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u1", "erin", "x1"), NULL));
    /* absent: nothing to change */
    ck_assert_ptr_null(scim_store_modify(store, "acme", "User", "nope", 0,
                                         probe_change, &probe, &old,
                                         &change));
    ck_assert_ptr_null(old);
    ck_assert_int_eq(probe.calls, 0);
    /* refused, or nothing changes: no new version */
    probe.refuse = 1;
    err = scim_store_modify(store, "acme", "User", "u1", 0, probe_change,
                            &probe, &old, &change);
    ck_assert_int_eq(err->status, 400);
    probe.refuse = 0;
    ck_assert_ptr_null(scim_store_modify(store, "acme", "User", "u1", 1,
                                         probe_change, &probe, &old,
                                         &change));
    ck_assert_ptr_null(change.rec);
    ck_assert_ptr_nonnull(old->groups);
    ck_assert_int_eq(stored_version(), 1);

    /* changed, a rival writing between read and update */
    probe.external_id = "x2";
    ck_assert_int_eq(modify_against_a_rival(&probe, &change), !grouped);
    ck_assert_str_eq(change.rec->external_id, "x2");
    ck_assert_int_eq(change.rec->version, probe.seen_version + 1);
    ck_assert_int_eq(stored_version(), grouped ? 2 : 3);
    ck_assert_str_eq(found_by(SCIM_STORE_BY_EXTERNAL_ID, "x2"), "u1");

    /* the same change again: only the first reading has anything to
     * change; after a rival's write nothing is left (not a 503) */
    probe.external_id = "x3";
    probe.settles = 1;
    ck_assert_int_eq(modify_against_a_rival(&probe, &change), !grouped);
    if (grouped) {
        ck_assert_str_eq(change.rec->external_id, "x3");
    }
    else {
        ck_assert_ptr_null(change.rec);
    }
    ck_assert_int_eq(stored_version(), grouped ? 3 : 4);
}
END_TEST

START_TEST(writes_leave_audit_rows_in_their_transaction)
{
    scim_audit_ctx_t ctx = { "okta-prod", "192.0.2.7", "create", 90 };
    json_t *status = NULL;

    scim_store_set_audit(store, &ctx);
    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         active_user("u1", "ann", NULL),
                                         NULL));
    /* a refused write leaves no row of its own */
    ck_assert_ptr_nonnull(scim_store_create(store, "acme",
                                            active_user("u2", "ANN", NULL),
                                            NULL));
    ck_assert_ptr_null(scim_store_status(store, "acme", 10, &status));
    ck_assert_int_eq((int)json_array_size(json_object_get(status, "audit")),
                     1);
    ck_assert_str_eq(json_string_value(json_object_get(
        json_array_get(json_object_get(status, "audit"), 0), "actor")),
        "okta-prod");
    ck_assert_int_eq(json_integer_value(json_object_get(
        json_object_get(status, "members"), "provisioned")), 1);
    json_decref(status);
}
END_TEST

/* Expired audit rows go with an organization's first write in a process,
 * then at most once a minute: the writes between run no prune statement
 * (on PostgreSQL a round trip each). */
START_TEST(expired_audit_rows_pruned_by_the_first_write_then_each_minute)
{
    scim_audit_ctx_t ctx = { "okta-prod", "192.0.2.7", "create", 90 };
    /* an organization this process has not written before (one process
     * may run this test on every driver) */
    const char *org = apr_psprintf(pool, "prune-%" APR_TIME_T_FMT,
                                   apr_time_now());
    const char *expired = apr_psprintf(pool, "SELECT COUNT(*) FROM scim_audit"
                                       " WHERE org = '%s' AND at < '2001'",
                                       org);
    const char *old_row = apr_psprintf(pool, "INSERT INTO scim_audit (org,"
                                       " at, event, actor, outcome) VALUES"
                                       " ('%s', '2000-01-01T00:00:00.000Z',"
                                       " 'create', 'old', 'ok')", org);
    int before, first;

    scim_store_set_audit(store, &ctx);
    run_sql(store_fixture_handle(), old_row);
    before = scim_store_stats(store).statements;
    ck_assert_ptr_null(scim_store_create(store, org,
                                         active_user("u1", "ann", NULL),
                                         NULL));
    first = scim_store_stats(store).statements - before;
    ck_assert_str_eq(query_value(store_fixture_handle(), expired), "0");

    /* within the minute: the row stays, the write runs a statement less */
    run_sql(store_fixture_handle(), old_row);
    before = scim_store_stats(store).statements;
    ck_assert_ptr_null(scim_store_create(store, org,
                                         active_user("u2", "bo", NULL),
                                         NULL));
    ck_assert_str_eq(query_value(store_fixture_handle(), expired), "1");
    ck_assert_int_eq(scim_store_stats(store).statements - before,
                     first - 1);
}
END_TEST

/* The clock of the prune: due the first time, then once the interval has
 * passed since the last one it allowed; each organization on its own. */
START_TEST(prune_due_once_an_interval_for_each_organization)
{
    apr_time_t t = apr_time_from_sec(1000000);
    char long_name[200];

    ck_assert_int_eq(scim_store_audit_prune_due("due-a", t), 1);
    ck_assert_int_eq(scim_store_audit_prune_due("due-a", t + 1), 0);
    ck_assert_int_eq(scim_store_audit_prune_due("due-b", t + 1), 1);
    ck_assert_int_eq(scim_store_audit_prune_due(
        "due-a", t + SCIM_AUDIT_PRUNE_INTERVAL - 1), 0);
    ck_assert_int_eq(scim_store_audit_prune_due(
        "due-a", t + SCIM_AUDIT_PRUNE_INTERVAL), 1);
    ck_assert_int_eq(scim_store_audit_prune_due(
        "due-a", t + SCIM_AUDIT_PRUNE_INTERVAL + 1), 0);
    /* a name longer than the table keeps: pruned by every write */
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    ck_assert_int_eq(scim_store_audit_prune_due(long_name, t), 1);
    ck_assert_int_eq(scim_store_audit_prune_due(long_name, t), 1);
}
END_TEST

/* SQL NULL comes back as NULL on every driver (pgsql's apr_dbd_get_entry
 * says ""), so that an absent externalId or link stays absent. */
START_TEST(null_stays_null)
{
    scim_record_t *got = NULL;

    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u1", "nora", NULL), NULL));
    ck_assert_ptr_null(scim_store_get(store, "acme", "User", "u1", &got));
    ck_assert_ptr_nonnull(got);
    ck_assert_ptr_null(got->external_id);
    ck_assert_ptr_null(got->linked);
    ck_assert_str_eq(got->state, "provisioned");
}
END_TEST

/* Another connection changes the schema (an index, statistics, on SQLite a
 * VACUUM): the statements prepared once for this connection are prepared
 * again, reads and writes go on. */
START_TEST(survives_schema_change_by_another_connection)
{
    apr_dbd_t *other = store_fixture_connect();
    scim_record_t *got = NULL;
    scim_store_t *st;
    scim_error_t *err = NULL;

    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u1", "olga", NULL), NULL));
    run_sql(other, "CREATE INDEX scim_test_index ON scim_resources"
                   " (last_modified)");
    run_sql(other, "ANALYZE");
    if (store_fixture_is_sqlite()) {
        run_sql(other, "VACUUM");
    }
    apr_dbd_close(store_fixture_driver(), other);
    ck_assert_ptr_null(scim_store_get(store, "acme", "User", "u1", &got));
    ck_assert_ptr_nonnull(got);
    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u2", "paul", NULL), NULL));
    /* and the next request on the same connection */
    st = next_request(&err);
    ck_assert_msg(err == NULL, "%s", err ? err->internal : "");
    ck_assert_ptr_null(scim_store_get(st, "acme", "User", "u2", &got));
    ck_assert_ptr_nonnull(got);
}
END_TEST

/* apr-util exports the mutex its drivers take (declared in its
 * apr_dbd_internal.h, which is not installed) */
apr_status_t apr_dbd_mutex_lock(void);
apr_status_t apr_dbd_mutex_unlock(void);

/* A COMMIT waits for the disk: on SQLite it runs outside apr_dbd's
 * process-wide mutex, which every other statement of the process needs.
 * Were it inside, this thread would wait for the mutex it holds (the
 * test's time limit ends it). */
START_TEST(sqlite_commit_leaves_apr_dbds_mutex_free)
{
    const apr_dbd_driver_t *driver = store_fixture_driver();
    apr_dbd_t *other = NULL;
    scim_error_t *err;
    scim_store_t *st = next_request(&err);

    ck_assert_ptr_null(err);
    ck_assert_ptr_null(scim_db_begin(st));
    run_sql(store_fixture_handle(), "INSERT INTO scim_tokens (org, token,"
            " last_used, address) VALUES ('acme', 'fp', 'now', NULL)");
    ck_assert_int_eq(apr_dbd_mutex_lock(), APR_SUCCESS);
    err = scim_db_end(st, 0);
    apr_dbd_mutex_unlock();
    ck_assert_ptr_null(err);

    /* committed: another connection sees the row */
    ck_assert_int_eq(apr_dbd_open(driver, pool, store_fixture_path(), &other),
                     APR_SUCCESS);
    ck_assert_str_eq(query_value(other, "SELECT COUNT(*) FROM scim_tokens"
                                        " WHERE org = 'acme'"), "1");
    apr_dbd_close(driver, other);
}
END_TEST

/* The settings a SQLite connection gets once: WAL, durable commits, a
 * checkpoint every 8,000 WAL pages, savepoint journals in memory. */
START_TEST(sqlite_connection_settings)
{
    apr_dbd_t *handle = store_fixture_handle();

    ck_assert_str_eq(query_value(handle, "PRAGMA journal_mode"), "wal");
    ck_assert_str_eq(query_value(handle, "PRAGMA synchronous"), "2");
    ck_assert_str_eq(query_value(handle, "PRAGMA wal_autocheckpoint"),
                     "8000");
    ck_assert_str_eq(query_value(handle, "PRAGMA temp_store"), "2");
}
END_TEST

/* The database file is removed under a running server: writes are refused
 * (503, logged at crit) instead of going into a file nobody will read. */
START_TEST(removed_database_refuses_writes)
{
    scim_error_t *err;

    ck_assert_ptr_null(scim_store_create(store, "acme",
                                         user("u1", "quinn", NULL), NULL));
    ck_assert_int_eq(unlink(store_fixture_path()), 0);
    err = scim_store_create(store, "acme", user("u2", "rita", NULL), NULL);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(err->status, 503);
    ck_assert_int_eq(err->critical, 1);
    ck_assert_ptr_nonnull(strstr(err->internal, store_fixture_path()));
}
END_TEST

/* A full disk is reported as such (not as the failed ROLLBACK after it),
 * with 507; the store writes again once there is room. */
START_TEST(full_disk_named_as_such)
{
    scim_record_t *big = user("u1", "sam", NULL);
    scim_error_t *err;
    char *filler = apr_palloc(pool, 200001);

    memset(filler, 'x', 200000);
    filler[200000] = '\0';
    json_object_set_new(big->resource, "title", json_string(filler));
    /* the database may not grow past its current size */
    query_value(store_fixture_handle(), "PRAGMA max_page_count = 1");
    err = scim_store_create(store, "acme", big, NULL);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(err->status, 507);
    ck_assert_int_eq(err->retry_after, SCIM_STORE_RETRY_AFTER);
    ck_assert_msg(strstr(err->internal, "disk full")
                  && strstr(err->internal, "database or disk is full"),
                  "%s", err->internal);
    query_value(store_fixture_handle(), "PRAGMA max_page_count = 1000000");
    ck_assert_ptr_null(scim_store_create(store, "acme", big, NULL));
}
END_TEST

/* PostgreSQL drops the connection (a restart, a failover, a killed
 * backend): a read that meets it answers 503 with Retry-After and nothing
 * crashes.  A write that had not reached its COMMIT connects again and is
 * applied; after a failed read, mod_dbd's check before the next request
 * connects again and the statements are prepared again. */
START_TEST(lost_connection_then_reconnect)
{
    const apr_dbd_driver_t *driver = store_fixture_driver();
    scim_record_t *got = NULL;
    scim_store_t *st = store;
    scim_error_t *err = NULL;
    int round;

    for (round = 0; round < 2; round++) {
        apr_dbd_t *other = store_fixture_connect();
        const char *pid = query_value(store_fixture_handle(),
                                      "SELECT pg_backend_pid()");

        query_value(other, apr_psprintf(pool,
                    "SELECT pg_terminate_backend(%s)", pid));
        apr_dbd_close(driver, other);
        err = scim_store_get(st, "acme", "User", "u1", &got);
        ck_assert_ptr_nonnull(err);
        ck_assert_int_eq(err->status, 503);
        ck_assert_int_eq(err->retry_after, SCIM_STORE_RETRY_AFTER);
        if (round == 0) {
            ck_assert_ptr_null(scim_store_create(st, "acme",
                               user("u1", "tess", NULL), NULL));
        }
        else {
            /* what mod_dbd does before it hands the connection out */
            ck_assert_int_eq(apr_dbd_check_conn(driver, pool,
                                                store_fixture_handle()),
                             APR_SUCCESS);
        }
        st = next_request(&err);
        ck_assert_msg(err == NULL, "%s", err ? err->internal : "");
        err = scim_store_get(st, "acme", "User", "u1", &got);
        ck_assert_msg(err == NULL, "round %d: %s", round,
                      err ? err->internal : "");
        ck_assert_ptr_nonnull(got);
    }
}
END_TEST

/* PostgreSQL: a connection prepares a statement the first time it runs
 * it, not all of them at set-up (each PREPARE is a round trip, paid while
 * the request that opened the connection waits), and only once. */
START_TEST(pgsql_prepares_what_it_runs)
{
    const char *count = "SELECT COUNT(*) FROM pg_prepared_statements";
    apr_hash_t *fresh = apr_hash_make(pool);
    scim_record_t *got = NULL;
    scim_store_t *st = NULL;

    ck_assert_ptr_null(scim_store_open(pool, store_fixture_driver(),
                                       store_fixture_handle(), fresh, pool,
                                       &st));
    ck_assert_str_eq(query_value(store_fixture_handle(), count), "0");
    ck_assert_ptr_null(scim_store_get(st, "acme", "User", "u1", &got));
    ck_assert_ptr_null(scim_store_get(st, "acme", "User", "u1", &got));
    ck_assert_str_eq(query_value(store_fixture_handle(), count), "1");
    ck_assert_str_eq(query_value(store_fixture_handle(),
                                 "SELECT name FROM pg_prepared_statements"),
                     "scim_res_get");
}
END_TEST

/* The tests that hold for every driver. */
static void add_common_tests(TCase *tc)
{
    tcase_add_test(tc, creates_schema_and_reads_back);
    tcase_add_test(tc, organizations_are_separate);
    tcase_add_test(tc, user_name_unique_ignoring_case);
    tcase_add_test(tc, update_checks_version);
    tcase_add_test(tc, modify_changes_the_version_it_read);
    tcase_add_test(tc, delete_removes_and_reports_absent);
    tcase_add_test(tc, pages_in_stable_order);
    tcase_add_test(tc, open_sets_a_connection_up_once);
    tcase_add_test(tc, migration_indexes_emails_of_users_written_before_the_index);
    tcase_add_test(tc, group_members_are_rows);
    tcase_add_test(tc, unknown_member_changes_nothing);
    tcase_add_test(tc, deletes_take_memberships_along);
    tcase_add_test(tc, replace_clears_then_adds);
    tcase_add_test(tc, membership_changes_move_versions);
    tcase_add_test(tc, scan_chunks_follow_the_default_order);
    tcase_add_test(tc, groups_of_many_users_in_batches);
    tcase_add_test(tc, user_read_with_its_groups);
    tcase_add_test(tc, users_found_with_their_groups_in_one_statement);
    tcase_add_test(tc, null_stays_null);
    tcase_add_test(tc, survives_schema_change_by_another_connection);
    tcase_add_test(tc, identity_found_by_each_link_attribute);
    tcase_add_test(tc, identity_read_with_its_groups);
    tcase_add_test(tc, seats_granted_up_to_the_limit_and_freed_by_deactivation);
    tcase_add_test(tc, updates_from_the_record_read_keep_lookups_and_free_seats);
    tcase_add_test(tc, writes_leave_audit_rows_in_their_transaction);
    tcase_add_test(tc,
        expired_audit_rows_pruned_by_the_first_write_then_each_minute);
}

Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("sqlite3");

    tcase_add_checked_fixture(tc, open_store, store_fixture_close);
    add_common_tests(tc);
    tcase_add_test(tc, busy_database_then_next_request_writes);
    tcase_add_test(tc, sqlite_commit_leaves_apr_dbds_mutex_free);
    tcase_add_test(tc, sqlite_connection_settings);
    tcase_add_test(tc, prune_due_once_an_interval_for_each_organization);
    tcase_add_test(tc, removed_database_refuses_writes);
    tcase_add_test(tc, full_disk_named_as_such);
    suite_add_tcase(s, tc);
    if (store_fixture_pgsql_params()) {
        tc = tcase_create("pgsql");
        tcase_add_checked_fixture(tc, open_store_pgsql, store_fixture_close);
        add_common_tests(tc);
        tcase_add_test(tc, lost_connection_then_reconnect);
        tcase_add_test(tc, pgsql_prepares_what_it_runs);
        suite_add_tcase(s, tc);
    }
    return s;
}
