/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* SCIM schemas (RFC 7643): attribute definitions as static tables
 * (scim_schema_defs.c), input validation, response projection and the
 * discovery documents (scim_schema.c).  Attribute paths are in scim_path.h.
 * Apache-independent: APR and jansson only. */

#ifndef SCIM_SCHEMA_H
#define SCIM_SCHEMA_H

#include <apr_pools.h>
#include <jansson.h>

#include "scim_error.h"

#define SCIM_SCHEMA_USER        "urn:ietf:params:scim:schemas:core:2.0:User"
#define SCIM_SCHEMA_GROUP       "urn:ietf:params:scim:schemas:core:2.0:Group"
#define SCIM_SCHEMA_ENTERPRISE  \
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define SCIM_SCHEMA_MEMBERSHIP  \
    "urn:modscim:schemas:extension:membership:2.0:User"
#define SCIM_SCHEMA_LIST        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
#define SCIM_SCHEMA_PATCHOP     "urn:ietf:params:scim:api:messages:2.0:PatchOp"
#define SCIM_SCHEMA_SEARCH      "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
#define SCIM_SCHEMA_SPC         \
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
#define SCIM_SCHEMA_RESTYPE     "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
#define SCIM_SCHEMA_SCHEMA      "urn:ietf:params:scim:schemas:core:2.0:Schema"

typedef enum {
    SCIM_ATTR_STRING,
    SCIM_ATTR_BOOLEAN,
    SCIM_ATTR_DECIMAL,
    SCIM_ATTR_INTEGER,
    SCIM_ATTR_DATETIME,
    SCIM_ATTR_BINARY,
    SCIM_ATTR_REFERENCE,
    SCIM_ATTR_COMPLEX
} scim_attr_type_t;

typedef enum {
    SCIM_MUT_READWRITE,
    SCIM_MUT_READONLY,
    SCIM_MUT_IMMUTABLE,
    SCIM_MUT_WRITEONLY
} scim_mutability_t;

typedef enum {
    SCIM_RET_DEFAULT,
    SCIM_RET_ALWAYS,
    SCIM_RET_NEVER,
    SCIM_RET_REQUEST
} scim_returned_t;

typedef enum {
    SCIM_UNIQ_NONE,
    SCIM_UNIQ_SERVER,
    SCIM_UNIQ_GLOBAL
} scim_uniqueness_t;

typedef struct scim_attr scim_attr_t;
struct scim_attr {
    const char *name;                   /* canonical spelling; NULL ends a table */
    scim_attr_type_t type;
    int multi_valued;
    int required;
    int case_exact;
    scim_mutability_t mutability;
    scim_returned_t returned;
    scim_uniqueness_t uniqueness;
    const char *description;
    const char *const *canonical_values;  /* NULL-terminated, or NULL */
    const char *const *reference_types;   /* NULL-terminated, or NULL */
    const scim_attr_t *sub_attrs;         /* NULL-name-terminated, or NULL */
};

typedef struct scim_schema {
    const char *id;            /* the schema URN */
    const char *name;
    const char *description;
    const scim_attr_t *attrs;  /* NULL-name-terminated */
} scim_schema_t;

typedef struct scim_resource_type {
    const char *name;          /* "User", "Group" */
    const char *endpoint;      /* "/Users", "/Groups" */
    const char *description;
    const scim_schema_t *core;
    const scim_schema_t *const *extensions;  /* NULL-terminated */
} scim_resource_type_t;

/* The built-in resource types and schemas. */
extern const scim_resource_type_t scim_resource_type_user;
extern const scim_resource_type_t scim_resource_type_group;
extern const scim_schema_t scim_schema_user;
extern const scim_schema_t scim_schema_group;
extern const scim_schema_t scim_schema_enterprise_user;
extern const scim_schema_t scim_schema_membership;
/* Attributes every resource has (id, externalId, meta): RFC 7643 3.1. */
extern const scim_attr_t scim_common_attrs[];

/* Finds an attribute definition by name (case-insensitive) in a NULL-name
 * terminated table; NULL when absent or table is NULL. */
const scim_attr_t *scim_attr_find(const scim_attr_t *table, const char *name);

/* ---- Validation, projection, discovery -------------------------------- */

/* Validates a client-sent resource (POST body, PUT body, or the result of a
 * PATCH) and returns the normalised resource to store (new reference in
 * *out):
 *   - "schemas" must list the core schema URN; every extension key present
 *     must be listed in "schemas" (and vice versa URNs without data are kept);
 *     custom (undeclared) extension URNs keep their data as sent;
 *   - attribute names are rewritten to their canonical spelling; unknown core
 *     attributes are dropped; null values and empty arrays mean "unassigned"
 *     and are dropped;
 *   - values are type-checked (400 invalidValue); the strings "True"/"False"
 *     (any case) are accepted for booleans (Entra ID); a single-valued complex
 *     attribute sent as a one-element array is unwrapped (Entra's manager);
 *     a bare string for a complex attribute with a "value" sub-attribute
 *     becomes {"value": ...};
 *   - required attributes present (400 invalidValue);
 *   - at most one "primary": true per multi-valued attribute (400
 *     invalidValue);
 *   - readOnly attributes (id, meta, groups, the membership extension) are
 *     ignored: the result carries existing's values for them, if any;
 *   - writeOnly attributes (password) are dropped from the result: mod_scim
 *     never stores them;
 *   - immutable attributes: when existing has a value and input a different
 *     one, 400 mutability.
 * existing is NULL on create. */
scim_error_t *scim_schema_check_resource(apr_pool_t *p,
                                         const scim_resource_type_t *rt,
                                         const json_t *input,
                                         const json_t *existing,
                                         json_t **out);

/* Whether the default view (no attributes, no excludedAttributes) shows
 * the top-level member name (len bytes) of a stored rt resource exactly
 * as stored, given that it holds no empty object or array: not for a
 * name (in any case) whose attribute, or one of whose sub-attributes, or
 * an attribute of whose extension, is returned "never" or "request"; not
 * for any name of a resource type other than the built-in ones. */
int scim_schema_shown_as_stored(const scim_resource_type_t *rt,
                                const char *name, size_t len);

/* resource shaped for a response (new reference), honouring the
 * "attributes" and "excludedAttributes" query parameters (comma separated
 * attribute paths, either may be NULL): returned "never" attributes are
 * removed, "always" ones kept (id, schemas, meta... per RFC 7643 7),
 * "request" ones only when asked for.  Unknown paths are ignored.  The
 * objects that hold what is kept are new; the values themselves are
 * shared with resource (a deep copy of every string was a sixth of a
 * GET's instructions): change neither afterwards. */
json_t *scim_schema_project(apr_pool_t *p, const scim_resource_type_t *rt,
                            const json_t *resource, const char *attributes,
                            const char *excluded);

/* The same in two steps, for many resources shaped alike (a list page):
 * the parameters are parsed once, in p, which must outlive the
 * projection; applying it allocates nothing in p for names of ordinary
 * length. */
typedef struct scim_projection scim_projection_t;
scim_projection_t *scim_projection_make(apr_pool_t *p,
                                        const scim_resource_type_t *rt,
                                        const char *attributes,
                                        const char *excluded);
json_t *scim_projection_apply(const scim_projection_t *proj,
                              const json_t *resource);

/* Discovery documents; base_url is the absolute URL of the SCIM root (no
 * trailing slash), used for meta.location. */
json_t *scim_schema_to_json(const scim_schema_t *schema, const char *base_url);
json_t *scim_resource_type_to_json(const scim_resource_type_t *rt,
                                   const char *base_url);

/* All schemas served by /Schemas, NULL-terminated. */
extern const scim_schema_t *const scim_all_schemas[];
/* All resource types served by /ResourceTypes, NULL-terminated. */
extern const scim_resource_type_t *const scim_all_resource_types[];

#endif /* SCIM_SCHEMA_H */
