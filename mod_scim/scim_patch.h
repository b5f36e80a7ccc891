/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* SCIM PATCH (RFC 7644 section 3.5.2) on jansson resources, including the
 * dialects identity providers really send: op names in any case, booleans as
 * "True"/"False" strings, no-path replace with dotted or URN-qualified keys,
 * value-path targets that do not exist yet, remove with a value list. */

#ifndef SCIM_PATCH_H
#define SCIM_PATCH_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

#include "scim_error.h"
#include "scim_filter.h"
#include "scim_schema.h"

/* Changes to a detached multi-valued attribute (a Group's "members", which
 * live in their own table) are not applied to the JSON but handed back in
 * order, so the store touches only the memberships named. */
typedef enum {
    SCIM_DETACHED_ADD,       /* add values (ids already present: no-op) */
    SCIM_DETACHED_REMOVE,    /* remove values, or those matching filter,
                                or all when both are NULL */
    SCIM_DETACHED_REPLACE    /* set to exactly values */
} scim_detached_op_t;

typedef struct scim_detached_change {
    scim_detached_op_t op;
    json_t *values;          /* array of element objects ({"value": id, ...})
                                or NULL; pool-owned */
    scim_filter_t *filter;   /* REMOVE by "members[value eq ...]", else NULL */
} scim_detached_change_t;

/* Applies the PatchOp request document to resource, in place.  The request
 * must be an object with an "Operations" array (and, if "schemas" is given,
 * the PatchOp URN).  Paths resolve against rt.  On error resource may be
 * partly modified: callers patch a copy and discard it.
 *
 * detached_attr names a detached attribute ("members") or is NULL; changes
 * to it are appended to *detached (an array of scim_detached_change_t *),
 * which must then be non-NULL.
 *
 * Errors: 400 invalidSyntax (malformed document or op), invalidPath (path
 * grammar or unknown attribute), noTarget (remove/replace filter matched
 * nothing where RFC 7644 requires a target), mutability (readOnly or
 * immutable target), invalidValue (value of the wrong shape).  readOnly keys
 * inside a no-path value object ("id" sent by Okta) are ignored.  The
 * result is not schema-checked here: callers run scim_schema_check_resource
 * on it. */
scim_error_t *scim_patch_apply(apr_pool_t *p, const scim_resource_type_t *rt,
                               json_t *resource, const json_t *request,
                               const char *detached_attr,
                               apr_array_header_t *detached);

#endif /* SCIM_PATCH_H */
