/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Routing of a request to its operation, and the writes: create, replace,
 * patch and delete with their preconditions (scim_store_modify runs a
 * replace or patch again when it lost a race).  Decoding is in
 * scim_request.c, the served form in scim_render.c, lists and search in
 * scim_query.c, the discovery documents in scim_discovery.c. */

#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include "scim_discovery.h"
#include "scim_filter.h"
#include "scim_patch.h"
#include "scim_query.h"
#include "scim_render.h"
#include "scim_request.h"
#include "scim_service.h"

static const endpoint_t user_endpoint = {
    &scim_resource_type_user, "userName", "groups", 0
};

static const endpoint_t group_endpoint = {
    &scim_resource_type_group, "displayName", "members", 1
};

/* In the order a search at the root lists them: users first. */
static const endpoint_t *const endpoints[] = {
    &user_endpoint, &group_endpoint, NULL
};

/* ---- responses and request bodies -------------------------------------- */

void scim_service_error(apr_pool_t *p, scim_response_t *resp,
                        const scim_error_t *err)
{
    resp->status = err->status;
    resp->body = scim_json_pool_own(p, scim_error_to_json(err));
    resp->error = err;
}

static void method_not_allowed(const scim_request_t *req,
                               scim_response_t *resp, const char *allow)
{
    scim_service_error(req->pool, resp,
        scim_error_make(req->pool, 405, NULL,
                        "Method %s is not allowed here; allowed: %s",
                        req->method, allow));
    resp->allow = allow;
}

#define ENDPOINT_LIST "/Users, /Groups, /ServiceProviderConfig, " \
                      "/ResourceTypes, /Schemas"

static void not_found(const scim_request_t *req, scim_response_t *resp)
{
    scim_service_error(req->pool, resp,
        scim_error_make(req->pool, 404, NULL, "No such endpoint: %s (the "
                        "endpoints are " ENDPOINT_LIST ")", req->path));
}

/* The body as a JSON object owned by the request pool. */
static scim_error_t *read_body(const scim_request_t *req, json_t **out)
{
    scim_error_t *err = scim_request_parse_body(req->pool, req->body,
                                                req->body_len, out);

    scim_json_pool_own(req->pool, *out);
    return err;
}

/* The list parameters of a SearchRequest body (POST .search). */
static scim_error_t *read_search(const scim_request_t *req,
                                 scim_list_params_t *lp)
{
    json_t *body = NULL;
    scim_error_t *err = read_body(req, &body);

    return err ? err : scim_request_search_params(req->pool, body,
                                                  req->max_results, lp);
}

/* ---- create, read, replace, patch, delete ------------------------------- */

/* The part of a normalised resource the store keeps: meta and id come
 * from columns, read-only extensions and memberships are computed. */
static void strip_computed(const endpoint_t *ep, json_t *resource)
{
    json_object_del(resource, "id");
    json_object_del(resource, "meta");
    json_object_del(resource, SCIM_SCHEMA_MEMBERSHIP);
    json_object_del(resource, ep->related);
}

static scim_error_t *record_from_resource(const scim_request_t *req,
                                          const endpoint_t *ep,
                                          json_t *resource,
                                          scim_record_t **out)
{
    scim_record_t *rec = apr_pcalloc(req->pool, sizeof(*rec));

    rec->rtype = ep->rt->name;
    rec->name = json_string_value(json_object_get(resource, ep->name_attr));
    rec->external_id = json_string_value(json_object_get(resource,
                                                         "externalId"));
    rec->active = !json_is_false(json_object_get(resource, "active"));
    if (ep->rt == &scim_resource_type_user) {
        const char *display = json_string_value(json_object_get(resource,
                                                               "displayName"));

        rec->display_name = display && *display
                            ? apr_pstrndup(req->pool, display,
                                           SCIM_STORE_MAX_KEY) : NULL;
    }
    rec->resource = resource;
    *out = rec;
    if (rec->name && !rec->name[strspn(rec->name, " \t\r\n")]) {
        return scim_error_make(req->pool, 400, SCIM_TYPE_INVALID_VALUE,
                               "%s must not be blank", ep->name_attr);
    }
    if ((rec->name && strlen(rec->name) > SCIM_STORE_MAX_KEY)
        || (rec->external_id
            && strlen(rec->external_id) > SCIM_STORE_MAX_KEY)) {
        return scim_error_make(req->pool, 400, SCIM_TYPE_INVALID_VALUE,
                               "%s and externalId may be at most %d bytes",
                               ep->name_attr, SCIM_STORE_MAX_KEY);
    }
    return NULL;
}

static void push_member_op(apr_array_header_t *ops, scim_member_op_kind_t kind,
                           const char *id)
{
    scim_member_op_t *op = apr_array_push(ops);

    op->kind = kind;
    op->member_id = id;
}

/* Member values as sent ({"value": id, ...}) become store operations. */
static scim_error_t *push_member_values(const scim_request_t *req,
                                        apr_array_header_t *ops,
                                        scim_member_op_kind_t kind,
                                        const json_t *values)
{
    size_t i;
    json_t *v;

    json_array_foreach(values, i, v) {
        const char *id = json_string_value(scim_json_get_ci(v, "value",
                                                            NULL));
        if (!id || !*id) {
            return scim_error_make(req->pool, 400, SCIM_TYPE_INVALID_VALUE,
                                   "Every member needs a \"value\" with the"
                                   " member's id");
        }
        /* copied: the JSON it came from may be freed before the write */
        push_member_op(ops, kind, apr_pstrdup(req->pool, id));
    }
    return NULL;
}

/* Every member a POST or PUT sends must name its id: one the schema check
 * would drop as empty ({"display": "x"}) is refused, not ignored. */
static scim_error_t *check_member_ids(const scim_request_t *req,
                                      const json_t *body)
{
    json_t *members = scim_json_get_ci(body, "members", NULL), *v;
    size_t i;

    json_array_foreach(members, i, v) {
        const char *id = json_is_string(v) ? json_string_value(v)
            : json_string_value(scim_json_get_ci(v, "value", NULL));
        if (!id || !*id) {
            return scim_error_make(req->pool, 400, SCIM_TYPE_INVALID_VALUE,
                                   "Member %d has no \"value\" with the"
                                   " member's id", (int)i + 1);
        }
    }
    return NULL;
}

/* The members of a validated resource (POST, PUT) leave the JSON and
 * become operations. */
static scim_error_t *take_members(const scim_request_t *req, json_t *resource,
                                  apr_array_header_t *ops)
{
    json_t *members = json_object_get(resource, "members");
    scim_error_t *err = NULL;

    if (json_is_array(members)) {
        err = push_member_values(req, ops, SCIM_MEMBER_ADD, members);
    }
    json_object_del(resource, "members");
    return err;
}

/* Removal by a filter other than value eq: the members are read and the
 * filter runs on each ({value, type, display}). */
static scim_error_t *push_filtered_removals(const scim_request_t *req,
                                            const char *group_id,
                                            const scim_filter_t *filter,
                                            apr_array_header_t *ops)
{
    apr_array_header_t *members = apr_array_make(req->pool, 64,
                                                 sizeof(scim_member_t));
    scim_error_t *err;
    int offset = 0, i;

    do {
        apr_array_clear(members);
        err = scim_store_members(req->store, req->org, group_id, offset,
                                 GROUP_MEMBERS_SHOWN, members);
        for (i = 0; !err && i < members->nelts; i++) {
            const scim_member_t *m = &APR_ARRAY_IDX(members, i,
                                                    scim_member_t);
            json_t *element = json_pack("{s:s,s:s,s:s?}", "value", m->id,
                                        "type", m->type, "display",
                                        m->display);
            if (scim_filter_match_element(filter, element)) {
                push_member_op(ops, SCIM_MEMBER_REMOVE, m->id);
            }
            json_decref(element);
        }
        offset += GROUP_MEMBERS_SHOWN;
    } while (!err && members->nelts == GROUP_MEMBERS_SHOWN);
    return err;
}

/* PATCH operations on members, in order, as store operations. */
static scim_error_t *member_ops_from_patch(const scim_request_t *req,
                                           const char *group_id,
                                           const apr_array_header_t *changes,
                                           apr_array_header_t *ops)
{
    scim_error_t *err = NULL;
    int i;

    for (i = 0; !err && i < changes->nelts; i++) {
        const scim_detached_change_t *c =
            APR_ARRAY_IDX(changes, i, scim_detached_change_t *);

        switch (c->op) {
        case SCIM_DETACHED_ADD:
            err = push_member_values(req, ops, SCIM_MEMBER_ADD, c->values);
            break;
        case SCIM_DETACHED_REPLACE:
            push_member_op(ops, SCIM_MEMBER_CLEAR, NULL);
            err = push_member_values(req, ops, SCIM_MEMBER_ADD, c->values);
            break;
        case SCIM_DETACHED_REMOVE:
            if (c->values) {
                /* Entra: remove with a value list removes exactly those */
                err = push_member_values(req, ops, SCIM_MEMBER_REMOVE,
                                         c->values);
            }
            else if (c->filter) {
                const char *id = scim_filter_indexed_eq(c->filter, "value");
                if (id) {
                    push_member_op(ops, SCIM_MEMBER_REMOVE, id);
                }
                else {
                    err = push_filtered_removals(req, group_id, c->filter,
                                                 ops);
                }
            }
            else {
                push_member_op(ops, SCIM_MEMBER_CLEAR, NULL);
            }
            break;
        }
    }
    return err;
}

static void handle_create(const scim_request_t *req, scim_response_t *resp,
                          const endpoint_t *ep, apr_table_t *q)
{
    json_t *body = NULL, *resource = NULL;
    apr_array_header_t *ops = apr_array_make(req->pool, 4,
                                             sizeof(scim_member_op_t));
    scim_record_t *rec;
    scim_error_t *err;

    if ((err = read_body(req, &body))
        || (ep->related_writable && (err = check_member_ids(req, body)))
        || (err = scim_schema_check_resource(req->pool, ep->rt, body, NULL,
                                             &resource))) {
        scim_service_error(req->pool, resp, err);
        return;
    }
    scim_json_pool_own(req->pool, resource);
    if (ep->related_writable && (err = take_members(req, resource, ops))) {
        scim_service_error(req->pool, resp, err);
        return;
    }
    strip_computed(ep, resource);
    if (ep->rt == &scim_resource_type_user
        && !json_object_get(resource, "active")) {
        /* A user created without "active" is active (what every IdP
         * means by creating it; Okta's tests read it back). */
        json_object_set_new(resource, "active", json_true());
    }
    if ((err = record_from_resource(req, ep, resource, &rec))) {
        scim_service_error(req->pool, resp, err);
        return;
    }
    rec->id = scim_new_id(req->pool);
    rec->created = rec->last_modified = scim_now(req->pool);
    rec->version = 1;
    if (!rec->id) {
        err = scim_error_make(req->pool, 503, NULL,
                              "No randomness available for an id");
    }
    if (err || (err = scim_store_create(req->store, req->org, rec, ops))) {
        scim_service_error(req->pool, resp, err);
        return;
    }
    if (!ep->related_writable) {
        /* A user just created under a new id is in no group: nothing to
         * read.  (Read after the commit, on a page cache the commit made
         * stale, that statement cost 8-30 % of a POST's CPU time.) */
        rec->groups = apr_array_make(req->pool, 1, sizeof(scim_member_t));
    }
    scim_render_respond_resource(req, resp, 201, ep, rec, q);
}

/* Whether an answer about a user shows its groups (they are read with
 * the user then, scim_store_get_user_with_groups). */
static int groups_shown(const endpoint_t *ep, apr_table_t *q)
{
    return ep->rt == &scim_resource_type_user
           && scim_render_related_wanted(ep, apr_table_get(q, "attributes"),
                                         apr_table_get(q,
                                                       "excludedAttributes"));
}

static scim_error_t *no_resource(const scim_request_t *req,
                                const endpoint_t *ep, const char *id)
{
    return scim_error_make(req->pool, 404, NULL, "%s %s not found",
                           ep->rt->name, id);
}

/* The resource id names, as reads asks (scim_store_read).  A user's
 * groups come in the one statement that reads the user, not a second one
 * (and not after a write, whose commit left the page cache stale: 28 % of
 * an Entra PATCH's CPU time).  PUT and PATCH read it the same way inside
 * their write (scim_store_modify). */
static scim_error_t *load(const scim_request_t *req, const endpoint_t *ep,
                          const char *id, int reads, scim_record_t **out)
{
    scim_error_t *err = scim_store_read(req->store, req->org, ep->rt->name,
                                        id, reads, out);

    return !err && !*out ? no_resource(req, ep, id) : err;
}

/* If-Match must name the current version; on a write, If-None-Match
 * must not (RFC 7232 3.1, 3.2). */
static scim_error_t *check_if_match(const scim_request_t *req,
                                    const scim_record_t *rec)
{
    const char *etag = scim_render_etag(req->pool, rec->version);

    if (req->if_match
        && !scim_request_etag_listed(req->pool, req->if_match, etag)) {
        return scim_error_make(req->pool, 412, NULL,
                               "The resource has changed (now version %s)",
                               etag);
    }
    if (req->if_none_match && strcmp(req->method, "GET") != 0
        && scim_request_etag_listed(req->pool, req->if_none_match, etag)) {
        return scim_error_make(req->pool, 412, NULL,
                               "If-None-Match matches version %s", etag);
    }
    return NULL;
}

static void handle_get(const scim_request_t *req, scim_response_t *resp,
                       const endpoint_t *ep, const char *id, apr_table_t *q)
{
    scim_record_t *rec = NULL;
    /* the stored text, which the answer may serve as it is */
    scim_error_t *err = load(req, ep, id,
                             SCIM_READ_STORED_TEXT | SCIM_READ_UNPARSED
                             | (groups_shown(ep, q) ? SCIM_READ_GROUPS : 0),
                             &rec);

    if (!err) {
        err = check_if_match(req, rec);
    }
    if (err) {
        scim_service_error(req->pool, resp, err);
        return;
    }
    if (req->if_none_match
        && scim_request_etag_listed(req->pool, req->if_none_match,
                       scim_render_etag(req->pool, rec->version))) {
        resp->status = 304;
        resp->etag = scim_render_etag(req->pool, rec->version);
        return;
    }
    scim_render_respond_resource(req, resp, 200, ep, rec, q);
}

/* The answer to a successful PUT or PATCH.  A group PATCH answers 204
 * (Entra and Okta expect no member list back) unless the request asks for
 * attributes. */
static void respond_modified(const scim_request_t *req, scim_response_t *resp,
                             const endpoint_t *ep, const scim_record_t *rec,
                             apr_table_t *q, int is_patch)
{
    if (is_patch && ep->related_writable && !apr_table_get(q, "attributes")) {
        resp->status = 204;
        resp->etag = scim_render_etag(req->pool, rec->version);
        return;
    }
    scim_render_respond_resource(req, resp, 200, ep, rec, q);
}

/* A PUT or PATCH in the making (modify_resource). */
typedef struct {
    const scim_request_t *req;
    const endpoint_t *ep;
    json_t *body;
    int is_patch;
} modify_t;

/* The new record from the one stored, old; called by the store inside the
 * write (it reads through st, the write's own connection: in its
 * transaction on SQLite).  Nothing changed: no record, no new version
 * (IdPs resend unchanged attributes on every cycle). */
static scim_error_t *modify_resource(scim_store_t *st,
                                     const scim_record_t *old, void *baton,
                                     scim_store_change_t *out)
{
    const modify_t *m = baton;
    const endpoint_t *ep = m->ep;
    scim_request_t in_write = *m->req;
    const scim_request_t *req = &in_write;
    apr_array_header_t *ops = apr_array_make(req->pool, 4,
                                             sizeof(scim_member_op_t));
    json_t *input = m->body, *resource = NULL;
    scim_record_t *rec;
    scim_error_t *err;
    int changed;

    in_write.store = st;
    if ((err = check_if_match(req, old))) {
        return err;
    }
    if (m->is_patch) {
        apr_array_header_t *detached = apr_array_make(req->pool, 4,
            sizeof(scim_detached_change_t *));

        input = scim_json_pool_own(req->pool, json_deep_copy(old->resource));
        err = scim_patch_apply(req->pool, ep->rt, input, m->body,
                               ep->related_writable ? ep->related : NULL,
                               detached);
        if (!err && ep->related_writable) {
            err = member_ops_from_patch(req, old->id, detached, ops);
        }
        if (err) {
            return err;
        }
    }
    err = scim_schema_check_resource(req->pool, ep->rt, input, old->resource,
                                     &resource);
    if (err) {
        return err;
    }
    scim_json_pool_own(req->pool, resource);
    if (ep->related_writable && !m->is_patch) {
        /* PUT replaces the member list too */
        push_member_op(ops, SCIM_MEMBER_CLEAR, NULL);
        if ((err = take_members(req, resource, ops))) {
            return err;
        }
    }
    strip_computed(ep, resource);
    changed = !json_equal(resource, old->resource);
    if (!changed && !ops->nelts) {
        return NULL;
    }
    err = record_from_resource(req, ep, changed ? resource : old->resource,
                               &rec);
    if (err) {
        return err;
    }
    rec->id = old->id;
    rec->created = old->created;
    rec->last_modified = scim_now(req->pool);
    rec->version = old->version + 1;
    rec->state = old->state;
    rec->linked = old->linked;
    rec->seat = old->seat && rec->active;
    rec->groups = old->groups;
    out->rec = rec;
    out->resource_changed = changed;
    out->expected_version = changed || req->if_match ? old->version : -1;
    out->member_ops = ops;
    return NULL;
}

/* PUT and PATCH: read, compute the new resource, write, all in
 * scim_store_modify.  Member changes never read or rewrite the other
 * members. */
static void handle_modify(const scim_request_t *req, scim_response_t *resp,
                          const endpoint_t *ep, const char *id,
                          apr_table_t *q, int is_patch)
{
    modify_t m = { req, ep, NULL, is_patch };
    scim_store_change_t change;
    scim_record_t *old = NULL;
    scim_error_t *err;

    if ((err = read_body(req, &m.body))
        || (!is_patch && ep->related_writable
            && (err = check_member_ids(req, m.body)))
        || (err = scim_store_modify(req->store, req->org, ep->rt->name, id,
                                    groups_shown(ep, q), modify_resource,
                                    &m, &old, &change))
        || (!old && (err = no_resource(req, ep, id)))) {
        scim_service_error(req->pool, resp, err);
        return;
    }
    respond_modified(req, resp, ep, change.rec ? change.rec : old, q,
                     is_patch);
}

static void handle_delete(const scim_request_t *req, scim_response_t *resp,
                          const endpoint_t *ep, const char *id)
{
    scim_record_t *rec = NULL;
    scim_error_t *err = NULL;

    if (req->if_match || req->if_none_match) {
        if ((err = load(req, ep, id, 0, &rec))
            || (err = check_if_match(req, rec))) {
            scim_service_error(req->pool, resp, err);
            return;
        }
    }
    if ((err = scim_store_delete(req->store, req->org, ep->rt->name, id))) {
        scim_service_error(req->pool, resp, err);
        return;
    }
    resp->status = 204;
}

/* ---- routing ------------------------------------------------------------ */

static int is_method(const scim_request_t *req, const char *m)
{
    return strcmp(req->method, m) == 0;
}

/* A refused write is in the audit trail too, with its status (the
 * store records the writes it makes, inside their transaction). */
static void audit_refused_write(const scim_request_t *req,
                                const scim_response_t *resp,
                                const endpoint_t *ep, const char *id)
{
    const char *name = NULL;

    if (resp->status < 400) {
        return;
    }
    if (!id && req->body) {
        json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
        const char *n = json_string_value(json_object_get(body,
                                                          ep->name_attr));

        name = n ? apr_pstrndup(req->pool, n, SCIM_STORE_MAX_KEY) : NULL;
        json_decref(body);
    }
    scim_store_audit(req->store, req->org, NULL, ep->rt->name, id, name,
                     apr_itoa(req->pool, resp->status));
}

static void route_resource_type(const scim_request_t *req,
                                scim_response_t *resp, const endpoint_t *ep,
                                const char *rest, apr_table_t *q)
{
    scim_list_params_t lp;
    scim_error_t *err;

    if (!rest) {
        if (is_method(req, "GET")) {
            if ((err = scim_request_list_params(req->pool, q,
                                                req->max_results, &lp))) {
                scim_service_error(req->pool, resp, err);
                return;
            }
            scim_query_list(req, resp, ep, &lp);
        }
        else if (is_method(req, "POST")) {
            handle_create(req, resp, ep, q);
            audit_refused_write(req, resp, ep, NULL);
        }
        else {
            method_not_allowed(req, resp, "GET, POST");
        }
        return;
    }
    if (strchr(rest, '/') || !*rest) {
        not_found(req, resp);
        return;
    }
    if (strcmp(rest, ".search") == 0) {
        if (!is_method(req, "POST")) {
            method_not_allowed(req, resp, "POST");
            return;
        }
        if ((err = read_search(req, &lp))) {
            scim_service_error(req->pool, resp, err);
            return;
        }
        scim_query_list(req, resp, ep, &lp);
        return;
    }
    if (is_method(req, "GET")) {
        handle_get(req, resp, ep, rest, q);
    }
    else if (is_method(req, "PUT")) {
        handle_modify(req, resp, ep, rest, q, 0);
        audit_refused_write(req, resp, ep, rest);
    }
    else if (is_method(req, "PATCH")) {
        handle_modify(req, resp, ep, rest, q, 1);
        audit_refused_write(req, resp, ep, rest);
    }
    else if (is_method(req, "DELETE")) {
        handle_delete(req, resp, ep, rest);
        audit_refused_write(req, resp, ep, rest);
    }
    else {
        method_not_allowed(req, resp, "GET, PUT, PATCH, DELETE");
    }
}

static void route_discovery(const scim_request_t *req, scim_response_t *resp,
                            const char *first, const char *rest)
{
    json_t *doc = NULL;
    scim_error_t *err;

    if (!is_method(req, "GET")) {
        method_not_allowed(req, resp, "GET");
        return;
    }
    if (strcmp(first, "ServiceProviderConfig") == 0) {
        if (rest) {
            not_found(req, resp);
            return;
        }
        doc = scim_discovery_service_provider_config(req->pool, req->base_url,
                                                     req->max_results);
        err = NULL;
    }
    else if (strcmp(first, "Schemas") == 0) {
        err = scim_discovery_schemas(req->pool, req->base_url, rest, &doc);
    }
    else {
        err = scim_discovery_resource_types(req->pool, req->base_url, rest,
                                            &doc);
    }
    if (err) {
        scim_service_error(req->pool, resp, err);
        return;
    }
    scim_render_respond(req, resp, 200, doc);
}

/* The base URL itself is no SCIM resource; an administrator (or an IdP
 * set up with a wrong URL) who opens it learns where the resources are. */
static void base_url_hint(const scim_request_t *req, scim_response_t *resp)
{
    const char *b = req->base_url;

    scim_service_error(req->pool, resp,
        scim_error_make(req->pool, 404, NULL, "This is the SCIM base URL of "
                        "organization %s, not a resource: its users are at "
                        "%s/Users, its groups at %s/Groups, and the "
                        "service's description at %s/ServiceProviderConfig,"
                        " %s/ResourceTypes and %s/Schemas", req->org, b, b,
                        b, b, b));
}

/* The endpoint's own spelling when name is one ignoring case (Microsoft's
 * reference tests send "/users"), else name. */
static const char *endpoint_name(const char *name)
{
    static const char *const known[] = {
        "Users", "Groups", ".search", "Me", "Bulk", "ServiceProviderConfig",
        "Schemas", "ResourceTypes", NULL
    };
    const char *const *k;

    for (k = known; *k; k++) {
        if (scim_streq_ci(name, *k)) {
            return *k;
        }
    }
    return name;
}

void scim_service_handle(const scim_request_t *req, scim_response_t *resp)
{
    const char *path = req->path ? req->path : "";
    const char *first, *rest = NULL, *slash;
    const endpoint_t *const *ep;
    apr_table_t *q = NULL;
    scim_error_t *err;

    memset(resp, 0, sizeof(*resp));
    if ((err = scim_request_parse_query(req->pool, req->query, &q))) {
        scim_service_error(req->pool, resp, err);
        return;
    }
    while (*path == '/') {
        path++;
    }
    if (*path && path[strlen(path) - 1] == '/') {
        /* "/Users/{id}/" is "/Users/{id}" */
        path = apr_pstrndup(req->pool, path, strlen(path) - 1);
    }
    slash = strchr(path, '/');
    first = endpoint_name(slash ? apr_pstrndup(req->pool, path, slash - path)
                                : path);
    if (slash) {
        rest = slash + 1;
        if (!*rest) {
            rest = NULL;    /* "/Users/" is "/Users" */
        }
    }

    if (!*first) {
        base_url_hint(req, resp);
        return;
    }
    for (ep = endpoints; *ep; ep++) {
        if (strcmp(first, (*ep)->rt->endpoint + 1) == 0) {
            route_resource_type(req, resp, *ep, rest, q);
            return;
        }
    }
    if (strcmp(first, ".search") == 0 && !rest) {
        scim_list_params_t lp;

        if (!is_method(req, "POST")) {
            method_not_allowed(req, resp, "POST");
        }
        else if ((err = read_search(req, &lp))) {
            scim_service_error(req->pool, resp, err);
        }
        else {
            scim_query_root_search(req, resp, endpoints, &lp);
        }
        return;
    }
    if ((strcmp(first, "Me") == 0 || strcmp(first, "Bulk") == 0) && !rest) {
        /* RFC 7644 3.11 and 3.7: not supported here (ServiceProviderConfig
         * says bulk.supported false) */
        scim_service_error(req->pool, resp,
            scim_error_make(req->pool, 501, NULL, "/%s is not supported by"
                            " this service provider", first));
        return;
    }
    if (strcmp(first, "ServiceProviderConfig") == 0
        || strcmp(first, "Schemas") == 0
        || strcmp(first, "ResourceTypes") == 0) {
        if (rest && strchr(rest, '/')) {
            not_found(req, resp);
            return;
        }
        route_discovery(req, resp, first, rest);
        return;
    }
    not_found(req, resp);
}
