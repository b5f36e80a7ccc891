/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* The store's database layer (see scim_db.h).  Every difference between
 * the sqlite3 and pgsql drivers is behind the small functions of the
 * "drivers" section below. */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "scim_db.h"

/* ---- the schema --------------------------------------------------------- */

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

/* Membership and access: a user's active flag and seat as columns (the
 * seat count is an indexed COUNT), e-mail values in their own index (the
 * link attribute and the most common filter besides userName), the row
 * that serialises seat grants per organization across servers, the audit
 * trail and the tokens' last use. */
static const char *const migration_v2[] = {
    "ALTER TABLE scim_resources ADD COLUMN active INTEGER NOT NULL DEFAULT 1",
    "ALTER TABLE scim_resources ADD COLUMN seat INTEGER NOT NULL DEFAULT 0",
    "UPDATE scim_resources SET active = 0 WHERE rtype = 'User' AND"
    " (resource LIKE '%\"active\":false%'"
    " OR resource LIKE '%\"active\": false%')",
    "CREATE INDEX IF NOT EXISTS scim_resources_seat"
    " ON scim_resources (org, rtype, seat)",
    "CREATE TABLE IF NOT EXISTS scim_emails ("
    " org VARCHAR(255) NOT NULL,"
    " value_ci VARCHAR(1024) NOT NULL,"
    " user_id VARCHAR(64) NOT NULL,"
    " PRIMARY KEY (org, value_ci, user_id))",
    "CREATE INDEX IF NOT EXISTS scim_emails_user ON scim_emails (org, user_id)",
    "CREATE TABLE IF NOT EXISTS scim_seat_locks ("
    " org VARCHAR(255) NOT NULL PRIMARY KEY,"
    " grants INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS scim_audit ("
    " org VARCHAR(255) NOT NULL,"
    " at VARCHAR(32) NOT NULL,"
    " event VARCHAR(32) NOT NULL,"
    " actor VARCHAR(1024),"
    " address VARCHAR(64),"
    " rtype VARCHAR(16),"
    " resource_id VARCHAR(64),"
    " name VARCHAR(1024),"
    " outcome VARCHAR(32))",
    /* pruning by age, and an organization's latest events */
    "CREATE INDEX IF NOT EXISTS scim_audit_at ON scim_audit (at)",
    "CREATE INDEX IF NOT EXISTS scim_audit_org ON scim_audit (org, at)",
    "CREATE TABLE IF NOT EXISTS scim_tokens ("
    " org VARCHAR(255) NOT NULL,"
    " token VARCHAR(64) NOT NULL,"
    " last_used VARCHAR(32) NOT NULL,"
    " address VARCHAR(64),"
    " PRIMARY KEY (org, token))",
    NULL
};

static const char *const *const migrations[] = {
    migration_v1,
    migration_v2,
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* ---- the statements ----------------------------------------------------- */

/* The columns of a record, in the order record_from_row reads them. */
#define RECORD_COLUMNS \
    "rtype, id, name, external_id, created, last_modified, version, state," \
    " linked, resource, active, seat"

/* The same columns of a resource joined as "r". */
#define RECORD_COLUMNS_R \
    "r.rtype, r.id, r.name, r.external_id, r.created, r.last_modified," \
    " r.version, r.state, r.linked, r.resource, r.active, r.seat"

/* What an access check reads of a user, in scim_store_access.c's order. */
#define ACCESS_COLUMNS "id, name, external_id, active, seat, state"
#define ACCESS_COLUMNS_R \
    "r.id, r.name, r.external_id, r.active, r.seat, r.state"

/* Placeholders for a batch of ids (SCIM_DB_GROUPS_BATCH of them): a fixed
 * statement serves any number of ids. */
#define TEN_IDS "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s"

/* Every statement the store runs: label (an SQL identifier, unique; the
 * key in the connection's table of prepared statements) and SQL with
 * apr_dbd's %s / %d placeholders, the same SQL for both drivers. */
static const struct {
    const char *label;
    const char *sql;
} statements[SCIM_STMT_COUNT] = {
    [SCIM_STMT_RES_GET] = { "scim_res_get",
      "SELECT " RECORD_COLUMNS " FROM scim_resources"
      " WHERE org = %s AND rtype = %s AND id = %s" },
    [SCIM_STMT_RES_BY_NAME] = { "scim_res_by_name",
      "SELECT " RECORD_COLUMNS " FROM scim_resources"
      " WHERE org = %s AND rtype = %s AND name_ci = %s" },
    [SCIM_STMT_RES_BY_EXTERNAL] = { "scim_res_by_external",
      "SELECT " RECORD_COLUMNS " FROM scim_resources"
      " WHERE org = %s AND rtype = %s AND external_id = %s" },
    [SCIM_STMT_RES_BY_EMAIL] = { "scim_res_by_email",
      "SELECT " RECORD_COLUMNS_R " FROM scim_emails e"
      " JOIN scim_resources r ON r.org = e.org AND r.rtype = 'User'"
      " AND r.id = e.user_id WHERE e.org = %s AND e.value_ci = %s"
      " ORDER BY r.created, r.id" },
    [SCIM_STMT_RES_COUNT] = { "scim_res_count",
      "SELECT COUNT(*) FROM scim_resources"
      " WHERE org = %s AND rtype = %s" },
    [SCIM_STMT_RES_PAGE] = { "scim_res_page",
      "SELECT " RECORD_COLUMNS " FROM scim_resources"
      " WHERE org = %s AND rtype = %s ORDER BY created, id"
      " LIMIT %d OFFSET %d" },
    [SCIM_STMT_RES_AFTER] = { "scim_res_after",
      "SELECT " RECORD_COLUMNS " FROM scim_resources"
      " WHERE org = %s AND rtype = %s AND (created > %s"
      " OR (created = %s AND id > %s)) ORDER BY created, id LIMIT %d" },
    [SCIM_STMT_RES_NAME_OWNER] = { "scim_res_name_owner",
      "SELECT id FROM scim_resources"
      " WHERE org = %s AND rtype = %s AND name_ci = %s" },
    [SCIM_STMT_RES_INSERT] = { "scim_res_insert",
      "INSERT INTO scim_resources (org, rtype, id,"
      " name, name_ci, external_id, created, last_modified, version, state,"
      " linked, resource, active, seat) VALUES (%s, %s, %s, %s, %s, %s, %s,"
      " %s, %d, %s, %s, %s, %d, 0)" },
    [SCIM_STMT_RES_UPDATE] = { "scim_res_update",
      "UPDATE scim_resources SET name = %s, name_ci = %s,"
      " external_id = %s, last_modified = %s, version = %d, resource = %s,"
      " active = %d, seat = seat * %d"
      " WHERE org = %s AND rtype = %s AND id = %s AND version = %d" },
    [SCIM_STMT_RES_TOUCH_ANY] = { "scim_res_touch_any",
      "UPDATE scim_resources SET last_modified = %s,"
      " version = version + 1 WHERE org = %s AND rtype = %s AND id = %s" },
    [SCIM_STMT_RES_VERSION] = { "scim_res_version",
      "SELECT version FROM scim_resources"
      " WHERE org = %s AND rtype = %s AND id = %s" },
    [SCIM_STMT_RES_TOUCH] = { "scim_res_touch",
      "UPDATE scim_resources SET last_modified = %s,"
      " version = %d WHERE org = %s AND rtype = %s AND id = %s"
      " AND version = %d" },
    [SCIM_STMT_RES_BUMP_USER] = { "scim_res_bump_user",
      "UPDATE scim_resources"
      " SET version = version + 1, last_modified = %s"
      " WHERE org = %s AND rtype = 'User' AND id = %s" },
    [SCIM_STMT_RES_BUMP_MEMBERS] = { "scim_res_bump_members",
      "UPDATE scim_resources"
      " SET version = version + 1, last_modified = %s"
      " WHERE org = %s AND rtype = 'User' AND id IN (SELECT member_id"
      " FROM scim_members WHERE org = %s AND group_id = %s)" },
    [SCIM_STMT_RES_BUMP_GROUPS_OF] = { "scim_res_bump_groups_of",
      "UPDATE scim_resources"
      " SET version = version + 1, last_modified = %s"
      " WHERE org = %s AND rtype = 'Group' AND id IN (SELECT group_id"
      " FROM scim_members WHERE org = %s AND member_id = %s)" },
    [SCIM_STMT_RES_NAME] = { "scim_res_name",
      "SELECT name FROM scim_resources"
      " WHERE org = %s AND rtype = %s AND id = %s" },
    [SCIM_STMT_RES_DELETE] = { "scim_res_delete",
      "DELETE FROM scim_resources"
      " WHERE org = %s AND rtype = %s AND id = %s" },
    [SCIM_STMT_RES_KIND] = { "scim_res_kind",
      "SELECT rtype FROM scim_resources"
      " WHERE org = %s AND rtype IN ('User', 'Group') AND id = %s" },
    [SCIM_STMT_RES_WITH_MEMBER] = { "scim_res_with_member",
      "SELECT " RECORD_COLUMNS_R
      " FROM scim_members m JOIN scim_resources r ON r.org = m.org"
      " AND r.rtype = 'Group' AND r.id = m.group_id"
      " WHERE m.org = %s AND m.member_id = %s ORDER BY r.created, r.id" },
    [SCIM_STMT_MEM_PAGE] = { "scim_mem_page",
      "SELECT m.member_id, m.member_type, r.name"
      " FROM scim_members m JOIN scim_resources r ON r.org = m.org"
      " AND r.rtype = m.member_type AND r.id = m.member_id"
      " WHERE m.org = %s AND m.group_id = %s ORDER BY m.member_id"
      " LIMIT %d OFFSET %d" },
    [SCIM_STMT_MEM_COUNT] = { "scim_mem_count",
      "SELECT COUNT(*) FROM scim_members"
      " WHERE org = %s AND group_id = %s" },
    [SCIM_STMT_MEM_RECORDS] = { "scim_mem_records",
      "SELECT " RECORD_COLUMNS_R
      " FROM scim_members m JOIN scim_resources r ON r.org = m.org"
      " AND r.rtype = m.member_type AND r.id = m.member_id"
      " WHERE m.org = %s AND m.group_id = %s AND m.member_type = %s"
      " ORDER BY m.member_id LIMIT %d OFFSET %d" },
    [SCIM_STMT_MEM_RECORDS_AFTER] = { "scim_mem_records_after",
      "SELECT " RECORD_COLUMNS_R
      " FROM scim_members m JOIN scim_resources r ON r.org = m.org"
      " AND r.rtype = m.member_type AND r.id = m.member_id"
      " WHERE m.org = %s AND m.group_id = %s AND m.member_type = %s"
      " AND m.member_id > %s ORDER BY m.member_id LIMIT %d" },
    [SCIM_STMT_MEM_COUNT_TYPE] = { "scim_mem_count_type",
      "SELECT COUNT(*) FROM scim_members"
      " WHERE org = %s AND group_id = %s AND member_type = %s" },
    [SCIM_STMT_MEM_GROUPS_OF] = { "scim_mem_groups_of",
      "SELECT m.member_id, g.id, g.name"
      " FROM scim_members m JOIN scim_resources g ON g.org = m.org"
      " AND g.rtype = 'Group' AND g.id = m.group_id"
      " WHERE m.org = %s AND m.member_id IN (" TEN_IDS ", " TEN_IDS ", "
      TEN_IDS ", " TEN_IDS ", " TEN_IDS ") ORDER BY g.name_ci, g.id" },
    [SCIM_STMT_MEM_INSERT] = { "scim_mem_insert",
      "INSERT INTO scim_members (org, group_id,"
      " member_type, member_id) VALUES (%s, %s, %s, %s)"
      " ON CONFLICT DO NOTHING" },
    [SCIM_STMT_MEM_DELETE] = { "scim_mem_delete",
      "DELETE FROM scim_members"
      " WHERE org = %s AND group_id = %s AND member_id = %s" },
    [SCIM_STMT_MEM_CLEAR] = { "scim_mem_clear",
      "DELETE FROM scim_members"
      " WHERE org = %s AND group_id = %s" },
    [SCIM_STMT_MEM_FORGET] = { "scim_mem_forget",
      "DELETE FROM scim_members"
      " WHERE org = %s AND member_id = %s" },
    [SCIM_STMT_EMAIL_INSERT] = { "scim_email_insert",
      "INSERT INTO scim_emails (org, value_ci, user_id) VALUES (%s, %s, %s)"
      " ON CONFLICT DO NOTHING" },
    [SCIM_STMT_EMAIL_FORGET] = { "scim_email_forget",
      "DELETE FROM scim_emails WHERE org = %s AND user_id = %s" },
    [SCIM_STMT_ACCESS_BY_NAME] = { "scim_access_by_name",
      "SELECT " ACCESS_COLUMNS " FROM scim_resources"
      " WHERE org = %s AND rtype = 'User' AND name_ci = %s" },
    [SCIM_STMT_ACCESS_BY_EXTERNAL] = { "scim_access_by_external",
      "SELECT " ACCESS_COLUMNS " FROM scim_resources"
      " WHERE org = %s AND rtype = 'User' AND external_id = %s" },
    [SCIM_STMT_ACCESS_BY_EMAIL] = { "scim_access_by_email",
      "SELECT " ACCESS_COLUMNS_R " FROM scim_emails e"
      " JOIN scim_resources r ON r.org = e.org AND r.rtype = 'User'"
      " AND r.id = e.user_id WHERE e.org = %s AND e.value_ci = %s"
      " ORDER BY r.id LIMIT 2" },
    [SCIM_STMT_SEATS_USED] = { "scim_seats_used",
      "SELECT COUNT(*) FROM scim_resources"
      " WHERE org = %s AND rtype = 'User' AND seat = 1" },
    [SCIM_STMT_SEAT_LOCK_ROW] = { "scim_seat_lock_row",
      "INSERT INTO scim_seat_locks (org, grants) VALUES (%s, 0)"
      " ON CONFLICT DO NOTHING" },
    [SCIM_STMT_SEAT_LOCK] = { "scim_seat_lock",
      "UPDATE scim_seat_locks SET grants = grants + 1 WHERE org = %s" },
    [SCIM_STMT_TAKE_SEAT] = { "scim_take_seat",
      "UPDATE scim_resources SET seat = 1, state = 'linked',"
      " linked = COALESCE(linked, %s), last_modified = %s,"
      " version = version + 1"
      " WHERE org = %s AND rtype = 'User' AND id = %s AND seat = 0"
      " AND active = 1" },
    [SCIM_STMT_HOLDS_SEAT] = { "scim_holds_seat",
      "SELECT COUNT(*) FROM scim_resources WHERE org = %s AND rtype = 'User'"
      " AND id = %s AND seat = 1 AND active = 1" },
    [SCIM_STMT_AUDIT_INSERT] = { "scim_audit_insert",
      "INSERT INTO scim_audit (org, at, event, actor, address, rtype,"
      " resource_id, name, outcome)"
      " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)" },
    [SCIM_STMT_AUDIT_PRUNE] = { "scim_audit_prune",
      "DELETE FROM scim_audit WHERE at < %s" },
    [SCIM_STMT_AUDIT_LATEST] = { "scim_audit_latest",
      "SELECT at, event, actor, address, rtype, resource_id, name, outcome"
      " FROM scim_audit WHERE org = %s ORDER BY at DESC LIMIT %d" },
    [SCIM_STMT_TOKEN_USED] = { "scim_token_used",
      "INSERT INTO scim_tokens (org, token, last_used, address)"
      " VALUES (%s, %s, %s, %s) ON CONFLICT (org, token) DO UPDATE"
      " SET last_used = excluded.last_used, address = excluded.address" },
    [SCIM_STMT_TOKENS_OF] = { "scim_tokens_of",
      "SELECT token, last_used, address FROM scim_tokens WHERE org = %s" },
    [SCIM_STMT_MEMBER_STATES] = { "scim_member_states",
      "SELECT state, active, seat, COUNT(*) FROM scim_resources"
      " WHERE org = %s AND rtype = 'User' GROUP BY state, active, seat" },
};

/* ---- errors ------------------------------------------------------------- */

static scim_error_t *unavailable(scim_store_t *st, const char *detail,
                                 int rv, const char *what)
{
    scim_error_t *err = scim_error_make(st->pool, 503, NULL, "%s", detail);
    const char *msg = st->handle ? apr_dbd_error(st->driver, st->handle, rv)
                                 : NULL;

    err->internal = apr_psprintf(st->pool, "%s failed (%d): %s", what, rv,
                                 msg ? msg : "no message");
    err->retry_after = SCIM_STORE_RETRY_AFTER;
    return err;
}

/* A database failure during a request: the IdP should retry later, the
 * log gets the driver's message. */
static scim_error_t *db_error(scim_store_t *st, int rv, const char *what)
{
    return unavailable(st, "The directory store is busy or unavailable;"
                       " retry later", rv, what);
}

/* A failure while setting the connection up. */
static scim_error_t *setup_error(scim_store_t *st, int rv, const char *what)
{
    return unavailable(st, "The directory store is unavailable; retry later",
                       rv, what);
}

static scim_error_t *missing_statement(scim_store_t *st, scim_stmt_t which)
{
    scim_error_t *err = scim_error_make(st->pool, 503, NULL,
        "The directory store is not ready; retry later");
    err->internal = apr_psprintf(st->pool, "statement %s is not prepared",
                                 statements[which].label);
    err->retry_after = SCIM_STORE_RETRY_AFTER;
    return err;
}

/* ---- set-up queries: plain SQL, before the statements are prepared ---- */

/* Runs a set-up query (a PRAGMA, a lock, a version) and reads it to the
 * end; *value, when value is not NULL, gets the first column of its last
 * row, or NULL. */
static int setup_query(scim_store_t *st, const char *sql, const char **value)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *last = NULL;
    int rv = apr_dbd_select(st->driver, st->pool, st->handle, &res, sql, 1);

    if (rv == 0) {
        while (apr_dbd_get_row(st->driver, st->pool, res, &row, -1) == 0) {
            last = value ? scim_db_entry(st, st->pool, row, 0) : NULL;
        }
    }
    if (value) {
        *value = last;
    }
    return rv;
}

/* ---- the drivers: every difference between sqlite3 and pgsql ------------ */

static int is_sqlite(const scim_store_t *st)
{
    return strcmp(apr_dbd_name(st->driver), "sqlite3") == 0;
}

/* The label a statement is prepared under.  pgsql gets none: a named
 * server-side statement would not survive the reconnect mod_dbd does after
 * a database restart. */
static const char *prepare_label(const scim_store_t *st, scim_stmt_t which)
{
    return is_sqlite(st) ? statements[which].label : NULL;
}

/* A column's value as the driver hands it: NULL for SQL NULL on sqlite3
 * but "" on pgsql, and on pgsql valid only until the next row.  Every
 * value read goes through here. */
static const char *raw_entry(const scim_store_t *st, apr_dbd_row_t *row,
                             int col)
{
    return apr_dbd_get_entry(st->driver, row, col);
}

/* SQLite's per-connection settings.  WAL lets readers proceed beside the
 * writer across processes; synchronous=FULL makes every acknowledged
 * commit durable.  journal_mode answers the mode in effect, which must be
 * WAL: SQLite silently keeps its old journal when it cannot switch. */
static scim_error_t *sqlite_settings(scim_store_t *st)
{
    const char *mode = NULL;
    int rv;

    if ((rv = setup_query(st, "PRAGMA journal_mode=WAL", &mode)) != 0) {
        return setup_error(st, rv, "PRAGMA journal_mode");
    }
    if (!mode || strcasecmp(mode, "wal") != 0) {
        scim_error_t *err = scim_error_make(st->pool, 503, NULL,
            "The directory store is unavailable; retry later");
        /* "memory": DBDParams named no file (empty, ":memory:") */
        err->internal = apr_psprintf(st->pool, "SQLite stays in journal mode"
                                     " %s, not WAL%s", mode ? mode : "unknown",
                                     mode && strcasecmp(mode, "memory") == 0
                                     ? " (DBDParams names no database file)"
                                     : "");
        err->retry_after = SCIM_STORE_RETRY_AFTER;
        return err;
    }
    if ((rv = setup_query(st, "PRAGMA synchronous=FULL", NULL)) != 0) {
        return setup_error(st, rv, "PRAGMA synchronous");
    }
    return NULL;
}

/* What a connection needs before its first statement. */
static scim_error_t *connection_settings(scim_store_t *st)
{
    return is_sqlite(st) ? sqlite_settings(st) : NULL;
}

/* Inside the migration's transaction, makes the connections of every
 * process migrate one after the other.  SQLite's BEGIN IMMEDIATE (how
 * apr_dbd's sqlite3 driver begins) already holds the write lock;
 * PostgreSQL takes an advisory lock. */
static scim_error_t *migration_lock(scim_store_t *st)
{
    int rv;

    if (is_sqlite(st)) {
        return NULL;
    }
    rv = setup_query(st, "SELECT pg_advisory_xact_lock(7368270)", NULL);
    return rv != 0 ? setup_error(st, rv, "migration lock") : NULL;
}

/* ---- running statements ------------------------------------------------- */

static apr_dbd_prepared_t *find_prepared(scim_store_t *st,
                                          scim_stmt_t which)
{
    return apr_hash_get(st->prepared, statements[which].label,
                        APR_HASH_KEY_STRING);
}

scim_error_t *scim_db_exec(scim_store_t *st, scim_stmt_t which,
                           const char **args, int nargs, int *nrows)
{
    apr_dbd_prepared_t *stmt = find_prepared(st, which);
    int rv, n = 0;

    if (!stmt) {
        return missing_statement(st, which);
    }
    st->stats.statements++;
    rv = apr_dbd_pquery(st->driver, st->pool, st->handle, &n, stmt,
                        nargs, args);
    if (rv != 0) {
        return db_error(st, rv, statements[which].label);
    }
    st->stats.rows_written += n;
    if (nrows) {
        *nrows = n;
    }
    return NULL;
}

/* Every row is read to the end: pgsql needs it to clean the result up. */
scim_error_t *scim_db_select(scim_store_t *st, apr_pool_t *p,
                             scim_stmt_t which, const char **args, int nargs,
                             scim_db_row_fn fn, void *baton)
{
    apr_dbd_prepared_t *stmt = find_prepared(st, which);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv;

    if (!stmt) {
        return missing_statement(st, which);
    }
    st->stats.statements++;
    /* Random access (1): pgsql then runs the statement synchronously and
     * reports its errors; sequential access waits 100 ms on an empty
     * result and turns a failed statement into "no rows". */
    rv = apr_dbd_pselect(st->driver, p, st->handle, &res, stmt, 1,
                         nargs, args);
    if (rv != 0) {
        return db_error(st, rv, statements[which].label);
    }
    while (apr_dbd_get_row(st->driver, p, res, &row, -1) == 0) {
        st->stats.rows_read++;
        fn(st, p, row, baton);
    }
    return NULL;
}

const char *scim_db_entry(scim_store_t *st, apr_pool_t *p,
                          apr_dbd_row_t *row, int col)
{
    const char *v = raw_entry(st, row, col);

    return v ? apr_pstrdup(p, v) : NULL;
}

int scim_db_entry_int(scim_store_t *st, apr_dbd_row_t *row, int col)
{
    const char *v = raw_entry(st, row, col);

    return v ? atoi(v) : 0;
}

/* A row of RECORD_COLUMNS as a record. */
static scim_record_t *record_from_row(scim_store_t *st, apr_pool_t *p,
                                      apr_dbd_row_t *row)
{
    scim_record_t *rec = apr_pcalloc(p, sizeof(*rec));
    const char *version, *json;
    json_error_t jerr;

    rec->rtype = scim_db_entry(st, p, row, 0);
    rec->id = scim_db_entry(st, p, row, 1);
    rec->name = scim_db_entry(st, p, row, 2);
    rec->external_id = scim_db_entry(st, p, row, 3);
    rec->created = scim_db_entry(st, p, row, 4);
    rec->last_modified = scim_db_entry(st, p, row, 5);
    version = raw_entry(st, row, 6);
    rec->version = version ? atoi(version) : 0;
    rec->state = scim_db_entry(st, p, row, 7);
    rec->linked = scim_db_entry(st, p, row, 8);
    json = raw_entry(st, row, 9);
    rec->resource = scim_json_pool_own(p,
        json_loads(json ? json : "{}", 0, &jerr));
    if (!rec->resource) {
        rec->resource = scim_json_pool_own(p, json_object());
    }
    rec->active = scim_db_entry_int(st, row, 10);
    rec->seat = scim_db_entry_int(st, row, 11);
    return rec;
}

static void push_record(scim_store_t *st, apr_pool_t *p, apr_dbd_row_t *row,
                        void *out)
{
    APR_ARRAY_PUSH((apr_array_header_t *)out, scim_record_t *) =
        record_from_row(st, p, row);
}

scim_error_t *scim_db_select_records(scim_store_t *st, apr_pool_t *p,
                                     scim_stmt_t which, const char **args,
                                     int nargs, apr_array_header_t *out)
{
    return scim_db_select(st, p, which, args, nargs, push_record, out);
}

static void keep_first_value(scim_store_t *st, apr_pool_t *p,
                             apr_dbd_row_t *row, void *value)
{
    if (!*(const char **)value) {
        *(const char **)value = scim_db_entry(st, p, row, 0);
    }
}

scim_error_t *scim_db_select_value(scim_store_t *st, scim_stmt_t which,
                                   const char **args, int nargs,
                                   const char **value)
{
    *value = NULL;
    return scim_db_select(st, st->pool, which, args, nargs, keep_first_value,
                          value);
}

scim_error_t *scim_db_select_count(scim_store_t *st, scim_stmt_t which,
                                   const char **args, int nargs, int *count)
{
    const char *value = NULL;
    scim_error_t *err = scim_db_select_value(st, which, args, nargs, &value);

    *count = value ? atoi(value) : 0;
    return err;
}

/* ---- transactions ------------------------------------------------------- */

/* Rolls back and ends a transaction the driver handed out. */
static int roll_back(scim_store_t *st, apr_dbd_transaction_t *trans)
{
    apr_dbd_transaction_mode_set(st->driver, trans,
                                 APR_DBD_TRANSACTION_ROLLBACK);
    return apr_dbd_transaction_end(st->driver, st->pool, trans);
}

/* Ends a transaction the request forgot (an error path, an aborted
 * request): a pooled connection must never keep an open transaction. */
static apr_status_t transaction_cleanup(void *data)
{
    scim_store_t *st = data;

    if (st->trans) {
        roll_back(st, st->trans);
        st->trans = NULL;
    }
    return APR_SUCCESS;
}

scim_error_t *scim_db_begin(scim_store_t *st)
{
    apr_dbd_transaction_t *trans = NULL;
    int rv = apr_dbd_transaction_start(st->driver, st->pool, st->handle,
                                       &trans);

    if (rv != 0) {
        /* sqlite3 hands out a transaction even when BEGIN failed (busy),
         * and the connection remembers it; ending it keeps the pooled
         * connection from pointing into this request's pool. */
        if (trans) {
            roll_back(st, trans);
        }
        return db_error(st, rv, "begin transaction");
    }
    st->trans = trans;
    apr_pool_cleanup_register(st->pool, st, transaction_cleanup,
                              apr_pool_cleanup_null);
    return NULL;
}

scim_error_t *scim_db_end(scim_store_t *st, int rollback)
{
    apr_dbd_transaction_t *trans = st->trans;
    int rv;

    if (!trans) {
        return NULL;
    }
    st->trans = NULL;
    apr_pool_cleanup_kill(st->pool, st, transaction_cleanup);
    rv = rollback ? roll_back(st, trans)
                  : apr_dbd_transaction_end(st->driver, st->pool, trans);
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

/* The schema version the database records; 0 when it has none yet (or
 * the table cannot be read, which the migration then settles). */
static int recorded_version(scim_store_t *st)
{
    const char *v = NULL;

    if (setup_query(st, "SELECT MAX(version) FROM scim_schema_version", &v)
        != 0) {
        return 0;
    }
    return v ? atoi(v) : 0;
}

static scim_error_t *too_new(scim_store_t *st, int version)
{
    scim_error_t *err = scim_error_make(st->pool, 503, NULL,
        "The directory store is unavailable; retry later");

    err->internal = apr_psprintf(st->pool, "database schema version %d is"
                                 " newer than this mod_scim (%d)", version,
                                 SCHEMA_VERSION);
    err->retry_after = SCIM_STORE_RETRY_AFTER;
    return err;
}

/* Runs one DDL or bookkeeping statement of the migration. */
static scim_error_t *migration_step(scim_store_t *st, const char *sql,
                                    const char *what)
{
    int n, rv = apr_dbd_query(st->driver, st->handle, &n, sql);

    return rv != 0 ? setup_error(st, rv, what) : NULL;
}

/* Brings the schema to SCHEMA_VERSION.  Connections of every process may
 * try at once: the version is read again under the migration lock. */
static scim_error_t *migrate(scim_store_t *st)
{
    scim_error_t *err;
    int version, i;

    version = recorded_version(st);
    if (version == SCHEMA_VERSION) {
        return NULL;
    }
    if (version > SCHEMA_VERSION) {
        return too_new(st, version);
    }
    if ((err = scim_db_begin(st))) {
        return err;
    }
    err = migration_lock(st);
    if (!err) {
        err = migration_step(st, "CREATE TABLE IF NOT EXISTS"
                             " scim_schema_version (version INTEGER NOT NULL)",
                             "schema version table");
    }
    if (!err) {
        version = recorded_version(st);
        if (version > SCHEMA_VERSION) {
            err = too_new(st, version);
        }
    }
    for (i = version; !err && i < SCHEMA_VERSION; i++) {
        const char *const *sql;

        for (sql = migrations[i]; *sql && !err; sql++) {
            err = migration_step(st, *sql, *sql);
        }
    }
    if (!err && version < SCHEMA_VERSION) {
        err = migration_step(st, apr_psprintf(st->pool, version == 0
            ? "INSERT INTO scim_schema_version (version) VALUES (%d)"
            : "UPDATE scim_schema_version SET version = %d", SCHEMA_VERSION),
            "recording schema version");
    }
    if (err) {
        scim_db_end(st, 1);
        return err;
    }
    return scim_db_end(st, 0);
}

/* Sets the connection up once: driver settings, schema migration, and
 * every statement prepared into st->prepared from conn_pool, which lives
 * as long as the connection.  Cheap when already done. */
static scim_error_t *connection_init(scim_store_t *st, apr_pool_t *conn_pool)
{
    scim_error_t *err;
    int i, rv;

    /* The last statement is prepared last: its presence means done. */
    if (find_prepared(st, SCIM_STMT_COUNT - 1)) {
        return NULL;
    }
    if ((err = connection_settings(st)) || (err = migrate(st))) {
        return err;
    }
    for (i = 0; i < SCIM_STMT_COUNT; i++) {
        apr_dbd_prepared_t *stmt = NULL;

        rv = apr_dbd_prepare(st->driver, conn_pool, st->handle,
                             statements[i].sql, prepare_label(st, i), &stmt);
        if (rv != 0) {
            return setup_error(st, rv, statements[i].label);
        }
        apr_hash_set(st->prepared, statements[i].label, APR_HASH_KEY_STRING,
                     stmt);
    }
    return NULL;
}

/* ---- opening the store ------------------------------------------------- */

scim_error_t *scim_store_open(apr_pool_t *p, const apr_dbd_driver_t *driver,
                              apr_dbd_t *handle, apr_hash_t *prepared,
                              apr_pool_t *conn_pool, scim_store_t **out)
{
    /* From p: the transaction cleanup refers to the store until p ends. */
    scim_store_t *st = apr_pcalloc(p, sizeof(*st));
    scim_error_t *err;

    st->pool = p;
    st->driver = driver;
    st->handle = handle;
    st->prepared = prepared;
    *out = NULL;
    if ((err = connection_init(st, conn_pool))) {
        return err;
    }
    *out = st;
    return NULL;
}

scim_store_stats_t scim_store_stats(const scim_store_t *st)
{
    return st->stats;
}

int scim_store_schema_version(void)
{
    return SCHEMA_VERSION;
}
