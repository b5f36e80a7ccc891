/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Access: the user an SSO identity names, the e-mail index behind it, and
 * seats.  A seat is granted by a conditional UPDATE after taking the
 * organization's row in scim_seat_locks, so that grants of one
 * organization queue up in the database, whichever server runs them, and
 * the count they see includes every grant before them. */

#include <string.h>

#include <apr_strings.h>

#include "scim_store_int.h"

/* ---- the e-mail index --------------------------------------------------- */

scim_error_t *scim_store_forget_emails(scim_store_t *st, const char *org,
                                       const char *user_id)
{
    const char *args[] = { org, user_id };

    return scim_db_exec(st, SCIM_STMT_EMAIL_FORGET, args, 2, NULL);
}

/* The value the index keeps for one of emails[], or NULL when it keeps
 * none (no value, or one longer than a key). */
static const char *indexed_email(apr_pool_t *p, const json_t *email)
{
    const char *value = json_string_value(scim_json_get_ci(email, "value",
                                                           NULL));

    if (!value || !*value || strlen(value) > SCIM_STORE_MAX_KEY) {
        return NULL;
    }
    return scim_fold_case(p, value);
}

/* The next entry of emails from *i on that the index keeps, or NULL. */
static const char *next_indexed_email(apr_pool_t *p, const json_t *emails,
                                      size_t *i)
{
    const char *value = NULL;

    while (!value && *i < json_array_size(emails)) {
        value = indexed_email(p, json_array_get(emails, (*i)++));
    }
    return value;
}

int scim_store_same_emails(apr_pool_t *p, const json_t *a, const json_t *b)
{
    const json_t *ea = scim_json_get_ci(a, "emails", NULL);
    const json_t *eb = scim_json_get_ci(b, "emails", NULL);
    size_t i = 0, j = 0;

    for (;;) {
        const char *va = next_indexed_email(p, ea, &i);
        const char *vb = next_indexed_email(p, eb, &j);

        if (!va || !vb) {
            return !va && !vb;
        }
        if (strcmp(va, vb) != 0) {
            return 0;
        }
    }
}

scim_error_t *scim_store_index_emails(scim_store_t *st, const char *org,
                                      const char *user_id,
                                      const json_t *resource, int replace)
{
    const json_t *emails = scim_json_get_ci(resource, "emails", NULL);
    const char *value;
    scim_error_t *err = NULL;
    size_t i = 0;

    if (replace && (err = scim_store_forget_emails(st, org, user_id))) {
        return err;
    }
    while ((value = next_indexed_email(st->pool, emails, &i))) {
        const char *args[] = { org, value, user_id };

        if ((err = scim_db_exec(st, SCIM_STMT_EMAIL_INSERT, args, 3, NULL))) {
            return err;
        }
    }
    return NULL;
}

/* ---- who an identity is ------------------------------------------------- */

typedef struct {
    scim_access_member_t *first;
    apr_array_header_t *groups;     /* first's */
    int users;                      /* 2: more than one */
} access_rows_t;

/* A row of an access statement: the user's columns (the same on each of
 * its rows), then one of its groups. */
static void keep_access_member(scim_store_t *st, apr_pool_t *p,
                               apr_dbd_row_t *row, void *baton)
{
    access_rows_t *found = baton;
    scim_access_member_t *m = found->first;
    const char *id = scim_db_entry(st, p, row, 0);
    const char *state;

    if (m && strcmp(m->id, id) != 0) {
        found->users = 2;
        return;
    }
    if (!m) {
        m = apr_pcalloc(p, sizeof(*m));
        m->id = id;
        m->user_name = scim_db_entry(st, p, row, 1);
        m->external_id = scim_db_entry(st, p, row, 2);
        if (!m->external_id) {
            m->external_id = "";
        }
        m->active = scim_db_entry_int(st, row, 3);
        m->seat = scim_db_entry_int(st, row, 4);
        state = scim_db_entry(st, p, row, 5);
        m->linked = scim_state_parse(state) == SCIM_STATE_LINKED;
        m->groups = found->groups = apr_array_make(p, 4,
                                                   sizeof(scim_member_t));
        found->first = m;
        found->users = 1;
    }
    scim_db_push_group(st, p, row, 6, found->groups);
}

scim_error_t *scim_store_access_member(scim_store_t *st, const char *org,
                                       scim_link_attr_t attr,
                                       const char *identity,
                                       scim_access_member_t **out)
{
    access_rows_t found = { NULL, NULL, 0 };
    const char *args[2];
    scim_stmt_t which;
    scim_error_t *err;

    *out = NULL;
    if (!identity || !*identity || strlen(identity) > SCIM_STORE_MAX_KEY) {
        return NULL;
    }
    args[0] = org;
    switch (attr) {
    case SCIM_LINK_EXTERNAL_ID:
        which = SCIM_STMT_ACCESS_BY_EXTERNAL;
        args[1] = identity;
        break;
    case SCIM_LINK_EMAIL:
        which = SCIM_STMT_ACCESS_BY_EMAIL;
        args[1] = scim_fold_case(st->pool, identity);
        break;
    default:
        which = SCIM_STMT_ACCESS_BY_NAME;
        args[1] = scim_fold_case(st->pool, identity);
        break;
    }
    if ((err = scim_db_select(st, st->pool, which, args, 2,
                              keep_access_member, &found))) {
        return err;
    }
    *out = found.users == 1 ? found.first : NULL;
    return NULL;
}

/* ---- seats -------------------------------------------------------------- */

scim_error_t *scim_store_seats_used(scim_store_t *st, const char *org,
                                    int *used)
{
    const char *args[] = { org };

    return scim_db_select_count(st, SCIM_STMT_SEATS_USED, args, 1, used);
}

typedef struct {
    const char *org;
    const char *id;
    const char *user_name;
    int seat_limit;
    int taken;
} seat_grant_t;

/* One grant, a write of its own (scim_db_write): on SQLite it queues
 * among the other writers rather than meet their lock in the sqlite3
 * driver's 100 ms sleeps; on PostgreSQL it is its own transaction, run
 * again when it lost a lock race. */
static scim_error_t *take_seat_once(scim_store_t *st, void *baton)
{
    seat_grant_t *g = baton;
    const char *org = g->org;
    const char *org_arg[] = { org };
    const char *now = scim_now(st->pool);
    scim_error_t *err;
    int used = 0, nrows = 0;

    g->taken = 0;
    /* The lock row exists before the transaction that locks it: an INSERT
     * racing another server's would otherwise fail the grant.  (In a group
     * on SQLite the statement runs in the group's transaction, under the
     * writers' lock: nothing races it, and the row it leaves is the one
     * any grant needs.) */
    if ((err = scim_db_exec(st, SCIM_STMT_SEAT_LOCK_ROW, org_arg, 1, NULL))
        || (err = scim_db_begin(st))) {
        return err;
    }
    err = scim_db_exec(st, SCIM_STMT_SEAT_LOCK, org_arg, 1, NULL);
    if (!err && g->seat_limit > 0) {
        err = scim_store_seats_used(st, org, &used);
    }
    if (!err && (g->seat_limit <= 0 || used < g->seat_limit)) {
        const char *args[] = { now, now, org, g->id };

        err = scim_db_exec(st, SCIM_STMT_TAKE_SEAT, args, 4, &nrows);
    }
    if (!err && nrows == 1) {
        err = scim_store_audit_in_tx(st, org, "link", "User", g->id,
                                     g->user_name, "linked");
    }
    if (!err && nrows == 0) {
        /* A request of the same member may have taken the seat first. */
        const char *args[] = { org, g->id };

        err = scim_db_select_count(st, SCIM_STMT_HOLDS_SEAT, args, 2, &nrows);
    }
    if (err) {
        scim_db_end(st, 1);
        return err;
    }
    if ((err = scim_db_end(st, 0))) {
        return err;
    }
    g->taken = nrows == 1;
    return NULL;
}

scim_error_t *scim_store_take_seat(scim_store_t *st, const char *org,
                                   const char *id, const char *user_name,
                                   int seat_limit, int *taken)
{
    seat_grant_t g = { org, id, user_name, seat_limit, 0 };
    scim_error_t *err = scim_db_write(st, take_seat_once, &g);

    /* a grant whose group failed to commit took nothing */
    *taken = err ? 0 : g.taken;
    return err;
}
