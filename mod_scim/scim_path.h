/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Attribute paths (RFC 7644 3.10): resolving "name.givenName" or
 * "urn:...:User:manager.value" against a resource type's schemas, and
 * reading a path's value from a resource.  Filters and PATCH paths
 * (scim_filter.h) are built on these. */

#ifndef SCIM_PATH_H
#define SCIM_PATH_H

#include <apr_pools.h>
#include <jansson.h>

#include "scim_error.h"
#include "scim_schema.h"

/* A resolved attribute path: "name.givenName", "emails.value",
 * "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
 * or a bare extension URN (whole-extension path, attr_name NULL).
 *
 * In the stored JSON a core attribute is resource[attr_name]; an extension
 * attribute is resource[schema_urn][attr_name].  Definitions are NULL when
 * the attribute is not declared (custom extension data the IdP sent); such
 * attributes are treated as caseExact false, readWrite, type from the value. */
typedef struct scim_attr_path {
    const char *schema_urn;     /* JSON key of the extension, NULL for core */
    const scim_schema_t *schema;/* schema the attribute belongs to, or NULL */
    const char *attr_name;      /* canonical when known, else as written */
    const scim_attr_t *attr;    /* definition, or NULL */
    const char *sub_name;       /* sub-attribute, NULL when none */
    const scim_attr_t *sub;     /* definition, or NULL */
} scim_attr_path_t;

/* Parses and resolves an attribute path against a resource type.  Names are
 * matched case-insensitively.  Unknown core attributes are an error
 * (400 invalidPath, or invalidFilter when for_filter is set); attributes under
 * an undeclared extension URN resolve with NULL definitions. */
scim_error_t *scim_attr_path_resolve(apr_pool_t *p,
                                     const scim_resource_type_t *rt,
                                     const char *text, int for_filter,
                                     scim_attr_path_t *out);

/* Is s[0..len) an attribute name: ALPHA *(ALPHA / DIGIT / "_" / "-")
 * (RFC 7643 2.1), or "$ref"? */
int scim_attr_name_valid(const char *s, apr_size_t len);

/* The definition that governs comparison of a path's values: the
 * sub-attribute if any, else the attribute; for a multi-valued complex
 * attribute without sub-attribute, its "value" sub-attribute.  NULL when
 * undeclared. */
const scim_attr_t *scim_attr_path_leaf(const scim_attr_path_t *path);

/* The value a path's attribute has in a resource (or, for a value filter's
 * inner paths, in an element): looked up in the extension's object for
 * extension attributes; the whole extension object for a bare URN.
 * Sub-attributes are not followed.  Borrowed; NULL when absent. */
const json_t *scim_attr_path_value(const scim_attr_path_t *path,
                                   const json_t *resource);

#endif /* SCIM_PATH_H */
