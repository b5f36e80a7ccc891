/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* SCIM error documents (RFC 7644 section 3.12).  Core functions report a
 * failure by returning a scim_error_t (NULL means success); the glue turns
 * it into an HTTP response. */

#ifndef SCIM_ERROR_H
#define SCIM_ERROR_H

#include <apr_pools.h>
#include <jansson.h>

/* The scimType values of RFC 7644 table 9, kept as strings so they go into
 * the document unchanged. */
#define SCIM_TYPE_INVALID_FILTER  "invalidFilter"
#define SCIM_TYPE_TOO_MANY        "tooMany"
#define SCIM_TYPE_UNIQUENESS      "uniqueness"
#define SCIM_TYPE_MUTABILITY      "mutability"
#define SCIM_TYPE_INVALID_SYNTAX  "invalidSyntax"
#define SCIM_TYPE_INVALID_PATH    "invalidPath"
#define SCIM_TYPE_NO_TARGET       "noTarget"
#define SCIM_TYPE_INVALID_VALUE   "invalidValue"
#define SCIM_TYPE_INVALID_VERS    "invalidVers"
#define SCIM_TYPE_SENSITIVE       "sensitive"
/* RFC 9865 2.1 */
#define SCIM_TYPE_INVALID_CURSOR  "invalidCursor"

#define SCIM_SCHEMA_ERROR "urn:ietf:params:scim:api:messages:2.0:Error"

typedef struct scim_error {
    int status;              /* HTTP status code, e.g. 400 */
    const char *scim_type;   /* one of SCIM_TYPE_*, or NULL */
    const char *detail;      /* human readable, never NULL */
    const char *internal;    /* for the error log only (database messages);
                                never sent to the client; may be NULL */
    int retry_after;         /* seconds for a Retry-After header, 0: none */
    int critical;            /* log at crit: the operator must act */
} scim_error_t;

/* Allocates an error in pool p; detail is printf-formatted. */
scim_error_t *scim_error_make(apr_pool_t *p, int status,
                              const char *scim_type,
                              const char *detail_fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The error as a SCIM Error document (new reference). */
json_t *scim_error_to_json(const scim_error_t *err);

#endif /* SCIM_ERROR_H */
