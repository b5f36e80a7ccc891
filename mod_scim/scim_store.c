/* Licensed to the Apache Software Foundation (ASF) under one or more
 * contributor license agreements; and licensed under the Apache License,
 * Version 2.0 (the "License"); you may not use this file except in
 * compliance with the License.  http://www.apache.org/licenses/LICENSE-2.0
 */

#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "scim_store.h"

/* Schema migrations, in order; migration N brings the database to version
 * N+1.  Only SQL that SQLite and PostgreSQL both accept. */
static const char *const migration_v1[] = {
    "CREATE TABLE IF NOT EXISTS scim_resources ("
    " org VARCHAR(255) NOT NULL,"
    " rtype VARCHAR(16) NOT NULL,"
    " id VARCHAR(64) NOT NULL,"
    " name VARCHAR(1024) NOT NULL,"         /* SCIM_STORE_MAX_KEY */
    " name_ci VARCHAR(1024) NOT NULL,"
    " external_id VARCHAR(1024),"
    " created VARCHAR(32) NOT NULL,"
    " last_modified VARCHAR(32) NOT NULL,"
    " version INTEGER NOT NULL,"
    " state VARCHAR(16),"
    " linked VARCHAR(32),"
    " resource TEXT NOT NULL,"
    " PRIMARY KEY (org, rtype, id))",
    /* userName / displayName are unique per organization, ignoring case */
    "CREATE UNIQUE INDEX IF NOT EXISTS scim_resources_name"
    " ON scim_resources (org, rtype, name_ci)",
    "CREATE INDEX IF NOT EXISTS scim_resources_external"
    " ON scim_resources (org, rtype, external_id)",
    /* the stable default order of lists */
    "CREATE INDEX IF NOT EXISTS scim_resources_order"
    " ON scim_resources (org, rtype, created, id)",
    /* Group memberships, one row each, so that adding one member to a
     * group of 50,000 touches one row. */
    "CREATE TABLE IF NOT EXISTS scim_members ("
    " org VARCHAR(255) NOT NULL,"
    " group_id VARCHAR(64) NOT NULL,"
    " member_type VARCHAR(16) NOT NULL,"
    " member_id VARCHAR(64) NOT NULL,"
    " PRIMARY KEY (org, group_id, member_id))",
    /* a user's groups, and removing a deleted resource's memberships */
    "CREATE INDEX IF NOT EXISTS scim_members_member"
    " ON scim_members (org, member_id)",
    NULL
};

static const char *const *const migrations[] = {
    migration_v1,
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

int scim_store_schema_version(void)
{
    return SCHEMA_VERSION;
}

#define RECORD_COLUMNS \
    "rtype, id, name, external_id, created, last_modified, version, state," \
    " linked, resource"

/* The same columns of a resource joined as "r". */
#define RECORD_COLUMNS_R \
    "r.rtype, r.id, r.name, r.external_id, r.created, r.last_modified," \
    " r.version, r.state, r.linked, r.resource"

/* Placeholders for a batch of ids (SCIM_STORE_GROUPS_BATCH of them): a
 * fixed statement serves any number of ids, unused places bound to NULL. */
#define TEN_IDS "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s"
#define GROUPS_BATCH 50

/* Every statement the store runs: label (an SQL identifier, for pgsql's
 * PREPARE) and SQL with apr_dbd's %s / %d placeholders. */
#define SCIM_STATEMENTS(X) \
    X(scim_res_get, "SELECT " RECORD_COLUMNS " FROM scim_resources" \
      " WHERE org = %s AND rtype = %s AND id = %s") \
    X(scim_res_by_name, "SELECT " RECORD_COLUMNS " FROM scim_resources" \
      " WHERE org = %s AND rtype = %s AND name_ci = %s") \
    X(scim_res_by_external, "SELECT " RECORD_COLUMNS " FROM scim_resources" \
      " WHERE org = %s AND rtype = %s AND external_id = %s") \
    X(scim_res_count, "SELECT COUNT(*) FROM scim_resources" \
      " WHERE org = %s AND rtype = %s") \
    X(scim_res_page, "SELECT " RECORD_COLUMNS " FROM scim_resources" \
      " WHERE org = %s AND rtype = %s ORDER BY created, id" \
      " LIMIT %d OFFSET %d") \
    X(scim_res_after, "SELECT " RECORD_COLUMNS " FROM scim_resources" \
      " WHERE org = %s AND rtype = %s AND (created > %s" \
      " OR (created = %s AND id > %s)) ORDER BY created, id LIMIT %d") \
    X(scim_res_name_owner, "SELECT id FROM scim_resources" \
      " WHERE org = %s AND rtype = %s AND name_ci = %s") \
    X(scim_res_insert, "INSERT INTO scim_resources (org, rtype, id," \
      " name, name_ci, external_id, created, last_modified, version, state," \
      " linked, resource) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %d, %s," \
      " %s, %s)") \
    X(scim_res_update, "UPDATE scim_resources SET name = %s, name_ci = %s," \
      " external_id = %s, last_modified = %s, version = %d, resource = %s" \
      " WHERE org = %s AND rtype = %s AND id = %s AND version = %d") \
    X(scim_res_touch_any, "UPDATE scim_resources SET last_modified = %s," \
      " version = version + 1 WHERE org = %s AND rtype = %s AND id = %s") \
    X(scim_res_version, "SELECT version FROM scim_resources" \
      " WHERE org = %s AND rtype = %s AND id = %s") \
    X(scim_res_touch, "UPDATE scim_resources SET last_modified = %s," \
      " version = %d WHERE org = %s AND rtype = %s AND id = %s" \
      " AND version = %d") \
    X(scim_res_bump_user, "UPDATE scim_resources" \
      " SET version = version + 1, last_modified = %s" \
      " WHERE org = %s AND rtype = 'User' AND id = %s") \
    X(scim_res_bump_members, "UPDATE scim_resources" \
      " SET version = version + 1, last_modified = %s" \
      " WHERE org = %s AND rtype = 'User' AND id IN (SELECT member_id" \
      " FROM scim_members WHERE org = %s AND group_id = %s)") \
    X(scim_res_bump_groups_of, "UPDATE scim_resources" \
      " SET version = version + 1, last_modified = %s" \
      " WHERE org = %s AND rtype = 'Group' AND id IN (SELECT group_id" \
      " FROM scim_members WHERE org = %s AND member_id = %s)") \
    X(scim_res_delete, "DELETE FROM scim_resources" \
      " WHERE org = %s AND rtype = %s AND id = %s") \
    X(scim_res_kind, "SELECT rtype FROM scim_resources" \
      " WHERE org = %s AND rtype IN ('User', 'Group') AND id = %s") \
    X(scim_res_with_member, "SELECT " RECORD_COLUMNS_R \
      " FROM scim_members m JOIN scim_resources r ON r.org = m.org" \
      " AND r.rtype = 'Group' AND r.id = m.group_id" \
      " WHERE m.org = %s AND m.member_id = %s ORDER BY r.created, r.id") \
    X(scim_mem_page, "SELECT m.member_id, m.member_type, r.name" \
      " FROM scim_members m JOIN scim_resources r ON r.org = m.org" \
      " AND r.rtype = m.member_type AND r.id = m.member_id" \
      " WHERE m.org = %s AND m.group_id = %s ORDER BY m.member_id" \
      " LIMIT %d OFFSET %d") \
    X(scim_mem_count, "SELECT COUNT(*) FROM scim_members" \
      " WHERE org = %s AND group_id = %s") \
    X(scim_mem_records, "SELECT " RECORD_COLUMNS_R \
      " FROM scim_members m JOIN scim_resources r ON r.org = m.org" \
      " AND r.rtype = m.member_type AND r.id = m.member_id" \
      " WHERE m.org = %s AND m.group_id = %s AND m.member_type = %s" \
      " ORDER BY m.member_id LIMIT %d OFFSET %d") \
    X(scim_mem_records_after, "SELECT " RECORD_COLUMNS_R \
      " FROM scim_members m JOIN scim_resources r ON r.org = m.org" \
      " AND r.rtype = m.member_type AND r.id = m.member_id" \
      " WHERE m.org = %s AND m.group_id = %s AND m.member_type = %s" \
      " AND m.member_id > %s ORDER BY m.member_id LIMIT %d") \
    X(scim_mem_count_type, "SELECT COUNT(*) FROM scim_members" \
      " WHERE org = %s AND group_id = %s AND member_type = %s") \
    X(scim_mem_groups_of, "SELECT m.member_id, g.id, g.name" \
      " FROM scim_members m JOIN scim_resources g ON g.org = m.org" \
      " AND g.rtype = 'Group' AND g.id = m.group_id" \
      " WHERE m.org = %s AND m.member_id IN (" TEN_IDS ", " TEN_IDS ", " \
      TEN_IDS ", " TEN_IDS ", " TEN_IDS ") ORDER BY g.name_ci, g.id") \
    X(scim_mem_insert, "INSERT INTO scim_members (org, group_id," \
      " member_type, member_id) VALUES (%s, %s, %s, %s)" \
      " ON CONFLICT DO NOTHING") \
    X(scim_mem_delete, "DELETE FROM scim_members" \
      " WHERE org = %s AND group_id = %s AND member_id = %s") \
    X(scim_mem_clear, "DELETE FROM scim_members" \
      " WHERE org = %s AND group_id = %s") \
    X(scim_mem_forget, "DELETE FROM scim_members" \
      " WHERE org = %s AND member_id = %s")

typedef enum {
#define STATEMENT_ENUM(label, sql) STMT_##label,
    SCIM_STATEMENTS(STATEMENT_ENUM)
#undef STATEMENT_ENUM
    STMT_COUNT
} statement_t;

static const struct {
    const char *label;
    const char *sql;
} statements[] = {
#define STATEMENT_ROW(label, sql) { #label, sql },
    SCIM_STATEMENTS(STATEMENT_ROW)
#undef STATEMENT_ROW
};

/* ---- small helpers ----------------------------------------------------- */

scim_record_t *scim_record_copy(apr_pool_t *p, const scim_record_t *rec)
{
    scim_record_t *copy = apr_pmemdup(p, rec, sizeof(*rec));

    copy->rtype = apr_pstrdup(p, rec->rtype);
    copy->id = apr_pstrdup(p, rec->id);
    copy->name = rec->name ? apr_pstrdup(p, rec->name) : NULL;
    copy->external_id = rec->external_id
                      ? apr_pstrdup(p, rec->external_id) : NULL;
    copy->created = apr_pstrdup(p, rec->created);
    copy->last_modified = apr_pstrdup(p, rec->last_modified);
    copy->state = rec->state ? apr_pstrdup(p, rec->state) : NULL;
    copy->linked = rec->linked ? apr_pstrdup(p, rec->linked) : NULL;
    copy->resource = scim_json_pool_own(p, json_incref(rec->resource));
    return copy;
}

/* A database failure: the IdP should retry later, the log gets the
 * driver's message. */
static scim_error_t *db_error(scim_store_t *st, int rv, const char *what)
{
    scim_error_t *err = scim_error_make(st->pool, 503, NULL,
        "The directory store is busy or unavailable; retry later");
    const char *msg = st->handle ? apr_dbd_error(st->driver, st->handle, rv)
                                 : NULL;

    err->internal = apr_psprintf(st->pool, "%s failed (%d): %s", what, rv,
                                 msg ? msg : "no message");
    err->retry_after = SCIM_STORE_RETRY_AFTER;
    return err;
}

static apr_dbd_prepared_t *statement(scim_store_t *st, statement_t which)
{
    return apr_hash_get(st->prepared, statements[which].label,
                        APR_HASH_KEY_STRING);
}

static scim_error_t *missing_statement(scim_store_t *st, statement_t which)
{
    scim_error_t *err = scim_error_make(st->pool, 503, NULL,
        "The directory store is not ready; retry later");
    err->internal = apr_psprintf(st->pool, "statement %s is not prepared",
                                 statements[which].label);
    err->retry_after = SCIM_STORE_RETRY_AFTER;
    return err;
}

/* Runs a statement that changes rows; *nrows gets the count. */
static scim_error_t *exec_write(scim_store_t *st, statement_t which,
                                int *nrows, const char **args, int nargs)
{
    apr_dbd_prepared_t *stmt = statement(st, which);
    int rv, n = 0;

    if (!stmt) {
        return missing_statement(st, which);
    }
    st->statements++;
    rv = apr_dbd_pquery(st->driver, st->pool, st->handle, &n, stmt,
                        nargs, args);
    if (rv != 0) {
        return db_error(st, rv, statements[which].label);
    }
    st->rows_written += n;
    if (nrows) {
        *nrows = n;
    }
    return NULL;
}

static const char *entry(const apr_dbd_driver_t *driver, apr_pool_t *p,
                         apr_dbd_row_t *row, int col)
{
    const char *v = apr_dbd_get_entry(driver, row, col);

    /* Copied: pgsql frees row values when the next chunk arrives. */
    return v ? apr_pstrdup(p, v) : NULL;
}

static scim_record_t *record_from_row(const apr_dbd_driver_t *driver,
                                      apr_pool_t *p, apr_dbd_row_t *row)
{
    scim_record_t *rec = apr_pcalloc(p, sizeof(*rec));
    const char *version, *json;
    json_error_t jerr;

    rec->rtype = entry(driver, p, row, 0);
    rec->id = entry(driver, p, row, 1);
    rec->name = entry(driver, p, row, 2);
    rec->external_id = entry(driver, p, row, 3);
    rec->created = entry(driver, p, row, 4);
    rec->last_modified = entry(driver, p, row, 5);
    version = apr_dbd_get_entry(driver, row, 6);
    rec->version = version ? atoi(version) : 0;
    rec->state = entry(driver, p, row, 7);
    rec->linked = entry(driver, p, row, 8);
    json = apr_dbd_get_entry(driver, row, 9);
    rec->resource = scim_json_pool_own(p,
        json_loads(json ? json : "{}", 0, &jerr));
    if (!rec->resource) {
        rec->resource = scim_json_pool_own(p, json_object());
    }
    return rec;
}

/* What a select does with each row it reads. */
typedef void (*row_handler_t)(scim_store_t *st, apr_pool_t *p,
                              apr_dbd_row_t *row, void *baton);

/* Runs a select and hands every row to handle (values copied into p).
 * Every row is read to the end: pgsql needs it to clean the result up. */
static scim_error_t *run_select(scim_store_t *st, apr_pool_t *p,
                                statement_t which, const char **args,
                                int nargs, row_handler_t handle, void *baton)
{
    apr_dbd_prepared_t *stmt = statement(st, which);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv;

    if (!stmt) {
        return missing_statement(st, which);
    }
    st->statements++;
    /* Random access (1): pgsql then runs the statement synchronously and
     * reports its errors; sequential access waits 100 ms on an empty
     * result and turns a failed statement into "no rows". */
    rv = apr_dbd_pselect(st->driver, p, st->handle, &res, stmt, 1,
                         nargs, args);
    if (rv != 0) {
        return db_error(st, rv, statements[which].label);
    }
    while (apr_dbd_get_row(st->driver, p, res, &row, -1) == 0) {
        st->rows_read++;
        handle(st, p, row, baton);
    }
    return NULL;
}

static void push_record(scim_store_t *st, apr_pool_t *p, apr_dbd_row_t *row,
                        void *out)
{
    APR_ARRAY_PUSH((apr_array_header_t *)out, scim_record_t *) =
        record_from_row(st->driver, p, row);
}

/* Appends every row as a record (scim_record_t *, allocated from p). */
static scim_error_t *select_records(scim_store_t *st, apr_pool_t *p,
                                   statement_t which, const char **args,
                                   int nargs, apr_array_header_t *out)
{
    return run_select(st, p, which, args, nargs, push_record, out);
}

static void keep_first_value(scim_store_t *st, apr_pool_t *p,
                             apr_dbd_row_t *row, void *value)
{
    if (!*(const char **)value) {
        *(const char **)value = entry(st->driver, p, row, 0);
    }
}

/* First column of the first row (a count, an id), or NULL for none. */
static scim_error_t *select_value(scim_store_t *st, statement_t which,
                                  const char **args, int nargs,
                                  const char **value)
{
    *value = NULL;
    return run_select(st, st->pool, which, args, nargs, keep_first_value,
                      value);
}

/* A COUNT(*) statement's answer. */
static scim_error_t *select_count(scim_store_t *st, statement_t which,
                                  const char **args, int nargs, int *count)
{
    const char *value = NULL;
    scim_error_t *err = select_value(st, which, args, nargs, &value);

    *count = value ? atoi(value) : 0;
    return err;
}

/* ---- transactions ------------------------------------------------------ */

/* Ends a transaction the request forgot (an error path, an aborted
 * request): a pooled connection must never keep an open transaction. */
static apr_status_t transaction_cleanup(void *data)
{
    scim_store_t *st = data;

    if (st->trans) {
        apr_dbd_transaction_mode_set(st->driver, st->trans,
                                     APR_DBD_TRANSACTION_ROLLBACK);
        apr_dbd_transaction_end(st->driver, st->pool, st->trans);
        st->trans = NULL;
    }
    return APR_SUCCESS;
}

static scim_error_t *tx_begin(scim_store_t *st)
{
    int rv = apr_dbd_transaction_start(st->driver, st->pool, st->handle,
                                       &st->trans);
    if (rv != 0) {
        st->trans = NULL;
        return db_error(st, rv, "begin transaction");
    }
    apr_pool_cleanup_register(st->pool, st, transaction_cleanup,
                              apr_pool_cleanup_null);
    return NULL;
}

/* Commits (or, with rollback set or after a failed statement, rolls back). */
static scim_error_t *tx_end(scim_store_t *st, int rollback)
{
    apr_dbd_transaction_t *trans = st->trans;
    int rv;

    if (!trans) {
        return NULL;
    }
    st->trans = NULL;
    apr_pool_cleanup_kill(st->pool, st, transaction_cleanup);
    if (rollback) {
        apr_dbd_transaction_mode_set(st->driver, trans,
                                     APR_DBD_TRANSACTION_ROLLBACK);
    }
    rv = apr_dbd_transaction_end(st->driver, st->pool, trans);
    if (rv != 0) {
        int n;

        /* The driver forgets the transaction even when COMMIT failed; the
         * database may still be in it, holding the write lock. */
        apr_dbd_query(st->driver, st->handle, &n, "ROLLBACK");
        if (!rollback) {
            return db_error(st, rv, "commit");
        }
    }
    return NULL;
}

/* ---- connection set-up -------------------------------------------------- */

static int is_sqlite(const apr_dbd_driver_t *driver)
{
    return strcmp(apr_dbd_name(driver), "sqlite3") == 0;
}

static scim_error_t *setup_error(apr_pool_t *p, const apr_dbd_driver_t *driver,
                                 apr_dbd_t *handle, int rv, const char *what)
{
    scim_error_t *err = scim_error_make(p, 503, NULL,
        "The directory store is unavailable; retry later");
    const char *msg = apr_dbd_error(driver, handle, rv);

    err->internal = apr_psprintf(p, "%s failed (%d): %s", what, rv,
                                 msg ? msg : "no message");
    err->retry_after = SCIM_STORE_RETRY_AFTER;
    return err;
}

/* Runs a statement that may return rows (PRAGMA) and discards them. */
static int run_and_discard(apr_pool_t *p, const apr_dbd_driver_t *driver,
                           apr_dbd_t *handle, const char *sql)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv = apr_dbd_select(driver, p, handle, &res, sql, 1);

    if (rv == 0) {
        while (apr_dbd_get_row(driver, p, res, &row, -1) == 0) {
        }
    }
    return rv;
}

/* The schema version the database records; 0 when it has none yet (or
 * the table cannot be read, which the migration then settles). */
static int recorded_version(apr_pool_t *p, const apr_dbd_driver_t *driver,
                            apr_dbd_t *handle)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int version = 0;

    if (apr_dbd_select(driver, p, handle, &res,
                       "SELECT MAX(version) FROM scim_schema_version", 1)
        != 0) {
        return 0;
    }
    while (apr_dbd_get_row(driver, p, res, &row, -1) == 0) {
        const char *v = apr_dbd_get_entry(driver, row, 0);
        version = v ? atoi(v) : 0;
    }
    return version;
}

static scim_error_t *too_new(apr_pool_t *p, int version)
{
    scim_error_t *err = scim_error_make(p, 503, NULL,
        "The directory store is unavailable; retry later");

    err->internal = apr_psprintf(p, "database schema version %d is newer"
                                 " than this mod_scim (%d)", version,
                                 SCHEMA_VERSION);
    err->retry_after = SCIM_STORE_RETRY_AFTER;
    return err;
}

/* Brings the schema to SCHEMA_VERSION.  Connections of every process may
 * try at once: the version is read again under a lock (SQLite's BEGIN
 * IMMEDIATE takes the write lock; on PostgreSQL an advisory lock). */
static scim_error_t *migrate(apr_pool_t *p, const apr_dbd_driver_t *driver,
                             apr_dbd_t *handle)
{
    apr_dbd_transaction_t *trans = NULL;
    int rv, n, version, i;
    scim_error_t *err = NULL;

    version = recorded_version(p, driver, handle);
    if (version == SCHEMA_VERSION) {
        return NULL;
    }
    if (version > SCHEMA_VERSION) {
        return too_new(p, version);
    }
    rv = apr_dbd_transaction_start(driver, p, handle, &trans);
    if (rv != 0) {
        if (trans) {
            apr_dbd_transaction_end(driver, p, trans);
        }
        return setup_error(p, driver, handle, rv, "migration transaction");
    }
    if (!is_sqlite(driver)) {
        apr_dbd_results_t *res = NULL;
        apr_dbd_row_t *row = NULL;

        rv = apr_dbd_select(driver, p, handle, &res,
                            "SELECT pg_advisory_xact_lock(7368270)", 1);
        if (rv != 0) {
            err = setup_error(p, driver, handle, rv, "migration lock");
        }
        while (!err && apr_dbd_get_row(driver, p, res, &row, -1) == 0) {
        }
    }
    if (!err) {
        rv = apr_dbd_query(driver, handle, &n,
            "CREATE TABLE IF NOT EXISTS scim_schema_version"
            " (version INTEGER NOT NULL)");
        if (rv != 0) {
            err = setup_error(p, driver, handle, rv, "schema version table");
        }
    }
    if (!err) {
        version = recorded_version(p, driver, handle);
        if (version > SCHEMA_VERSION) {
            err = too_new(p, version);
        }
    }
    for (i = version; !err && i < SCHEMA_VERSION; i++) {
        const char *const *sql;

        for (sql = migrations[i]; *sql && !err; sql++) {
            rv = apr_dbd_query(driver, handle, &n, *sql);
            if (rv != 0) {
                err = setup_error(p, driver, handle, rv, *sql);
            }
        }
    }
    if (!err && version < SCHEMA_VERSION) {
        const char *sql = apr_psprintf(p, version == 0
            ? "INSERT INTO scim_schema_version (version) VALUES (%d)"
            : "UPDATE scim_schema_version SET version = %d", SCHEMA_VERSION);
        rv = apr_dbd_query(driver, handle, &n, sql);
        if (rv != 0) {
            err = setup_error(p, driver, handle, rv, "recording schema version");
        }
    }
    if (err) {
        apr_dbd_transaction_mode_set(driver, trans,
                                     APR_DBD_TRANSACTION_ROLLBACK);
    }
    rv = apr_dbd_transaction_end(driver, p, trans);
    if (!err && rv != 0) {
        err = setup_error(p, driver, handle, rv, "migration commit");
    }
    return err;
}

/* SQLite's per-connection settings.  WAL lets readers proceed beside the
 * writer across processes; synchronous=FULL makes every acknowledged
 * commit durable.  journal_mode answers the mode in effect, which must be
 * WAL: SQLite silently keeps its old journal when it cannot switch. */
static scim_error_t *sqlite_settings(apr_pool_t *p,
                                     const apr_dbd_driver_t *driver,
                                     apr_dbd_t *handle)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *mode = NULL;
    int rv;

    rv = apr_dbd_select(driver, p, handle, &res, "PRAGMA journal_mode=WAL", 1);
    if (rv != 0) {
        return setup_error(p, driver, handle, rv, "PRAGMA journal_mode");
    }
    while (apr_dbd_get_row(driver, p, res, &row, -1) == 0) {
        if (!mode) {
            mode = entry(driver, p, row, 0);
        }
    }
    if (!mode || strcasecmp(mode, "wal") != 0) {
        scim_error_t *err = scim_error_make(p, 503, NULL,
            "The directory store is unavailable; retry later");
        err->internal = apr_psprintf(p, "SQLite stays in journal mode %s, not"
                                     " WAL (is the database's directory"
                                     " writable?)", mode ? mode : "unknown");
        err->retry_after = SCIM_STORE_RETRY_AFTER;
        return err;
    }
    if ((rv = run_and_discard(p, driver, handle, "PRAGMA synchronous=FULL"))
        != 0) {
        return setup_error(p, driver, handle, rv, "PRAGMA synchronous");
    }
    return NULL;
}

scim_error_t *scim_store_connection_init(apr_pool_t *conn_pool,
                                         apr_pool_t *p,
                                         const apr_dbd_driver_t *driver,
                                         apr_dbd_t *handle,
                                         apr_hash_t *prepared)
{
    scim_error_t *err = NULL;
    int i, rv;

    /* The last statement is prepared last: its presence means done. */
    if (apr_hash_get(prepared, statements[STMT_COUNT - 1].label,
                     APR_HASH_KEY_STRING)) {
        return NULL;
    }
    if (is_sqlite(driver)) {
        err = sqlite_settings(p, driver, handle);
    }
    if (!err) {
        err = migrate(p, driver, handle);
    }
    for (i = 0; !err && i < STMT_COUNT; i++) {
        apr_dbd_prepared_t *stmt = NULL;

        /* pgsql gets no label: a named server-side statement would not
         * survive the reconnect mod_dbd does after a database restart. */
        rv = apr_dbd_prepare(driver, conn_pool, handle, statements[i].sql,
                             is_sqlite(driver) ? statements[i].label : NULL,
                             &stmt);
        if (rv != 0) {
            err = setup_error(p, driver, handle, rv, statements[i].label);
            break;
        }
        apr_hash_set(prepared, statements[i].label, APR_HASH_KEY_STRING,
                     stmt);
    }
    return err;
}

/* ---- reads -------------------------------------------------------------- */

static scim_record_t *first_record(apr_array_header_t *recs)
{
    return recs->nelts ? APR_ARRAY_IDX(recs, 0, scim_record_t *) : NULL;
}

scim_error_t *scim_store_get(scim_store_t *st, const char *org,
                             const char *rtype, const char *id,
                             scim_record_t **out)
{
    apr_array_header_t *recs = apr_array_make(st->pool, 1,
                                              sizeof(scim_record_t *));
    const char *args[] = { org, rtype, id };
    scim_error_t *err = select_records(st, st->pool, STMT_scim_res_get,
                                       args, 3, recs);

    *out = err ? NULL : first_record(recs);
    return err;
}

scim_error_t *scim_store_find(scim_store_t *st, const char *org,
                              const char *rtype, scim_store_key_t key,
                              const char *value, apr_array_header_t *out)
{
    const char *args[] = { org, rtype, value };
    statement_t which = STMT_scim_res_get;

    if (key == SCIM_STORE_BY_NAME) {
        which = STMT_scim_res_by_name;
        args[2] = scim_fold_case(st->pool, value);
    }
    else if (key == SCIM_STORE_BY_EXTERNAL_ID) {
        which = STMT_scim_res_by_external;
    }
    return select_records(st, st->pool, which, args, 3, out);
}

scim_error_t *scim_store_count(scim_store_t *st, const char *org,
                               const char *rtype, int *count)
{
    const char *args[] = { org, rtype };
    return select_count(st, STMT_scim_res_count, args, 2, count);
}

scim_error_t *scim_store_scan_chunk(scim_store_t *st, apr_pool_t *p,
                                    const char *org, const char *rtype,
                                    const scim_record_t *after, int limit,
                                    apr_array_header_t *out)
{
    const char *args[] = {
        org, rtype, NULL, NULL, NULL, apr_itoa(p, limit)
    };

    if (!after) {
        return scim_store_page(st, p, org, rtype, 0, limit, out);
    }
    args[2] = args[3] = after->created;
    args[4] = after->id;
    return select_records(st, p, STMT_scim_res_after, args, 6, out);
}

scim_error_t *scim_store_page(scim_store_t *st, apr_pool_t *p,
                              const char *org, const char *rtype,
                              int offset, int limit, apr_array_header_t *out)
{
    const char *args[] = {
        org, rtype, apr_itoa(p, limit), apr_itoa(p, offset)
    };
    return select_records(st, p, STMT_scim_res_page, args, 4, out);
}

/* ---- memberships ------------------------------------------------------ */

static void push_member(scim_store_t *st, apr_pool_t *p, apr_dbd_row_t *row,
                        void *out)
{
    scim_member_t *m = apr_array_push(out);

    m->id = entry(st->driver, p, row, 0);
    m->type = entry(st->driver, p, row, 1);
    m->display = entry(st->driver, p, row, 2);
}

/* Appends every row (id, type, display) as a scim_member_t. */
static scim_error_t *select_members(scim_store_t *st, apr_pool_t *p,
                                    statement_t which, const char **args,
                                    int nargs, apr_array_header_t *out)
{
    return run_select(st, p, which, args, nargs, push_member, out);
}

scim_error_t *scim_store_members(scim_store_t *st, const char *org,
                                 const char *group_id, int offset, int limit,
                                 apr_array_header_t *out)
{
    const char *args[] = {
        org, group_id, apr_itoa(st->pool, limit), apr_itoa(st->pool, offset)
    };
    return select_members(st, st->pool, STMT_scim_mem_page, args, 4, out);
}

scim_error_t *scim_store_member_count(scim_store_t *st, const char *org,
                                      const char *group_id, int *count)
{
    const char *args[] = { org, group_id };
    return select_count(st, STMT_scim_mem_count, args, 2, count);
}

scim_error_t *scim_store_member_records(scim_store_t *st, apr_pool_t *p,
                                       const char *org, const char *group_id,
                                       const char *member_type, int offset,
                                       int limit, apr_array_header_t *out)
{
    const char *args[] = {
        org, group_id, member_type, apr_itoa(p, limit), apr_itoa(p, offset)
    };
    return select_records(st, p, STMT_scim_mem_records, args, 5, out);
}

scim_error_t *scim_store_member_scan_chunk(scim_store_t *st, apr_pool_t *p,
                                           const char *org,
                                           const char *group_id,
                                           const char *member_type,
                                           const char *after_id, int limit,
                                           apr_array_header_t *out)
{
    const char *args[] = {
        org, group_id, member_type, after_id, apr_itoa(p, limit)
    };

    if (!after_id) {
        return scim_store_member_records(st, p, org, group_id, member_type,
                                         0, limit, out);
    }
    return select_records(st, p, STMT_scim_mem_records_after, args, 5, out);
}

scim_error_t *scim_store_member_records_count(scim_store_t *st,
                                              const char *org,
                                              const char *group_id,
                                              const char *member_type,
                                              int *count)
{
    const char *args[] = { org, group_id, member_type };
    return select_count(st, STMT_scim_mem_count_type, args, 3, count);
}

static void push_group_of(scim_store_t *st, apr_pool_t *p, apr_dbd_row_t *row,
                          void *out)
{
    const char *member_id = entry(st->driver, p, row, 0);
    apr_array_header_t *groups = apr_hash_get(out, member_id,
                                              APR_HASH_KEY_STRING);
    scim_member_t *g;

    if (!groups) {
        groups = apr_array_make(p, 4, sizeof(scim_member_t));
        apr_hash_set(out, member_id, APR_HASH_KEY_STRING, groups);
    }
    g = apr_array_push(groups);
    g->id = entry(st->driver, p, row, 1);
    g->type = "Group";
    g->display = entry(st->driver, p, row, 2);
}

scim_error_t *scim_store_groups_of(scim_store_t *st, const char *org,
                                   const char *const *member_ids, int n,
                                   apr_hash_t *out)
{
    const char *args[1 + GROUPS_BATCH];
    scim_error_t *err = NULL;
    int start, i;

    args[0] = org;
    for (start = 0; !err && start < n; start += GROUPS_BATCH) {
        for (i = 0; i < GROUPS_BATCH; i++) {
            args[1 + i] = start + i < n ? member_ids[start + i] : NULL;
        }
        err = run_select(st, st->pool, STMT_scim_mem_groups_of, args,
                         1 + GROUPS_BATCH, push_group_of, out);
    }
    return err;
}

scim_error_t *scim_store_groups_with_member(scim_store_t *st, const char *org,
                                            const char *member_id,
                                            apr_array_header_t *out)
{
    const char *args[] = { org, member_id };
    return select_records(st, st->pool, STMT_scim_res_with_member, args, 2,
                          out);
}

/* Applies membership changes inside the caller's transaction.  Added ids
 * must be users or groups of the organization (and not the group itself). */
/* A user whose group memberships changed has changed: its groups
 * attribute is part of it, so its version (ETag) moves too. */
static scim_error_t *bump_user(scim_store_t *st, const char *org,
                               const char *id, const char *now)
{
    const char *args[] = { now, org, id };
    return exec_write(st, STMT_scim_res_bump_user, NULL, args, 3);
}

static scim_error_t *bump_members(scim_store_t *st, const char *org,
                                  const char *group_id, const char *now)
{
    const char *args[] = { now, org, org, group_id };
    return exec_write(st, STMT_scim_res_bump_members, NULL, args, 4);
}

/* Applies membership changes inside the caller's transaction.  Added ids
 * must be users or groups of the organization (and not the group itself). */
static scim_error_t *apply_member_ops(scim_store_t *st, const char *org,
                                      const char *group_id,
                                      const apr_array_header_t *ops)
{
    const char *now = scim_now(st->pool);
    scim_error_t *err = NULL;
    int i;

    for (i = 0; !err && ops && i < ops->nelts; i++) {
        const scim_member_op_t *op = &APR_ARRAY_IDX(ops, i, scim_member_op_t);
        int nrows = 0;

        if (op->kind == SCIM_MEMBER_CLEAR) {
            const char *args[] = { org, group_id };
            err = bump_members(st, org, group_id, now);
            if (!err) {
                err = exec_write(st, STMT_scim_mem_clear, NULL, args, 2);
            }
        }
        else if (op->kind == SCIM_MEMBER_REMOVE) {
            const char *args[] = { org, group_id, op->member_id };
            err = exec_write(st, STMT_scim_mem_delete, &nrows, args, 3);
            if (!err && nrows) {
                err = bump_user(st, org, op->member_id, now);
            }
        }
        else {
            const char *kind_args[] = { org, op->member_id };
            const char *kind = NULL;

            if (strcmp(op->member_id, group_id) == 0) {
                return scim_error_make(st->pool, 400, SCIM_TYPE_INVALID_VALUE,
                                       "A group cannot be its own member");
            }
            err = select_value(st, STMT_scim_res_kind, kind_args, 2, &kind);
            if (!err && !kind) {
                return scim_error_make(st->pool, 400, SCIM_TYPE_INVALID_VALUE,
                                       "Member %s is not a user or group of"
                                       " this organization", op->member_id);
            }
            if (!err) {
                const char *args[] = { org, group_id, kind, op->member_id };
                err = exec_write(st, STMT_scim_mem_insert, &nrows, args, 4);
            }
            if (!err && nrows && strcmp(kind, "User") == 0) {
                err = bump_user(st, org, op->member_id, now);
            }
        }
    }
    return err;
}

/* ---- writes ------------------------------------------------------------- */

static scim_error_t *name_taken(scim_store_t *st, const char *rtype,
                                const char *name)
{
    return scim_error_make(st->pool, 409, SCIM_TYPE_UNIQUENESS,
                           "%s '%s' is already taken in this organization",
                           strcmp(rtype, "Group") == 0 ? "displayName"
                                                       : "userName", name);
}

/* The id of the resource holding name (case-insensitively), or NULL. */
static scim_error_t *name_owner(scim_store_t *st, const char *org,
                                const char *rtype, const char *name_ci,
                                const char **owner)
{
    const char *args[] = { org, rtype, name_ci };
    return select_value(st, STMT_scim_res_name_owner, args, 3, owner);
}

/* After a failed write: was it the unique index (a race another writer
 * won, pgsql) rather than the database?  Checked outside the dead
 * transaction. */
static scim_error_t *explain_write_failure(scim_store_t *st, const char *org,
                                           const scim_record_t *rec,
                                           const char *name_ci,
                                           scim_error_t *err)
{
    const char *owner = NULL;

    if (!name_owner(st, org, rec->rtype, name_ci, &owner) && owner
        && strcmp(owner, rec->id) != 0) {
        return name_taken(st, rec->rtype, rec->name);
    }
    return err;
}

static const char *dump_resource(apr_pool_t *p, const json_t *resource)
{
    char *text = json_dumps(resource, JSON_COMPACT);
    const char *copy = text ? apr_pstrdup(p, text) : NULL;

    free(text);
    return copy;
}

scim_error_t *scim_store_create(scim_store_t *st, const char *org,
                                const scim_record_t *rec,
                                const apr_array_header_t *member_ops)
{
    const char *name_ci = scim_fold_case(st->pool, rec->name);
    const char *owner = NULL;
    const char *json = dump_resource(st->pool, rec->resource);
    scim_error_t *err;

    if (!json) {
        return scim_error_make(st->pool, 400, SCIM_TYPE_INVALID_VALUE,
                               "The resource cannot be serialised");
    }
    if ((err = tx_begin(st))) {
        return err;
    }
    err = name_owner(st, org, rec->rtype, name_ci, &owner);
    if (!err && owner) {
        tx_end(st, 1);
        return name_taken(st, rec->rtype, rec->name);
    }
    if (!err) {
        const char *args[] = {
            org, rec->rtype, rec->id, rec->name, name_ci, rec->external_id,
            rec->created, rec->last_modified,
            apr_itoa(st->pool, rec->version), rec->state, rec->linked, json
        };
        err = exec_write(st, STMT_scim_res_insert, NULL, args, 12);
    }
    if (!err) {
        err = apply_member_ops(st, org, rec->id, member_ops);
    }
    if (err) {
        tx_end(st, 1);
        return err->status >= 500
               ? explain_write_failure(st, org, rec, name_ci, err) : err;
    }
    if ((err = tx_end(st, 0))) {
        return explain_write_failure(st, org, rec, name_ci, err);
    }
    return NULL;
}

/* After an update matched no row: gone (404) or changed (412)? */
static scim_error_t *explain_missed_update(scim_store_t *st, const char *org,
                                           const scim_record_t *rec,
                                           int expected_version)
{
    scim_record_t *now = NULL;
    scim_error_t *err = scim_store_get(st, org, rec->rtype, rec->id, &now);

    if (err) {
        return err;
    }
    if (!now) {
        return scim_error_make(st->pool, 404, NULL, "Resource %s not found",
                               rec->id);
    }
    return scim_error_make(st->pool, 412, NULL,
                           "The resource was modified concurrently"
                           " (version %d, expected %d)",
                           now->version, expected_version);
}

scim_error_t *scim_store_update(scim_store_t *st, const char *org,
                                scim_record_t *rec,
                                int expected_version, int resource_changed,
                                const apr_array_header_t *member_ops)
{
    const char *name_ci = scim_fold_case(st->pool, rec->name);
    const char *owner = NULL;
    const char *json = NULL;
    scim_error_t *err = NULL;
    int nrows = 0;

    if (resource_changed) {
        json = dump_resource(st->pool, rec->resource);
        if (!json) {
            return scim_error_make(st->pool, 400, SCIM_TYPE_INVALID_VALUE,
                                   "The resource cannot be serialised");
        }
    }
    if ((err = tx_begin(st))) {
        return err;
    }
    if (resource_changed) {
        err = name_owner(st, org, rec->rtype, name_ci, &owner);
        if (!err && owner && strcmp(owner, rec->id) != 0) {
            tx_end(st, 1);
            return name_taken(st, rec->rtype, rec->name);
        }
        if (!err) {
            const char *args[] = {
                rec->name, name_ci, rec->external_id, rec->last_modified,
                apr_itoa(st->pool, rec->version), json,
                org, rec->rtype, rec->id,
                apr_itoa(st->pool, expected_version)
            };
            err = exec_write(st, STMT_scim_res_update, &nrows, args, 10);
        }
    }
    else if (expected_version >= 0) {
        /* Only memberships changed: the resource row gets a new version,
         * its JSON is not rewritten. */
        const char *args[] = {
            rec->last_modified, apr_itoa(st->pool, rec->version),
            org, rec->rtype, rec->id, apr_itoa(st->pool, expected_version)
        };
        err = exec_write(st, STMT_scim_res_touch, &nrows, args, 6);
    }
    else {
        /* Membership changes without a precondition commute: they need
         * no version check, so parallel member adds never conflict.  The
         * version they end at is read back inside the transaction. */
        const char *args[] = { rec->last_modified, org, rec->rtype, rec->id };
        const char *version = NULL;

        err = exec_write(st, STMT_scim_res_touch_any, &nrows, args, 4);
        if (!err && nrows) {
            err = select_value(st, STMT_scim_res_version, args + 1, 3,
                               &version);
            rec->version = version ? atoi(version) : rec->version;
        }
    }
    if (!err && nrows == 0) {
        tx_end(st, 1);
        return explain_missed_update(st, org, rec, expected_version);
    }
    if (!err) {
        err = apply_member_ops(st, org, rec->id, member_ops);
    }
    if (err) {
        tx_end(st, 1);
        return err->status >= 500
               ? explain_write_failure(st, org, rec, name_ci, err) : err;
    }
    if ((err = tx_end(st, 0))) {
        return explain_write_failure(st, org, rec, name_ci, err);
    }
    return NULL;
}

scim_error_t *scim_store_delete(scim_store_t *st, const char *org,
                                const char *rtype, const char *id)
{
    const char *args[] = { org, rtype, id };
    const char *member_args[] = { org, id };
    scim_error_t *err;
    int nrows = 0;

    if ((err = tx_begin(st))) {
        return err;
    }
    err = exec_write(st, STMT_scim_res_delete, &nrows, args, 3);
    if (!err && nrows == 0) {
        tx_end(st, 1);
        return scim_error_make(st->pool, 404, NULL, "Resource %s not found",
                               id);
    }
    /* Its memberships go with it, as a member of groups and as a group;
     * the groups and users on the other side of them change version. */
    if (!err) {
        const char *now = scim_now(st->pool);
        const char *bump_args[] = { now, org, org, id };

        err = exec_write(st, STMT_scim_res_bump_groups_of, NULL, bump_args,
                         4);
        if (!err && strcmp(rtype, "Group") == 0) {
            err = bump_members(st, org, id, now);
        }
    }
    if (!err) {
        err = exec_write(st, STMT_scim_mem_forget, NULL, member_args, 2);
    }
    if (!err && strcmp(rtype, "Group") == 0) {
        err = exec_write(st, STMT_scim_mem_clear, NULL, member_args, 2);
    }
    if (err) {
        tx_end(st, 1);
        return err;
    }
    return tx_end(st, 0);
}
