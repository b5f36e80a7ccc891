/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Require scim-member / Require scim-group NAME...: the membership the
 * identity provider pushed decides, on every request, who enters.
 *
 * The authorization check only reads: who the signed-in identity is
 * (one indexed statement), its groups (one more) and, for a member
 * without a seat, how many seats are taken; scim_seat decides.  Linking
 * (the first seat) is a write and happens in fixups, once
 * mod_authz_core has admitted the request as a whole: a check may run
 * inside <RequireAny>/<RequireNone> beside other requirements, where
 * "would be admitted" must change nothing.  The write re-checks the seat
 * count in the database, so two first sign-ins cannot both take the last
 * seat; the loser gets the no-seat page.  Nothing is cached between
 * requests: a deactivated member is refused on the next one.
 *
 * The database connection is taken and given back within each phase, not
 * held while the application behind answers. */

#include <string.h>

#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_auth.h>

#include "mod_scim_private.h"
#include "scim_seat.h"
#include "scim_store.h"

/* What one request learned about its member (r->request_config). */
typedef struct access_state {
    const char *org;
    const char *identity;
    scim_access_member_t *member;   /* NULL: unknown */
    const apr_array_header_t *groups;   /* scim_member_t, type "Group" */
    scim_access_t access;           /* for Require scim-member */
    int seat_limit;
    int admitted;                   /* a scim-* requirement granted */
} access_state_t;

static ap_dbd_t *(*dbd_open)(apr_pool_t *, server_rec *);
static void (*dbd_close)(server_rec *, ap_dbd_t *);

void scim_authz_retrieve_optional_fns(void)
{
    dbd_open = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    dbd_close = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
}

/* A connection for one phase; given back with dbd_close. */
static scim_error_t *open_store(request_rec *r, ap_dbd_t **dbd,
                                scim_store_t **st)
{
    *dbd = dbd_open ? dbd_open(r->pool, r->server) : NULL;
    if (!*dbd) {
        scim_error_t *err = scim_error_make(r->pool, 503, NULL,
                                            "no database connection");
        err->internal = "check DBDriver/DBDParams";
        return err;
    }
    return scim_store_open(r->pool, (*dbd)->driver, (*dbd)->handle,
                           (*dbd)->prepared, (*dbd)->pool, st);
}

static void close_store(request_rec *r, ap_dbd_t *dbd)
{
    if (dbd) {
        dbd_close(r->server, dbd);
    }
}

static void log_store_error(request_rec *r, const scim_error_t *err)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, SCIMLOGNO(4001)
                  "access check for %s: %s%s%s", r->uri, err->detail,
                  err->internal ? ": " : "",
                  err->internal ? err->internal : "");
}

static void set_audit(request_rec *r, scim_store_t *st,
                      const access_state_t *as)
{
    scim_audit_ctx_t ctx = {
        as->identity, r->useragent_ip, NULL,
        scim_conf_audit_retention(scim_config_of(r))
    };

    scim_store_set_audit(st, &ctx);
}

/* ---- refusals ---------------------------------------------------------- */

static scim_error_t *audit_seat_refusal(scim_store_t *st,
                                        const access_state_t *as)
{
    return scim_store_audit(st, as->org, "seat-refused", "User",
                            as->member->id, as->member->user_name,
                            "no-seat");
}

static const char *page(apr_pool_t *p, const char *title, const char *text)
{
    return apr_psprintf(p, "<!DOCTYPE html>\n<html><head><title>%s</title>"
                        "</head><body><h1>%s</h1><p>%s</p></body></html>\n",
                        title, title, text);
}

/* The 403 page and the log line of a refused member.  mod_authz_core
 * answers 403 when the location has AuthzSendForbiddenOnFailure On (see
 * README); the page is for that answer. */
static void refuse(request_rec *r, const access_state_t *as,
                   scim_access_t access)
{
    const char *org = ap_escape_html(r->pool, as->org);

    if (access == SCIM_ACCESS_NO_SEAT) {
        ap_custom_response(r, HTTP_FORBIDDEN, page(r->pool, "No free seat",
            apr_psprintf(r->pool, "Every seat of %s is taken, so your "
                         "account cannot be admitted yet. Ask your "
                         "administrator to free a seat or to raise the "
                         "limit.", org)));
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, SCIMLOGNO(4002)
                      "no free seat for %s (user %s) in organization %s: "
                      "all %d seats are taken; raise ScimSeatLimit or "
                      "deactivate members in the identity provider",
                      as->identity, as->member ? as->member->id : "-",
                      as->org, as->seat_limit);
        return;
    }
    ap_custom_response(r, HTTP_FORBIDDEN, page(r->pool, "Access denied",
        access == SCIM_ACCESS_NOT_IN_GROUP
        ? apr_psprintf(r->pool, "Your account is not in a team of %s that "
                       "may use this part of the application.", org)
        : apr_psprintf(r->pool, "Your account is not an active member of "
                       "%s. Ask your administrator to assign you to the "
                       "application in your identity provider.", org)));
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, SCIMLOGNO(4003)
                  "%s refused for %s in organization %s: %s", r->uri,
                  as->identity, as->org, scim_access_name(access));
}

/* ---- what the request knows of its member ------------------------------ */

static access_state_t *state_of(request_rec *r)
{
    return ap_get_module_config(r->request_config, &scim_module);
}

/* The identity a location links: ScimLinkIdentity's variable, else the
 * request's user. */
static const char *identity_of(request_rec *r, const scim_dir_conf_t *conf)
{
    if (conf->link_identity) {
        return apr_table_get(r->subprocess_env, conf->link_identity);
    }
    return r->user;
}

static scim_error_t *load_state(request_rec *r, scim_store_t *st,
                                access_state_t *as)
{
    const scim_dir_conf_t *conf = scim_config_of(r);
    scim_seat_member_t seat_member;
    int used = 0;
    scim_error_t *err;

    err = scim_store_access_member(st, as->org, scim_conf_link_attr(conf),
                                   as->identity, &as->member);
    if (err || !as->member) {
        as->access = SCIM_ACCESS_UNKNOWN;
        return err;
    }
    seat_member.active = as->member->active;
    seat_member.seat = as->member->seat;
    if (as->member->active && !as->member->seat && as->seat_limit > 0
        && (err = scim_store_seats_used(st, as->org, &used))) {
        return err;
    }
    as->access = scim_seat_decide(&seat_member, used, as->seat_limit);
    if (scim_access_admits(as->access)) {
        as->groups = as->member->groups;
    }
    return NULL;
}

/* The request's state for the organization of its location, read from
 * the store once per request (several requirements share it).  When *out
 * stays NULL the answer is the returned status (no user yet, mellon's own
 * endpoint, a store failure); otherwise the caller decides from *out. */
static authz_status find_state(request_rec *r, access_state_t **out)
{
    const scim_dir_conf_t *conf = scim_config_of(r);
    access_state_t *as = state_of(r);
    const char *identity;
    ap_dbd_t *dbd = NULL;
    scim_store_t *st = NULL;
    scim_error_t *err;

    *out = NULL;
    if (!r->user) {
        return AUTHZ_DENIED_NO_USER;
    }
    if (!*r->user) {
        /* mod_auth_mellon (and mod_shib) set the empty user for their own
         * endpoints (login, the assertion consumer, ECP), which answer
         * instead of the application: pass them, as valid-user does.  No
         * member is found, linked or handed to a backend. */
        return AUTHZ_GRANTED;
    }
    if (!conf->organization) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, SCIMLOGNO(4004)
                      "Require scim-member/scim-group at %s needs "
                      "ScimOrganization in its section", r->uri);
        return AUTHZ_GENERAL_ERROR;
    }
    identity = identity_of(r, conf);
    if (as && strcmp(as->org, conf->organization) == 0
        && ((!as->identity && !identity)
            || (as->identity && identity
                && strcmp(as->identity, identity) == 0))) {
        *out = as;
        return AUTHZ_GRANTED;
    }
    as = apr_pcalloc(r->pool, sizeof(*as));
    as->org = conf->organization;
    as->identity = identity;
    as->seat_limit = scim_conf_seat_limit(conf);
    as->access = SCIM_ACCESS_UNKNOWN;
    if (identity) {
        err = open_store(r, &dbd, &st);
        if (!err) {
            err = load_state(r, st, as);
        }
        if (!err && as->access == SCIM_ACCESS_NO_SEAT) {
            set_audit(r, st, as);
            err = audit_seat_refusal(st, as);
        }
        close_store(r, dbd);
        if (err) {
            log_store_error(r, err);
            return AUTHZ_GENERAL_ERROR;
        }
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, SCIMLOGNO(4005)
                      "%s: ScimLinkIdentity %s is not set for user %s",
                      r->uri, conf->link_identity, r->user);
    }
    ap_set_module_config(r->request_config, &scim_module, as);
    *out = as;
    return AUTHZ_GRANTED;
}

/* ---- the providers ----------------------------------------------------- */

static authz_status decide(request_rec *r, access_state_t *as,
                           scim_access_t access)
{
    if (scim_access_admits(access)) {
        as->admitted = 1;
        return AUTHZ_GRANTED;
    }
    refuse(r, as, access);
    return AUTHZ_DENIED;
}

static authz_status member_check(request_rec *r, const char *require_line,
                                 const void *parsed)
{
    access_state_t *as;
    authz_status found = find_state(r, &as);

    return as ? decide(r, as, as->access) : found;
}

/* Whether one of the member's groups has one of the names (folded). */
static int in_named_group(const access_state_t *as,
                          const apr_array_header_t *names)
{
    int i, j;

    for (i = 0; as->groups && i < as->groups->nelts; i++) {
        const scim_member_t *g = &APR_ARRAY_IDX(as->groups, i, scim_member_t);

        for (j = 0; j < names->nelts; j++) {
            if (g->display && scim_streq_ci(g->display,
                                            APR_ARRAY_IDX(names, j,
                                                          const char *))) {
                return 1;
            }
        }
    }
    return 0;
}

static authz_status group_check(request_rec *r, const char *require_line,
                                const void *parsed)
{
    access_state_t *as;
    authz_status found = find_state(r, &as);
    scim_access_t access;

    if (!as) {
        return found;
    }
    access = as->access;
    if (scim_access_admits(access) && !in_named_group(as, parsed)) {
        access = SCIM_ACCESS_NOT_IN_GROUP;
    }
    return decide(r, as, access);
}

static const char *member_parse(cmd_parms *cmd, const char *require_line,
                                const void **parsed)
{
    if (require_line && *require_line) {
        return "Require scim-member takes no arguments (use Require "
               "scim-group NAME... for teams)";
    }
    return NULL;
}

/* Require scim-group takes displayNames, quoted when they hold spaces. */
static const char *group_parse(cmd_parms *cmd, const char *require_line,
                               const void **parsed)
{
    apr_array_header_t *names = apr_array_make(cmd->pool, 2,
                                               sizeof(const char *));
    const char *line = require_line;

    while (line && *line) {
        char *name = ap_getword_conf(cmd->pool, &line);

        if (*name) {
            APR_ARRAY_PUSH(names, const char *) = name;
        }
    }
    if (!names->nelts) {
        return "Require scim-group takes one or more group displayNames";
    }
    *parsed = names;
    return NULL;
}

static const authz_provider member_provider = {
    &member_check, &member_parse
};

static const authz_provider group_provider = {
    &group_check, &group_parse
};

/* ---- after admission: the link and the backend's environment --------- */

/* SCIM_GROUPS: displayNames joined by ',', a ',' or '\' inside a name
 * written "\," and "\\". */
static const char *groups_value(apr_pool_t *p, const apr_array_header_t *gs)
{
    apr_array_header_t *parts;
    int i;

    if (!gs || !gs->nelts) {
        return "";
    }
    parts = apr_array_make(p, gs->nelts, sizeof(const char *));
    for (i = 0; i < gs->nelts; i++) {
        const char *name = APR_ARRAY_IDX(gs, i, scim_member_t).display;
        char *out = apr_palloc(p, 2 * strlen(name ? name : "") + 1), *o = out;

        for (; name && *name; name++) {
            if (*name == ',' || *name == '\\') {
                *o++ = '\\';
            }
            *o++ = *name;
        }
        *o = '\0';
        APR_ARRAY_PUSH(parts, const char *) = out;
    }
    return apr_array_pstrcat(p, parts, ',');
}

static void set_backend_env(request_rec *r, const access_state_t *as)
{
    apr_table_t *env = r->subprocess_env;

    apr_table_setn(env, "SCIM_ID", as->member->id);
    apr_table_setn(env, "SCIM_USERNAME", as->member->user_name);
    apr_table_setn(env, "SCIM_EXTERNAL_ID", as->member->external_id);
    apr_table_setn(env, "SCIM_ORGANIZATION", as->org);
    apr_table_setn(env, "SCIM_GROUPS", groups_value(r->pool, as->groups));
}

/* The first admitted request of a member without a seat takes one. */
static int take_seat(request_rec *r, access_state_t *as)
{
    ap_dbd_t *dbd = NULL;
    scim_store_t *st = NULL;
    scim_error_t *err;
    int taken = 0;

    err = open_store(r, &dbd, &st);
    if (!err) {
        set_audit(r, st, as);
        err = scim_store_take_seat(st, as->org, as->member->id,
                                   as->member->user_name, as->seat_limit,
                                   &taken);
    }
    if (!err && !taken) {
        err = audit_seat_refusal(st, as);
    }
    close_store(r, dbd);
    if (err) {
        log_store_error(r, err);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (!taken) {
        /* another sign-in took the last seat first (or the member was
         * deactivated meanwhile) */
        refuse(r, as, as->seat_limit > 0 ? SCIM_ACCESS_NO_SEAT
                                         : SCIM_ACCESS_INACTIVE);
        return HTTP_FORBIDDEN;
    }
    as->member->seat = 1;
    as->access = SCIM_ACCESS_ADMIT;
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, SCIMLOGNO(4006)
                  "%s linked to user %s (%s) of organization %s; it holds "
                  "a seat", as->identity, as->member->id,
                  as->member->user_name, as->org);
    return OK;
}

static int access_fixups(request_rec *r)
{
    access_state_t *as = state_of(r);
    int rv;

    /* An internal redirect (ErrorDocument, DirectoryIndex) may skip
     * authorization: it serves the member the first request admitted. */
    if (!as && r->prev) {
        as = ap_get_module_config(r->prev->request_config, &scim_module);
    }
    if (!as || !as->admitted || !as->member) {
        return DECLINED;
    }
    if (as->access == SCIM_ACCESS_TAKE_SEAT
        && (rv = take_seat(r, as)) != OK) {
        return rv;
    }
    set_backend_env(r, as);
    return DECLINED;
}

void scim_authz_register_hooks(apr_pool_t *p)
{
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "scim-member",
                              AUTHZ_PROVIDER_VERSION, &member_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "scim-group",
                              AUTHZ_PROVIDER_VERSION, &group_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    /* Before mod_rewrite and mod_headers read the environment. */
    ap_hook_fixups(access_fixups, NULL, NULL, APR_HOOK_REALLY_FIRST);
}
