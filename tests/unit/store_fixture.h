/* The store the unit tests run against: a real database through apr_dbd,
 * its schema created.  SQLite in a fresh file by default; PostgreSQL when
 * the environment names a server (SCIM_TEST_PGSQL_PARAMS, apr_dbd's pgsql
 * parameters such as "host=127.0.0.1 port=5432 dbname=scim user=scim"),
 * in a schema of its own for each test.  A checked fixture opens one for
 * each test and removes it afterwards. */
#ifndef SCIM_TEST_STORE_FIXTURE_H
#define SCIM_TEST_STORE_FIXTURE_H

#include <apr_dbd.h>
#include <apr_hash.h>
#include <apr_pools.h>

#include "scim_store.h"

/* The PostgreSQL server of the tests, or NULL when there is none. */
const char *store_fixture_pgsql_params(void);

/* Opens the store on a new database through driver ("sqlite3" or
 * "pgsql"); *pool gets the pool everything of the test lives in (the
 * store's "request" pool).  Fails the test when the database cannot be set
 * up. */
scim_store_t *store_fixture_open_driver(const char *driver,
                                        apr_pool_t **pool);

/* The same on SQLite. */
scim_store_t *store_fixture_open(apr_pool_t **pool);

/* The fixture's driver and connection, for a second store over them. */
const apr_dbd_driver_t *store_fixture_driver(void);
apr_dbd_t *store_fixture_handle(void);
/* The connection's table of prepared statements, as mod_dbd keeps it. */
apr_hash_t *store_fixture_prepared(void);
int store_fixture_is_sqlite(void);
/* SQLite: the database file; pgsql: the connection parameters (with the
 * test's schema as search_path), for a second connection to it. */
const char *store_fixture_path(void);
/* A second connection to the same database (closed by the test). */
apr_dbd_t *store_fixture_connect(void);

/* Closes the store, destroys its pool and removes the database. */
void store_fixture_close(void);

#endif
