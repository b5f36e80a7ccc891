/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* The store's database layer, private to the store's own files: apr_dbd
 * plumbing, the statement table, transactions, per-connection settings and
 * schema migrations.  scim_db.c is the one place where the sqlite3 and
 * pgsql drivers differ; the files above it only name statements. */

#ifndef SCIM_DB_H
#define SCIM_DB_H

#include "scim_sqlfilter.h"
#include "scim_store.h"

/* What went wrong with the database, as far as a caller must know: what
 * to answer, and whether running the transaction again can help. */
typedef enum {
    SCIM_DB_NONE,
    SCIM_DB_FAILED,         /* anything else */
    SCIM_DB_BUSY,           /* SQLite's lock stayed taken */
    SCIM_DB_CONFLICT,       /* deadlock, serialization failure: run the
                             * transaction again */
    SCIM_DB_STALE,          /* prepared statements outdated by a schema
                             * change or a reconnect: prepare, run again */
    SCIM_DB_LOST,           /* the connection is gone */
    SCIM_DB_FULL,           /* disk full */
    SCIM_DB_READONLY,
    SCIM_DB_CORRUPT,
    SCIM_DB_MOVED           /* the database file was removed or replaced */
} scim_db_failure_t;

/* libpq's functions that mod_scim uses without linking libpq. */
typedef struct scim_db_libpq scim_db_libpq_t;

/* What one database connection keeps between requests (scim_db.c). */
typedef struct scim_db_conn scim_db_conn_t;

/* One request's use of one database connection. */
struct scim_store {
    apr_pool_t *pool;                 /* the request's pool */
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    scim_db_conn_t *conn;             /* kept with the connection */
    int in_transaction;
    int grouped;                      /* runs as one write of a shared
                                       * transaction (scim_db_write), its
                                       * own transaction a savepoint: its
                                       * place in the group, from 1 */
    int commit_failed;                /* a COMMIT went unanswered: it may
                                       * have been applied */
    int reconnecting;                 /* connecting again (once at a
                                       * time) */
    scim_db_failure_t failure;        /* the last failure's kind */
    scim_store_stats_t stats;         /* work done, see scim_store_stats */
    scim_audit_ctx_t audit;           /* who acts (scim_store_set_audit) */
};

/* Every statement the store runs; their SQL is in scim_db.c. */
typedef enum {
    /* resources */
    SCIM_STMT_RES_GET,
    SCIM_STMT_USER_WITH_GROUPS,
    SCIM_STMT_USERS_BY_NAME_WITH_GROUPS,
    SCIM_STMT_USERS_BY_EXTERNAL_WITH_GROUPS,
    SCIM_STMT_USERS_BY_EMAIL_WITH_GROUPS,
    SCIM_STMT_RES_BY_NAME,
    SCIM_STMT_RES_BY_EXTERNAL,
    SCIM_STMT_RES_BY_EMAIL,
    SCIM_STMT_RES_COUNT,
    SCIM_STMT_RES_PAGE,
    SCIM_STMT_RES_AFTER,
    SCIM_STMT_RES_NAME_OWNER,
    SCIM_STMT_RES_INSERT,
    SCIM_STMT_RES_UPDATE,
    SCIM_STMT_RES_UPDATE_BODY,
    SCIM_STMT_RES_TOUCH_ANY,
    SCIM_STMT_RES_VERSION,
    SCIM_STMT_RES_TOUCH,
    SCIM_STMT_RES_BUMP_USER,
    SCIM_STMT_RES_BUMP_MEMBERS,
    SCIM_STMT_RES_BUMP_GROUPS_OF,
    SCIM_STMT_RES_NAME,
    SCIM_STMT_RES_DELETE,
    SCIM_STMT_RES_KIND,
    SCIM_STMT_RES_WITH_MEMBER,
    /* memberships */
    SCIM_STMT_MEM_PAGE,
    SCIM_STMT_MEM_COUNT,
    SCIM_STMT_MEM_RECORDS,
    SCIM_STMT_MEM_RECORDS_AFTER,
    SCIM_STMT_MEM_COUNT_TYPE,
    SCIM_STMT_MEM_GROUPS_OF,
    SCIM_STMT_MEM_GROUPS_OF_ONE,
    SCIM_STMT_MEM_INSERT,
    SCIM_STMT_MEM_DELETE,
    SCIM_STMT_MEM_CLEAR,
    SCIM_STMT_MEM_FORGET,
    /* e-mail index */
    SCIM_STMT_EMAIL_INSERT,
    SCIM_STMT_EMAIL_FORGET,
    /* access, seats */
    SCIM_STMT_ACCESS_BY_NAME,
    SCIM_STMT_ACCESS_BY_EXTERNAL,
    SCIM_STMT_ACCESS_BY_EMAIL,
    SCIM_STMT_SEATS_USED,
    SCIM_STMT_SEAT_LOCK_ROW,
    SCIM_STMT_SEAT_LOCK,
    SCIM_STMT_TAKE_SEAT,
    SCIM_STMT_HOLDS_SEAT,
    /* audit, tokens, status */
    SCIM_STMT_AUDIT_INSERT,
    SCIM_STMT_AUDIT_PRUNE,
    SCIM_STMT_AUDIT_LATEST,
    SCIM_STMT_TOKEN_USED,
    SCIM_STMT_TOKENS_OF,
    SCIM_STMT_MEMBER_STATES,
    SCIM_STMT_COUNT
} scim_stmt_t;

/* How many member ids SCIM_STMT_MEM_GROUPS_OF binds; unused places are
 * bound to NULL. */
#define SCIM_DB_GROUPS_BATCH 50

/* Runs a statement that changes rows; *nrows (when not NULL) gets the
 * count. */
scim_error_t *scim_db_exec(scim_store_t *st, scim_stmt_t which,
                           const char **args, int nargs, int *nrows);

/* What a select does with each row it reads (values copied into p). */
typedef void (*scim_db_row_fn)(scim_store_t *st, apr_pool_t *p,
                               apr_dbd_row_t *row, void *baton);

/* Runs a select and hands every row to fn. */
scim_error_t *scim_db_select(scim_store_t *st, apr_pool_t *p,
                             scim_stmt_t which, const char **args, int nargs,
                             scim_db_row_fn fn, void *baton);

/* A column of a row copied into p; NULL for SQL NULL. */
const char *scim_db_entry(scim_store_t *st, apr_pool_t *p,
                          apr_dbd_row_t *row, int col);

/* A column of a row as an integer; 0 for SQL NULL. */
int scim_db_entry_int(scim_store_t *st, apr_dbd_row_t *row, int col);

/* Appends every row of a statement that selects the record columns as a
 * record (scim_record_t *, allocated from p). */
scim_error_t *scim_db_select_records(scim_store_t *st, apr_pool_t *p,
                                     scim_stmt_t which, const char **args,
                                     int nargs, apr_array_header_t *out);
/* The same, reading what reads asks of each record (SCIM_READ_STORED_TEXT,
 * SCIM_READ_UNPARSED). */
scim_error_t *scim_db_select_records_reading(scim_store_t *st,
                                             apr_pool_t *p, scim_stmt_t which,
                                             const char **args, int nargs,
                                             int reads,
                                             apr_array_header_t *out);

/* out[first..] (scim_record_t *) in the default order of resources:
 * created, then id (what a statement without ORDER BY leaves to the
 * database: PostgreSQL returns equal index keys in the order of their
 * rows' current versions, which updates move). */
void scim_db_sort_records(apr_array_header_t *out, int first);

/* The group a row names at col and col + 1 (id, displayName; NULL for
 * none) appended to groups (scim_member_t), if it names one. */
void scim_db_push_group(scim_store_t *st, apr_pool_t *p, apr_dbd_row_t *row,
                        int col, apr_array_header_t *groups);

/* Users and their groups, read in one statement (USERS_WITH_GROUPS):
 * the records appended to out (scim_record_t *), each with rec->groups,
 * the groups (id, displayName) that later rows name for it; reads as
 * for scim_db_select_records_reading. */
scim_error_t *scim_db_select_records_with_groups(scim_store_t *st,
                                                 apr_pool_t *p,
                                                 scim_stmt_t which,
                                                 const char **args, int nargs,
                                                 int reads,
                                                 apr_array_header_t *out);

/* First column of the first row (a count, an id), or NULL for none. */
scim_error_t *scim_db_select_value(scim_store_t *st, scim_stmt_t which,
                                   const char **args, int nargs,
                                   const char **value);

/* A COUNT(*) statement's answer. */
scim_error_t *scim_db_select_count(scim_store_t *st, scim_stmt_t which,
                                   const char **args, int nargs, int *count);

/* ---- statements built from a filter ------------------------------------ */

/* How many such statements a connection keeps prepared (apr_dbd frees none
 * before the connection closes); a new text beyond them is declined. */
#define SCIM_DB_DYNAMIC_MAX 64

/* The JSON dialect of the connection's database (scim_sqlfilter.h). */
scim_sql_dialect_t scim_db_dialect(const scim_store_t *st);

/* Texts of the statements that read the records of a type (org, rtype
 * bound first) for which an SQL condition holds (its parameters bound
 * next): a chunk in the default order (after: after the created, created,
 * id bound before the condition; the limit last), a window in an order
 * (key: an SQL expression, NULL for the default order; absent keys last,
 * first when descending; then limit, offset; counting, only where
 * scim_db_window_can_count: limit, offset, limit - 1 bound before them,
 * and each row also carries the number of all the matches after the
 * record's columns), and their number. */
const char *scim_db_sql_scan(apr_pool_t *p, const char *cond, int after);
int scim_db_window_can_count(scim_sql_dialect_t dialect,
                             const scim_sql_cond_t *cond, const char *key);
const char *scim_db_sql_window(apr_pool_t *p, scim_sql_dialect_t dialect,
                               const scim_sql_cond_t *cond, const char *key,
                               int descending, int counting);
const char *scim_db_sql_count(apr_pool_t *p, const char *cond);

/* Runs such a statement, prepared on first use and kept with the
 * connection by its text, like scim_db_select; *declined is set (and
 * nothing run) when the connection holds SCIM_DB_DYNAMIC_MAX others. */
scim_error_t *scim_db_select_dynamic(scim_store_t *st, apr_pool_t *p,
                                     const char *sql, const char **args,
                                     int nargs, scim_db_row_fn fn,
                                     void *baton, int *declined);
/* total: NULL, or where the number a counted window's rows carry goes
 * (left as it was when no row came). */
scim_error_t *scim_db_select_records_dynamic(scim_store_t *st, apr_pool_t *p,
                                             const char *sql,
                                             const char **args, int nargs,
                                             apr_array_header_t *out,
                                             int *total, int *declined);
scim_error_t *scim_db_select_count_dynamic(scim_store_t *st, const char *sql,
                                           const char **args, int nargs,
                                           int *count, int *declined);

/* One transaction at a time, always ended: scim_db_end commits (or, with
 * rollback set or after a failed statement, rolls back); one the request
 * forgets is rolled back when st->pool is cleaned up. */
scim_error_t *scim_db_begin(scim_store_t *st);
scim_error_t *scim_db_end(scim_store_t *st, int rollback);

/* After a write transaction failed with err (and was ended): should it run
 * again?  Yes, after a short pause with jitter, when it lost a lock race
 * (deadlock, serialization failure, SQLite busy), its statements went
 * stale (prepared again first) or its connection was lost before COMMIT
 * (connected again first), a bounded number of times; *attempt
 * (start at 0) counts.  Usage:
 *     do { err = write_once(st, ...); } while (scim_db_again(st, err, &n)); */
int scim_db_again(scim_store_t *st, const scim_error_t *err, int *attempt);

/* One write: a transaction, from scim_db_begin to scim_db_end, and what it
 * reads to decide; it must not keep pointers into st beyond its return. */
typedef scim_error_t *(*scim_db_write_fn)(scim_store_t *st, void *baton);

/* Runs a write, again while scim_db_again says so, and answers only once
 * it is durable (or failed).  On SQLite the writers of one process that
 * wait for the writers' lock at the same time are committed together
 * (group commit): one of them takes the lock and runs every waiting write
 * on its own connection in one transaction, each write in a savepoint of
 * it (a write that fails is rolled back alone), then one COMMIT; none is
 * answered before that COMMIT succeeded.  When the database itself fails
 * inside the group, the group is rolled back and the other writes are
 * run again.  On PostgreSQL each write is its own transaction. */
scim_error_t *scim_db_write(scim_store_t *st, scim_db_write_fn fn,
                            void *baton);

/* Whether the writes of st's connection are committed in groups (SQLite
 * with its database in a file, one of the first 8 files of the process). */
int scim_db_writes_grouped(const scim_store_t *st);

/* One statement that writes, outside a transaction, as a write of its
 * own: on SQLite it takes its place among the writers (scim_db_write)
 * rather than meet their lock, which the sqlite3 driver waits out in
 * sleeps of 100 ms; on PostgreSQL it commits by itself. */
scim_error_t *scim_db_exec_write(scim_store_t *st, scim_stmt_t which,
                                 const char **args, int nargs);

#endif /* SCIM_DB_H */
