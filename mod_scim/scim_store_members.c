/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Group memberships: one row each in scim_members, read by page, by chunk
 * or by batch, and changed inside the writes of scim_store.c. */

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "scim_store_int.h"

/* ---- reads -------------------------------------------------------------- */

/* A row of SCIM_STMT_MEM_PAGE (member id, type, display) as a
 * scim_member_t. */
static void push_member(scim_store_t *st, apr_pool_t *p, apr_dbd_row_t *row,
                        void *out)
{
    scim_member_t *m = apr_array_push(out);

    m->id = scim_db_entry(st, p, row, 0);
    m->type = scim_db_entry(st, p, row, 1);
    m->display = scim_db_entry(st, p, row, 2);
}

scim_error_t *scim_store_members(scim_store_t *st, const char *org,
                                 const char *group_id, int offset, int limit,
                                 apr_array_header_t *out)
{
    const char *args[] = {
        org, group_id, apr_itoa(st->pool, limit), apr_itoa(st->pool, offset)
    };
    return scim_db_select(st, st->pool, SCIM_STMT_MEM_PAGE, args, 4,
                          push_member, out);
}

scim_error_t *scim_store_member_count(scim_store_t *st, const char *org,
                                      const char *group_id, int *count)
{
    const char *args[] = { org, group_id };
    return scim_db_select_count(st, SCIM_STMT_MEM_COUNT, args, 2, count);
}

scim_error_t *scim_store_member_records(scim_store_t *st, apr_pool_t *p,
                                       const char *org, const char *group_id,
                                       const char *member_type, int offset,
                                       int limit, apr_array_header_t *out)
{
    const char *args[] = {
        org, group_id, member_type, apr_itoa(p, limit), apr_itoa(p, offset)
    };
    return scim_db_select_records(st, p, SCIM_STMT_MEM_RECORDS, args, 5,
                                  out);
}

scim_error_t *scim_store_member_records_count(scim_store_t *st,
                                              const char *org,
                                              const char *group_id,
                                              const char *member_type,
                                              int *count)
{
    const char *args[] = { org, group_id, member_type };
    return scim_db_select_count(st, SCIM_STMT_MEM_COUNT_TYPE, args, 3, count);
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
    return scim_db_select_records(st, p, SCIM_STMT_MEM_RECORDS_AFTER, args, 5,
                                  out);
}

/* A row of SCIM_STMT_MEM_GROUPS_OF (member id, group id, displayName)
 * added to the member's array in the hash out. */
static void push_group_of(scim_store_t *st, apr_pool_t *p, apr_dbd_row_t *row,
                          void *out)
{
    const char *member_id = scim_db_entry(st, p, row, 0);
    apr_array_header_t *groups = apr_hash_get(out, member_id,
                                              APR_HASH_KEY_STRING);

    if (!groups) {
        groups = apr_array_make(p, 4, sizeof(scim_member_t));
        apr_hash_set(out, member_id, APR_HASH_KEY_STRING, groups);
    }
    scim_db_push_group(st, p, row, 1, groups);
}

scim_error_t *scim_store_groups_of(scim_store_t *st, const char *org,
                                   const char *const *member_ids, int n,
                                   apr_hash_t *out)
{
    const char *args[1 + SCIM_DB_GROUPS_BATCH];
    scim_error_t *err = NULL;
    int start, i;

    args[0] = org;
    if (n == 1) {
        /* one member (a user's own groups, an access check): the plain
         * equality, without 49 NULL places */
        args[1] = member_ids[0];
        return scim_db_select(st, st->pool, SCIM_STMT_MEM_GROUPS_OF_ONE,
                              args, 2, push_group_of, out);
    }
    for (start = 0; !err && start < n; start += SCIM_DB_GROUPS_BATCH) {
        for (i = 0; i < SCIM_DB_GROUPS_BATCH; i++) {
            args[1 + i] = start + i < n ? member_ids[start + i] : NULL;
        }
        err = scim_db_select(st, st->pool, SCIM_STMT_MEM_GROUPS_OF, args,
                             1 + SCIM_DB_GROUPS_BATCH, push_group_of, out);
    }
    return err;
}

scim_error_t *scim_store_member_groups(scim_store_t *st, const char *org,
                                       const char *member_id,
                                       apr_array_header_t **out)
{
    apr_hash_t *groups = apr_hash_make(st->pool);
    scim_error_t *err = scim_store_groups_of(st, org, &member_id, 1, groups);

    *out = apr_hash_get(groups, member_id, APR_HASH_KEY_STRING);
    if (!*out) {
        *out = apr_array_make(st->pool, 1, sizeof(scim_member_t));
    }
    return err;
}

scim_error_t *scim_store_groups_with_member(scim_store_t *st, const char *org,
                                            const char *member_id,
                                            apr_array_header_t *out)
{
    const char *args[] = { org, member_id };
    return scim_db_select_records(st, st->pool, SCIM_STMT_RES_WITH_MEMBER,
                                  args, 2, out);
}

/* ---- changes, inside the caller's transaction --------------------------- */

/* A user whose group memberships changed has changed: its groups
 * attribute is part of it, so its version (ETag) moves too. */
static scim_error_t *bump_user(scim_store_t *st, const char *org,
                               const char *id, const char *now, int *nrows)
{
    const char *args[] = { now, org, id };
    return scim_db_exec(st, SCIM_STMT_RES_BUMP_USER, args, 3, nrows);
}

static scim_error_t *not_a_member(scim_store_t *st, const char *member_id)
{
    return scim_error_make(st->pool, 400, SCIM_TYPE_INVALID_VALUE,
                           "Member %s is not a user or group of"
                           " this organization", member_id);
}

/* The same for every user member of a group. */
static scim_error_t *bump_members(scim_store_t *st, const char *org,
                                  const char *group_id, const char *now)
{
    const char *args[] = { now, org, org, group_id };
    return scim_db_exec(st, SCIM_STMT_RES_BUMP_MEMBERS, args, 4, NULL);
}

static scim_error_t *clear_members(scim_store_t *st, const char *org,
                                   const char *group_id, const char *now)
{
    const char *args[] = { org, group_id };
    scim_error_t *err = bump_members(st, org, group_id, now);

    return err ? err : scim_db_exec(st, SCIM_STMT_MEM_CLEAR, args, 2, NULL);
}

static scim_error_t *remove_member(scim_store_t *st, const char *org,
                                   const char *group_id,
                                   const char *member_id, const char *now)
{
    const char *args[] = { org, group_id, member_id };
    int nrows = 0;
    scim_error_t *err = scim_db_exec(st, SCIM_STMT_MEM_DELETE, args, 3,
                                     &nrows);

    return !err && nrows ? bump_user(st, org, member_id, now, NULL) : err;
}

static scim_error_t *add_member(scim_store_t *st, const char *org,
                                const char *group_id, const char *member_id,
                                const char *now)
{
    const char *kind_args[] = { org, member_id };
    const char *kind = NULL;
    int nrows = 0;
    scim_error_t *err;

    if (strcmp(member_id, group_id) == 0) {
        return scim_error_make(st->pool, 400, SCIM_TYPE_INVALID_VALUE,
                               "A group cannot be its own member");
    }
    err = scim_db_select_value(st, SCIM_STMT_RES_KIND, kind_args, 2, &kind);
    if (!err && !kind) {
        return not_a_member(st, member_id);
    }
    if (!err) {
        const char *args[] = { org, group_id, kind, member_id };
        err = scim_db_exec(st, SCIM_STMT_MEM_INSERT, args, 4, &nrows);
    }
    if (!err && nrows && strcmp(kind, "User") == 0) {
        /* No row: the user was deleted after the read of its kind, by a
         * writer this one waited for (PostgreSQL); its membership would
         * outlive it. */
        err = bump_user(st, org, member_id, now, &nrows);
        if (!err && nrows == 0) {
            err = not_a_member(st, member_id);
        }
    }
    return err;
}

/* Member changes in the order the request gave, except that between two
 * clears (which touch every row of the group) they go by member id: two
 * writers then lock the rows they share in the same order and cannot
 * deadlock each other.  Changes to one id keep their order. */
typedef struct {
    const scim_member_op_t *op;
    int run;                    /* how many clears come before it */
    int pos;                    /* where the request had it */
} ordered_op_t;

static int compare_ordered(const void *a, const void *b)
{
    const ordered_op_t *x = a, *y = b;
    int c;

    if (x->run != y->run) {
        return x->run - y->run;
    }
    if (x->op->kind != SCIM_MEMBER_CLEAR && y->op->kind != SCIM_MEMBER_CLEAR
        && (c = strcmp(x->op->member_id, y->op->member_id)) != 0) {
        return c;
    }
    return x->pos - y->pos;
}

static ordered_op_t *lock_order(apr_pool_t *p, const apr_array_header_t *ops)
{
    ordered_op_t *order = apr_palloc(p, sizeof(*order) * ops->nelts);
    int i, run = 0;

    for (i = 0; i < ops->nelts; i++) {
        order[i].op = &APR_ARRAY_IDX(ops, i, scim_member_op_t);
        if (order[i].op->kind == SCIM_MEMBER_CLEAR) {
            run++;              /* a clear opens its own run */
        }
        order[i].run = run;
        order[i].pos = i;
    }
    qsort(order, ops->nelts, sizeof(*order), compare_ordered);
    return order;
}

scim_error_t *scim_store_apply_member_ops(scim_store_t *st, const char *org,
                                          const char *group_id,
                                          const apr_array_header_t *ops)
{
    const char *now = scim_now(st->pool);
    ordered_op_t *order;
    scim_error_t *err = NULL;
    int i;

    if (!ops || !ops->nelts) {
        return NULL;
    }
    order = lock_order(st->pool, ops);
    for (i = 0; !err && i < ops->nelts; i++) {
        const scim_member_op_t *op = order[i].op;

        switch (op->kind) {
        case SCIM_MEMBER_CLEAR:
            err = clear_members(st, org, group_id, now);
            break;
        case SCIM_MEMBER_REMOVE:
            err = remove_member(st, org, group_id, op->member_id, now);
            break;
        case SCIM_MEMBER_ADD:
            err = add_member(st, org, group_id, op->member_id, now);
            break;
        }
    }
    return err;
}

int scim_store_member_ops_only_add(const apr_array_header_t *ops)
{
    int i;

    for (i = 0; ops && i < ops->nelts; i++) {
        if (APR_ARRAY_IDX(ops, i, scim_member_op_t).kind != SCIM_MEMBER_ADD) {
            return 0;
        }
    }
    return ops && ops->nelts > 0;
}

scim_error_t *scim_store_forget_memberships(scim_store_t *st,
                                            const char *org,
                                            const char *rtype,
                                            const char *id)
{
    const char *now = scim_now(st->pool);
    const char *bump_args[] = { now, org, org, id };
    const char *args[] = { org, id };
    int is_group = strcmp(rtype, "Group") == 0;
    scim_error_t *err;

    /* Versions first: the rows that name the other sides go next. */
    err = scim_db_exec(st, SCIM_STMT_RES_BUMP_GROUPS_OF, bump_args, 4, NULL);
    if (!err && is_group) {
        err = bump_members(st, org, id, now);
    }
    if (!err) {
        err = scim_db_exec(st, SCIM_STMT_MEM_FORGET, args, 2, NULL);
    }
    if (!err && is_group) {
        err = scim_db_exec(st, SCIM_STMT_MEM_CLEAR, args, 2, NULL);
    }
    return err;
}
