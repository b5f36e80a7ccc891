/* The database of the unit tests; the only place that opens one. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_dbd.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <check.h>

#include "store_fixture.h"

static apr_pool_t *fixture_pool;
static const apr_dbd_driver_t *driver;
static apr_dbd_t *handle;
static apr_hash_t *prepared;          /* as mod_dbd keeps it */
static const char *db_path;         /* sqlite3: file; pgsql: parameters */
static const char *pg_schema;       /* pgsql: the test's own schema */

const char *store_fixture_pgsql_params(void)
{
    const char *params = getenv("SCIM_TEST_PGSQL_PARAMS");

    return params && *params ? params : NULL;
}

static void run(apr_dbd_t *h, const char *sql)
{
    int n;

    ck_assert_msg(apr_dbd_query(driver, h, &n, sql) == 0, "%s: %s", sql,
                  apr_dbd_error(driver, h, 0));
}

apr_dbd_t *store_fixture_connect(void)
{
    apr_dbd_t *h = NULL;
    const char *error = NULL;

    ck_assert_msg(apr_dbd_open_ex(driver, fixture_pool, db_path, &h, &error)
                  == APR_SUCCESS, "cannot open %s: %s", db_path,
                  error ? error : "");
    return h;
}

scim_store_t *store_fixture_open_driver(const char *name, apr_pool_t **pool)
{
    scim_store_t *store = NULL;
    scim_error_t *err;

    apr_pool_create(&fixture_pool, NULL);
    ck_assert_int_eq(apr_dbd_init(fixture_pool), APR_SUCCESS);
    ck_assert_int_eq(apr_dbd_get_driver(fixture_pool, name, &driver),
                     APR_SUCCESS);
    pg_schema = NULL;
    if (strcmp(name, "pgsql") == 0) {
        apr_dbd_t *admin;

        db_path = store_fixture_pgsql_params();
        ck_assert_ptr_nonnull(db_path);
        admin = store_fixture_connect();
        pg_schema = apr_psprintf(fixture_pool, "scim_test_%ld_%lx",
                                 (long)getpid(),
                                 (unsigned long)apr_time_now());
        run(admin, apr_psprintf(fixture_pool, "CREATE SCHEMA %s",
                                pg_schema));
        apr_dbd_close(driver, admin);
        /* in the connection's options: a reconnect keeps it */
        db_path = apr_psprintf(fixture_pool, "%s options=-csearch_path=%s",
                               db_path, pg_schema);
    }
    else {
        char *path = apr_pstrdup(fixture_pool, "/tmp/scim-store-XXXXXX");
        int fd = mkstemp(path);

        ck_assert_int_ge(fd, 0);
        close(fd);
        db_path = path;
    }
    handle = store_fixture_connect();
    prepared = apr_hash_make(fixture_pool);
    err = scim_store_open(fixture_pool, driver, handle, prepared,
                          fixture_pool, &store);
    ck_assert_msg(err == NULL, "open: %s", err ? err->internal : "");
    *pool = fixture_pool;
    return store;
}

scim_store_t *store_fixture_open(apr_pool_t **pool)
{
    return store_fixture_open_driver("sqlite3", pool);
}

const apr_dbd_driver_t *store_fixture_driver(void)
{
    return driver;
}

apr_dbd_t *store_fixture_handle(void)
{
    return handle;
}

apr_hash_t *store_fixture_prepared(void)
{
    return prepared;
}

int store_fixture_is_sqlite(void)
{
    return pg_schema == NULL;
}

const char *store_fixture_path(void)
{
    return db_path;
}

void store_fixture_close(void)
{
    static const char *const sides[] = { "-wal", "-shm", "-lock" };
    size_t i;

    if (pg_schema) {
        run(handle, apr_psprintf(fixture_pool, "DROP SCHEMA %s CASCADE",
                                 pg_schema));
    }
    apr_dbd_close(driver, handle);
    if (!pg_schema) {
        unlink(db_path);
        for (i = 0; i < sizeof(sides) / sizeof(sides[0]); i++) {
            unlink(apr_pstrcat(fixture_pool, db_path, sides[i], NULL));
        }
    }
    apr_pool_destroy(fixture_pool);
}
