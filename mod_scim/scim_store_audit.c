/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* The audit trail, the tokens' last use and an organization's figures for
 * the status page.  A write's audit row is part of the write's own
 * transaction, so neither exists without the other; pruning rides along
 * with an organization's writes (at most once a minute a process, by the
 * first write of a transaction) and deletes its rows by the index on
 * organization and time, so it touches only the rows that expired. */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_time.h>

#include "scim_store_int.h"

void scim_store_set_audit(scim_store_t *st, const scim_audit_ctx_t *ctx)
{
    st->audit = *ctx;
}

/* RFC 3339 time of days ago, comparable as text with scim_now's. */
static const char *days_ago(apr_pool_t *p, int days)
{
    apr_time_exp_t t;

    apr_time_exp_gmt(&t, apr_time_now() - apr_time_from_sec(days * 86400LL));
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d.000Z",
                        t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                        t.tm_hour, t.tm_min, t.tm_sec);
}

/* The audit row, inside the caller's transaction (in_tx) or as a write
 * of its own. */
static scim_error_t *insert_row(scim_store_t *st, const char *org,
                                const char *event, const char *rtype,
                                const char *id, const char *name,
                                const char *outcome, int in_tx)
{
    const char *args[] = {
        org, scim_now(st->pool), event, st->audit.actor, st->audit.address,
        rtype, id, name, outcome
    };

    return in_tx ? scim_db_exec(st, SCIM_STMT_AUDIT_INSERT, args, 9, NULL)
                 : scim_db_exec_write(st, SCIM_STMT_AUDIT_INSERT, args, 9);
}

scim_error_t *scim_store_audit_row_in_tx(scim_store_t *st, const char *org,
                                         const char *event, const char *rtype,
                                         const char *id, const char *name,
                                         const char *outcome)
{
    if (!st->audit.actor) {
        return NULL;
    }
    return insert_row(st, org, event ? event : st->audit.event, rtype, id,
                      name, outcome, 1);
}

/* When this process last pruned each organization's rows.  Retention is
 * counted in days: a row kept a minute past it harms nobody, while a prune
 * on every write cost every write a statement (on PostgreSQL a round trip,
 * one of a PATCH's six) and made concurrent writers of an organization
 * delete the same expired rows.  An organization past the table's room, or
 * of a longer name, is pruned by every write as before. */
#define PRUNE_ORGS 64
static struct {
    char org[128];
    apr_time_t at;
} last_prune[PRUNE_ORGS];
static pthread_mutex_t last_prune_lock = PTHREAD_MUTEX_INITIALIZER;

int scim_store_audit_prune_due(const char *org, apr_time_t now)
{
    size_t len = strlen(org);
    int i, due = 1;

    if (len >= sizeof(last_prune[0].org)) {
        return 1;
    }
    pthread_mutex_lock(&last_prune_lock);
    for (i = 0; i < PRUNE_ORGS; i++) {
        if (!last_prune[i].org[0]) {
            memcpy(last_prune[i].org, org, len + 1);
            last_prune[i].at = now;
            break;
        }
        if (strcmp(last_prune[i].org, org) == 0) {
            due = now - last_prune[i].at >= SCIM_AUDIT_PRUNE_INTERVAL;
            if (due) {
                last_prune[i].at = now;
            }
            break;
        }
    }
    pthread_mutex_unlock(&last_prune_lock);
    return due;
}

scim_error_t *scim_store_audit_prune_in_tx(scim_store_t *st, const char *org)
{
    /* by the first write of a transaction (a group's on SQLite); the rows
     * of the write's organization, whose retention this is (another
     * organization's location may keep its rows longer) */
    if (st->audit.actor && st->audit.retention_days > 0 && st->grouped <= 1
        && scim_store_audit_prune_due(org, apr_time_now())) {
        const char *args[] = {
            org, days_ago(st->pool, st->audit.retention_days)
        };

        return scim_db_exec(st, SCIM_STMT_AUDIT_PRUNE, args, 2, NULL);
    }
    return NULL;
}

scim_error_t *scim_store_audit_in_tx(scim_store_t *st, const char *org,
                                     const char *event, const char *rtype,
                                     const char *id, const char *name,
                                     const char *outcome)
{
    scim_error_t *err = scim_store_audit_row_in_tx(st, org, event, rtype, id,
                                                   name, outcome);

    return err ? err : scim_store_audit_prune_in_tx(st, org);
}

scim_error_t *scim_store_audit(scim_store_t *st, const char *org,
                               const char *event, const char *rtype,
                               const char *id, const char *name,
                               const char *outcome)
{
    if (!st->audit.actor) {
        return NULL;
    }
    return insert_row(st, org, event ? event : st->audit.event, rtype, id,
                      name, outcome, 0);
}

scim_error_t *scim_store_token_used(scim_store_t *st, const char *org,
                                    const char *token, const char *address)
{
    const char *args[] = { org, token, scim_now(st->pool), address };

    return scim_db_exec_write(st, SCIM_STMT_TOKEN_USED, args, 4);
}

/* ---- the status page's figures ----------------------------------------- */

typedef struct {
    int total, provisioned, linked, waiting, inactive;
} member_counts_t;

static void count_states(scim_store_t *st, apr_pool_t *p, apr_dbd_row_t *row,
                         void *baton)
{
    member_counts_t *c = baton;
    const char *state = scim_db_entry(st, p, row, 0);
    int active = scim_db_entry_int(st, row, 1);
    int seat = scim_db_entry_int(st, row, 2);
    int n = scim_db_entry_int(st, row, 3);

    c->total += n;
    if (!active) {
        c->inactive += n;
    }
    else if (seat) {
        c->linked += n;
    }
    else if (scim_state_parse(state) == SCIM_STATE_LINKED) {
        c->waiting += n;        /* linked, waiting for a free seat */
    }
    else {
        c->provisioned += n;
    }
}

typedef struct {
    json_t *tokens;
    const char *last;
} token_rows_t;

static void add_token(scim_store_t *st, apr_pool_t *p, apr_dbd_row_t *row,
                      void *baton)
{
    token_rows_t *t = baton;
    const char *token = scim_db_entry(st, p, row, 0);
    const char *used = scim_db_entry(st, p, row, 1);
    const char *address = scim_db_entry(st, p, row, 2);

    if (!token || !used) {
        return;
    }
    json_object_set_new(t->tokens, token,
                        json_pack("{s:s,s:s?}", "lastUsed", used,
                                  "address", address));
    if (!t->last || strcmp(used, t->last) > 0) {
        t->last = used;
    }
}

static void add_event(scim_store_t *st, apr_pool_t *p, apr_dbd_row_t *row,
                      void *events)
{
    static const char *const keys[] = {
        "at", "event", "actor", "address", "resourceType", "id", "name",
        "outcome"
    };
    json_t *e = json_object();
    int i;

    for (i = 0; i < 8; i++) {
        const char *v = scim_db_entry(st, p, row, i);

        if (v && *v) {
            json_object_set_new(e, keys[i], json_string(v));
        }
    }
    json_array_append_new(events, e);
}

scim_error_t *scim_store_status(scim_store_t *st, const char *org,
                                int audit_rows, json_t **out)
{
    member_counts_t c = { 0, 0, 0, 0, 0 };
    token_rows_t tokens = { json_object(), NULL };
    json_t *events = json_array();
    const char *org_arg[] = { org };
    const char *audit_args[] = { org, apr_itoa(st->pool, audit_rows) };
    int groups = 0, seats = 0;
    scim_error_t *err;

    *out = NULL;
    if ((err = scim_db_select(st, st->pool, SCIM_STMT_MEMBER_STATES, org_arg,
                              1, count_states, &c))
        || (err = scim_store_seats_used(st, org, &seats))
        || (err = scim_store_count(st, org, "Group", &groups))
        || (err = scim_db_select(st, st->pool, SCIM_STMT_TOKENS_OF, org_arg,
                                 1, add_token, &tokens))
        || (err = scim_db_select(st, st->pool, SCIM_STMT_AUDIT_LATEST,
                                 audit_args, 2, add_event, events))) {
        json_decref(tokens.tokens);
        json_decref(events);
        return err;
    }
    *out = json_pack("{s:{s:i,s:i,s:i,s:i,s:i},s:{s:i},s:i,s:o,s:s?,s:o}",
                     "members", "total", c.total, "provisioned",
                     c.provisioned, "linked", c.linked, "waiting", c.waiting,
                     "inactive", c.inactive,
                     "seats", "used", seats,
                     "groups", groups,
                     "tokens", tokens.tokens,
                     "lastIdpCall", tokens.last,
                     "audit", events);
    return NULL;
}
