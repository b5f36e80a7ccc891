/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_escape.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "scim_request.h"
#include "scim_schema.h"
#include "scim_util.h"

/* ---- query string ------------------------------------------------------- */

/* One name or value of a query string, decoded ('+' is a space), or NULL
 * when it encodes a NUL byte. */
static const char *url_decode(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len + 1);
    apr_size_t written = 0;

    /* Whatever it answers (APR_EINVAL for a '%' that escapes nothing, kept
     * as it is; APR_NOTFOUND for nothing decoded), out is the decoded
     * text; a decoded NUL shows as a string shorter than what was written
     * (written counts the terminating NUL). */
    apr_unescape_url(out, s, len, NULL, NULL, 1, &written);
    return strlen(out) + 1 == written ? out : NULL;
}

scim_error_t *scim_request_parse_query(apr_pool_t *p, const char *query,
                                       apr_table_t **out)
{
    /* Repeated names are found through a hash of their folded spelling:
     * apr_table_setn() would scan the table for each parameter, time
     * quadratic in their number. */
    apr_hash_t *last_value = apr_hash_make(p);
    apr_array_header_t *names = apr_array_make(p, 8, sizeof(const char *));
    apr_table_t *params;
    const char *s = query;
    int i;

    while (s && *s) {
        const char *amp = strchr(s, '&');
        apr_size_t len = amp ? (apr_size_t)(amp - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        const char *name, *value, *folded;

        if (len) {
            name = url_decode(p, s, eq ? (apr_size_t)(eq - s) : len);
            value = eq ? url_decode(p, eq + 1, len - (eq + 1 - s)) : "";
            if (!name || !value) {
                return scim_error_make(p, 400, SCIM_TYPE_INVALID_VALUE,
                                       "Invalid query string encoding");
            }
            folded = scim_fold_case(p, name);
            if (!apr_hash_get(last_value, folded, APR_HASH_KEY_STRING)) {
                APR_ARRAY_PUSH(names, const char *) = name;
            }
            apr_hash_set(last_value, folded, APR_HASH_KEY_STRING, value);
        }
        s = amp ? amp + 1 : NULL;
    }
    params = apr_table_make(p, names->nelts ? names->nelts : 1);
    for (i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);

        apr_table_addn(params, name,
                       apr_hash_get(last_value, scim_fold_case(p, name),
                                    APR_HASH_KEY_STRING));
    }
    *out = params;
    return NULL;
}

/* ---- body --------------------------------------------------------------- */

scim_error_t *scim_request_parse_body(apr_pool_t *p, const char *body,
                                      apr_size_t len, json_t **out)
{
    json_error_t jerr;
    json_t *doc;

    *out = NULL;
    if (!body || len == 0) {
        return scim_error_make(p, 400, SCIM_TYPE_INVALID_SYNTAX,
                               "The request body is empty");
    }
    doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        return scim_error_make(p, 400, SCIM_TYPE_INVALID_SYNTAX,
                               "Malformed JSON at line %d, column %d: %s",
                               jerr.line, jerr.column, jerr.text);
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        return scim_error_make(p, 400, SCIM_TYPE_INVALID_SYNTAX,
                               "The request body must be a JSON object");
    }
    *out = doc;
    return NULL;
}

/* ---- list parameters ---------------------------------------------------- */

static int clamp_int(long long v)
{
    return v > SCIM_REQUEST_INT_LIMIT ? SCIM_REQUEST_INT_LIMIT
         : v < -SCIM_REQUEST_INT_LIMIT ? -SCIM_REQUEST_INT_LIMIT
         : (int)v;
}

static void list_defaults(int max_results, scim_list_params_t *lp)
{
    memset(lp, 0, sizeof(*lp));
    lp->start_index = 1;
    lp->count = max_results;
}

/* RFC 7644 3.4.2.4: startIndex below 1 counts as 1, a negative count as 0;
 * the page never exceeds the configured maximum. */
static void clamp_page(int max_results, scim_list_params_t *lp)
{
    if (lp->start_index < 1) {
        lp->start_index = 1;
    }
    if (lp->count < 0) {
        lp->count = 0;
    }
    if (lp->count > max_results) {
        lp->count = max_results;
    }
}

/* RFC 9865 2: a request pages by cursor or by startIndex, not both. */
static scim_error_t *one_way_to_page(apr_pool_t *p,
                                     const scim_list_params_t *lp,
                                     int has_start_index)
{
    if (lp->cursor && has_start_index) {
        return scim_error_make(p, 400, SCIM_TYPE_INVALID_VALUE,
                               "Use cursor or startIndex to page, not both");
    }
    return NULL;
}

static scim_error_t *parse_sort_order(apr_pool_t *p, const char *text,
                                      scim_list_params_t *lp)
{
    if (strcasecmp(text, "descending") == 0) {
        lp->descending = 1;
    }
    else if (strcasecmp(text, "ascending") != 0) {
        return scim_error_make(p, 400, SCIM_TYPE_INVALID_VALUE,
            "sortOrder must be \"ascending\" or \"descending\"");
    }
    return NULL;
}

/* A decimal integer, as strtol reads it (leading white space allowed,
 * nothing after it); out of range values are clamped. */
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
    *out = clamp_int(v);
    return NULL;
}

scim_error_t *scim_request_list_params(apr_pool_t *p, apr_table_t *query,
                                       int max_results,
                                       scim_list_params_t *lp)
{
    const char *v;
    scim_error_t *err;

    list_defaults(max_results, lp);
    lp->filter = apr_table_get(query, "filter");
    lp->sort_by = apr_table_get(query, "sortBy");
    lp->attributes = apr_table_get(query, "attributes");
    lp->excluded = apr_table_get(query, "excludedAttributes");
    lp->cursor = apr_table_get(query, "cursor");
    if ((err = one_way_to_page(p, lp,
                               apr_table_get(query, "startIndex") != NULL))) {
        return err;
    }
    if ((v = apr_table_get(query, "sortOrder"))
        && (err = parse_sort_order(p, v, lp))) {
        return err;
    }
    if ((v = apr_table_get(query, "startIndex"))
        && (err = parse_int(p, "startIndex", v, &lp->start_index))) {
        return err;
    }
    if ((v = apr_table_get(query, "count"))
        && (err = parse_int(p, "count", v, &lp->count))) {
        return err;
    }
    clamp_page(max_results, lp);
    return NULL;
}

/* "attributes": ["a", "b"] in a SearchRequest becomes "a,b", joined once:
 * joining in a loop would copy the list so far for every name, memory
 * quadratic in its length. */
static scim_error_t *search_attr_list(apr_pool_t *p, const json_t *body,
                                      const char *name, const char **out)
{
    json_t *v = scim_json_get_ci(body, name, NULL), *item;
    apr_array_header_t *names;
    size_t i;

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
    if (json_array_size(v) == 0) {
        return NULL;
    }
    names = apr_array_make(p, (int)json_array_size(v), sizeof(const char *));
    json_array_foreach(v, i, item) {
        if (!json_is_string(item)) {
            return scim_error_make(p, 400, SCIM_TYPE_INVALID_VALUE,
                                   "%s must be an array of strings", name);
        }
        APR_ARRAY_PUSH(names, const char *) = json_string_value(item);
    }
    *out = apr_array_pstrcat(p, names, ',');
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
        *out = clamp_int(json_integer_value(v));
    }
    return NULL;
}

scim_error_t *scim_request_search_params(apr_pool_t *p, const json_t *body,
                                         int max_results,
                                         scim_list_params_t *lp)
{
    const json_t *schemas = json_object_get(body, "schemas");
    const char *order = NULL;
    scim_error_t *err;

    if (schemas && !scim_json_array_has_ci(schemas, SCIM_SCHEMA_SEARCH)) {
        return scim_error_make(p, 400, SCIM_TYPE_INVALID_SYNTAX,
                               "schemas must list " SCIM_SCHEMA_SEARCH);
    }
    list_defaults(max_results, lp);
    if ((err = search_string(p, body, "filter", &lp->filter))
        || (err = search_string(p, body, "sortBy", &lp->sort_by))
        || (err = search_string(p, body, "sortOrder", &order))
        || (err = search_string(p, body, "cursor", &lp->cursor))
        || (err = one_way_to_page(p, lp, scim_json_get_ci(body, "startIndex",
                                                          NULL) != NULL))
        || (err = search_int(p, body, "startIndex", &lp->start_index))
        || (err = search_int(p, body, "count", &lp->count))
        || (err = search_attr_list(p, body, "attributes", &lp->attributes))
        || (err = search_attr_list(p, body, "excludedAttributes",
                                   &lp->excluded))
        || (order && (err = parse_sort_order(p, order, lp)))) {
        return err;
    }
    clamp_page(max_results, lp);
    return NULL;
}

/* ---- entity tags -------------------------------------------------------- */

int scim_request_etag_listed(apr_pool_t *p, const char *header,
                             const char *etag)
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
