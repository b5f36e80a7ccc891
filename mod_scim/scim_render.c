/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

#include <string.h>
#include <strings.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "scim_render.h"
#include "scim_seat.h"

const char *scim_render_etag(apr_pool_t *p, int version)
{
    return apr_psprintf(p, "W/\"%d\"", version);
}

const char *scim_render_location(const scim_request_t *req,
                                 const endpoint_t *ep, const char *id)
{
    return apr_pstrcat(req->pool, req->base_url, ep->rt->endpoint, "/", id,
                       NULL);
}

/* ---- the computed attribute (groups / members) -------------------------- */

/* Does a comma-separated attributes list name attr (or one of its
 * sub-attributes), with or without the core schema URN? */
static int attr_list_names(const endpoint_t *ep, const char *list,
                           const char *attr)
{
    const char *item = list;
    apr_size_t urn_len = strlen(ep->rt->core->id), attr_len = strlen(attr);

    while (item && *item) {
        const char *end = strchr(item, ',');
        apr_size_t len = end ? (apr_size_t)(end - item) : strlen(item);

        while (len && apr_isspace(*item)) {
            item++;
            len--;
        }
        if (len > urn_len && strncasecmp(item, ep->rt->core->id, urn_len) == 0
            && item[urn_len] == ':') {
            item += urn_len + 1;
            len -= urn_len + 1;
        }
        while (len && apr_isspace(item[len - 1])) {
            len--;
        }
        if (len >= attr_len && strncasecmp(item, attr, attr_len) == 0
            && (len == attr_len || item[attr_len] == '.')) {
            return 1;
        }
        item = end ? end + 1 : NULL;
    }
    return 0;
}

/* excludedAttributes=members or attributes=displayName mean the
 * memberships are never read. */
int scim_render_related_wanted(const endpoint_t *ep, const char *attributes,
                               const char *excluded)
{
    if (excluded && attr_list_names(ep, excluded, ep->related)) {
        return 0;
    }
    return !attributes || attr_list_names(ep, attributes, ep->related);
}

/* A member (key, string value) of obj, built without json_pack (which
 * parses its format for every object: a tenth of a read's instructions
 * went to the few objects of each rendered resource).  The keys are this
 * file's constants; the value is checked as jansson checks every string. */
static void set_string(json_t *obj, const char *key, const char *value)
{
    json_object_set_new_nocheck(obj, key, scim_json_string(value));
}

static json_t *member_entries(const scim_request_t *req,
                              const apr_array_header_t *members,
                              const char *fixed_type)
{
    json_t *list = json_array();
    int i;

    for (i = 0; i < members->nelts; i++) {
        const scim_member_t *m = &APR_ARRAY_IDX(members, i, scim_member_t);
        int is_group = strcmp(m->type, "Group") == 0;
        json_t *entry = json_object();

        set_string(entry, "value", m->id);
        set_string(entry, "$ref", apr_pstrcat(req->pool, req->base_url,
                   is_group ? "/Groups/" : "/Users/", m->id, NULL));
        if (m->display) {
            set_string(entry, "display", m->display);
        }
        set_string(entry, "type", fixed_type ? fixed_type : m->type);
        json_array_append_new(list, entry);
    }
    return list;
}

void scim_render_set_groups(const scim_request_t *req, json_t *user,
                            const apr_array_header_t *groups)
{
    if (groups && groups->nelts) {
        /* only direct memberships are kept */
        json_object_set_new(user, "groups",
                            member_entries(req, groups, "direct"));
    }
}

scim_error_t *scim_render_add_related(const scim_request_t *req,
                                      const endpoint_t *ep,
                                      const scim_record_t *rec, json_t *res,
                                      int members_shown)
{
    apr_array_header_t *members = apr_array_make(req->pool, 8,
                                                 sizeof(scim_member_t));
    scim_error_t *err;

    if (ep->related_writable) {
        err = scim_store_members(req->store, req->org, rec->id, 0,
                                 members_shown, members);
        if (!err && members->nelts) {
            /* none: no list, as a user without groups has none (an empty
             * one is no value; the default view would leave it out) */
            json_object_set_new(res, "members",
                                member_entries(req, members, NULL));
        }
    }
    else if (rec->groups) {
        scim_render_set_groups(req, res, rec->groups);
        err = NULL;
    }
    else {
        apr_array_header_t *groups;

        err = scim_store_member_groups(req->store, req->org, rec->id,
                                       &groups);
        if (!err) {
            scim_render_set_groups(req, res, groups);
        }
    }
    return err;
}

/* ---- the full resource -------------------------------------------------- */

/* The read-only membership extension of a user, from the record's link
 * state. */
static void add_membership(const scim_record_t *rec, json_t *res)
{
    scim_member_state_t state = scim_state_parse(rec->state);
    json_t *membership = json_object();

    set_string(membership, "state", scim_state_name(state));
    json_object_set_new_nocheck(membership, "seat", json_boolean(rec->seat));

    if (rec->linked && *rec->linked) {
        set_string(membership, "linked", rec->linked);
    }
    json_object_set_new(res, SCIM_SCHEMA_MEMBERSHIP, membership);
}

/* What the server adds after the stored attributes, in the order served:
 * a user's membership extension, meta and, when with_related, the
 * computed groups / members. */
static scim_error_t *add_server_parts(const scim_request_t *req,
                                      const endpoint_t *ep,
                                      const scim_record_t *rec, json_t *res,
                                      int with_related, int members_shown)
{
    json_t *meta = json_object();

    if (ep->rt == &scim_resource_type_user) {
        add_membership(rec, res);
    }
    set_string(meta, "resourceType", ep->rt->name);
    set_string(meta, "created", rec->created);
    set_string(meta, "lastModified", rec->last_modified);
    set_string(meta, "location", scim_render_location(req, ep, rec->id));
    set_string(meta, "version", scim_render_etag(req->pool, rec->version));
    json_object_set_new_nocheck(res, "meta", meta);
    return with_related
        ? scim_render_add_related(req, ep, rec, res, members_shown)
        : NULL;
}

/* The record with its resource parsed: a GET or a walk's page reads the
 * stored text only (SCIM_READ_UNPARSED), parsed here when the text cannot
 * be served as it is. */
static const scim_record_t *parsed(apr_pool_t *p, const scim_record_t *rec)
{
    scim_record_t *copy;

    if (rec->resource) {
        return rec;
    }
    copy = apr_pmemdup(p, rec, sizeof(*rec));
    copy->resource = scim_json_load_stored_object(p, rec->stored_json);
    return copy;
}

scim_error_t *scim_render_full_resource(const scim_request_t *req,
                                        apr_pool_t *p, const endpoint_t *ep,
                                        const scim_record_t *rec,
                                        int with_related, json_t **out)
{
    json_t *res = json_object(), *schemas;

    *out = NULL;
    if (!res) {
        return scim_error_make(req->pool, 500, NULL,
                               "The resource could not be rendered");
    }
    rec = parsed(p, rec);
    schemas = json_copy(json_object_get(rec->resource, "schemas"));
    scim_json_pool_own(p, res);
    /* schemas and id lead, as in the RFC's examples.  The stored values
     * are shared, not copied: only the top level and schemas (a copy of
     * its own, which may gain a URN) change here. */
    json_object_set_new(res, "schemas", schemas);
    json_object_set_new(res, "id", scim_json_string(rec->id));
    json_object_update_missing(res, rec->resource);
    schemas = json_object_get(res, "schemas");
    if (!json_is_array(schemas)) {
        schemas = json_pack("[s]", ep->rt->core->id);
        json_object_set_new(res, "schemas", schemas);
    }
    if (ep->rt == &scim_resource_type_user
        && !scim_json_array_has_ci(schemas, SCIM_SCHEMA_MEMBERSHIP)) {
        json_array_append_new(schemas, json_string(SCIM_SCHEMA_MEMBERSHIP));
    }
    *out = res;
    return add_server_parts(req, ep, rec, res, with_related,
                            GROUP_MEMBERS_SHOWN);
}

/* ---- the stored text served as it is ------------------------------------ */

#define SERVED_MEMBERS_MAX 64

/* Whether the stored member named key (len bytes) is one the full form
 * sets itself (schemas, id, meta, the membership extension, groups /
 * members) or one the default view changes. */
static int set_by_server(const endpoint_t *ep, const char *key, size_t len)
{
#define NAME(s) { s, sizeof(s) - 1 }
    static const struct {
        const char *name;
        size_t len;
    } names[] = {
        NAME("schemas"), NAME("id"), NAME("meta"),
        NAME(SCIM_SCHEMA_MEMBERSHIP),
    };
#undef NAME
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i].len == len && strncasecmp(names[i].name, key, len) == 0) {
            return 1;
        }
    }
    return (strlen(ep->related) == len
            && strncasecmp(ep->related, key, len) == 0)
           || !scim_schema_shown_as_stored(ep->rt, key, len);
}

/* Whether the text of a "schemas" array (without escapes) holds the
 * string urn, ignoring case. */
static int schemas_text_has(const char *text, size_t len, const char *urn)
{
    size_t n = strlen(urn), i;

    for (i = 0; i + n + 2 <= len; i++) {
        if (text[i] == '"' && text[i + n + 1] == '"'
            && strncasecmp(text + i + 1, urn, n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The server's parts of a resource as the full form writes them, after
 * its stored members: taken from full when given, or made anew. */
static scim_error_t *server_parts(const scim_request_t *req,
                                  const endpoint_t *ep,
                                  const scim_record_t *rec,
                                  const json_t *full, int members_shown,
                                  json_t *tail)
{
    const char *names[] = {
        ep->rt == &scim_resource_type_user ? SCIM_SCHEMA_MEMBERSHIP : NULL,
        "meta", ep->related
    };
    json_t *value;
    size_t i;

    if (!full) {
        return add_server_parts(req, ep, rec, tail, 1, members_shown);
    }
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i] && (value = json_object_get(full, names[i]))) {
            json_object_set_nocheck(tail, names[i], value);
        }
    }
    return NULL;
}

/* A response without attributes or excludedAttributes, made from the
 * stored text: the full form and the default view of a stored resource
 * are its stored members in their order after schemas and id, then what
 * the server adds.  Parsing the stored JSON, reshaping it and writing it
 * out again was some 40 % of a GET's instructions (callgrind), so the
 * stored members are copied as they are when the split says that
 * parse-then-dump would give their bytes back (scim_json_split_object)
 * and none is one the server sets or the default view changes; the rest
 * is written as the full form writes it. */
char *scim_render_stored_text(const scim_request_t *req,
                              const endpoint_t *ep, const scim_record_t *rec,
                              const json_t *full, int members_shown,
                              apr_size_t *len, scim_error_t **err)
{
    scim_json_member_t members[SERVED_MEMBERS_MAX];
    const scim_json_member_t *schemas = NULL;
    const char *urn = ep->rt == &scim_resource_type_user
                      ? SCIM_SCHEMA_MEMBERSHIP : NULL;
    json_t *tail;
    char *added, *text, *out;
    size_t added_len, stored_len;
    int n, i;

    *err = NULL;
    if (!rec->stored_json || scim_json_escapes(rec->id)) {
        return NULL;
    }
    stored_len = strlen(rec->stored_json);
    n = scim_json_split_object(rec->stored_json, stored_len, members,
                               SERVED_MEMBERS_MAX);
    for (i = 0; i < n; i++) {
        if (members[i].key_len == 7
            && memcmp(members[i].key, "schemas", 7) == 0) {
            schemas = &members[i];
        }
        else if (set_by_server(ep, members[i].key, members[i].key_len)) {
            return NULL;
        }
    }
    if (!schemas || *schemas->value != '['
        || memchr(schemas->value, '\\', schemas->value_len)) {
        return NULL;
    }
    if (urn && schemas_text_has(schemas->value, schemas->value_len, urn)) {
        urn = NULL;
    }
    tail = scim_json_pool_own(req->pool, json_object());
    if ((*err = server_parts(req, ep, rec, full, members_shown, tail))) {
        return NULL;
    }
    added = scim_json_dump_compact(tail, &added_len);
    if (!added) {
        return NULL;
    }
    /* {"schemas":[...,"urn"],"id":"...",<stored members>,<added members>} */
    text = out = apr_palloc(req->pool, stored_len + added_len
                            + strlen(rec->id) + (urn ? strlen(urn) : 0) + 32);
    out = stpcpy(out, "{\"schemas\":");
    memcpy(out, schemas->value, schemas->value_len - 1);
    out += schemas->value_len - 1;
    if (urn) {
        out = stpcpy(stpcpy(stpcpy(out, ",\""), urn), "\"");
    }
    out = stpcpy(stpcpy(stpcpy(out, "],\"id\":\""), rec->id), "\"");
    for (i = 0; i < n; i++) {
        if (&members[i] != schemas) {
            *out++ = ',';
            memcpy(out, members[i].text, members[i].len);
            out += members[i].len;
        }
    }
    *out++ = ',';
    memcpy(out, added + 1, added_len - 1);      /* past its '{' */
    out += added_len - 1;
    free(added);
    *out = '\0';
    *len = (apr_size_t)(out - text);
    return text;
}

/* ---- responses ---------------------------------------------------------- */

void scim_render_respond(const scim_request_t *req, scim_response_t *resp,
                         int status, json_t *body)
{
    resp->status = status;
    resp->body = scim_json_pool_own(req->pool, body);
}

void scim_render_respond_resource(const scim_request_t *req,
                                  scim_response_t *resp, int status,
                                  const endpoint_t *ep,
                                  const scim_record_t *rec,
                                  apr_table_t *query)
{
    const char *attributes = query ? apr_table_get(query, "attributes")
                                   : NULL;
    const char *excluded = query ? apr_table_get(query, "excludedAttributes")
                                 : NULL;
    json_t *full = NULL;
    scim_error_t *err = NULL;

    if (!attributes && !excluded) {
        resp->body_text = scim_render_stored_text(req, ep, rec, NULL,
                                                  GROUP_MEMBERS_SHOWN,
                                                  &resp->body_len, &err);
    }
    if (!resp->body_text && !err) {
        err = scim_render_full_resource(req, req->pool, ep, rec,
            scim_render_related_wanted(ep, attributes, excluded), &full);
    }
    if (err) {
        scim_service_error(req->pool, resp, err);
        return;
    }
    if (resp->body_text) {
        resp->status = status;
    }
    else {
        scim_render_respond(req, resp, status,
            scim_schema_project(req->pool, ep->rt, full, attributes,
                                excluded));
    }
    resp->etag = scim_render_etag(req->pool, rec->version);
    if (status == 201) {
        resp->location = scim_render_location(req, ep, rec->id);
    }
}

/* ---- lists -------------------------------------------------------------- */

int scim_render_push_json(const scim_request_t *req,
                          apr_array_header_t *texts, const json_t *value)
{
    size_t len;
    char *text = scim_json_dump_compact(value, &len);
    scim_render_text_t *t;

    if (!text) {
        return 0;
    }
    t = apr_array_push(texts);
    t->text = apr_pmemdup(req->pool, text, len + 1);
    t->len = len;
    free(text);
    return 1;
}

/* The list response is written directly: building its few members as
 * jansson values (json_pack) cost more than a lookup's resource. */
void scim_render_respond_list(const scim_request_t *req,
                              scim_response_t *resp, int total,
                              int start_index, const char *next_cursor,
                              const apr_array_header_t *texts)
{
    json_t *cursor = NULL;
    char *cursor_text = NULL, *head, *out;
    size_t head_len, cursor_len = 0, total_len;
    int i;

    if (next_cursor) {
        cursor = json_string(next_cursor);
        cursor_text = scim_json_dump_compact(cursor, &cursor_len);
        json_decref(cursor);
        if (!cursor_text) {
            scim_service_error(req->pool, resp, scim_error_make(req->pool,
                               500, NULL, "The list could not be written"));
            return;
        }
    }
    head = apr_psprintf(req->pool,
                        "{\"schemas\":[\"" SCIM_SCHEMA_LIST "\"],"
                        "\"itemsPerPage\":%d%s%s%s%s%s%s,\"Resources\":[",
                        texts->nelts,
                        total >= 0 ? ",\"totalResults\":" : "",
                        total >= 0 ? apr_itoa(req->pool, total) : "",
                        start_index > 0 ? ",\"startIndex\":" : "",
                        start_index > 0 ? apr_itoa(req->pool, start_index)
                                        : "",
                        cursor_text ? ",\"nextCursor\":" : "",
                        cursor_text ? cursor_text : "");
    free(cursor_text);
    head_len = strlen(head);
    total_len = head_len + 2;
    for (i = 0; i < texts->nelts; i++) {
        total_len += APR_ARRAY_IDX(texts, i, scim_render_text_t).len + 1;
    }
    resp->body_text = out = apr_palloc(req->pool, total_len + 1);
    memcpy(out, head, head_len);
    out += head_len;
    for (i = 0; i < texts->nelts; i++) {
        const scim_render_text_t *t = &APR_ARRAY_IDX(texts, i,
                                                     scim_render_text_t);

        if (i) {
            *out++ = ',';
        }
        memcpy(out, t->text, t->len);
        out += t->len;
    }
    *out++ = ']';
    *out++ = '}';
    *out = '\0';
    resp->body_len = (apr_size_t)(out - resp->body_text);
    resp->status = 200;
}
