/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* The SCIM protocol operations (RFC 7644 section 3) over the store:
 * routing of a request relative to the SCIM root, resource shaping, lists,
 * search, PATCH, preconditions and discovery.  Apache-independent: the glue
 * authenticates, reads the body and writes out the response.
 *
 * This is the service's public entry.  Its stages: scim_request (decoding
 * of the input), scim_render (the served form of a resource), scim_query
 * (lists and search), scim_discovery, and scim_service.c itself (routing
 * and writes). */

#ifndef SCIM_SERVICE_H
#define SCIM_SERVICE_H

#include <apr_pools.h>
#include <jansson.h>

#include "scim_error.h"
#include "scim_store.h"

typedef struct scim_request {
    apr_pool_t *pool;
    scim_store_t *store;
    const char *org;
    const char *base_url;       /* absolute URL of the SCIM root, no '/' at
                                   the end */
    const char *method;         /* GET (HEAD too), POST, PUT, PATCH, DELETE */
    const char *path;           /* below the root: "/Users/2819c223", "" */
    const char *query;          /* raw query string, or NULL */
    const char *body;           /* request body, or NULL */
    apr_size_t body_len;
    const char *if_match;       /* header values, or NULL */
    const char *if_none_match;
    int max_results;            /* page size limit (ScimMaxResults) */
} scim_request_t;

typedef struct scim_response {
    int status;
    json_t *body;               /* NULL when the response has none; owned
                                   by the request pool */
    const char *body_text;      /* or the body as JSON text already (a
                                   resource served from its stored text),
                                   in the request pool */
    apr_size_t body_len;
    const char *location;       /* Location header (201) */
    const char *etag;           /* ETag header */
    const char *allow;          /* Allow header (405) */
    const scim_error_t *error;  /* the error behind an error body, for
                                   logging its internal detail */
} scim_response_t;

void scim_service_handle(const scim_request_t *req, scim_response_t *resp);

/* Fills resp with err's document. */
void scim_service_error(apr_pool_t *p, scim_response_t *resp,
                        const scim_error_t *err);

#endif /* SCIM_SERVICE_H */
