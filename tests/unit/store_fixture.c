/* The SQLite store of the unit tests; the only place that builds a
 * scim_store_t. */

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <apr_dbd.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <check.h>

#include "store_fixture.h"

static apr_pool_t *fixture_pool;
static scim_store_t fixture_store;
static char db_path[64];

scim_store_t *store_fixture_open(apr_pool_t **pool)
{
    const apr_dbd_driver_t *driver = NULL;
    apr_dbd_t *handle = NULL;
    apr_hash_t *prepared;
    scim_error_t *err;
    int fd;

    apr_pool_create(&fixture_pool, NULL);
    ck_assert_int_eq(apr_dbd_init(fixture_pool), APR_SUCCESS);
    ck_assert_int_eq(apr_dbd_get_driver(fixture_pool, "sqlite3", &driver),
                     APR_SUCCESS);
    apr_cpystrn(db_path, "/tmp/scim-store-XXXXXX", sizeof(db_path));
    fd = mkstemp(db_path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(apr_dbd_open(driver, fixture_pool, db_path, &handle),
                     APR_SUCCESS);
    prepared = apr_hash_make(fixture_pool);
    err = scim_store_connection_init(fixture_pool, fixture_pool, driver,
                                     handle, prepared);
    ck_assert_msg(err == NULL, "init: %s", err ? err->internal : "");
    fixture_store = (scim_store_t) {
        .pool = fixture_pool,
        .driver = driver,
        .handle = handle,
        .prepared = prepared,
    };
    *pool = fixture_pool;
    return &fixture_store;
}

void store_fixture_close(void)
{
    char side[80];

    apr_dbd_close(fixture_store.driver, fixture_store.handle);
    apr_pool_destroy(fixture_pool);
    unlink(db_path);
    snprintf(side, sizeof(side), "%s-wal", db_path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", db_path);
    unlink(side);
}
