/* The store the unit tests run against: a real SQLite database in a fresh
 * file through apr_dbd's sqlite3 driver, its schema created.  A checked
 * fixture opens one for each test and removes it afterwards. */
#ifndef SCIM_TEST_STORE_FIXTURE_H
#define SCIM_TEST_STORE_FIXTURE_H

#include <apr_dbd.h>
#include <apr_pools.h>

#include "scim_store.h"

/* Opens the store on a new database file; *pool gets the pool everything
 * of the test lives in (the store's "request" pool).  Fails the test when
 * the database cannot be set up. */
scim_store_t *store_fixture_open(apr_pool_t **pool);

/* The fixture's driver and connection, for a second store over them. */
const apr_dbd_driver_t *store_fixture_driver(void);
apr_dbd_t *store_fixture_handle(void);
/* The database file, for a second connection to it. */
const char *store_fixture_path(void);

/* Closes the store, destroys its pool and removes the database files. */
void store_fixture_close(void);

#endif
