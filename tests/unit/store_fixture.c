/* The SQLite store of the unit tests; the only place that opens one. */

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <apr_dbd.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <check.h>

#include "store_fixture.h"

static apr_pool_t *fixture_pool;
static const apr_dbd_driver_t *driver;
static apr_dbd_t *handle;
static char db_path[64];

scim_store_t *store_fixture_open(apr_pool_t **pool)
{
    scim_store_t *store = NULL;
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
    err = scim_store_open(fixture_pool, driver, handle,
                          apr_hash_make(fixture_pool), fixture_pool, &store);
    ck_assert_msg(err == NULL, "open: %s", err ? err->internal : "");
    *pool = fixture_pool;
    return store;
}

const apr_dbd_driver_t *store_fixture_driver(void)
{
    return driver;
}

apr_dbd_t *store_fixture_handle(void)
{
    return handle;
}

const char *store_fixture_path(void)
{
    return db_path;
}

void store_fixture_close(void)
{
    char side[80];

    apr_dbd_close(driver, handle);
    apr_pool_destroy(fixture_pool);
    unlink(db_path);
    snprintf(side, sizeof(side), "%s-wal", db_path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", db_path);
    unlink(side);
}
