/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* The store: SCIM resources of all organizations in one database, reached
 * through apr_dbd (mod_dbd hands us the connection).  Prepared statements
 * only; the same SQL serves the sqlite3 and pgsql drivers.  Every write is
 * one transaction that is always ended. */

#ifndef SCIM_STORE_H
#define SCIM_STORE_H

#include <apr_dbd.h>
#include <apr_hash.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

#include "scim_error.h"
#include "scim_sqlfilter.h"
#include "scim_util.h"

/* Longest userName / displayName / externalId in bytes: the indexed
 * columns hold no more, on every database. */
#define SCIM_STORE_MAX_KEY 1024

/* Seconds an IdP is asked to wait when the database is busy or down. */
#define SCIM_STORE_RETRY_AFTER 5

/* One request's use of a database connection; opaque. */
typedef struct scim_store scim_store_t;

/* Who acts, for the audit trail the store keeps beside every write. */
typedef struct scim_audit_ctx {
    const char *actor;          /* a token's label or fingerprint, or the
                                   signed-in identity; NULL: no audit */
    const char *address;        /* the client's address */
    const char *event;          /* what a write is: create, replace, patch,
                                   delete */
    int retention_days;         /* writes prune their organization's
                                   rows older than this */
} scim_audit_ctx_t;

/* The work a store has done, for the debug log and the tests that bound
 * it. */
typedef struct scim_store_stats {
    int statements;
    int rows_read;
    int rows_written;
} scim_store_stats_t;

/* One stored resource.  resource is the stored JSON without meta (the
 * columns carry it); it is a reference owned by the pool it was read into. */
typedef struct scim_record {
    const char *rtype;          /* "User", "Group" */
    const char *id;
    const char *name;           /* userName / displayName, as sent */
    const char *external_id;    /* NULL when absent */
    const char *created;        /* RFC 3339, UTC, milliseconds */
    const char *last_modified;
    int version;
    const char *state;          /* users: "provisioned" or "linked" */
    const char *linked;         /* users: first link time, or NULL */
    const char *display_name;   /* users: displayName, what a group's
                                   members show; NULL: none (userName) */
    int active;                 /* users: not deactivated by the IdP */
    int seat;                   /* users: holds a seat (read only: the
                                   store alone grants and frees seats) */
    json_t *resource;           /* NULL when only stored_json was read */
    const char *stored_json;    /* the resource's stored text, when read
                                   with SCIM_READ_STORED_TEXT; NULL for a
                                   record built or changed in memory */
    /* users: their groups (scim_member_t, by name), read along with this
     * version of the record for an answer that shows them; NULL: not
     * read (rendering reads them) */
    const apr_array_header_t *groups;
} scim_record_t;

/* Lookup columns served by an index. */
typedef enum {
    SCIM_STORE_BY_ID,
    SCIM_STORE_BY_NAME,         /* case-insensitive */
    SCIM_STORE_BY_EXTERNAL_ID,
    SCIM_STORE_BY_EMAIL         /* users carrying the value among their
                                   emails, case-insensitively */
} scim_store_key_t;

/* The store for one request (allocated from p, which also holds its work
 * and errors) over a connection from mod_dbd.  The first time for a
 * connection it also sets the connection up: per-connection settings
 * (SQLite: WAL, synchronous=FULL), schema creation/migration, and every
 * statement prepared into prepared (allocated from conn_pool, which lives
 * as long as the connection); cheap after that.  *out is NULL on error. */
scim_error_t *scim_store_open(apr_pool_t *p, const apr_dbd_driver_t *driver,
                              apr_dbd_t *handle, apr_hash_t *prepared,
                              apr_pool_t *conn_pool, scim_store_t **out);

/* The work done so far: statements run, rows read and written. */
scim_store_stats_t scim_store_stats(const scim_store_t *st);

/* Sets who acts for the audit rows of the writes that follow (copied). */
void scim_store_set_audit(scim_store_t *st, const scim_audit_ctx_t *ctx);

/* The schema version this build creates and reads. */
int scim_store_schema_version(void);

/* Sleeps before attempt (1, 2, ...) of a write that lost a race with
 * another writer: a few milliseconds, growing, with jitter. */
void scim_store_pause(int attempt);

/* ---- resources ---------------------------------------------------------- */

/* Reads.  *out is NULL when not found (not an error). */
scim_error_t *scim_store_get(scim_store_t *st, const char *org,
                             const char *rtype, const char *id,
                             scim_record_t **out);
/* A user and its groups (rec->groups, as scim_store_member_groups gives
 * them), read in one statement; NULL when there is no such user. */
scim_error_t *scim_store_get_user_with_groups(scim_store_t *st,
                                              const char *org,
                                              const char *id,
                                              scim_record_t **out);
/* What a read brings besides the record's columns (reads, a bit set). */
#define SCIM_READ_GROUPS       1   /* users: their groups, in the same
                                      statement (rec->groups) */
#define SCIM_READ_STORED_TEXT  2   /* the resource's stored text too
                                      (rec->stored_json), for an answer
                                      that may serve it as it is */
#define SCIM_READ_UNPARSED     4   /* with STORED_TEXT: the text only,
                                      rec->resource NULL (a GET parses it
                                      when it cannot serve the text) */

/* One of the two, or the stored text: the resource id names, as reads
 * asks. */
scim_error_t *scim_store_read(scim_store_t *st, const char *org,
                              const char *rtype, const char *id,
                              int reads, scim_record_t **out);

/* Records whose indexed key equals value (for BY_NAME compared
 * case-insensitively), appended to out (scim_record_t *), with what reads
 * asks (SCIM_READ_GROUPS: users with their groups, read in the same
 * statement). */
scim_error_t *scim_store_find(scim_store_t *st, const char *org,
                              const char *rtype, scim_store_key_t key,
                              const char *value, int reads,
                              apr_array_header_t *out);

scim_error_t *scim_store_count(scim_store_t *st, const char *org,
                               const char *rtype, int *count);

/* A page in the stable default order (created, then id), allocated from
 * pool p (the request's pool, or a scratch sub-pool of it for chunked
 * scans), each record read as reads asks (SCIM_READ_STORED_TEXT,
 * SCIM_READ_UNPARSED; 0: parsed). */
scim_error_t *scim_store_page(scim_store_t *st, apr_pool_t *p,
                              const char *org, const char *rtype,
                              int offset, int limit, int reads,
                              apr_array_header_t *out);

/* The page that follows the resource (created, id) in the default order,
 * whether or not that resource still exists: found by the index, whatever
 * its position (a walk's next page without stepping over the rows before
 * it); reads as for scim_store_page. */
scim_error_t *scim_store_page_after(scim_store_t *st, apr_pool_t *p,
                                    const char *org, const char *rtype,
                                    const char *created, const char *id,
                                    int limit, int reads,
                                    apr_array_header_t *out);

/* Chunks for reading every resource of a type in the default order: the
 * chunk after the record given, or the first chunk when it is NULL.  Each
 * chunk is found by the index, whatever its position. */
scim_error_t *scim_store_scan_chunk(scim_store_t *st, apr_pool_t *p,
                                    const char *org, const char *rtype,
                                    const scim_record_t *after, int limit,
                                    apr_array_header_t *out);

/* Reads with a filter translated for the database (scim_sqlfilter.h):
 * the condition is written for this dialect. */
scim_sql_dialect_t scim_store_dialect(const scim_store_t *st);

/* scim_store_scan_chunk, of the records for which cond holds: candidates
 * for the filter cond came from, every match among them.  Reads every
 * record when cond has no SQL, or when the connection cannot prepare one
 * more statement (a superset still). */
scim_error_t *scim_store_scan_where(scim_store_t *st, apr_pool_t *p,
                                    const char *org, const char *rtype,
                                    const scim_sql_cond_t *cond,
                                    const scim_record_t *after, int limit,
                                    apr_array_header_t *out);

/* The records for which cond holds (NULL or no SQL: all), ordered by the
 * SQL expression key (scim_sqlfilter_sort_key; NULL: the default order)
 * ascending or descending, absent keys last (first when descending), ties
 * in the default order: limit of them from offset on.  *total: the number
 * of all of them when the window counted them on its way (rows came, on
 * SQLite, where scim_db_window_can_count: a filter and a key both read
 * from the resource), else -1.
 * *declined (nothing read) when the connection cannot prepare one more
 * statement.  scim_store_count_where: their number. */
scim_error_t *scim_store_window(scim_store_t *st, apr_pool_t *p,
                                const char *org, const char *rtype,
                                const scim_sql_cond_t *cond, const char *key,
                                int descending, int offset, int limit,
                                apr_array_header_t *out, int *total,
                                int *declined);
scim_error_t *scim_store_count_where(scim_store_t *st, const char *org,
                                     const char *rtype,
                                     const scim_sql_cond_t *cond, int *count,
                                     int *declined);

/* ---- memberships -------------------------------------------------------- */

/* A member of a group, or a group of a member (id, type "User"/"Group",
 * display: userName or displayName). */
typedef struct scim_member {
    const char *id;
    const char *type;
    const char *display;
} scim_member_t;

/* A group's members ordered by id, a page (scim_member_t). */
scim_error_t *scim_store_members(scim_store_t *st, const char *org,
                                 const char *group_id, int offset, int limit,
                                 apr_array_header_t *out);
scim_error_t *scim_store_member_count(scim_store_t *st, const char *org,
                                      const char *group_id, int *count);
/* The members of one type ("User"/"Group") of a group as records, ordered
 * by id, a page allocated from p; and how many there are.  This is how the
 * members of a very large group are read page by page. */
scim_error_t *scim_store_member_records(scim_store_t *st, apr_pool_t *p,
                                       const char *org, const char *group_id,
                                       const char *member_type, int offset,
                                       int limit, apr_array_header_t *out);
scim_error_t *scim_store_member_records_count(scim_store_t *st,
                                              const char *org,
                                              const char *group_id,
                                              const char *member_type,
                                              int *count);
/* The same for the members of one type of a group, in member id order:
 * the chunk after after_id, or the first chunk when it is NULL. */
scim_error_t *scim_store_member_scan_chunk(scim_store_t *st, apr_pool_t *p,
                                           const char *org,
                                           const char *group_id,
                                           const char *member_type,
                                           const char *after_id, int limit,
                                           apr_array_header_t *out);
/* The groups each of n members belongs to directly: out maps a member id
 * to an array of scim_member_t (type "Group"); members of no group have no
 * entry.  One statement serves up to 50 members. */
scim_error_t *scim_store_groups_of(scim_store_t *st, const char *org,
                                   const char *const *member_ids, int n,
                                   apr_hash_t *out);
/* The groups one member belongs to directly, as scim_store_groups_of
 * gives them; an empty array when none. */
scim_error_t *scim_store_member_groups(scim_store_t *st, const char *org,
                                       const char *member_id,
                                       apr_array_header_t **out);
/* The same groups as records (scim_record_t *). */
scim_error_t *scim_store_groups_with_member(scim_store_t *st, const char *org,
                                            const char *member_id,
                                            apr_array_header_t *out);

/* A change to one group's memberships, part of a write (below); only the
 * rows named are touched. */
typedef enum {
    SCIM_MEMBER_ADD,        /* no-op when already a member */
    SCIM_MEMBER_REMOVE,     /* no-op when not a member */
    SCIM_MEMBER_CLEAR       /* every membership of the group */
} scim_member_op_kind_t;

typedef struct scim_member_op {
    scim_member_op_kind_t kind;
    const char *member_id;  /* ADD, REMOVE */
} scim_member_op_t;

/* ---- writes ------------------------------------------------------------- */

/* Writes, each one transaction with its membership changes (an array of
 * scim_member_op_t, or NULL): all of it or nothing.  An added member must be
 * a user or group of the organization (400 invalidValue otherwise).
 * create fails with 409 uniqueness when the name is taken
 * (case-insensitively) in the organization; update fails with 409 the same
 * way, with 412 when the stored version is no longer expected_version, 404
 * when gone.  update with resource_changed 0 writes only the new version
 * and lastModified, not the JSON; with expected_version -1 as well it
 * checks no version and sets rec->version to the one it stored.  old
 * (or NULL) is the record as read at expected_version: what did not change
 * from it (the name, the e-mails) is not checked or indexed again.  delete
 * removes the resource and every membership it is part of (404 when
 * absent).  A membership change also
 * moves the version of the user on its other side (the user's groups
 * changed); a deleted member moves its groups' versions.  (PUT and PATCH
 * go through scim_store_modify, below, which reads and updates in one
 * write.)  A create, or an update that wrote the JSON, sets
 * rec->stored_json to the text stored: the answer serves it as a GET
 * does. */
scim_error_t *scim_store_create(scim_store_t *st, const char *org,
                                scim_record_t *rec,
                                const apr_array_header_t *member_ops);
scim_error_t *scim_store_update(scim_store_t *st, const char *org,
                                scim_record_t *rec, const scim_record_t *old,
                                int expected_version, int resource_changed,
                                const apr_array_header_t *member_ops);
scim_error_t *scim_store_delete(scim_store_t *st, const char *org,
                                const char *rtype, const char *id);

/* What a PUT or PATCH makes of a resource, computed from it as stored. */
typedef struct scim_store_change {
    scim_record_t *rec;         /* to store; NULL: nothing changes */
    int resource_changed;       /* as scim_store_update's arguments */
    int expected_version;
    const apr_array_header_t *member_ops;
} scim_store_change_t;

/* Computes *out from old (found; with its groups when asked), reading
 * through st if it must read more; called again when the write is run
 * again.  An error refuses the change. */
typedef scim_error_t *(*scim_store_change_fn)(scim_store_t *st,
                                              const scim_record_t *old,
                                              void *baton,
                                              scim_store_change_t *out);

/* Reads the resource (*old, NULL when absent: nothing else happens), lets
 * change compute the new record and stores it as scim_store_update does
 * (out->rec->stored_json included), as one write.  On SQLite the read is
 * part of the write's transaction
 * (its group's, which holds the writers' lock; scim_db_writes_grouped),
 * on the pages the update then touches, so the version read is the
 * version updated; elsewhere (PostgreSQL) it comes first, outside the
 * transaction (a change that changes nothing costs one statement), and
 * the update checks the version: when another
 * writer came in between, all of it runs again (a bounded number of
 * times, then 503). */
scim_error_t *scim_store_modify(scim_store_t *st, const char *org,
                                const char *rtype, const char *id,
                                int with_groups, scim_store_change_fn change,
                                void *baton, scim_record_t **old,
                                scim_store_change_t *out);

/* ---- access: membership decides who enters ------------------------------ */

/* The SCIM attribute a signed-in identity is matched against. */
typedef enum {
    SCIM_LINK_USER_NAME,        /* ignoring case */
    SCIM_LINK_EXTERNAL_ID,      /* exact */
    SCIM_LINK_EMAIL             /* any of emails[].value, ignoring case */
} scim_link_attr_t;

/* A user as an access check sees it. */
typedef struct scim_access_member {
    const char *id;
    const char *user_name;
    const char *external_id;    /* "" when absent */
    int active;
    int seat;
    int linked;                 /* state is linked */
    /* its groups (scim_member_t), as scim_store_member_groups gives them,
     * read in the same statement */
    const apr_array_header_t *groups;
} scim_access_member_t;

/* The user of the organization whose link attribute equals identity,
 * with its groups; *out NULL when there is none, or when an e-mail or an
 * externalId names two users (an identity must never pick one of several
 * people). */
scim_error_t *scim_store_access_member(scim_store_t *st, const char *org,
                                       scim_link_attr_t attr,
                                       const char *identity,
                                       scim_access_member_t **out);

/* How many of the organization's users hold a seat. */
scim_error_t *scim_store_seats_used(scim_store_t *st, const char *org,
                                    int *used);

/* Links an active user and gives it a seat when one of seat_limit is
 * free (0: no limit), in one transaction that waits for other grants of
 * the organization on any server, and records the link in the audit
 * trail (actor: the identity).  *taken is 0 when the user lost the race
 * for the last seat, was deactivated or deleted meanwhile. */
scim_error_t *scim_store_take_seat(scim_store_t *st, const char *org,
                                   const char *id, const char *user_name,
                                   int seat_limit, int *taken);

/* ---- audit, tokens, status ---------------------------------------------- */

/* One audit row on its own (a refusal, a failed write, a rejected token);
 * the actor, the address and (for a NULL event) the event come from
 * scim_store_set_audit; nothing without an actor. */
scim_error_t *scim_store_audit(scim_store_t *st, const char *org,
                               const char *event, const char *rtype,
                               const char *id, const char *name,
                               const char *outcome);

/* Records that a token (by fingerprint) called from address now. */
scim_error_t *scim_store_token_used(scim_store_t *st, const char *org,
                                    const char *token, const char *address);

/* An organization's figures for the status page: members by state,
 * seats used, groups, tokens' last use and the latest audit events, as
 * {"members": {...}, "seats": {"used": n}, "groups": n,
 *  "tokens": {fingerprint: {"lastUsed", "address"}}, "lastIdpCall",
 *  "audit": [...]}; a new reference. */
scim_error_t *scim_store_status(scim_store_t *st, const char *org,
                                int audit_rows, json_t **out);

/* ---- records -------------------------------------------------------------- */

/* A deep copy of a record into p (its JSON shared, owned by p too). */
scim_record_t *scim_record_copy(apr_pool_t *p, const scim_record_t *rec);

#endif /* SCIM_STORE_H */
