/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Attribute paths: resolution against a resource type's schemas and
 * lookup in a resource. */

#include <string.h>

#include <apr_strings.h>

#include "scim_path.h"
#include "scim_util.h"

const json_t *scim_attr_path_value(const scim_attr_path_t *path,
                                   const json_t *resource)
{
    const json_t *container = resource;

    if (path->schema_urn) {
        container = scim_json_get_ci(resource, path->schema_urn, NULL);
    }
    if (!path->attr_name) {
        return container;
    }
    return scim_json_get_ci(container, path->attr_name, NULL);
}

const scim_attr_t *scim_attr_path_leaf(const scim_attr_path_t *path)
{
    if (path->sub) {
        return path->sub;
    }
    if (path->sub_name || !path->attr) {
        return NULL;
    }
    if (path->attr->type == SCIM_ATTR_COMPLEX && path->attr->multi_valued) {
        return scim_attr_find(path->attr->sub_attrs, "value");
    }
    return path->attr;
}

static scim_error_t *path_error(apr_pool_t *p, int for_filter,
                                const char *text, const char *why)
{
    return scim_error_make(p, 400,
                           for_filter ? SCIM_TYPE_INVALID_FILTER
                                      : SCIM_TYPE_INVALID_PATH,
                           "%s attribute path '%s'", why, text);
}

static const scim_attr_t schemas_pseudo_attr[] = {
    { "schemas", SCIM_ATTR_REFERENCE, 1, 0, 0, SCIM_MUT_READONLY,
      SCIM_RET_ALWAYS, SCIM_UNIQ_NONE, "The schema URNs of the resource",
      NULL, NULL, NULL },
    { .name = NULL }
};

/* ASCII only: the C library's classes follow the locale. */
static int ascii_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int scim_attr_name_valid(const char *s, apr_size_t len)
{
    apr_size_t i;

    if (len == 4 && strncmp(s, "$ref", 4) == 0) {
        return 1;
    }
    if (len == 0 || !ascii_alpha(s[0])) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if (!ascii_alpha(s[i]) && !(s[i] >= '0' && s[i] <= '9')
            && s[i] != '_' && s[i] != '-') {
            return 0;
        }
    }
    return 1;
}

/* Does text start with urn followed by ':' or end?  Returns the length
 * consumed (without the ':'), or 0. */
static apr_size_t urn_prefix(const char *text, const char *urn)
{
    apr_size_t n = strlen(urn);

    if (strncasecmp(text, urn, n) == 0 && (text[n] == ':' || !text[n])) {
        return n;
    }
    return 0;
}

scim_error_t *scim_attr_path_resolve(apr_pool_t *p,
                                     const scim_resource_type_t *rt,
                                     const char *text, int for_filter,
                                     scim_attr_path_t *out)
{
    const scim_schema_t *schema = rt->core;
    const char *rest = text, *dot;
    const char *attr_name;
    const scim_attr_t *attr = NULL;
    int known_schema = 1;
    apr_size_t n;

    memset(out, 0, sizeof(*out));
    if (!text || !*text) {
        return path_error(p, for_filter, "", "Empty");
    }

    if (strncasecmp(text, "urn:", 4) == 0) {
        const scim_schema_t *const *ext;
        apr_size_t matched = 0;

        n = urn_prefix(text, rt->core->id);
        if (n) {
            matched = n;
        }
        for (ext = rt->extensions; ext && *ext && !matched; ext++) {
            n = urn_prefix(text, (*ext)->id);
            if (n) {
                matched = n;
                schema = *ext;
            }
        }
        if (matched) {
            if (!text[matched]) {
                if (schema == rt->core) {
                    return path_error(p, for_filter, text, "Invalid");
                }
                out->schema_urn = schema->id;
                out->schema = schema;
                return NULL;   /* the whole extension */
            }
            rest = text + matched + 1;
        }
        else {
            /* An undeclared extension: the URN ends at the last ':' before
             * the attribute name. */
            const char *colon = strrchr(text, ':');

            known_schema = 0;
            schema = NULL;
            out->schema_urn = apr_pstrndup(p, text, colon - text);
            rest = colon + 1;
            if (!*rest) {
                return path_error(p, for_filter, text, "Invalid");
            }
        }
        if (schema && schema != rt->core) {
            out->schema_urn = schema->id;
        }
    }

    dot = strchr(rest, '.');
    n = dot ? (apr_size_t)(dot - rest) : strlen(rest);
    if (!scim_attr_name_valid(rest, n)) {
        return path_error(p, for_filter, text, "Invalid");
    }
    attr_name = apr_pstrndup(p, rest, n);
    if (dot) {
        const char *sub = dot + 1;
        if (!scim_attr_name_valid(sub, strlen(sub))) {
            return path_error(p, for_filter, text, "Invalid");
        }
        out->sub_name = apr_pstrdup(p, sub);
    }

    out->schema = schema;
    if (!known_schema) {
        out->attr_name = attr_name;
        return NULL;
    }

    attr = scim_attr_find(schema->attrs, attr_name);
    if (!attr && schema == rt->core) {
        attr = scim_attr_find(scim_common_attrs, attr_name);
    }
    if (!attr && for_filter && text == rest) {
        /* "schemas" is no attribute (RFC 7643 3), yet RFC 7644 3.4.2.2
         * filters on it: schemas eq "urn:...:enterprise:2.0:User". */
        attr = scim_attr_find(schemas_pseudo_attr, attr_name);
    }
    if (!attr && schema == rt->core && text == rest) {
        /* A bare name not in the core schema: accept it when exactly one
         * extension of the resource type declares it. */
        const scim_schema_t *const *ext;
        const scim_attr_t *found = NULL;
        const scim_schema_t *found_in = NULL;

        for (ext = rt->extensions; ext && *ext; ext++) {
            const scim_attr_t *a = scim_attr_find((*ext)->attrs, attr_name);
            if (a) {
                if (found) {
                    return path_error(p, for_filter, text, "Ambiguous");
                }
                found = a;
                found_in = *ext;
            }
        }
        if (found) {
            attr = found;
            out->schema = found_in;
            out->schema_urn = found_in->id;
        }
    }
    if (!attr) {
        return path_error(p, for_filter, text, "Unknown");
    }
    out->attr = attr;
    out->attr_name = attr->name;
    if (out->sub_name) {
        if (attr->type != SCIM_ATTR_COMPLEX) {
            return path_error(p, for_filter, text, "Invalid");
        }
        out->sub = scim_attr_find(attr->sub_attrs, out->sub_name);
        if (!out->sub) {
            return path_error(p, for_filter, text, "Unknown");
        }
        out->sub_name = out->sub->name;
    }
    return NULL;
}
