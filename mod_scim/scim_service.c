/* Licensed to the Apache Software Foundation (ASF) under one or more
 * contributor license agreements; and licensed under the Apache License,
 * Version 2.0 (the "License"); you may not use this file except in
 * compliance with the License.  http://www.apache.org/licenses/LICENSE-2.0
 */

#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "scim_filter.h"
#include "scim_patch.h"
#include "scim_path.h"
#include "scim_schema.h"
#include "scim_service.h"
#include "scim_util.h"

/* How a store-backed resource type is served. */
typedef struct endpoint {
    const scim_resource_type_t *rt;
    const char *name_attr;      /* the unique, case-insensitive attribute */
    const char *related;        /* the attribute computed from memberships */
    int related_writable;       /* members: written through the store's
                                   membership rows, not the JSON */
    const char *ref_segment;    /* "Users" / "Groups" in $ref URLs */
} endpoint_t;

static const endpoint_t user_endpoint = {
    &scim_resource_type_user, "userName", "groups", 0, "Users"
};

static const endpoint_t group_endpoint = {
    &scim_resource_type_group, "displayName", "members", 1, "Groups"
};

static const endpoint_t *const endpoints[] = {
    &user_endpoint, &group_endpoint, NULL
};

/* Members listed in one group response.  Larger groups are read page by
 * page with GET /Users?filter=groups.value eq "<group id>". */
#define GROUP_MEMBERS_SHOWN 10000

/* Members listed in one list response of groups, all groups together: a
 * page of many large groups shows fewer members of each (a page of 100
 * groups, 1,000 each), so a response stays bounded. */
#define LIST_MEMBERS_SHOWN 100000

/* Rows read per round trip when a filter has to look at every resource. */
#define SCAN_CHUNK 500

/* A PATCH or PUT racing another writer is retried this often before the
 * client is told (412). */
#define WRITE_ATTEMPTS 3

typedef struct list_params {
    const char *filter;
    int start_index;            /* 1-based */
    int count;
    const char *sort_by;
    int descending;
    const char *attributes;
    const char *excluded;
} list_params_t;

/* ---- responses ---------------------------------------------------------- */

void scim_service_error(apr_pool_t *p, scim_response_t *resp,
                        const scim_error_t *err)
{
    resp->status = err->status;
    resp->body = scim_json_pool_own(p, scim_error_to_json(err));
    resp->error = err;
}

static void respond(apr_pool_t *p, scim_response_t *resp, int status,
                    json_t *body)
{
    resp->status = status;
    resp->body = scim_json_pool_own(p, body);
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

static void not_found(const scim_request_t *req, scim_response_t *resp)
{
    scim_service_error(req->pool, resp,
        scim_error_make(req->pool, 404, NULL, "No such endpoint: %s",
                        req->path));
}

/* ---- request parsing ---------------------------------------------------- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = apr_tolower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* application/x-www-form-urlencoded decoding; NUL bytes are refused since
 * no parameter may carry one. */
static const char *url_decode(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] == '+') {
            *o++ = ' ';
        }
        else if (s[i] == '%' && i + 2 < len && hex_value(s[i + 1]) >= 0
                 && hex_value(s[i + 2]) >= 0) {
            char c = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            if (!c) {
                return NULL;
            }
            *o++ = c;
            i += 2;
        }
        else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

static scim_error_t *parse_query(apr_pool_t *p, const char *query,
                                 apr_table_t **out)
{
    apr_table_t *params = apr_table_make(p, 8);
    const char *s = query;

    while (s && *s) {
        const char *amp = strchr(s, '&');
        apr_size_t len = amp ? (apr_size_t)(amp - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        const char *name, *value;

        if (len) {
            name = url_decode(p, s, eq ? (apr_size_t)(eq - s) : len);
            value = eq ? url_decode(p, eq + 1, len - (eq + 1 - s)) : "";
            if (!name || !value) {
                return scim_error_make(p, 400, SCIM_TYPE_INVALID_VALUE,
                                       "Invalid query string encoding");
            }
            apr_table_setn(params, name, value);
        }
        s = amp ? amp + 1 : NULL;
    }
    *out = params;
    return NULL;
}

/* Query parameter names are matched case-insensitively (apr_table). */
static const char *query_param(apr_table_t *params, const char *name)
{
    return apr_table_get(params, name);
}

static scim_error_t *parse_body(const scim_request_t *req, json_t **out)
{
    json_error_t jerr;
    json_t *doc;

    if (!req->body || req->body_len == 0) {
        return scim_error_make(req->pool, 400, SCIM_TYPE_INVALID_SYNTAX,
                               "The request body is empty");
    }
    doc = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        return scim_error_make(req->pool, 400, SCIM_TYPE_INVALID_SYNTAX,
                               "Malformed JSON at line %d, column %d: %s",
                               jerr.line, jerr.column, jerr.text);
    }
    scim_json_pool_own(req->pool, doc);
    if (!json_is_object(doc)) {
        return scim_error_make(req->pool, 400, SCIM_TYPE_INVALID_SYNTAX,
                               "The request body must be a JSON object");
    }
    *out = doc;
    return NULL;
}

static scim_error_t *parse_int(apr_pool_t *p, const char *name,
                               const char *text, int *out)
{
    char *end;
    long v;

    v = strtol(text, &end, 10);
    if (!*text || *end) {
        return scim_error_make(p, 400, SCIM_TYPE_INVALID_VALUE,
                               "%s must be an integer", name);
    }
    *out = v > 1000000000L ? 1000000000 : v < -1000000000L ? -1000000000
                                                         : (int)v;
    return NULL;
}

/* RFC 7644 3.4.2.4: startIndex below 1 counts as 1, a negative count as 0;
 * the page never exceeds the configured maximum. */
static void clamp_page(const scim_request_t *req, list_params_t *lp)
{
    if (lp->start_index < 1) {
        lp->start_index = 1;
    }
    if (lp->count < 0) {
        lp->count = 0;
    }
    if (lp->count > req->max_results) {
        lp->count = req->max_results;
    }
}

static scim_error_t *list_params_from_query(const scim_request_t *req,
                                            apr_table_t *q,
                                            list_params_t *lp)
{
    const char *v;
    scim_error_t *err;

    memset(lp, 0, sizeof(*lp));
    lp->start_index = 1;
    lp->count = req->max_results;
    lp->filter = query_param(q, "filter");
    lp->sort_by = query_param(q, "sortBy");
    lp->attributes = query_param(q, "attributes");
    lp->excluded = query_param(q, "excludedAttributes");
    if ((v = query_param(q, "sortOrder"))) {
        if (strcasecmp(v, "descending") == 0) {
            lp->descending = 1;
        }
        else if (strcasecmp(v, "ascending") != 0) {
            return scim_error_make(req->pool, 400, SCIM_TYPE_INVALID_VALUE,
                "sortOrder must be \"ascending\" or \"descending\"");
        }
    }
    if ((v = query_param(q, "startIndex"))
        && (err = parse_int(req->pool, "startIndex", v, &lp->start_index))) {
        return err;
    }
    if ((v = query_param(q, "count"))
        && (err = parse_int(req->pool, "count", v, &lp->count))) {
        return err;
    }
    clamp_page(req, lp);
    return NULL;
}

/* "attributes": ["a", "b"] in a SearchRequest becomes "a,b". */
static scim_error_t *search_attr_list(apr_pool_t *p, const json_t *v,
                                      const char *name, const char **out)
{
    const char *joined = NULL;
    size_t i;
    json_t *item;

    if (!v || json_is_null(v)) {
        return NULL;
    }
    if (json_is_string(v)) {
        *out = json_string_value(v);
        return NULL;
    }
    if (!json_is_array(v)) {
        return scim_error_make(p, 400, SCIM_TYPE_INVALID_VALUE,
                               "%s must be an array of strings", name);
    }
    json_array_foreach(v, i, item) {
        if (!json_is_string(item)) {
            return scim_error_make(p, 400, SCIM_TYPE_INVALID_VALUE,
                                   "%s must be an array of strings", name);
        }
        joined = joined ? apr_pstrcat(p, joined, ",", json_string_value(item),
                                      NULL)
                        : json_string_value(item);
    }
    *out = joined;
    return NULL;
}

static scim_error_t *search_string(apr_pool_t *p, const json_t *body,
                                   const char *name, const char **out)
{
    json_t *v = scim_json_get_ci(body, name, NULL);

    if (v && !json_is_null(v)) {
        if (!json_is_string(v)) {
            return scim_error_make(p, 400, SCIM_TYPE_INVALID_VALUE,
                                   "%s must be a string", name);
        }
        *out = json_string_value(v);
    }
    return NULL;
}

static scim_error_t *search_int(apr_pool_t *p, const json_t *body,
                                const char *name, int *out)
{
    json_t *v = scim_json_get_ci(body, name, NULL);

    if (v && !json_is_null(v)) {
        if (!json_is_integer(v)) {
            return scim_error_make(p, 400, SCIM_TYPE_INVALID_VALUE,
                                   "%s must be an integer", name);
        }
        *out = json_integer_value(v) > 1000000000 ? 1000000000
             : json_integer_value(v) < -1000000000 ? -1000000000
             : (int)json_integer_value(v);
    }
    return NULL;
}

static scim_error_t *list_params_from_search(const scim_request_t *req,
                                             const json_t *body,
                                             list_params_t *lp)
{
    apr_pool_t *p = req->pool;
    const char *order = NULL;
    scim_error_t *err;
    json_t *schemas = json_object_get(body, "schemas");

    if (schemas) {
        size_t i;
        json_t *s;
        int found = 0;

        json_array_foreach(schemas, i, s) {
            found |= scim_streq_ci(json_string_value(s), SCIM_SCHEMA_SEARCH);
        }
        if (!found) {
            return scim_error_make(p, 400, SCIM_TYPE_INVALID_SYNTAX,
                                   "schemas must list " SCIM_SCHEMA_SEARCH);
        }
    }
    memset(lp, 0, sizeof(*lp));
    lp->start_index = 1;
    lp->count = req->max_results;
    if ((err = search_string(p, body, "filter", &lp->filter))
        || (err = search_string(p, body, "sortBy", &lp->sort_by))
        || (err = search_string(p, body, "sortOrder", &order))
        || (err = search_int(p, body, "startIndex", &lp->start_index))
        || (err = search_int(p, body, "count", &lp->count))
        || (err = search_attr_list(p, scim_json_get_ci(body, "attributes",
                                                       NULL),
                                   "attributes", &lp->attributes))
        || (err = search_attr_list(p, scim_json_get_ci(body,
                                                       "excludedAttributes",
                                                       NULL),
                                   "excludedAttributes", &lp->excluded))) {
        return err;
    }
    if (order) {
        if (strcasecmp(order, "descending") == 0) {
            lp->descending = 1;
        }
        else if (strcasecmp(order, "ascending") != 0) {
            return scim_error_make(p, 400, SCIM_TYPE_INVALID_VALUE,
                "sortOrder must be \"ascending\" or \"descending\"");
        }
    }
    clamp_page(req, lp);
    return NULL;
}

/* ---- resource shaping ------------------------------------------------- */

static const char *etag_of(apr_pool_t *p, int version)
{
    return apr_psprintf(p, "W/\"%d\"", version);
}

/* Does an If-Match / If-None-Match header name this entity tag?  Weak
 * comparison (RFC 7232 2.3.2): W/ prefixes are ignored on both sides. */
static int etag_listed(apr_pool_t *p, const char *header, const char *etag)
{
    char *list = apr_pstrdup(p, header), *tok, *state = NULL;
    const char *bare = etag[0] == 'W' && etag[1] == '/' ? etag + 2 : etag;

    for (tok = apr_strtok(list, ", \t", &state); tok;
         tok = apr_strtok(NULL, ", \t", &state)) {
        if (strcmp(tok, "*") == 0) {
            return 1;
        }
        if (tok[0] == 'W' && tok[1] == '/') {
            tok += 2;
        }
        if (strcmp(tok, bare) == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *resource_location(const scim_request_t *req,
                                     const endpoint_t *ep, const char *id)
{
    return apr_pstrcat(req->pool, req->base_url, ep->rt->endpoint, "/", id,
                       NULL);
}

static int schemas_list(json_t *schemas, const char *urn)
{
    size_t i;
    json_t *s;

    json_array_foreach(schemas, i, s) {
        if (scim_streq_ci(json_string_value(s), urn)) {
            return 1;
        }
    }
    return 0;
}

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

/* Does the response want the computed attribute (groups / members)?
 * excludedAttributes=members or attributes=displayName mean the
 * memberships are never read. */
static int related_wanted(const endpoint_t *ep, const char *attributes,
                          const char *excluded)
{
    if (excluded && attr_list_names(ep, excluded, ep->related)) {
        return 0;
    }
    return !attributes || attr_list_names(ep, attributes, ep->related);
}

static int filter_mentions(const scim_filter_t *f, const char *attr)
{
    if (!f) {
        return 0;
    }
    switch (f->kind) {
    case SCIM_FILTER_AND:
    case SCIM_FILTER_OR:
        return filter_mentions(f->left, attr) || filter_mentions(f->right, attr);
    case SCIM_FILTER_NOT:
        return filter_mentions(f->left, attr);
    default:
        return !f->path.schema_urn && scim_streq_ci(f->path.attr_name, attr);
    }
}

/* The id in a membership condition "attr.value eq X", "attr eq X" or
 * "attr[value eq X]", else NULL. */
static const char *membership_condition(const scim_filter_t *f,
                                        const char *attr)
{
    if (!f || f->path.schema_urn || !scim_streq_ci(f->path.attr_name, attr)) {
        return NULL;
    }
    if (f->kind == SCIM_FILTER_COMPARE && f->op == SCIM_OP_EQ
        && json_is_string(f->value)
        && (!f->path.sub_name || scim_streq_ci(f->path.sub_name, "value"))) {
        return json_string_value(f->value);
    }
    if (f->kind == SCIM_FILTER_VALUE_PATH && !f->has_tail && f->left
        && f->left->kind == SCIM_FILTER_COMPARE) {
        return scim_filter_indexed_eq(f->left, "value");
    }
    return NULL;
}

/* A membership condition on attr that f requires: f itself or an operand
 * of its top-level "and" chain.  *id gets the member / group id. */
static const scim_filter_t *membership_conjunct(const scim_filter_t *f,
                                                const char *attr,
                                                const char **id)
{
    const scim_filter_t *found;

    if (f && f->kind == SCIM_FILTER_AND) {
        found = membership_conjunct(f->left, attr, id);
        return found ? found : membership_conjunct(f->right, attr, id);
    }
    *id = membership_condition(f, attr);
    return *id ? f : NULL;
}

/* f without one of its required conditions, which an index already
 * answered: what remains to test on the candidates (NULL: nothing). */
static const scim_filter_t *without_conjunct(apr_pool_t *p,
                                             const scim_filter_t *f,
                                             const scim_filter_t *conjunct)
{
    const scim_filter_t *left, *right;
    scim_filter_t *rest;

    if (f == conjunct) {
        return NULL;
    }
    if (f->kind != SCIM_FILTER_AND) {
        return f;
    }
    left = without_conjunct(p, f->left, conjunct);
    right = without_conjunct(p, f->right, conjunct);
    if (!left || !right) {
        return left ? left : right;
    }
    if (left == f->left && right == f->right) {
        return f;
    }
    rest = apr_pmemdup(p, f, sizeof(*f));
    rest->left = (scim_filter_t *)left;
    rest->right = (scim_filter_t *)right;
    return rest;
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
        json_t *entry = json_pack("{s:s,s:s,s:s?,s:s}",
            "value", m->id,
            "$ref", apr_pstrcat(req->pool, req->base_url,
                                is_group ? "/Groups/" : "/Users/", m->id,
                                NULL),
            "display", m->display,
            "type", fixed_type ? fixed_type : m->type);
        json_array_append_new(list, entry);
    }
    return list;
}

/* A user's groups attribute, when it has any. */
static void set_groups(const scim_request_t *req, json_t *user,
                       const apr_array_header_t *groups)
{
    if (groups && groups->nelts) {
        /* only direct memberships are kept */
        json_object_set_new(user, "groups",
                            member_entries(req, groups, "direct"));
    }
}

/* Adds the computed attribute: a user's groups, a group's members. */
static scim_error_t *add_related(const scim_request_t *req,
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
        if (!err) {
            json_object_set_new(res, "members",
                                member_entries(req, members, NULL));
        }
    }
    else {
        apr_hash_t *groups = apr_hash_make(req->pool);

        err = scim_store_groups_of(req->store, req->org, &rec->id, 1, groups);
        if (!err) {
            set_groups(req, res, apr_hash_get(groups, rec->id,
                                              APR_HASH_KEY_STRING));
        }
    }
    return err;
}

/* The full resource as served: stored JSON plus id, meta, for users the
 * read-only membership extension and, when with_related, the computed
 * groups / members.  Filters run on this form too.  Owned by pool p. */
static scim_error_t *full_resource(const scim_request_t *req, apr_pool_t *p,
                                   const endpoint_t *ep,
                                   const scim_record_t *rec, int with_related,
                                   json_t **out)
{
    json_t *res = json_object(), *stored = json_deep_copy(rec->resource);
    json_t *schemas;

    *out = NULL;
    if (!res || !stored) {
        json_decref(res);
        json_decref(stored);
        return scim_error_make(req->pool, 500, NULL,
                               "The resource could not be rendered");
    }
    scim_json_pool_own(p, res);
    /* schemas and id lead, as in the RFC's examples */
    json_object_set(res, "schemas", json_object_get(stored, "schemas"));
    json_object_set_new(res, "id", json_string(rec->id));
    json_object_update(res, stored);
    json_decref(stored);
    schemas = json_object_get(res, "schemas");
    if (!json_is_array(schemas)) {
        schemas = json_pack("[s]", ep->rt->core->id);
        json_object_set_new(res, "schemas", schemas);
    }
    if (ep->rt == &scim_resource_type_user) {
        int active = !json_is_false(json_object_get(res, "active"));
        int linked = rec->state && strcmp(rec->state, "linked") == 0;
        json_t *membership = json_pack("{s:s,s:b}", "state",
                                       linked ? "linked" : "provisioned",
                                       "seat", linked && active);

        if (rec->linked) {
            json_object_set_new(membership, "linked",
                                json_string(rec->linked));
        }
        json_object_set_new(res, SCIM_SCHEMA_MEMBERSHIP, membership);
        if (!schemas_list(schemas, SCIM_SCHEMA_MEMBERSHIP)) {
            json_array_append_new(schemas, json_string(SCIM_SCHEMA_MEMBERSHIP));
        }
    }
    json_object_set_new(res, "meta", json_pack("{s:s,s:s,s:s,s:s,s:s}",
        "resourceType", ep->rt->name,
        "created", rec->created,
        "lastModified", rec->last_modified,
        "location", resource_location(req, ep, rec->id),
        "version", etag_of(req->pool, rec->version)));
    *out = res;
    return with_related ? add_related(req, ep, rec, res, GROUP_MEMBERS_SHOWN)
                        : NULL;
}

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

static void respond_resource(const scim_request_t *req,
                             scim_response_t *resp, int status,
                             const endpoint_t *ep, const scim_record_t *rec,
                             apr_table_t *q)
{
    const char *attributes = q ? query_param(q, "attributes") : NULL;
    const char *excluded = q ? query_param(q, "excludedAttributes") : NULL;
    json_t *full = NULL;
    scim_error_t *err = full_resource(req, req->pool, ep, rec,
                                      related_wanted(ep, attributes,
                                                     excluded), &full);

    if (err) {
        scim_service_error(req->pool, resp, err);
        return;
    }
    resp->status = status;
    resp->body = scim_json_pool_own(req->pool,
        scim_schema_project(req->pool, ep->rt, full, attributes, excluded));
    resp->etag = etag_of(req->pool, rec->version);
    if (status == 201) {
        resp->location = resource_location(req, ep, rec->id);
    }
}

/* ---- create, read, replace, patch, delete ------------------------------- */

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

    if ((err = parse_body(req, &body))
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
    if (ep->rt == &scim_resource_type_user) {
        rec->state = "provisioned";
    }
    if (!rec->id) {
        err = scim_error_make(req->pool, 503, NULL,
                              "No randomness available for an id");
    }
    if (err || (err = scim_store_create(req->store, req->org, rec, ops))) {
        scim_service_error(req->pool, resp, err);
        return;
    }
    respond_resource(req, resp, 201, ep, rec, q);
}

static scim_error_t *load(const scim_request_t *req, const endpoint_t *ep,
                          const char *id, scim_record_t **out)
{
    scim_error_t *err = scim_store_get(req->store, req->org, ep->rt->name,
                                       id, out);
    if (!err && !*out) {
        err = scim_error_make(req->pool, 404, NULL, "%s %s not found",
                              ep->rt->name, id);
    }
    return err;
}

/* If-Match must name the current version; on a write, If-None-Match
 * must not (RFC 7232 3.1, 3.2). */
static scim_error_t *check_if_match(const scim_request_t *req,
                                    const scim_record_t *rec)
{
    const char *etag = etag_of(req->pool, rec->version);

    if (req->if_match && !etag_listed(req->pool, req->if_match, etag)) {
        return scim_error_make(req->pool, 412, NULL,
                               "The resource has changed (now version %s)",
                               etag);
    }
    if (req->if_none_match && strcmp(req->method, "GET") != 0
        && etag_listed(req->pool, req->if_none_match, etag)) {
        return scim_error_make(req->pool, 412, NULL,
                               "If-None-Match matches version %s", etag);
    }
    return NULL;
}

static void handle_get(const scim_request_t *req, scim_response_t *resp,
                       const endpoint_t *ep, const char *id, apr_table_t *q)
{
    scim_record_t *rec = NULL;
    scim_error_t *err = load(req, ep, id, &rec);

    if (!err) {
        err = check_if_match(req, rec);
    }
    if (err) {
        scim_service_error(req->pool, resp, err);
        return;
    }
    if (req->if_none_match
        && etag_listed(req->pool, req->if_none_match,
                       etag_of(req->pool, rec->version))) {
        resp->status = 304;
        resp->etag = etag_of(req->pool, rec->version);
        return;
    }
    respond_resource(req, resp, 200, ep, rec, q);
}

/* The answer to a successful PUT or PATCH.  A group PATCH answers 204
 * (Entra and Okta expect no member list back) unless the request asks for
 * attributes. */
static void respond_modified(const scim_request_t *req, scim_response_t *resp,
                             const endpoint_t *ep, const scim_record_t *rec,
                             apr_table_t *q, int is_patch)
{
    if (is_patch && ep->related_writable && !query_param(q, "attributes")) {
        resp->status = 204;
        resp->etag = etag_of(req->pool, rec->version);
        return;
    }
    respond_resource(req, resp, 200, ep, rec, q);
}

/* PUT and PATCH: read, compute the new resource, write if the version is
 * still the one read; retried when another writer came in between.  Member
 * changes never read or rewrite the other members. */
static void handle_modify(const scim_request_t *req, scim_response_t *resp,
                          const endpoint_t *ep, const char *id,
                          apr_table_t *q, int is_patch)
{
    json_t *body = NULL;
    scim_error_t *err;
    int attempt;

    if ((err = parse_body(req, &body))
        || (!is_patch && ep->related_writable
            && (err = check_member_ids(req, body)))) {
        scim_service_error(req->pool, resp, err);
        return;
    }
    for (attempt = 1; ; attempt++) {
        apr_array_header_t *ops = apr_array_make(req->pool, 4,
                                                 sizeof(scim_member_op_t));
        scim_record_t *old = NULL, *rec;
        json_t *input = body, *resource = NULL;
        int changed;

        if ((err = load(req, ep, id, &old))
            || (err = check_if_match(req, old))) {
            break;
        }
        if (is_patch) {
            apr_array_header_t *detached = apr_array_make(req->pool, 4,
                sizeof(scim_detached_change_t *));

            input = scim_json_pool_own(req->pool,
                                       json_deep_copy(old->resource));
            err = scim_patch_apply(req->pool, ep->rt, input, body,
                                   ep->related_writable ? ep->related : NULL,
                                   detached);
            if (!err && ep->related_writable) {
                err = member_ops_from_patch(req, old->id, detached, ops);
            }
            if (err) {
                break;
            }
        }
        err = scim_schema_check_resource(req->pool, ep->rt, input,
                                         old->resource, &resource);
        if (err) {
            break;
        }
        scim_json_pool_own(req->pool, resource);
        if (ep->related_writable && !is_patch) {
            /* PUT replaces the member list too */
            push_member_op(ops, SCIM_MEMBER_CLEAR, NULL);
            if ((err = take_members(req, resource, ops))) {
                break;
            }
        }
        strip_computed(ep, resource);
        changed = !json_equal(resource, old->resource);
        if (!changed && !ops->nelts) {
            /* Nothing changed: no new version (IdPs resend unchanged
             * attributes on every cycle). */
            respond_modified(req, resp, ep, old, q, is_patch);
            return;
        }
        err = record_from_resource(req, ep, changed ? resource
                                                    : old->resource, &rec);
        if (err) {
            break;
        }
        rec->id = old->id;
        rec->created = old->created;
        rec->last_modified = scim_now(req->pool);
        rec->version = old->version + 1;
        rec->state = old->state;
        rec->linked = old->linked;
        err = scim_store_update(req->store, req->org, rec,
                                changed || req->if_match ? old->version : -1,
                                changed, ops);
        if (!err) {
            respond_modified(req, resp, ep, rec, q, is_patch);
            return;
        }
        if (err->status != 412 || req->if_match || attempt >= WRITE_ATTEMPTS) {
            break;
        }
    }
    scim_service_error(req->pool, resp, err);
}

static void handle_delete(const scim_request_t *req, scim_response_t *resp,
                          const endpoint_t *ep, const char *id)
{
    scim_record_t *rec = NULL;
    scim_error_t *err = NULL;

    if (req->if_match || req->if_none_match) {
        if ((err = load(req, ep, id, &rec))
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

/* ---- lists and search --------------------------------------------------- */

typedef struct match {
    scim_record_t *rec;
    json_t *full;               /* the served form, filters ran on it */
    const json_t *sort_value;
    int seq;                    /* position among the matches */
} match_t;

typedef struct collector {
    const scim_request_t *req;
    const endpoint_t *ep;
    const scim_filter_t *filter;
    const list_params_t *lp;
    int filter_needs_related;   /* filter names groups / members */
    int keep_all;               /* sorting needs every match */
    int total;
    apr_array_header_t *kept;   /* match_t */
    scim_error_t *err;
} collector_t;

/* Considers one candidate, read into scratch pool p; a kept match is
 * copied to the request pool. */
static void collect(collector_t *c, apr_pool_t *p, const scim_record_t *rec)
{
    json_t *full = NULL;
    int position;
    match_t *m;

    if (c->err) {
        return;
    }
    c->err = full_resource(c->req, p, c->ep, rec, c->filter_needs_related,
                           &full);
    if (c->err || (c->filter && !scim_filter_match(c->filter, full))) {
        return;
    }
    position = ++c->total;
    if (!c->keep_all && (position < c->lp->start_index
                         || position >= c->lp->start_index + c->lp->count)) {
        return;
    }
    m = apr_array_push(c->kept);
    m->rec = scim_record_copy(c->req->pool, rec);
    m->full = scim_json_pool_own(c->req->pool, json_incref(full));
    m->sort_value = NULL;
    m->seq = position;
}

static void collect_all(collector_t *c, apr_pool_t *p,
                        const apr_array_header_t *recs)
{
    int i;

    for (i = 0; i < recs->nelts; i++) {
        collect(c, p, APR_ARRAY_IDX(recs, i, scim_record_t *));
    }
}

typedef struct sort_spec {
    const scim_attr_t *def;
    int descending;
} sort_spec_t;

/* Absent values sort last in ascending order (and first descending);
 * ties keep the default order so pages stay stable. */
static int compare_matches(const void *a, const void *b, void *arg)
{
    const match_t *x = a, *y = b;
    const sort_spec_t *spec = arg;
    int cmp;

    if (!x->sort_value || !y->sort_value) {
        cmp = !x->sort_value - !y->sort_value;
    }
    else {
        cmp = scim_value_compare(spec->def, x->sort_value, y->sort_value);
    }
    if (spec->descending) {
        cmp = -cmp;
    }
    return cmp ? cmp : x->seq - y->seq;
}

/* Reads candidates in chunks, each into a scratch pool, so that memory is
 * bounded by the matches kept, not the organization's size.  group_id
 * non-NULL reads that group's user members, else every resource. */
static scim_error_t *scan(collector_t *c, const char *group_id)
{
    const scim_request_t *req = c->req;
    scim_record_t *last = NULL;

    for (;;) {
        apr_pool_t *scratch;
        apr_array_header_t *page;
        scim_error_t *err;
        int more;

        apr_pool_create(&scratch, req->pool);
        page = apr_array_make(scratch, SCAN_CHUNK, sizeof(scim_record_t *));
        err = group_id
            ? scim_store_member_scan_chunk(req->store, scratch, req->org,
                                           group_id, "User",
                                           last ? last->id : NULL,
                                           SCAN_CHUNK, page)
            : scim_store_scan_chunk(req->store, scratch, req->org,
                                    c->ep->rt->name, last, SCAN_CHUNK, page);
        if (!err) {
            collect_all(c, scratch, page);
            err = c->err;
        }
        more = !err && page->nelts == SCAN_CHUNK;
        if (more) {
            /* where the next chunk starts, kept beyond this chunk's pool */
            const scim_record_t *tail = APR_ARRAY_IDX(page, page->nelts - 1,
                                                      scim_record_t *);
            last = apr_pcalloc(req->pool, sizeof(*last));
            last->id = apr_pstrdup(req->pool, tail->id);
            last->created = apr_pstrdup(req->pool, tail->created);
        }
        apr_pool_destroy(scratch);
        if (!more) {
            return err;
        }
    }
}

/* A page read straight from an index: no filter beyond the index's own
 * condition, no sorting.  group_id: a group's user members. */
static scim_error_t *indexed_page(collector_t *c, const char *group_id)
{
    const scim_request_t *req = c->req;
    const list_params_t *lp = c->lp;
    apr_array_header_t *recs = apr_array_make(req->pool, lp->count + 1,
                                              sizeof(scim_record_t *));
    scim_error_t *err;
    int i;

    err = group_id
        ? scim_store_member_records_count(req->store, req->org, group_id,
                                          "User", &c->total)
        : scim_store_count(req->store, req->org, c->ep->rt->name, &c->total);
    if (!err && lp->count > 0) {
        err = group_id
            ? scim_store_member_records(req->store, req->pool, req->org,
                                        group_id, "User",
                                        lp->start_index - 1, lp->count, recs)
            : scim_store_page(req->store, req->pool, req->org,
                              c->ep->rt->name, lp->start_index - 1,
                              lp->count, recs);
    }
    for (i = 0; !err && i < recs->nelts; i++) {
        match_t *m = apr_array_push(c->kept);

        m->rec = APR_ARRAY_IDX(recs, i, scim_record_t *);
        m->sort_value = NULL;
        m->seq = lp->start_index + i;
        err = full_resource(req, req->pool, c->ep, m->rec, 0, &m->full);
    }
    return err;
}

/* Resources of one type matching lp, the page only, as match_t in *out;
 * *total gets the number of all matches.  Lookups by id, name, externalId
 * and membership use an index. */
static scim_error_t *query_resources(const scim_request_t *req,
                                     const endpoint_t *ep,
                                     const scim_filter_t *filter,
                                     const list_params_t *lp,
                                     const scim_attr_path_t *sort_path,
                                     int *total, apr_array_header_t **out)
{
    collector_t c;
    scim_error_t *err = NULL;
    apr_array_header_t *recs = apr_array_make(req->pool, 1,
                                              sizeof(scim_record_t *));
    const scim_filter_t *cond;
    const char *key;

    memset(&c, 0, sizeof(c));
    c.req = req;
    c.ep = ep;
    c.filter = filter;
    c.lp = lp;
    c.filter_needs_related = filter_mentions(filter, ep->related);
    c.keep_all = sort_path != NULL;
    c.kept = apr_array_make(req->pool, lp->count ? lp->count : 1,
                            sizeof(match_t));

    if (filter && (key = scim_filter_indexed_eq(filter, "id"))) {
        scim_record_t *rec = NULL;

        err = scim_store_get(req->store, req->org, ep->rt->name, key, &rec);
        if (!err && rec) {
            collect(&c, req->pool, rec);
        }
    }
    else if (filter && (key = scim_filter_indexed_eq(filter, ep->name_attr))) {
        err = scim_store_find(req->store, req->org, ep->rt->name,
                              SCIM_STORE_BY_NAME, key, recs);
        if (!err) {
            collect_all(&c, req->pool, recs);
        }
    }
    else if (filter && (key = scim_filter_indexed_eq(filter, "externalId"))) {
        err = scim_store_find(req->store, req->org, ep->rt->name,
                              SCIM_STORE_BY_EXTERNAL_ID, key, recs);
        if (!err) {
            collect_all(&c, req->pool, recs);
        }
    }
    else if (filter && (cond = membership_conjunct(filter, ep->related,
                                                   &key))) {
        /* The membership index answers that condition exactly, also for
         * groups too large to list; the rest is tested on its results. */
        c.filter = without_conjunct(req->pool, filter, cond);
        c.filter_needs_related = filter_mentions(c.filter, ep->related);
        if (ep->related_writable) {
            err = scim_store_groups_with_member(req->store, req->org, key,
                                                recs);
            if (!err) {
                collect_all(&c, req->pool, recs);
            }
        }
        else {
            /* groups.value eq "G": a page of G's members straight from
             * the index when nothing else is asked (how large groups are
             * read page by page) */
            err = !c.filter && !sort_path ? indexed_page(&c, key)
                                          : scan(&c, key);
        }
    }
    else if (!filter && !sort_path) {
        err = indexed_page(&c, NULL);
    }
    else {
        err = scan(&c, NULL);
    }
    if (!err) {
        err = c.err;
    }
    if (err) {
        return err;
    }
    if (sort_path) {
        apr_array_header_t *page;
        sort_spec_t spec;
        int i;

        for (i = 0; i < c.kept->nelts; i++) {
            match_t *m = &APR_ARRAY_IDX(c.kept, i, match_t);
            m->sort_value = scim_sort_value(sort_path, m->full);
        }
        spec.def = scim_attr_path_leaf(sort_path);
        spec.descending = lp->descending;
        qsort_r(c.kept->elts, c.kept->nelts, sizeof(match_t), compare_matches,
                &spec);
        page = apr_array_make(req->pool, lp->count ? lp->count : 1,
                              sizeof(match_t));
        for (i = lp->start_index - 1;
             i < c.kept->nelts && i < lp->start_index - 1 + lp->count; i++) {
            *(match_t *)apr_array_push(page) = APR_ARRAY_IDX(c.kept, i,
                                                             match_t);
        }
        c.kept = page;
    }
    *total = c.total;
    *out = c.kept;
    return NULL;
}

/* Appends the page's resources as the response shows them. */
/* The groups of every user of a page that lacks them, in batches. */
static scim_error_t *add_page_groups(const scim_request_t *req,
                                     apr_array_header_t *matches)
{
    apr_array_header_t *ids = apr_array_make(req->pool, matches->nelts,
                                             sizeof(const char *));
    apr_hash_t *groups = apr_hash_make(req->pool);
    scim_error_t *err;
    int i;

    for (i = 0; i < matches->nelts; i++) {
        match_t *m = &APR_ARRAY_IDX(matches, i, match_t);
        if (!json_object_get(m->full, "groups")) {
            APR_ARRAY_PUSH(ids, const char *) = m->rec->id;
        }
    }
    err = scim_store_groups_of(req->store, req->org,
                               (const char *const *)ids->elts, ids->nelts,
                               groups);
    for (i = 0; !err && i < matches->nelts; i++) {
        match_t *m = &APR_ARRAY_IDX(matches, i, match_t);
        if (!json_object_get(m->full, "groups")) {
            set_groups(req, m->full, apr_hash_get(groups, m->rec->id,
                                                  APR_HASH_KEY_STRING));
        }
    }
    return err;
}

static scim_error_t *render_matches(const scim_request_t *req,
                                    const endpoint_t *ep,
                                    const list_params_t *lp,
                                    apr_array_header_t *matches,
                                    json_t *resources)
{
    int with_related = related_wanted(ep, lp->attributes, lp->excluded);
    int members_shown = matches->nelts > LIST_MEMBERS_SHOWN / GROUP_MEMBERS_SHOWN
                        ? LIST_MEMBERS_SHOWN / matches->nelts
                        : GROUP_MEMBERS_SHOWN;
    scim_error_t *err;
    int i;

    if (with_related && !ep->related_writable
        && (err = add_page_groups(req, matches))) {
        return err;
    }
    for (i = 0; i < matches->nelts; i++) {
        match_t *m = &APR_ARRAY_IDX(matches, i, match_t);

        if (with_related && ep->related_writable
            && !json_object_get(m->full, ep->related)
            && (err = add_related(req, ep, m->rec, m->full, members_shown))) {
            return err;
        }
        json_array_append_new(resources,
                              scim_schema_project(req->pool, ep->rt, m->full,
                                                  lp->attributes,
                                                  lp->excluded));
    }
    return NULL;
}

static json_t *list_response(const scim_request_t *req, int total,
                             const list_params_t *lp, json_t *resources)
{
    return json_pack("{s:[s],s:i,s:i,s:i,s:O}", "schemas", SCIM_SCHEMA_LIST,
                     "totalResults", total,
                     "startIndex", lp->start_index,
                     "itemsPerPage", (int)json_array_size(resources),
                     "Resources", resources);
}

static void handle_list(const scim_request_t *req, scim_response_t *resp,
                        const endpoint_t *ep, const list_params_t *lp)
{
    scim_filter_t *filter = NULL;
    scim_attr_path_t sort_path;
    apr_array_header_t *matches = NULL;
    json_t *resources = scim_json_pool_own(req->pool, json_array());
    scim_error_t *err = NULL;
    int total = 0;

    if (lp->filter
        && (err = scim_filter_parse(req->pool, ep->rt, lp->filter, &filter))) {
        scim_service_error(req->pool, resp, err);
        return;
    }
    if (lp->sort_by
        && (err = scim_attr_path_resolve(req->pool, ep->rt, lp->sort_by, 0,
                                         &sort_path))) {
        err->scim_type = SCIM_TYPE_INVALID_VALUE;
        scim_service_error(req->pool, resp, err);
        return;
    }
    err = query_resources(req, ep, filter, lp, lp->sort_by ? &sort_path : NULL,
                          &total, &matches);
    if (!err) {
        err = render_matches(req, ep, lp, matches, resources);
    }
    if (err) {
        scim_service_error(req->pool, resp, err);
        return;
    }
    respond(req->pool, resp, 200, list_response(req, total, lp, resources));
}

/* POST /.search at the root: every resource type the filter can apply to
 * (RFC 7644 3.4.3), one list, users first.  Types whose schema lacks an
 * attribute the filter names are left out; sortBy is not supported across
 * types (400). */
static void handle_root_search(const scim_request_t *req,
                               scim_response_t *resp, const list_params_t *lp)
{
    json_t *resources = scim_json_pool_own(req->pool, json_array());
    scim_error_t *first_err = NULL;
    int total = 0, applicable = 0;
    const endpoint_t *const *ep;

    if (lp->sort_by) {
        scim_service_error(req->pool, resp,
            scim_error_make(req->pool, 400, SCIM_TYPE_INVALID_VALUE,
                            "sortBy is not supported when searching every"
                            " resource type; search /Users or /Groups"));
        return;
    }
    for (ep = endpoints; *ep; ep++) {
        scim_filter_t *filter = NULL;
        apr_array_header_t *matches = NULL;
        list_params_t sub = *lp;
        scim_error_t *err = NULL;
        int n = 0;

        if (lp->filter
            && (err = scim_filter_parse(req->pool, (*ep)->rt, lp->filter,
                                        &filter))) {
            first_err = first_err ? first_err : err;
            continue;
        }
        applicable++;
        /* One page across the types: this type's share of the window. */
        sub.start_index = lp->start_index - total;
        sub.count = lp->count - (int)json_array_size(resources);
        if (sub.start_index < 1) {
            sub.start_index = 1;
        }
        err = query_resources(req, *ep, filter, &sub, NULL, &n, &matches);
        if (!err) {
            err = render_matches(req, *ep, lp, matches, resources);
        }
        if (err) {
            scim_service_error(req->pool, resp, err);
            return;
        }
        total += n;
    }
    if (!applicable && first_err) {
        scim_service_error(req->pool, resp, first_err);
        return;
    }
    respond(req->pool, resp, 200, list_response(req, total, lp, resources));
}

/* ---- discovery ---------------------------------------------------------- */

static json_t *service_provider_config(const scim_request_t *req)
{
    return json_pack(
        "{s:[s],s:s,s:{s:b},s:{s:b,s:i,s:i},s:{s:b,s:i},s:{s:b},"
        "s:{s:b},s:{s:b},s:[{s:s,s:s,s:s,s:s,s:b}],s:{s:s,s:s}}",
        "schemas", SCIM_SCHEMA_SPC,
        "documentationUri", "https://github.com/mod-scim/mod_scim#readme",
        "patch", "supported", 1,
        "bulk", "supported", 0, "maxOperations", 0, "maxPayloadSize", 0,
        "filter", "supported", 1, "maxResults", req->max_results,
        "changePassword", "supported", 0,
        "sort", "supported", 1,
        "etag", "supported", 1,
        "authenticationSchemes",
            "type", "oauthbearertoken",
            "name", "OAuth Bearer Token",
            "description", "A bearer token issued by the administrator"
                           " with the scim-token tool",
            "specUri", "https://www.rfc-editor.org/rfc/rfc6750",
            "primary", 1,
        "meta", "resourceType", "ServiceProviderConfig",
                "location", apr_pstrcat(req->pool, req->base_url,
                                        "/ServiceProviderConfig", NULL));
}

static json_t *discovery_list(json_t *resources)
{
    size_t n = json_array_size(resources);

    return json_pack("{s:[s],s:i,s:i,s:i,s:o}", "schemas", SCIM_SCHEMA_LIST,
                     "totalResults", (int)n, "startIndex", 1,
                     "itemsPerPage", (int)n, "Resources", resources);
}

static void handle_schemas(const scim_request_t *req, scim_response_t *resp,
                           const char *id)
{
    const scim_schema_t *const *s;
    json_t *all = json_array();

    for (s = scim_all_schemas; *s; s++) {
        if (id && strcmp((*s)->id, id) == 0) {
            json_decref(all);
            respond(req->pool, resp, 200,
                    scim_schema_to_json(*s, req->base_url));
            return;
        }
        json_array_append_new(all, scim_schema_to_json(*s, req->base_url));
    }
    if (id) {
        json_decref(all);
        scim_service_error(req->pool, resp,
            scim_error_make(req->pool, 404, NULL, "Schema %s not found", id));
        return;
    }
    respond(req->pool, resp, 200, discovery_list(all));
}

static void handle_resource_types(const scim_request_t *req,
                                  scim_response_t *resp, const char *id)
{
    const scim_resource_type_t *const *t;
    json_t *all = json_array();

    for (t = scim_all_resource_types; *t; t++) {
        if (id && strcmp((*t)->name, id) == 0) {
            json_decref(all);
            respond(req->pool, resp, 200,
                    scim_resource_type_to_json(*t, req->base_url));
            return;
        }
        json_array_append_new(all,
                              scim_resource_type_to_json(*t, req->base_url));
    }
    if (id) {
        json_decref(all);
        scim_service_error(req->pool, resp,
            scim_error_make(req->pool, 404, NULL,
                            "Resource type %s not found", id));
        return;
    }
    respond(req->pool, resp, 200, discovery_list(all));
}

/* ---- routing ------------------------------------------------------------ */

static int is_method(const scim_request_t *req, const char *m)
{
    return strcmp(req->method, m) == 0;
}

static void route_resource_type(const scim_request_t *req,
                                scim_response_t *resp, const endpoint_t *ep,
                                const char *rest, apr_table_t *q)
{
    list_params_t lp;
    scim_error_t *err;

    if (!rest) {
        if (is_method(req, "GET")) {
            if ((err = list_params_from_query(req, q, &lp))) {
                scim_service_error(req->pool, resp, err);
                return;
            }
            handle_list(req, resp, ep, &lp);
        }
        else if (is_method(req, "POST")) {
            handle_create(req, resp, ep, q);
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
        json_t *body = NULL;

        if (!is_method(req, "POST")) {
            method_not_allowed(req, resp, "POST");
            return;
        }
        if ((err = parse_body(req, &body))
            || (err = list_params_from_search(req, body, &lp))) {
            scim_service_error(req->pool, resp, err);
            return;
        }
        handle_list(req, resp, ep, &lp);
        return;
    }
    if (is_method(req, "GET")) {
        handle_get(req, resp, ep, rest, q);
    }
    else if (is_method(req, "PUT")) {
        handle_modify(req, resp, ep, rest, q, 0);
    }
    else if (is_method(req, "PATCH")) {
        handle_modify(req, resp, ep, rest, q, 1);
    }
    else if (is_method(req, "DELETE")) {
        handle_delete(req, resp, ep, rest);
    }
    else {
        method_not_allowed(req, resp, "GET, PUT, PATCH, DELETE");
    }
}

static void route_discovery(const scim_request_t *req, scim_response_t *resp,
                            const char *first, const char *rest)
{
    if (!is_method(req, "GET")) {
        method_not_allowed(req, resp, "GET");
    }
    else if (strcmp(first, "ServiceProviderConfig") == 0) {
        if (rest) {
            not_found(req, resp);
        }
        else {
            respond(req->pool, resp, 200, service_provider_config(req));
        }
    }
    else if (strcmp(first, "Schemas") == 0) {
        handle_schemas(req, resp, rest);
    }
    else {
        handle_resource_types(req, resp, rest);
    }
}

void scim_service_handle(const scim_request_t *req, scim_response_t *resp)
{
    const char *path = req->path ? req->path : "";
    const char *first, *rest = NULL, *slash;
    const endpoint_t *const *ep;
    apr_table_t *q = NULL;
    scim_error_t *err;

    memset(resp, 0, sizeof(*resp));
    if ((err = parse_query(req->pool, req->query, &q))) {
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
    first = slash ? apr_pstrndup(req->pool, path, slash - path) : path;
    if (slash) {
        rest = slash + 1;
        if (!*rest) {
            rest = NULL;    /* "/Users/" is "/Users" */
        }
    }

    for (ep = endpoints; *ep; ep++) {
        if (strcmp(first, (*ep)->rt->endpoint + 1) == 0) {
            route_resource_type(req, resp, *ep, rest, q);
            return;
        }
    }
    if (strcmp(first, ".search") == 0 && !rest) {
        json_t *body = NULL;
        list_params_t lp;

        if (!is_method(req, "POST")) {
            method_not_allowed(req, resp, "POST");
        }
        else if ((err = parse_body(req, &body))
                 || (err = list_params_from_search(req, body, &lp))) {
            scim_service_error(req->pool, resp, err);
        }
        else {
            handle_root_search(req, resp, &lp);
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
