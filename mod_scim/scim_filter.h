/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* SCIM filters (RFC 7644 section 3.4.2.2): parser to a tree, evaluation on
 * jansson resources, and the value comparison that sorting shares; and
 * PATCH paths (3.5.2), whose "attr[filter]" part is a filter. */

#ifndef SCIM_FILTER_H
#define SCIM_FILTER_H

#include <apr_pools.h>
#include <jansson.h>

#include "scim_error.h"
#include "scim_path.h"
#include "scim_schema.h"

typedef enum {
    SCIM_OP_EQ, SCIM_OP_NE, SCIM_OP_CO, SCIM_OP_SW, SCIM_OP_EW,
    SCIM_OP_GT, SCIM_OP_GE, SCIM_OP_LT, SCIM_OP_LE, SCIM_OP_PR
} scim_compare_op_t;

typedef enum {
    SCIM_FILTER_COMPARE,   /* attr op value, or attr pr */
    SCIM_FILTER_AND,
    SCIM_FILTER_OR,
    SCIM_FILTER_NOT,
    SCIM_FILTER_VALUE_PATH /* attr[filter], optionally followed by
                              .sub op value (Entra's emails[type eq "work"].value eq "x") */
} scim_filter_kind_t;

typedef struct scim_filter scim_filter_t;
struct scim_filter {
    scim_filter_kind_t kind;

    /* COMPARE and VALUE_PATH: the attribute.  Inside a value path's inner
     * filter, paths are relative to the element (sub_name empty, attr_name
     * the sub-attribute as written, definitions resolved against the
     * parent's sub-attributes). */
    scim_attr_path_t path;
    scim_compare_op_t op;      /* COMPARE; VALUE_PATH with a trailing comparison */
    json_t *value;             /* literal: string, number, true, false, null;
                                  NULL for pr.  Owned by the pool (decref'd on
                                  pool cleanup). */

    scim_filter_t *left;       /* AND, OR: operands; NOT: the operand;
                                  VALUE_PATH: the inner filter */
    scim_filter_t *right;

    /* VALUE_PATH only: trailing ".sub op value" (has_tail set). */
    int has_tail;
    const char *tail_sub_name;
    const scim_attr_t *tail_sub;
};

/* Parses a filter.  Syntax errors and unknown attributes give 400
 * invalidFilter with a detail naming the position.  Nesting deeper than
 * SCIM_FILTER_MAX_DEPTH or longer than SCIM_FILTER_MAX_NODES nodes is refused
 * (400 invalidFilter) so hostile input cannot exhaust the stack. */
#define SCIM_FILTER_MAX_DEPTH 64
#define SCIM_FILTER_MAX_NODES 512
scim_error_t *scim_filter_parse(apr_pool_t *p, const scim_resource_type_t *rt,
                                const char *text, scim_filter_t **out);

/* True when resource (stored JSON shape, see scim_path.h) matches. */
int scim_filter_match(const scim_filter_t *f, const json_t *resource);

/* If f requires an element of the multi-valued core attribute attr_name
 * whose sub-attribute sub_name equals a string (attr.sub eq "x",
 * attr[... sub eq "x" ...] or attr[...].sub eq "x", alone or in an "and"
 * chain), that string; otherwise NULL.  A superset of the matches can then
 * be read from an index of those values; the filter still judges them. */
const char *scim_filter_indexed_sub_eq(const scim_filter_t *f,
                                       const char *attr_name,
                                       const char *sub_name);

/* If f is "path eq <string>" for the given core attribute name, or an "and"
 * whose operand (recursively) is, returns that string so the store can use
 * an index; NULL otherwise.  The whole filter must still be evaluated on the
 * candidates. */
const char *scim_filter_indexed_eq(const scim_filter_t *f,
                                   const char *attr_name);

/* Compares two JSON values of an attribute with the given definition
 * (NULL: undeclared, compared case-insensitively for strings):
 * strings with caseExact or not, dateTime as instants, numbers numerically,
 * booleans false < true.  Returns <0, 0, >0; values of different kinds
 * compare by kind so sorting stays total. */
int scim_value_compare(const scim_attr_t *def, const json_t *a,
                       const json_t *b);

/* The value a resource sorts by for sortBy path (RFC 7644 3.4.2.3: for a
 * multi-valued attribute, the primary element's value, else the first);
 * NULL when absent (absent sorts last in ascending order). Borrowed
 * reference. */
const json_t *scim_sort_value(const scim_attr_path_t *path,
                              const json_t *resource);

/* True when one element of a multi-valued complex attribute (an object)
 * matches the inner filter of a value path (paths in it are relative to the
 * element). */
int scim_filter_match_element(const scim_filter_t *inner,
                              const json_t *element);

/* A PATCH path (RFC 7644 3.5.2): attrPath, or valuePath with an optional
 * trailing sub-attribute: "name.givenName", "members[value eq \"2819\"]",
 * "emails[type eq \"work\"].value", "urn:...:enterprise:2.0:User:manager",
 * or a bare extension URN. */
typedef struct scim_patch_path {
    scim_attr_path_t path;        /* the attribute; path.sub_name set for
                                     "name.givenName" (no value filter) */
    scim_filter_t *value_filter;  /* inner filter of "attr[...]", or NULL */
    const char *sub_name;         /* sub-attribute after "]", or NULL */
    const scim_attr_t *sub;       /* its definition, or NULL */
} scim_patch_path_t;

/* Errors are 400 invalidPath. */
scim_error_t *scim_patch_path_parse(apr_pool_t *p,
                                    const scim_resource_type_t *rt,
                                    const char *text, scim_patch_path_t *out);

#endif /* SCIM_FILTER_H */
