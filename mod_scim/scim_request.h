/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Decoding of what a SCIM request carries from the network: the query
 * string, the JSON body, the list parameters of a GET or a SearchRequest
 * (RFC 7644 3.4.2, 3.4.3) and the entity tags of If-Match and
 * If-None-Match.  Every function takes untrusted text and answers a
 * 400 error for what it cannot accept.  APR and jansson only. */

#ifndef SCIM_REQUEST_H
#define SCIM_REQUEST_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

#include "scim_error.h"

/* Values above this (and below its negative) are taken as this: a page
 * never gets near it and an int holds it. */
#define SCIM_REQUEST_INT_LIMIT 1000000000

/* The parameters of a list or search request. */
typedef struct scim_list_params {
    const char *filter;         /* NULL when absent (also below) */
    int start_index;            /* 1-based */
    int count;
    const char *sort_by;
    int descending;
    const char *attributes;     /* comma-separated attribute paths */
    const char *excluded;
    const char *cursor;         /* RFC 9865: NULL when absent (index
                                   pagination), "" for a first page */
} scim_list_params_t;

/* A query string (application/x-www-form-urlencoded, without the '?'; NULL
 * is an empty one) as a table in p of decoded names and values.  Names are
 * looked up case-insensitively (apr_table_get); of a repeated name the last
 * value counts.  A '%' not followed by two hex digits stays as it is; an
 * encoded NUL byte is refused (no parameter may carry one). */
scim_error_t *scim_request_parse_query(apr_pool_t *p, const char *query,
                                       apr_table_t **out);

/* A request body that must be one JSON object, with no duplicate member
 * names.  *out is a new reference the caller owns; NULL on error. */
scim_error_t *scim_request_parse_body(apr_pool_t *p, const char *body,
                                      apr_size_t len, json_t **out);

/* The list parameters of GET /Users and GET /Groups from the parsed query.
 * startIndex below 1 counts as 1 and a negative count as 0 (RFC 7644
 * 3.4.2.4); count defaults to max_results and never exceeds it.  cursor
 * (RFC 9865) and startIndex name two ways to page: both is a 400. */
scim_error_t *scim_request_list_params(apr_pool_t *p, apr_table_t *query,
                                       int max_results,
                                       scim_list_params_t *out);

/* The same from a SearchRequest body (POST .search): members named
 * case-insensitively, "attributes" and "excludedAttributes" as arrays of
 * strings (or one string), "schemas", when present, listing the
 * SearchRequest URN. */
scim_error_t *scim_request_search_params(apr_pool_t *p, const json_t *body,
                                         int max_results,
                                         scim_list_params_t *out);

/* Does an If-Match / If-None-Match header value name etag, or "*"?  Weak
 * comparison (RFC 7232 2.3.2): W/ prefixes are ignored on both sides. */
int scim_request_etag_listed(apr_pool_t *p, const char *header,
                             const char *etag);

#endif /* SCIM_REQUEST_H */
