/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Resources: reads by key, counts, pages and scan chunks; writes, each one
 * transaction with the membership changes that go with it.  The SQL and
 * the driver differences are in scim_db.c, memberships in
 * scim_store_members.c. */

#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "scim_store_int.h"

/* ---- records ------------------------------------------------------------ */

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
    copy->display_name = rec->display_name
                         ? apr_pstrdup(p, rec->display_name) : NULL;
    copy->resource = scim_json_pool_own(p, json_incref(rec->resource));
    copy->stored_json = rec->stored_json ? apr_pstrdup(p, rec->stored_json)
                                         : NULL;
    copy->groups = NULL;        /* in the pool of rec's reader */
    return copy;
}

/* ---- reads -------------------------------------------------------------- */

static scim_record_t *first_record(apr_array_header_t *recs)
{
    return recs->nelts ? APR_ARRAY_IDX(recs, 0, scim_record_t *) : NULL;
}

scim_error_t *scim_store_read(scim_store_t *st, const char *org,
                              const char *rtype, const char *id,
                              int reads, scim_record_t **out)
{
    apr_array_header_t *recs = apr_array_make(st->pool, 1,
                                              sizeof(scim_record_t *));
    scim_error_t *err = scim_store_find(st, org, rtype, SCIM_STORE_BY_ID, id,
                                        reads, recs);

    *out = err ? NULL : first_record(recs);
    return err;
}

scim_error_t *scim_store_get(scim_store_t *st, const char *org,
                             const char *rtype, const char *id,
                             scim_record_t **out)
{
    return scim_store_read(st, org, rtype, id, 0, out);
}

scim_error_t *scim_store_get_user_with_groups(scim_store_t *st,
                                              const char *org,
                                              const char *id,
                                              scim_record_t **out)
{
    return scim_store_read(st, org, "User", id, SCIM_READ_GROUPS, out);
}

/* The statement finding resources by key, and the key's value as stored
 * (names and e-mail addresses are kept folded). */
static scim_stmt_t find_statement(scim_store_t *st, scim_store_key_t key,
                                  int with_groups, const char **value)
{
    switch (key) {
    case SCIM_STORE_BY_NAME:
        *value = scim_fold_case(st->pool, *value);
        return with_groups ? SCIM_STMT_USERS_BY_NAME_WITH_GROUPS
                           : SCIM_STMT_RES_BY_NAME;
    case SCIM_STORE_BY_EXTERNAL_ID:
        return with_groups ? SCIM_STMT_USERS_BY_EXTERNAL_WITH_GROUPS
                           : SCIM_STMT_RES_BY_EXTERNAL;
    case SCIM_STORE_BY_EMAIL:
        *value = scim_fold_case(st->pool, *value);
        return with_groups ? SCIM_STMT_USERS_BY_EMAIL_WITH_GROUPS
                           : SCIM_STMT_RES_BY_EMAIL;
    default:
        return with_groups ? SCIM_STMT_USER_WITH_GROUPS : SCIM_STMT_RES_GET;
    }
}

scim_error_t *scim_store_find(scim_store_t *st, const char *org,
                              const char *rtype, scim_store_key_t key,
                              const char *value, int reads,
                              apr_array_header_t *out)
{
    int users = strcmp(rtype, "User") == 0, first = out->nelts;
    int with_groups = (reads & SCIM_READ_GROUPS) && users;
    scim_stmt_t which;
    scim_error_t *err;

    if (key == SCIM_STORE_BY_EMAIL && !users) {
        return NULL;                /* only users have e-mails indexed */
    }
    which = find_statement(st, key, with_groups, &value);
    if (with_groups) {
        const char *args[] = { org, value, org, value };

        return scim_db_select_records_with_groups(st, st->pool, which, args,
                                                  4, reads, out);
    }
    if (key == SCIM_STORE_BY_EMAIL) {
        const char *args[] = { org, value };

        err = scim_db_select_records_reading(st, st->pool, which, args, 2,
                                             reads, out);
    }
    else {
        const char *args[] = { org, rtype, value };

        err = scim_db_select_records_reading(st, st->pool, which, args, 3,
                                             reads, out);
    }
    /* several users may share an externalId: the default order, as the
     * lookup with groups gives it */
    if (!err) {
        scim_db_sort_records(out, first);
    }
    return err;
}

scim_error_t *scim_store_count(scim_store_t *st, const char *org,
                               const char *rtype, int *count)
{
    const char *args[] = { org, rtype };
    return scim_db_select_count(st, SCIM_STMT_RES_COUNT, args, 2, count);
}

scim_error_t *scim_store_page(scim_store_t *st, apr_pool_t *p,
                              const char *org, const char *rtype,
                              int offset, int limit, int reads,
                              apr_array_header_t *out)
{
    const char *args[] = {
        org, rtype, apr_itoa(p, limit), apr_itoa(p, offset)
    };
    return scim_db_select_records_reading(st, p, SCIM_STMT_RES_PAGE, args, 4,
                                          reads, out);
}

scim_error_t *scim_store_page_after(scim_store_t *st, apr_pool_t *p,
                                    const char *org, const char *rtype,
                                    const char *created, const char *id,
                                    int limit, int reads,
                                    apr_array_header_t *out)
{
    const char *args[] = { org, rtype, created, created, id,
                           apr_itoa(p, limit) };
    return scim_db_select_records_reading(st, p, SCIM_STMT_RES_AFTER, args, 6,
                                          reads, out);
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
        return scim_store_page(st, p, org, rtype, 0, limit, 0, out);
    }
    args[2] = args[3] = after->created;
    args[4] = after->id;
    return scim_db_select_records(st, p, SCIM_STMT_RES_AFTER, args, 6, out);
}

/* ---- reads with a filter's SQL condition --------------------------------- */

scim_sql_dialect_t scim_store_dialect(const scim_store_t *st)
{
    return scim_db_dialect(st);
}

/* org, rtype, the fixed arguments in between, cond's parameters, then the
 * trailing ones: a dynamic statement's arguments in order. */
static const char **where_args(apr_pool_t *p, const char *org,
                               const char *rtype, const char *const *middle,
                               int nmiddle, const scim_sql_cond_t *cond,
                               const char *const *tail, int ntail, int *n)
{
    int ncond = cond && cond->sql ? cond->params->nelts : 0;
    const char **args = apr_palloc(p, sizeof(*args)
                                      * (2 + nmiddle + ncond + ntail));
    int i, k = 0;

    args[k++] = org;
    args[k++] = rtype;
    for (i = 0; i < nmiddle; i++) {
        args[k++] = middle[i];
    }
    for (i = 0; i < ncond; i++) {
        args[k++] = APR_ARRAY_IDX(cond->params, i, const char *);
    }
    for (i = 0; i < ntail; i++) {
        args[k++] = tail[i];
    }
    *n = k;
    return args;
}

scim_error_t *scim_store_scan_where(scim_store_t *st, apr_pool_t *p,
                                    const char *org, const char *rtype,
                                    const scim_sql_cond_t *cond,
                                    const scim_record_t *after, int limit,
                                    apr_array_header_t *out)
{
    const char *keyset[3], *tail[1];
    const char **args;
    scim_error_t *err;
    int n, declined = 0;

    if (cond && cond->sql) {
        if (after) {
            keyset[0] = keyset[1] = after->created;
            keyset[2] = after->id;
        }
        tail[0] = apr_itoa(p, limit);
        args = where_args(p, org, rtype, keyset, after ? 3 : 0, cond, tail, 1,
                          &n);
        err = scim_db_select_records_dynamic(st, p,
            scim_db_sql_scan(p, cond->sql, after != NULL), args, n, out,
            NULL, &declined);
        if (err || !declined) {
            return err;
        }
    }
    return scim_store_scan_chunk(st, p, org, rtype, after, limit, out);
}

scim_error_t *scim_store_window(scim_store_t *st, apr_pool_t *p,
                                const char *org, const char *rtype,
                                const scim_sql_cond_t *cond, const char *key,
                                int descending, int offset, int limit,
                                apr_array_header_t *out, int *total,
                                int *declined)
{
    scim_sql_dialect_t dialect = scim_db_dialect(st);
    int counting = scim_db_window_can_count(dialect, cond, key);
    /* counting: the page's keys first (scim_db_sql_window) */
    const char *counted[5] = { apr_itoa(p, limit), apr_itoa(p, offset),
                               apr_itoa(p, limit - 1), apr_itoa(p, limit),
                               apr_itoa(p, offset) };
    const char **tail = counting ? counted : counted + 3;
    const char **args;
    int n;

    *total = -1;
    args = where_args(p, org, rtype, NULL, 0, cond, tail, counting ? 5 : 2,
                      &n);
    return scim_db_select_records_dynamic(st, p,
        scim_db_sql_window(p, dialect, cond, key, descending, counting),
        args, n, out, counting ? total : NULL, declined);
}

scim_error_t *scim_store_count_where(scim_store_t *st, const char *org,
                                     const char *rtype,
                                     const scim_sql_cond_t *cond, int *count,
                                     int *declined)
{
    const char **args;
    int n;

    *declined = 0;
    if (!cond || !cond->sql) {
        return scim_store_count(st, org, rtype, count);
    }
    args = where_args(st->pool, org, rtype, NULL, 0, cond, NULL, 0, &n);
    return scim_db_select_count_dynamic(st, scim_db_sql_count(st->pool,
                                                              cond->sql),
                                        args, n, count, declined);
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
    return scim_db_select_value(st, SCIM_STMT_RES_NAME_OWNER, args, 3, owner);
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

/* The end of a create or update: its membership changes and its audit
 * row in the same transaction, then the commit.  Any failure rolls all of
 * it back; a database failure is explained (a name taken meanwhile is a
 * 409, not a 503). */
static scim_error_t *finish_write(scim_store_t *st, const char *org,
                                  const scim_record_t *rec,
                                  const char *name_ci,
                                  const apr_array_header_t *member_ops,
                                  scim_error_t *err)
{
    if (!err) {
        err = scim_store_apply_member_ops(st, org, rec->id, member_ops);
    }
    if (!err) {
        err = scim_store_audit_in_tx(st, org, NULL, rec->rtype, rec->id,
                                     rec->name, "ok");
    }
    if (err) {
        scim_db_end(st, 1);
        return err->status >= 500
               ? explain_write_failure(st, org, rec, name_ci, err) : err;
    }
    if ((err = scim_db_end(st, 0))) {
        return explain_write_failure(st, org, rec, name_ci, err);
    }
    return NULL;
}

static int is_user(const scim_record_t *rec)
{
    return strcmp(rec->rtype, "User") == 0;
}

/* The resource as stored, serialised before the write (a create's and an
 * update's outside the writers' lock; a modification's inside it, where
 * its change is computed). */
static scim_error_t *dump_resource(scim_store_t *st, const json_t *resource,
                                   const char **json)
{
    char *text = scim_json_dump_compact(resource, NULL);

    *json = text ? apr_pstrdup(st->pool, text) : NULL;
    free(text);
    if (!*json) {
        return scim_error_make(st->pool, 400, SCIM_TYPE_INVALID_VALUE,
                               "The resource cannot be serialised");
    }
    return NULL;
}

static scim_error_t *create_once(scim_store_t *st, const char *org,
                                 const scim_record_t *rec, const char *json,
                                 const apr_array_header_t *member_ops)
{
    const char *name_ci = scim_fold_case(st->pool, rec->name);
    const char *owner = NULL;
    scim_error_t *err;

    if ((err = scim_db_begin(st))) {
        return err;
    }
    err = name_owner(st, org, rec->rtype, name_ci, &owner);
    if (!err && owner) {
        scim_db_end(st, 1);
        return name_taken(st, rec->rtype, rec->name);
    }
    if (!err) {
        /* A new member is provisioned: no link, no seat, whatever the
         * record says. */
        const char *args[] = {
            org, rec->rtype, rec->id, rec->name, name_ci, rec->external_id,
            rec->created, rec->last_modified,
            apr_itoa(st->pool, rec->version),
            is_user(rec) ? scim_state_name(SCIM_STATE_PROVISIONED) : NULL,
            NULL, json, rec->active ? "1" : "0", rec->display_name
        };
        err = scim_db_exec(st, SCIM_STMT_RES_INSERT, args, 14, NULL);
    }
    if (!err && is_user(rec)) {
        err = scim_store_index_emails(st, org, rec->id, rec->resource, 0);
    }
    return finish_write(st, org, rec, name_ci, member_ops, err);
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

static int same_text(const char *a, const char *b)
{
    return a ? b && strcmp(a, b) == 0 : !b;
}

/* Whether an update of old (as stored at the expected version) to rec
 * leaves the columns that SCIM_STMT_RES_UPDATE_BODY does not set as they
 * are: the name and external id (indexed), the display name (a group
 * member's display) and the seat (a deactivation frees a held one). */
static int same_keys(const scim_record_t *old, const scim_record_t *rec)
{
    return old && same_text(old->name, rec->name)
           && same_text(old->external_id, rec->external_id)
           && same_text(old->display_name, rec->display_name)
           && (rec->active || !old->seat);
}

/* The group's row, for a change of its members alone: a new version,
 * read back inside the transaction; its JSON is not rewritten. */
static scim_error_t *touch_group(scim_store_t *st, const char *org,
                                 scim_record_t *rec, int *nrows)
{
    const char *args[] = { rec->last_modified, org, rec->rtype, rec->id };
    const char *version = NULL;
    scim_error_t *err = scim_db_exec(st, SCIM_STMT_RES_TOUCH_ANY, args, 4,
                                     nrows);

    if (!err && *nrows) {
        err = scim_db_select_value(st, SCIM_STMT_RES_VERSION, args + 1, 3,
                                   &version);
        rec->version = version ? atoi(version) : rec->version;
    }
    return err;
}

/* A change of a group's members alone, without a precondition (an IdP's
 * PATCH of members): no version check.  On PostgreSQL the lock of the
 * group's row serialises the group's writers until each commits, so it
 * is held for as little as it can be: the audit row comes before it, the
 * prune after it.  Adds commute and take it last (taken first it was held
 * through every membership statement: a 10,000-member group took one add
 * at a time); the users they add are locked before it, in member id order
 * as every adder does.  Anything that removes takes it first: under READ
 * COMMITTED a removal beside an uncommitted add of the same member finds
 * nothing, and must then commit before that add does. */
static scim_error_t *change_members_once(scim_store_t *st, const char *org,
                                         scim_record_t *rec,
                                         const apr_array_header_t *ops)
{
    int adds_only = scim_store_member_ops_only_add(ops);
    scim_error_t *err;
    int nrows = 1;

    if ((err = scim_db_begin(st))) {
        return err;
    }
    err = scim_store_audit_row_in_tx(st, org, NULL, rec->rtype, rec->id,
                                     rec->name, "ok");
    if (!err && !adds_only) {
        err = touch_group(st, org, rec, &nrows);
    }
    if (!err && nrows) {
        err = scim_store_apply_member_ops(st, org, rec->id, ops);
    }
    if (!err && nrows && adds_only) {
        err = touch_group(st, org, rec, &nrows);
    }
    if (!err && nrows == 0) {
        scim_db_end(st, 1);
        return explain_missed_update(st, org, rec, -1);
    }
    if (!err) {
        err = scim_store_audit_prune_in_tx(st, org);
    }
    if (err) {
        scim_db_end(st, 1);
        return err;
    }
    return scim_db_end(st, 0);
}

/* json: the changed resource serialised, NULL when only memberships
 * changed.  old: the record stored at expected_version, or NULL; what did
 * not change from it is not checked or indexed again (the row the update
 * finds at that version holds its name, and its e-mails are indexed). */
static scim_error_t *update_once(scim_store_t *st, const char *org,
                                 scim_record_t *rec,
                                 const scim_record_t *old,
                                 int expected_version, const char *json,
                                 const apr_array_header_t *member_ops)
{
    const char *name_ci = scim_fold_case(st->pool, rec->name);
    const char *owner = NULL;
    scim_error_t *err = NULL;
    int resource_changed = json != NULL;
    int nrows = 0;

    if (!old || expected_version < 0 || old->version != expected_version) {
        old = NULL;
    }
    if (!resource_changed && expected_version < 0) {
        return change_members_once(st, org, rec, member_ops);
    }

    if ((err = scim_db_begin(st))) {
        return err;
    }
    if (resource_changed) {
        if (!old || !old->name
            || strcmp(scim_fold_case(st->pool, old->name), name_ci) != 0) {
            err = name_owner(st, org, rec->rtype, name_ci, &owner);
        }
        if (!err && owner && strcmp(owner, rec->id) != 0) {
            scim_db_end(st, 1);
            return name_taken(st, rec->rtype, rec->name);
        }
        if (!err && same_keys(old, rec)) {
            const char *args[] = {
                rec->last_modified, apr_itoa(st->pool, rec->version), json,
                rec->active ? "1" : "0", org, rec->rtype, rec->id,
                apr_itoa(st->pool, expected_version)
            };
            err = scim_db_exec(st, SCIM_STMT_RES_UPDATE_BODY, args, 8, &nrows);
        }
        else if (!err) {
            /* A deactivated user's seat is freed in the same statement
             * (seat * 0); a reactivated one waits for a free seat. */
            const char *args[] = {
                rec->name, name_ci, rec->external_id, rec->last_modified,
                apr_itoa(st->pool, rec->version), json,
                rec->active ? "1" : "0", rec->active ? "1" : "0",
                rec->display_name, org, rec->rtype, rec->id,
                apr_itoa(st->pool, expected_version)
            };
            err = scim_db_exec(st, SCIM_STMT_RES_UPDATE, args, 13, &nrows);
        }
        if (!err && nrows && is_user(rec)
            && !(old && scim_store_same_emails(st->pool, old->resource,
                                               rec->resource))) {
            err = scim_store_index_emails(st, org, rec->id, rec->resource, 1);
        }
    }
    else {
        /* Only memberships changed, under a precondition: the resource
         * row gets a new version, its JSON is not rewritten. */
        const char *args[] = {
            rec->last_modified, apr_itoa(st->pool, rec->version),
            org, rec->rtype, rec->id, apr_itoa(st->pool, expected_version)
        };
        err = scim_db_exec(st, SCIM_STMT_RES_TOUCH, args, 6, &nrows);
    }
    if (!err && nrows == 0) {
        scim_db_end(st, 1);
        return explain_missed_update(st, org, rec, expected_version);
    }
    return finish_write(st, org, rec, name_ci, member_ops, err);
}

static scim_error_t *delete_once(scim_store_t *st, const char *org,
                                 const char *rtype, const char *id)
{
    const char *args[] = { org, rtype, id };
    const char *name = NULL;
    scim_error_t *err;
    int nrows = 0;

    if ((err = scim_db_begin(st))) {
        return err;
    }
    /* the name, for the audit trail */
    err = scim_db_select_value(st, SCIM_STMT_RES_NAME, args, 3, &name);
    if (!err) {
        err = scim_db_exec(st, SCIM_STMT_RES_DELETE, args, 3, &nrows);
    }
    if (!err && nrows == 0) {
        scim_db_end(st, 1);
        return scim_error_make(st->pool, 404, NULL, "Resource %s not found",
                               id);
    }
    /* Its memberships go with it, as a member of groups and as a group. */
    if (!err) {
        err = scim_store_forget_memberships(st, org, rtype, id);
    }
    if (!err && strcmp(rtype, "User") == 0) {
        err = scim_store_forget_emails(st, org, id);
    }
    if (!err) {
        err = scim_store_audit_in_tx(st, org, NULL, rtype, id, name, "ok");
    }
    if (err) {
        scim_db_end(st, 1);
        return err;
    }
    return scim_db_end(st, 0);
}

/* ---- each write, committed alone or with others (scim_db_write) -------- */

typedef struct {
    const char *org;
    const scim_record_t *created;
    scim_record_t *rec;                 /* updated: gets its new version */
    const scim_record_t *old;           /* updated: as it was */
    int expected_version;
    const char *json;                   /* the resource as stored */
    const apr_array_header_t *member_ops;
    const char *rtype;
    const char *id;
} write_args_t;

static scim_error_t *create_write(scim_store_t *st, void *baton)
{
    const write_args_t *a = baton;

    return create_once(st, a->org, a->created, a->json, a->member_ops);
}

static scim_error_t *update_write(scim_store_t *st, void *baton)
{
    const write_args_t *a = baton;

    return update_once(st, a->org, a->rec, a->old, a->expected_version,
                       a->json, a->member_ops);
}

static scim_error_t *delete_write(scim_store_t *st, void *baton)
{
    const write_args_t *a = baton;

    return delete_once(st, a->org, a->rtype, a->id);
}

scim_error_t *scim_store_create(scim_store_t *st, const char *org,
                                scim_record_t *rec,
                                const apr_array_header_t *member_ops)
{
    write_args_t a = { org, rec, NULL, NULL, 0, NULL, member_ops, NULL,
                       NULL };
    scim_error_t *err = dump_resource(st, rec->resource, &a.json);

    if (!err && !(err = scim_db_write(st, create_write, &a))) {
        rec->stored_json = a.json;
    }
    return err;
}

scim_error_t *scim_store_update(scim_store_t *st, const char *org,
                                scim_record_t *rec, const scim_record_t *old,
                                int expected_version, int resource_changed,
                                const apr_array_header_t *member_ops)
{
    write_args_t a = { org, NULL, rec, old, expected_version, NULL,
                       member_ops, NULL, NULL };
    scim_error_t *err = resource_changed
                        ? dump_resource(st, rec->resource, &a.json) : NULL;

    if (!err && !(err = scim_db_write(st, update_write, &a)) && a.json) {
        rec->stored_json = a.json;
    }
    return err;
}

scim_error_t *scim_store_delete(scim_store_t *st, const char *org,
                                const char *rtype, const char *id)
{
    write_args_t a = { org, NULL, NULL, NULL, 0, NULL, NULL, rtype, id };

    return scim_db_write(st, delete_write, &a);
}

/* A modification that lost a race with another writer (the version moved
 * between its read and its update: PostgreSQL, or SQLite writes that are
 * not committed in groups) is read and computed
 * again, this often at most, before the client is asked to retry later
 * (503; 412 only answers a precondition the client sent, which the
 * change checks on every reading). */
#define MODIFY_ATTEMPTS 16

typedef struct {
    const char *org, *rtype, *id;
    int with_groups;
    scim_store_change_fn change;
    void *baton;
    scim_record_t **old;
    scim_store_change_t *out;
    int raced;                  /* this attempt's update missed the
                                 * version it read */
} modify_args_t;

/* In a group the connection is already in the group's transaction: the
 * read, the change and the update see one state of the database. */
static scim_error_t *modify_write(scim_store_t *st, void *baton)
{
    modify_args_t *a = baton;
    scim_store_change_t *out = a->out;
    const char *json = NULL;
    scim_error_t *err;

    memset(out, 0, sizeof(*out));
    a->raced = 0;
    err = scim_store_read(st, a->org, a->rtype, a->id,
                          a->with_groups ? SCIM_READ_GROUPS : 0,
                          a->old);
    if (err || !*a->old
        || (err = a->change(st, *a->old, a->baton, out)) || !out->rec
        || (out->resource_changed
            && (err = dump_resource(st, out->rec->resource, &json)))) {
        return err;
    }
    err = update_once(st, a->org, out->rec, *a->old, out->expected_version,
                      json, out->member_ops);
    /* its 412 and 404 only say that the row moved on after the read */
    a->raced = err && (err->status == 412 || err->status == 404);
    if (!err && json) {
        out->rec->stored_json = json;
    }
    return err;
}

scim_error_t *scim_store_modify(scim_store_t *st, const char *org,
                                const char *rtype, const char *id,
                                int with_groups, scim_store_change_fn change,
                                void *baton, scim_record_t **old,
                                scim_store_change_t *out)
{
    modify_args_t a = { org, rtype, id, with_groups, change, baton, old,
                        out, 0 };
    scim_error_t *err;
    int attempt;

    for (attempt = 1; ; attempt++) {
        *old = NULL;
        a.raced = 0;                    /* a write may fail before it runs */
        err = scim_db_write(st, modify_write, &a);
        if (!a.raced) {
            return err;
        }
        if (attempt >= MODIFY_ATTEMPTS) {
            err = scim_error_make(st->pool, 503, NULL, "The resource is"
                                  " being changed by other requests; retry"
                                  " later");
            err->retry_after = SCIM_STORE_RETRY_AFTER;
            return err;
        }
        scim_store_pause(attempt);
    }
}
