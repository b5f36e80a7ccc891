/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* SetHandler scim-status: per organization its endpoint, its tokens (by
 * fingerprint and label) and when each was last used, members by state,
 * seats, groups, the identity provider's last call and the latest audit
 * events.  The figures are one JSON document (?json serves it as is);
 * the HTML page, in the spirit of mod_status (?refresh=N), is rendered
 * from that document, so the two never disagree.  A location that names
 * an organization shows only that one. */

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>

#include "mod_scim_private.h"
#include "scim_store.h"
#include "scim_version.h"

#define AUDIT_ROWS 20

/* ---- the figures ------------------------------------------------------- */

static json_t *tokens_of(const scim_dir_conf_t *conf, json_t *used)
{
    json_t *list = json_array();
    int i;

    for (i = 0; conf->tokens && i < conf->tokens->nelts; i++) {
        const scim_token_t *t = &APR_ARRAY_IDX(conf->tokens, i, scim_token_t);
        json_t *use = json_object_get(used, t->fingerprint);

        json_array_append_new(list, json_pack("{s:s,s:s?,s:O?,s:O?}",
            "fingerprint", t->fingerprint, "label", t->label,
            "lastUsed", json_object_get(use, "lastUsed"),
            "address", json_object_get(use, "address")));
    }
    return list;
}

static scim_error_t *organization_figures(request_rec *r, scim_store_t *st,
                                          const scim_endpoint_conf_t *ep,
                                          json_t **out)
{
    json_t *figures = NULL;
    int limit = scim_conf_org_seat_limit(ep->organization);
    scim_error_t *err = scim_store_status(st, ep->organization, AUDIT_ROWS,
                                          &figures);

    if (err) {
        return err;
    }
    json_object_set_new(figures, "name", json_string(ep->organization));
    json_object_set_new(figures, "endpoint",
        json_string(ap_construct_url(r->pool, ep->base_path, r)));
    json_object_set_new(figures, "tokens",
                        tokens_of(ep->conf, json_object_get(figures,
                                                            "tokens")));
    json_object_set_new(json_object_get(figures, "seats"), "limit",
                        limit > 0 ? json_integer(limit) : json_null());
    *out = figures;
    return NULL;
}

/* The organizations this location shows: its own, or all of them. */
static json_t *status_document(request_rec *r, scim_store_t *st,
                               scim_error_t **err)
{
    const scim_dir_conf_t *conf = scim_config_of(r);
    const apr_array_header_t *eps = scim_config_endpoints();
    json_t *orgs = json_array();
    int i;

    *err = NULL;
    for (i = 0; eps && i < eps->nelts && !*err; i++) {
        const scim_endpoint_conf_t *ep = &APR_ARRAY_IDX(eps, i,
                                                        scim_endpoint_conf_t);
        json_t *figures = NULL;

        if (conf->organization
            && strcmp(conf->organization, ep->organization) != 0) {
            continue;
        }
        if (!(*err = organization_figures(r, st, ep, &figures))) {
            json_array_append_new(orgs, figures);
        }
    }
    return json_pack("{s:s,s:s,s:o}", "version", SCIM_VERSION,
                     "generated", scim_now(r->pool), "organizations", orgs);
}

/* ---- HTML -------------------------------------------------------------- */

static const char *esc(request_rec *r, const char *s)
{
    return ap_escape_html(r->pool, s ? s : "");
}

static const char *text_of(request_rec *r, const json_t *v)
{
    if (json_is_string(v)) {
        return esc(r, json_string_value(v));
    }
    if (json_is_integer(v)) {
        return apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                            (apr_int64_t)json_integer_value(v));
    }
    return "";
}

/* A value's text, or fallback when there is none ("never"). */
static const char *text_or(request_rec *r, const json_t *v,
                           const char *fallback)
{
    return json_is_string(v) || json_is_integer(v) ? text_of(r, v)
                                                   : fallback;
}

/* A figure in a cell the eye (and a test) can find by id. */
static void figure_row(request_rec *r, const char *org, const char *key,
                       const char *label, const char *value)
{
    ap_rprintf(r, "<tr><th>%s</th><td id=\"%s-%s\">%s</td></tr>\n", label,
               org, key, value);
}

static void html_organization(request_rec *r, const json_t *o)
{
    const char *org = json_string_value(json_object_get(o, "name"));
    const json_t *members = json_object_get(o, "members");
    const json_t *seats = json_object_get(o, "seats");
    const json_t *limit = json_object_get(seats, "limit");
    static const char *const states[][2] = {
        { "total", "Members" }, { "provisioned", "Provisioned (no seat)" },
        { "linked", "Linked, holding a seat" },
        { "waiting", "Linked, waiting for a seat" },
        { "inactive", "Deactivated by the IdP" }
    };
    const json_t *t, *e;
    size_t i;

    org = esc(r, org);
    ap_rprintf(r, "<h2>%s</h2>\n<p>SCIM endpoint: <code>%s</code></p>\n"
               "<table>\n", org,
               text_of(r, json_object_get(o, "endpoint")));
    for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        figure_row(r, org, apr_pstrcat(r->pool, "members-", states[i][0],
                                       NULL), states[i][1],
                   text_of(r, json_object_get(members, states[i][0])));
    }
    figure_row(r, org, "seats-used", "Seats used",
               text_of(r, json_object_get(seats, "used")));
    figure_row(r, org, "seats-limit", "Seat limit",
               text_or(r, limit, "unlimited"));
    figure_row(r, org, "groups", "Groups",
               text_of(r, json_object_get(o, "groups")));
    figure_row(r, org, "last-call", "Last call of the IdP",
               text_or(r, json_object_get(o, "lastIdpCall"), "never"));
    ap_rputs("</table>\n<h3>Tokens</h3>\n<table>\n<tr><th>Fingerprint</th>"
             "<th>Label</th><th>Last used</th><th>From</th></tr>\n", r);
    json_array_foreach(json_object_get(o, "tokens"), i, t) {
        ap_rprintf(r, "<tr><td><code>%s</code></td><td>%s</td><td>%s</td>"
                   "<td>%s</td></tr>\n",
                   text_of(r, json_object_get(t, "fingerprint")),
                   text_of(r, json_object_get(t, "label")),
                   text_or(r, json_object_get(t, "lastUsed"), "never"),
                   text_of(r, json_object_get(t, "address")));
    }
    ap_rputs("</table>\n<h3>Latest events</h3>\n<table>\n<tr><th>When</th>"
             "<th>Event</th><th>By</th><th>From</th><th>Resource</th>"
             "<th>Outcome</th></tr>\n", r);
    json_array_foreach(json_object_get(o, "audit"), i, e) {
        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                   "<td>%s %s</td><td>%s</td></tr>\n",
                   text_of(r, json_object_get(e, "at")),
                   text_of(r, json_object_get(e, "event")),
                   text_of(r, json_object_get(e, "actor")),
                   text_of(r, json_object_get(e, "address")),
                   text_of(r, json_object_get(e, "resourceType")),
                   text_of(r, json_object_get(e, "name")
                              ? json_object_get(e, "name")
                              : json_object_get(e, "id")),
                   text_of(r, json_object_get(e, "outcome")));
    }
    ap_rputs("</table>\n", r);
}

static void send_html(request_rec *r, const json_t *doc, int refresh)
{
    const json_t *o;
    size_t i;

    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_rputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n", r);
    if (refresh > 0) {
        ap_rprintf(r, "<meta http-equiv=\"refresh\" content=\"%d\">\n",
                   refresh);
    }
    ap_rprintf(r, "<title>mod_scim status</title>\n<style>"
               "body{font-family:sans-serif}th{text-align:left;"
               "padding-right:1em}td{padding-right:1em}</style>\n"
               "</head><body>\n<h1>mod_scim %s</h1>\n<p>%s</p>\n",
               SCIM_VERSION, text_of(r, json_object_get(doc, "generated")));
    json_array_foreach(json_object_get(doc, "organizations"), i, o) {
        html_organization(r, o);
    }
    ap_rputs("</body></html>\n", r);
}

/* ---- the handler ------------------------------------------------------- */

static int query_has(const request_rec *r, const char *name,
                     const char **value)
{
    const char *q = r->args, *v;
    apr_size_t n = strlen(name);

    *value = NULL;
    while (q && *q) {
        if (strncmp(q, name, n) == 0 && (q[n] == '\0' || q[n] == '&'
                                         || q[n] == '=')) {
            v = q[n] == '=' ? q + n + 1 : NULL;
            *value = v;
            return 1;
        }
        q = strchr(q, '&');
        q = q ? q + 1 : NULL;
    }
    return 0;
}

int scim_status_handler(request_rec *r)
{
    const char *refresh = NULL;
    scim_store_t *st = NULL;
    scim_error_t *err;
    json_t *doc;

    if (!r->handler || strcmp(r->handler, "scim-status") != 0) {
        return DECLINED;
    }
    r->allowed = (AP_METHOD_BIT << M_GET);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    err = scim_request_store(r, &st);
    doc = err ? NULL : scim_json_pool_own(r->pool,
                                          status_document(r, st, &err));
    if (err) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, SCIMLOGNO(5002)
                      "scim-status: %s%s%s", err->detail,
                      err->internal ? ": " : "",
                      err->internal ? err->internal : "");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (query_has(r, "json", &refresh)) {
        char *text = json_dumps(doc, JSON_INDENT(1));

        ap_set_content_type(r, "application/json");
        if (text) {
            ap_rputs(text, r);
            ap_rputs("\n", r);
            free(text);
        }
        return OK;
    }
    query_has(r, "refresh", &refresh);
    send_html(r, doc, refresh ? atoi(refresh) > 3600 ? 3600
                                : atoi(refresh) : 0);
    return OK;
}
