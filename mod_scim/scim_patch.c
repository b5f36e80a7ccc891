/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* SCIM PATCH (RFC 7644 section 3.5.2) on resources in their stored JSON
 * shape: core attributes at the top level, extension attributes under
 * resource[schema URN].  Every operation is reduced to a target (attribute,
 * optional value filter, optional sub-attribute) and applied by one of a few
 * primitives: set, append, merge, remove.  A no-path value object is split
 * into one target per key, so "name.givenName" or an extension URN key
 * behave exactly as the same path would. */

#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "scim_patch.h"
#include "scim_util.h"

/* Bounded work.  The body is already size-limited, but a small body can
 * still ask for quadratic work (thousands of values appended with duplicate
 * detection, a value filter run over a long stored array per operation).
 * Each primitive charges its worst-case cost up front against this budget;
 * real PATCH requests from identity providers spend a few hundred units. */
#define PATCH_MAX_OPERATIONS 10000
#define PATCH_MAX_WORK       (4 * 1024 * 1024)

typedef enum {
    PATCH_ADD,
    PATCH_REPLACE,
    PATCH_REMOVE
} patch_op_t;

typedef struct patch_ctx {
    apr_pool_t *p;
    const scim_resource_type_t *rt;
    json_t *resource;
    const char *detached_attr;
    apr_array_header_t *detached;
    apr_size_t work;           /* spent so far, against PATCH_MAX_WORK */
    int index;                 /* operation being applied, for details */
} patch_ctx_t;

/* What one operation (or one key of a no-path value) acts upon. */
typedef struct patch_target {
    scim_attr_path_t attr;     /* the attribute; attr.sub_name is not used */
    scim_filter_t *filter;     /* value filter of "attr[...]", or NULL */
    const char *sub_name;      /* "name.givenName" or "emails[...].value" */
    const scim_attr_t *sub;    /* its definition, NULL when undeclared */
    int whole_extension;       /* path is an extension URN alone */
    int from_value;            /* a key of a value object, not a path:
                                  readOnly and unknown keys are skipped */
} patch_target_t;

static scim_error_t *apply_target(patch_ctx_t *ctx, patch_op_t op,
                                  const patch_target_t *t,
                                  const json_t *value);

/* ---- errors and work accounting --------------------------------------- */

static scim_error_t *op_error(patch_ctx_t *ctx, const char *scim_type,
                              const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static scim_error_t *op_error(patch_ctx_t *ctx, const char *scim_type,
                              const char *fmt, ...)
{
    va_list ap;
    const char *msg;

    va_start(ap, fmt);
    msg = apr_pvsprintf(ctx->p, fmt, ap);
    va_end(ap);
    return scim_error_make(ctx->p, 400, scim_type, "Operations[%d]: %s",
                           ctx->index, msg);
}

static scim_error_t *charge(patch_ctx_t *ctx, apr_size_t units)
{
    if (units > PATCH_MAX_WORK || ctx->work + units > PATCH_MAX_WORK) {
        ctx->work = PATCH_MAX_WORK;
        return op_error(ctx, SCIM_TYPE_INVALID_VALUE,
                        "the PATCH request asks for more work than this "
                        "server accepts in one request; split it");
    }
    ctx->work += units;
    return NULL;
}

/* Resolving a target scans the resource's "schemas" (is it an undeclared
 * extension?) and locating it the resource's members whenever a name is
 * not spelled as stored.  Charged per target: a no-path value of a few
 * thousand undeclared extension keys, each adding a member, would
 * otherwise cost quadratic time in a single operation. */
static scim_error_t *charge_lookup(patch_ctx_t *ctx)
{
    const json_t *schemas = scim_json_get_ci(ctx->resource, "schemas", NULL);

    return charge(ctx, 1 + json_object_size(ctx->resource)
                       + json_array_size(schemas));
}

/* Number of JSON nodes in value, counted no further than limit (the
 * counting is work too). */
static apr_size_t json_weight(const json_t *value, apr_size_t limit)
{
    apr_size_t n = 1, i;
    const char *key;
    json_t *member;

    if (json_is_array(value)) {
        for (i = 0; i < json_array_size(value) && n <= limit; i++) {
            n += json_weight(json_array_get(value, i), limit - n);
        }
    }
    else if (json_is_object(value)) {
        json_object_foreach((json_t *)value, key, member) {
            if (n > limit) {
                break;
            }
            n += json_weight(member, limit - n);
        }
    }
    return n;
}

static apr_size_t filter_weight(const scim_filter_t *f)
{
    /* The parser caps depth and node count, so recursion is bounded. */
    if (!f) {
        return 0;
    }
    return 1 + filter_weight(f->left) + filter_weight(f->right);
}

/* ---- JSON helpers ------------------------------------------------------ */

/* Sets obj[name] (stealing value).  SCIM names are case-insensitive and
 * the stored form uses canonical spellings, so members spelled differently
 * ("USERNAME" for "userName") are dropped rather than left as duplicates. */
static void set_member(json_t *obj, const char *name, json_t *value)
{
    const char *key;
    json_t *member;
    void *tmp;

    if (!json_object_get(obj, name)) {
        json_object_foreach_safe(obj, tmp, key, member) {
            if (strcasecmp(key, name) == 0) {
                json_object_del(obj, key);
            }
        }
    }
    json_object_set_new(obj, name, value);
}

/* Is there something to keep?  null and [] mean "unassigned" in SCIM. */
static int has_value(const json_t *v)
{
    return v && !json_is_null(v)
           && !(json_is_array(v) && json_array_size(v) == 0);
}

/* Entra ID sends booleans as "True"/"False"; the schema check converts
 * them later, but "primary" must be recognised already here. */
static int is_true(const json_t *v)
{
    return json_is_true(v)
           || (json_is_string(v) && strcasecmp(json_string_value(v),
                                               "true") == 0);
}

/* The canonical spelling of a sub-attribute key, or the key as written
 * when def does not declare it. */
static const char *sub_attr_key(const scim_attr_t *def, const char *key)
{
    const scim_attr_t *sub = def ? scim_attr_find(def->sub_attrs, key)
                                 : NULL;

    return sub ? sub->name : key;
}

/* A copy of one client value for the resource: deep, so the (const)
 * request is never shared with the resource, and for a complex attribute
 * with its sub-attribute keys in canonical spelling, so that duplicate
 * detection and later case-sensitive readers see one form. */
static json_t *copy_element(const scim_attr_t *def, const json_t *value)
{
    const char *key;
    json_t *member, *copy;

    if (!json_is_object(value) || !def || !def->sub_attrs) {
        return json_deep_copy(value);
    }
    copy = json_object();
    json_object_foreach((json_t *)value, key, member) {
        json_object_set_new(copy, sub_attr_key(def, key),
                            json_deep_copy(member));
    }
    return copy;
}

/* The values of a multi-valued attribute as a new array: RFC 7644 lets a
 * client send a single value where an array is expected. */
static json_t *copy_values(const scim_attr_t *def, const json_t *value)
{
    json_t *array = json_array();
    size_t i;

    if (!json_is_array(value)) {
        json_array_append_new(array, copy_element(def, value));
        return array;
    }
    for (i = 0; i < json_array_size(value); i++) {
        json_array_append_new(array,
                              copy_element(def, json_array_get(value, i)));
    }
    return array;
}

/* Does existing already hold candidate?  For objects, "holds" means every
 * member of candidate is present and equal, so re-adding
 * {"value":"a@x","type":"work"} to an element that also says
 * "primary": true does not create a duplicate (RFC 7644 3.5.2.1: adding a
 * value already there changes nothing). */
static int element_holds(const json_t *existing, const json_t *candidate)
{
    const char *key;
    json_t *member;

    if (!json_is_object(existing) || !json_is_object(candidate)
        || json_object_size(candidate) == 0) {
        return json_equal((json_t *)existing, (json_t *)candidate);
    }
    json_object_foreach((json_t *)candidate, key, member) {
        if (!json_equal(json_object_get(existing, key), member)) {
            return 0;
        }
    }
    return 1;
}

/* Index of urn in a "schemas" array (case-insensitive), or -1. */
static int schemas_index(const json_t *schemas, const char *urn)
{
    size_t i;

    for (i = 0; i < json_array_size(schemas); i++) {
        const char *s = json_string_value(json_array_get(schemas, i));
        if (s && strcasecmp(s, urn) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* ---- locating attributes ---------------------------------------------- */

/* The object holding the target attribute: the resource itself for core
 * attributes, resource[URN] for extension ones.  With create, a missing
 * extension object is made and its URN listed in "schemas", which the
 * schema check requires of every extension that carries data. */
static json_t *attribute_container(patch_ctx_t *ctx,
                                   const scim_attr_path_t *ap, int create)
{
    const char *key = NULL;
    json_t *ext, *schemas;

    if (!ap->schema_urn) {
        return ctx->resource;
    }
    ext = scim_json_get_ci(ctx->resource, ap->schema_urn, &key);
    if (json_is_object(ext)) {
        if (ap->schema && strcmp(key, ap->schema->id) != 0) {
            json_incref(ext);
            set_member(ctx->resource, ap->schema->id, ext);
        }
        return ext;
    }
    if (!create) {
        return NULL;
    }
    ext = json_object();
    set_member(ctx->resource, ap->schema_urn, ext);
    schemas = scim_json_get_ci(ctx->resource, "schemas", NULL);
    if (!schemas) {
        schemas = json_array();
        json_object_set_new(ctx->resource, "schemas", schemas);
    }
    if (json_is_array(schemas) && schemas_index(schemas, ap->schema_urn) < 0) {
        json_array_append_new(schemas, json_string(ap->schema_urn));
    }
    return ext;
}

static int target_multi_valued(const patch_target_t *t, const json_t *current,
                               const json_t *value)
{
    if (t->attr.attr) {
        return t->attr.attr->multi_valued;
    }
    /* Undeclared extension data: the stored value decides, else the
     * client's. */
    return current ? json_is_array(current) : json_is_array(value);
}

static int target_complex(const patch_target_t *t, const json_t *current)
{
    if (t->attr.attr) {
        return t->attr.attr->type == SCIM_ATTR_COMPLEX;
    }
    return !current || json_is_object(current);
}

static int target_read_only(const patch_target_t *t)
{
    return (t->attr.attr && t->attr.attr->mutability == SCIM_MUT_READONLY)
           || (t->sub && t->sub->mutability == SCIM_MUT_READONLY);
}

/* The attribute name of a comparison inside a value filter: relative to
 * the element, i.e. a sub-attribute. */
static const char *filter_key(const scim_filter_t *f)
{
    if (f->path.attr) {
        return f->path.attr->name;
    }
    return f->path.attr_name;
}

/* Fills element with the "sub eq literal" terms of an and-only filter, so
 * that an element created for emails[type eq "work"] carries type "work".
 * Returns 0 when the filter is not such a conjunction: no element can be
 * derived from it. */
static int element_from_filter(const scim_filter_t *f, json_t *element)
{
    switch (f->kind) {
    case SCIM_FILTER_AND:
        return element_from_filter(f->left, element)
               && element_from_filter(f->right, element);
    case SCIM_FILTER_COMPARE:
        if (f->op != SCIM_OP_EQ || !f->value || !filter_key(f)) {
            return 0;
        }
        set_member(element, filter_key(f), json_deep_copy(f->value));
        return 1;
    default:
        return 0;
    }
}

static int element_selected(const patch_target_t *t, const json_t *element)
{
    return json_is_object(element)
           && (!t->filter || scim_filter_match_element(t->filter, element));
}

/* RFC 7644 3.5.2: setting "primary" true on a value makes the server set
 * it false on every other value of the attribute.  touched lists the
 * elements this operation wrote; the last primary one wins. */
static void enforce_single_primary(json_t *array,
                                   const apr_array_header_t *touched)
{
    json_t *winner = NULL;
    size_t i;
    int j;

    for (j = 0; j < touched->nelts; j++) {
        json_t *element = APR_ARRAY_IDX(touched, j, json_t *);
        if (is_true(scim_json_get_ci(element, "primary", NULL))) {
            winner = element;
        }
    }
    if (!winner) {
        return;
    }
    for (i = 0; i < json_array_size(array); i++) {
        json_t *element = json_array_get(array, i);
        if (element != winner
            && is_true(scim_json_get_ci(element, "primary", NULL))) {
            set_member(element, "primary", json_false());
        }
    }
}

/* ---- add and replace --------------------------------------------------- */

/* Sets the sub-attributes given in value on obj, leaving the others: the
 * RFC 7644 rule for a complex attribute under both add and replace. */
static scim_error_t *merge_sub_attrs(patch_ctx_t *ctx, const scim_attr_t *def,
                                     json_t *obj, const json_t *value)
{
    const char *key;
    json_t *member;
    scim_error_t *err;

    err = charge(ctx, json_object_size(value)
                      * (json_object_size(obj) + json_object_size(value)));
    if (err) {
        return err;
    }
    json_object_foreach((json_t *)value, key, member) {
        set_member(obj, sub_attr_key(def, key), json_deep_copy(member));
    }
    return NULL;
}

static scim_error_t *set_element_sub(patch_ctx_t *ctx, const patch_target_t *t,
                                     json_t *element, const json_t *value)
{
    json_t *current = scim_json_get_ci(element, t->sub_name, NULL);

    if (t->sub && t->sub->mutability == SCIM_MUT_IMMUTABLE
        && has_value(current) && !json_equal(current, (json_t *)value)) {
        return op_error(ctx, SCIM_TYPE_MUTABILITY,
                        "%s.%s is immutable", t->attr.attr_name, t->sub_name);
    }
    set_member(element, t->sub_name, json_deep_copy(value));
    return NULL;
}

/* Appends values to a multi-valued attribute, skipping those already
 * held. */
static scim_error_t *append_values(patch_ctx_t *ctx, const patch_target_t *t,
                                   json_t *container, const json_t *value)
{
    const char *name = t->attr.attr_name;
    json_t *array = scim_json_get_ci(container, name, NULL);
    json_t *additions;
    apr_array_header_t *touched;
    scim_error_t *err;
    size_t i, j;

    if (json_is_null(value)) {
        return NULL;
    }
    additions = copy_values(t->attr.attr, value);
    if (!json_is_array(array)) {
        array = json_array();
        set_member(container, name, array);
    }
    err = charge(ctx, json_array_size(additions)
                      * (json_array_size(array) + json_array_size(additions)));
    if (err) {
        json_decref(additions);
        return err;
    }
    touched = apr_array_make(ctx->p, (int)json_array_size(additions),
                             sizeof(json_t *));
    for (i = 0; i < json_array_size(additions); i++) {
        json_t *candidate = json_array_get(additions, i);
        int held = 0;

        for (j = 0; j < json_array_size(array) && !held; j++) {
            held = element_holds(json_array_get(array, j), candidate);
        }
        if (!held) {
            json_array_append(array, candidate);
            APR_ARRAY_PUSH(touched, json_t *) = candidate;
        }
    }
    json_decref(additions);
    enforce_single_primary(array, touched);
    return NULL;
}

/* add/replace on "attr[filter]", "attr[filter].sub" or "attr.sub" of a
 * multi-valued complex attribute. */
static scim_error_t *set_in_elements(patch_ctx_t *ctx, patch_op_t op,
                                     const patch_target_t *t,
                                     json_t *container, const json_t *value)
{
    const scim_attr_t *def = t->attr.attr;
    const char *name = t->attr.attr_name;
    json_t *array = scim_json_get_ci(container, name, NULL);
    json_t *element;
    apr_array_header_t *touched;
    apr_size_t count = json_is_array(array) ? json_array_size(array) : 0;
    apr_size_t i, matched = 0;
    scim_error_t *err;

    if (!t->sub_name && !json_is_object(value)) {
        return op_error(ctx, SCIM_TYPE_INVALID_VALUE,
                        "the value for %s must be an object", name);
    }
    err = charge(ctx, (count + 1) * (filter_weight(t->filter)
                                     + json_weight(value, PATCH_MAX_WORK)));
    if (err) {
        return err;
    }
    touched = apr_array_make(ctx->p, 4, sizeof(json_t *));
    for (i = 0; i < count; i++) {
        element = json_array_get(array, i);
        if (!element_selected(t, element)) {
            continue;
        }
        matched++;
        if (t->sub_name) {
            err = set_element_sub(ctx, t, element, value);
        }
        else if (op == PATCH_REPLACE) {
            /* RFC 7644 3.5.2.3: matching values are replaced. */
            json_array_set_new(array, i, copy_element(def, value));
            element = json_array_get(array, i);
        }
        else {
            err = merge_sub_attrs(ctx, def, element, value);
        }
        if (err) {
            return err;
        }
        APR_ARRAY_PUSH(touched, json_t *) = element;
    }

    if (!matched) {
        /* RFC 7644 3.5.2.3 wants noTarget when a replace filter matches
         * nothing.  That holds for whole values; but Entra ID sends
         * "Replace" of emails[type eq "work"].value to users who have no
         * work address yet and expects it created, so a replace with a
         * trailing sub-attribute falls through to add, which creates the
         * element from the filter's eq terms (as the Entra validator
         * expects of add). */
        if (op == PATCH_REPLACE && !t->sub_name) {
            return op_error(ctx, SCIM_TYPE_NO_TARGET,
                            "no value of %s matches the filter", name);
        }
        element = json_object();
        if (t->filter && !element_from_filter(t->filter, element)) {
            json_decref(element);
            return op_error(ctx, SCIM_TYPE_NO_TARGET,
                            "no value of %s matches the filter, and the "
                            "filter does not describe one to create", name);
        }
        if (t->sub_name) {
            set_member(element, t->sub_name, json_deep_copy(value));
        }
        else if ((err = merge_sub_attrs(ctx, def, element, value))) {
            json_decref(element);
            return err;
        }
        if (t->filter && !scim_filter_match_element(t->filter, element)) {
            json_decref(element);
            return op_error(ctx, SCIM_TYPE_NO_TARGET,
                            "the value given for %s contradicts the filter",
                            name);
        }
        if (!json_is_array(array)) {
            array = json_array();
            set_member(container, name, array);
        }
        json_array_append_new(array, element);
        APR_ARRAY_PUSH(touched, json_t *) = element;
    }
    enforce_single_primary(array, touched);
    return NULL;
}

static scim_error_t *set_target(patch_ctx_t *ctx, patch_op_t op,
                                const patch_target_t *t, const json_t *value)
{
    const scim_attr_t *def = t->attr.attr;
    const char *name = t->attr.attr_name;
    json_t *container, *current, *before = NULL;
    scim_error_t *err = NULL;

    container = attribute_container(ctx, &t->attr, 1);
    /* The lookups in an extension's object scan it as charge_lookup()
     * says of the resource's. */
    err = charge(ctx, json_object_size(container));
    if (err) {
        return err;
    }
    current = scim_json_get_ci(container, name, NULL);

    /* RFC 7644 3.5.2: an immutable attribute may be added when it has no
     * value yet, and otherwise only "changed" to what it already is. */
    if (def && def->mutability == SCIM_MUT_IMMUTABLE && has_value(current)) {
        before = json_deep_copy(current);
    }

    if (t->filter || (t->sub_name && target_multi_valued(t, current, NULL))) {
        err = set_in_elements(ctx, op, t, container, value);
    }
    else if (t->sub_name) {
        if (!json_is_object(current)) {
            current = json_object();
            set_member(container, name, current);
        }
        err = set_element_sub(ctx, t, current, value);
    }
    else if (target_multi_valued(t, current, value)) {
        if (op == PATCH_ADD) {
            err = append_values(ctx, t, container, value);
        }
        else {
            set_member(container, name,
                       json_is_null(value) ? json_null()
                                           : copy_values(def, value));
        }
    }
    else if (json_is_object(value) && target_complex(t, current)) {
        if (!json_is_object(current)) {
            current = json_object();
            set_member(container, name, current);
        }
        err = merge_sub_attrs(ctx, def, current, value);
    }
    else {
        /* Simple attributes, and complex ones given a non-object (Entra's
         * manager as a bare id or a one-element array): stored as sent,
         * whole, for the schema check to normalise or refuse. */
        set_member(container, name, copy_element(def, value));
    }

    if (before) {
        if (!err && !json_equal(before,
                                scim_json_get_ci(container, name, NULL))) {
            err = op_error(ctx, SCIM_TYPE_MUTABILITY, "%s is immutable",
                           name);
        }
        json_decref(before);
    }
    return err;
}

/* ---- remove ------------------------------------------------------------ */

static scim_error_t *check_removable(patch_ctx_t *ctx, const scim_attr_t *def,
                                     const char *name, const json_t *current)
{
    if (!def || !has_value(current)) {
        return NULL;
    }
    if (def->mutability == SCIM_MUT_IMMUTABLE) {
        return op_error(ctx, SCIM_TYPE_MUTABILITY, "%s is immutable", name);
    }
    /* A required attribute (userName, a group's displayName) cannot become
     * unassigned.  invalidValue rather than mutability: the attribute is
     * writable, it is the resulting resource that would be invalid, and
     * that is what a PUT without it gets from the schema check. */
    if (def->required) {
        return op_error(ctx, SCIM_TYPE_INVALID_VALUE,
                        "%s is required and cannot be removed", name);
    }
    return NULL;
}

/* Stores kept as container[name], or removes the attribute when nothing
 * is left (RFC 7644 3.5.2.2: it is then unassigned). */
static void store_remaining(json_t *container, const char *name, json_t *kept)
{
    if (json_array_size(kept) == 0) {
        json_decref(kept);
        scim_json_del_ci(container, name);
    }
    else {
        set_member(container, name, kept);
    }
}

/* remove on "attr[filter]", "attr[filter].sub" or "attr.sub" of a
 * multi-valued attribute. */
static scim_error_t *remove_in_elements(patch_ctx_t *ctx,
                                        const patch_target_t *t,
                                        json_t *container, json_t *array)
{
    json_t *kept;
    size_t i;
    scim_error_t *err;

    err = charge(ctx, json_array_size(array)
                      * (1 + filter_weight(t->filter)));
    if (err) {
        return err;
    }
    kept = json_array();
    for (i = 0; i < json_array_size(array); i++) {
        json_t *element = json_array_get(array, i);

        if (element_selected(t, element)) {
            if (!t->sub_name) {
                continue;          /* the whole value goes */
            }
            err = check_removable(ctx, t->sub, t->sub_name,
                                  scim_json_get_ci(element, t->sub_name,
                                                   NULL));
            if (err) {
                json_decref(kept);
                return err;
            }
            scim_json_del_ci(element, t->sub_name);
        }
        json_array_append(kept, element);
    }
    store_remaining(container, t->attr.attr_name, kept);
    return NULL;
}

/* Does element match one of the listed values?  A listed object with a
 * "value" matches on that sub-attribute alone (Entra lists members as
 * {"value": id} or {"$ref": null, "value": id}); another object must be
 * equal; a simple value compares as the attribute's values do (caseExact
 * or not). */
static int listed(const patch_target_t *t, const json_t *element,
                  const json_t *list)
{
    const scim_attr_t *value_def = scim_attr_path_leaf(&t->attr);
    size_t i;

    for (i = 0; i < json_array_size(list); i++) {
        const json_t *item = json_array_get(list, i);
        const json_t *item_value = scim_json_get_ci(item, "value", NULL);

        if (item_value) {
            const json_t *element_value = scim_json_get_ci(element, "value",
                                                           NULL);
            if (element_value
                && scim_value_compare(value_def, element_value,
                                      item_value) == 0) {
                return 1;
            }
        }
        else if (json_is_object(item)
                 ? json_equal((json_t *)element, (json_t *)item)
                 : scim_value_compare(value_def, element, item) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Entra ID's non-standard {"op":"Remove","path":"members","value":[...]}:
 * a plain RFC server would drop the whole attribute; the client means
 * exactly the values listed. */
static scim_error_t *remove_listed_values(patch_ctx_t *ctx,
                                          const patch_target_t *t,
                                          json_t *container, json_t *array,
                                          const json_t *value)
{
    json_t *list, *kept;
    size_t i;
    scim_error_t *err;

    list = json_is_array(value) ? json_incref((json_t *)value)
                                : json_pack("[O]", value);
    err = charge(ctx, (json_array_size(array) + 1) * json_array_size(list));
    if (err) {
        json_decref(list);
        return err;
    }
    kept = json_array();
    for (i = 0; i < json_array_size(array); i++) {
        json_t *element = json_array_get(array, i);
        if (!listed(t, element, list)) {
            json_array_append(kept, element);
        }
    }
    json_decref(list);
    store_remaining(container, t->attr.attr_name, kept);
    return NULL;
}

static scim_error_t *remove_target(patch_ctx_t *ctx, const patch_target_t *t,
                                   const json_t *value)
{
    const char *name = t->attr.attr_name;
    json_t *container = attribute_container(ctx, &t->attr, 0);
    json_t *current;
    scim_error_t *err;

    /* As in set_target(). */
    err = charge(ctx, json_object_size(container));
    if (err) {
        return err;
    }
    current = scim_json_get_ci(container, name, NULL);

    /* Removing what is not there leaves the resource as the client wants
     * it: success, not noTarget (RFC 7644 requires noTarget only for a
     * missing path).  The same holds for a filter that matches nothing,
     * which keeps Okta's member removals idempotent. */
    if (!current) {
        return NULL;
    }
    if (t->attr.attr && t->attr.attr->mutability == SCIM_MUT_IMMUTABLE
        && has_value(current)) {
        return op_error(ctx, SCIM_TYPE_MUTABILITY, "%s is immutable", name);
    }
    if (json_is_array(current) && (t->filter || t->sub_name)) {
        return remove_in_elements(ctx, t, container, current);
    }
    if (t->filter) {
        return NULL;
    }
    if (t->sub_name) {
        json_t *sub_current = scim_json_get_ci(current, t->sub_name, NULL);

        if (!sub_current) {
            return NULL;
        }
        err = check_removable(ctx, t->sub, t->sub_name, sub_current);
        if (err) {
            return err;
        }
        scim_json_del_ci(current, t->sub_name);
        if (json_object_size(current) == 0) {
            scim_json_del_ci(container, name);
        }
        return NULL;
    }
    /* A value on a remove of a single-valued attribute is ignored: there
     * is only one value to remove.  On a multi-valued one it lists the
     * values to remove, and an empty list removes none. */
    if (value && !json_is_null(value) && json_is_array(current)) {
        return remove_listed_values(ctx, t, container, current, value);
    }
    err = check_removable(ctx, t->attr.attr, name, current);
    if (err) {
        return err;
    }
    scim_json_del_ci(container, name);
    return NULL;
}

/* ---- detached attribute (a Group's members) --------------------------- */

/* The values of a detached attribute: an array (or, as for any
 * multi-valued attribute, a single element) of objects with a non-empty
 * string "value", copied into a pool-owned array. */
static scim_error_t *detached_values(patch_ctx_t *ctx, const patch_target_t *t,
                                     const json_t *value, json_t **out)
{
    json_t *values;
    size_t i;
    scim_error_t *err;

    if (!json_is_array(value) && !json_is_object(value)) {
        return op_error(ctx, SCIM_TYPE_INVALID_VALUE,
                        "%s must be given as an array of objects with a "
                        "\"value\"", t->attr.attr_name);
    }
    values = copy_values(t->attr.attr, value);
    err = charge(ctx, json_array_size(values));
    for (i = 0; !err && i < json_array_size(values); i++) {
        json_t *id = json_object_get(json_array_get(values, i), "value");

        if (!json_is_string(id) || !*json_string_value(id)) {
            err = op_error(ctx, SCIM_TYPE_INVALID_VALUE,
                           "%s[%d] needs a string \"value\"",
                           t->attr.attr_name, (int)i);
        }
    }
    if (err) {
        json_decref(values);
        return err;
    }
    *out = scim_json_pool_own(ctx->p, values);
    return NULL;
}

static scim_error_t *record_detached(patch_ctx_t *ctx, patch_op_t op,
                                     const patch_target_t *t,
                                     const json_t *value)
{
    scim_detached_change_t *change;
    scim_error_t *err = NULL;

    /* The store keeps memberships as (group, member id) rows; changing a
     * sub-attribute of one, or replacing values by filter, has no
     * meaning there. */
    if (t->sub_name || (t->filter && op != PATCH_REMOVE)) {
        return op_error(ctx, SCIM_TYPE_INVALID_PATH,
                        "only add, replace and remove of whole %s values "
                        "are supported, and a filter only with remove",
                        t->attr.attr_name);
    }
    change = apr_pcalloc(ctx->p, sizeof(*change));
    switch (op) {
    case PATCH_ADD:
        if (json_is_null(value)) {
            return NULL;       /* nothing to add, as for other attributes */
        }
        change->op = SCIM_DETACHED_ADD;
        err = detached_values(ctx, t, value, &change->values);
        break;
    case PATCH_REPLACE:
        change->op = SCIM_DETACHED_REPLACE;
        if (json_is_null(value)) {
            /* null is "unassigned": replace with no members. */
            change->values = scim_json_pool_own(ctx->p, json_array());
        }
        else {
            err = detached_values(ctx, t, value, &change->values);
        }
        break;
    case PATCH_REMOVE:
        change->op = SCIM_DETACHED_REMOVE;
        if (t->filter) {
            change->filter = t->filter;
        }
        else if (value && !json_is_null(value)) {
            err = detached_values(ctx, t, value, &change->values);
        }
        break;
    }
    if (err) {
        return err;
    }
    APR_ARRAY_PUSH(ctx->detached, scim_detached_change_t *) = change;
    return NULL;
}

/* ---- targets ----------------------------------------------------------- */

/* A URN the resource type does not declare but the resource lists in its
 * "schemas": custom extension data kept as sent, addressed as a whole.
 * (Without the listing, "urn:a:b:name" reads as attribute "name" of
 * extension "urn:a:b", as scim_attr_path_resolve has it.) */
static int undeclared_extension(patch_ctx_t *ctx, const char *text)
{
    const scim_schema_t *const *ext;

    if (strncasecmp(text, "urn:", 4) != 0
        || strncasecmp(text, ctx->rt->core->id,
                       strlen(ctx->rt->core->id)) == 0) {
        return 0;
    }
    for (ext = ctx->rt->extensions; ext && *ext; ext++) {
        if (strncasecmp(text, (*ext)->id, strlen((*ext)->id)) == 0) {
            return 0;
        }
    }
    return schemas_index(scim_json_get_ci(ctx->resource, "schemas", NULL),
                         text) >= 0;
}

static scim_error_t *resolve_target(patch_ctx_t *ctx, const char *text,
                                    int from_value, patch_target_t *t)
{
    scim_patch_path_t parsed;
    scim_error_t *err;

    memset(t, 0, sizeof(*t));
    t->from_value = from_value;
    if (undeclared_extension(ctx, text)) {
        t->attr.schema_urn = apr_pstrdup(ctx->p, text);
        t->whole_extension = 1;
        return NULL;
    }
    err = scim_patch_path_parse(ctx->p, ctx->rt, text, &parsed);
    if (err) {
        return err;
    }
    t->attr = parsed.path;
    t->attr.sub_name = NULL;
    t->attr.sub = NULL;
    t->filter = parsed.value_filter;
    t->sub = parsed.sub ? parsed.sub : parsed.path.sub;
    t->sub_name = parsed.sub_name ? parsed.sub_name : parsed.path.sub_name;
    if (t->sub) {
        t->sub_name = t->sub->name;
    }
    t->whole_extension = !parsed.path.attr_name;
    if (t->filter && t->attr.attr && !t->attr.attr->multi_valued) {
        return op_error(ctx, SCIM_TYPE_INVALID_PATH,
                        "'%s': a value filter needs a multi-valued "
                        "attribute", text);
    }
    return NULL;
}

/* add/replace without a path, or on a whole extension: each key of value
 * is applied as the same operation with that key as path (prefixed by the
 * extension URN when given), so "name.givenName" or a URN-qualified key
 * from Entra ID means exactly what it means as a path.  readOnly keys (the
 * "id" Okta sends when renaming a group), "schemas" and keys naming no
 * attribute are skipped, as a PUT would ignore them. */
static scim_error_t *apply_value_object(patch_ctx_t *ctx, patch_op_t op,
                                        const char *urn, const json_t *value)
{
    const char *key;
    json_t *member;

    json_object_foreach((json_t *)value, key, member) {
        patch_target_t t;
        const char *path = urn ? apr_pstrcat(ctx->p, urn, ":", key, NULL)
                               : key;
        scim_error_t *err;

        if (!urn && strcasecmp(key, "schemas") == 0) {
            continue;
        }
        if ((err = charge_lookup(ctx))) {
            return err;
        }
        if (resolve_target(ctx, path, 1, &t) != NULL
            || (urn && t.whole_extension)) {
            continue;
        }
        err = apply_target(ctx, op, &t, member);
        if (err) {
            return err;
        }
    }
    return NULL;
}

static int schema_writable(const scim_schema_t *schema)
{
    const scim_attr_t *a;

    for (a = schema->attrs; a->name; a++) {
        if (a->mutability != SCIM_MUT_READONLY) {
            return 1;
        }
    }
    return 0;
}

static scim_error_t *apply_extension(patch_ctx_t *ctx, patch_op_t op,
                                     const patch_target_t *t,
                                     const json_t *value)
{
    const scim_schema_t *schema = t->attr.schema;
    const char *urn = t->attr.schema_urn;
    json_t *ext, *schemas;
    int at;

    if (schema && !schema_writable(schema)) {
        if (t->from_value) {
            return NULL;
        }
        return op_error(ctx, SCIM_TYPE_MUTABILITY, "%s is readOnly", urn);
    }
    if (op != PATCH_REMOVE) {
        if (!json_is_object(value)) {
            return op_error(ctx, SCIM_TYPE_INVALID_VALUE,
                            "the value for %s must be an object", urn);
        }
        return apply_value_object(ctx, op, urn, value);
    }

    ext = attribute_container(ctx, &t->attr, 0);
    if (schema && ext) {
        const scim_attr_t *a;
        for (a = schema->attrs; a->name; a++) {
            scim_error_t *err = check_removable(ctx, a, a->name,
                                                scim_json_get_ci(ext, a->name,
                                                                 NULL));
            if (err) {
                return err;
            }
        }
    }
    scim_json_del_ci(ctx->resource, urn);
    schemas = scim_json_get_ci(ctx->resource, "schemas", NULL);
    at = schemas_index(schemas, urn);
    if (at >= 0) {
        json_array_remove(schemas, (size_t)at);
    }
    return NULL;
}

static scim_error_t *apply_target(patch_ctx_t *ctx, patch_op_t op,
                                  const patch_target_t *t,
                                  const json_t *value)
{
    if (t->whole_extension) {
        return apply_extension(ctx, op, t, value);
    }
    if (ctx->detached_attr && !t->attr.schema_urn
        && strcasecmp(t->attr.attr_name, ctx->detached_attr) == 0) {
        return record_detached(ctx, op, t, value);
    }
    if (target_read_only(t)) {
        if (t->from_value) {
            return NULL;
        }
        return op_error(ctx, SCIM_TYPE_MUTABILITY, "%s%s%s is readOnly",
                        t->attr.attr_name, t->sub_name ? "." : "",
                        t->sub_name ? t->sub_name : "");
    }
    if (op == PATCH_REMOVE) {
        return remove_target(ctx, t, value);
    }
    return set_target(ctx, op, t, value);
}

/* ---- operations -------------------------------------------------------- */

static scim_error_t *apply_operation(patch_ctx_t *ctx, const json_t *operation)
{
    const json_t *op_name, *path, *value;
    const char *name;
    patch_op_t op;
    patch_target_t t;
    scim_error_t *err;

    if (!json_is_object(operation)) {
        return op_error(ctx, SCIM_TYPE_INVALID_SYNTAX,
                        "an operation must be an object");
    }
    /* Entra ID writes "Add", "Replace", "Remove"; member names are
     * matched without case as well, as for every SCIM name. */
    op_name = scim_json_get_ci(operation, "op", NULL);
    name = json_string_value(op_name);
    if (!name) {
        return op_error(ctx, SCIM_TYPE_INVALID_SYNTAX,
                        "\"op\" must be a string");
    }
    if (strcasecmp(name, "add") == 0) {
        op = PATCH_ADD;
    }
    else if (strcasecmp(name, "replace") == 0) {
        op = PATCH_REPLACE;
    }
    else if (strcasecmp(name, "remove") == 0) {
        op = PATCH_REMOVE;
    }
    else {
        return op_error(ctx, SCIM_TYPE_INVALID_SYNTAX,
                        "unknown op '%s' (add, replace or remove)", name);
    }
    path = scim_json_get_ci(operation, "path", NULL);
    value = scim_json_get_ci(operation, "value", NULL);
    if (path && !json_is_null(path) && !json_is_string(path)) {
        return op_error(ctx, SCIM_TYPE_INVALID_PATH,
                        "\"path\" must be a string");
    }
    if (op != PATCH_REMOVE && !value) {
        return op_error(ctx, SCIM_TYPE_INVALID_SYNTAX,
                        "%s needs a \"value\"", name);
    }

    if (!json_is_string(path)) {
        if (op == PATCH_REMOVE) {
            /* RFC 7644 3.5.2.2. */
            return op_error(ctx, SCIM_TYPE_NO_TARGET,
                            "remove needs a \"path\"");
        }
        if (!json_is_object(value)) {
            return op_error(ctx, SCIM_TYPE_INVALID_VALUE,
                            "without a path, the value must be an object "
                            "of attributes");
        }
        return apply_value_object(ctx, op, NULL, value);
    }
    err = charge_lookup(ctx);
    if (!err) {
        err = resolve_target(ctx, json_string_value(path), 0, &t);
    }
    if (err) {
        return err;
    }
    return apply_target(ctx, op, &t, value);
}

scim_error_t *scim_patch_apply(apr_pool_t *p, const scim_resource_type_t *rt,
                               json_t *resource, const json_t *request,
                               const char *detached_attr,
                               apr_array_header_t *detached)
{
    patch_ctx_t ctx;
    const json_t *schemas, *operations;
    size_t i, count;
    scim_error_t *err;

    if (!json_is_object(resource) || (detached_attr && !detached)) {
        return scim_error_make(p, 500, NULL,
                               "PATCH engine called without a resource or "
                               "a detached change list");
    }
    if (!json_is_object(request)) {
        return scim_error_make(p, 400, SCIM_TYPE_INVALID_SYNTAX,
                               "A PATCH request must be a JSON object");
    }
    schemas = scim_json_get_ci(request, "schemas", NULL);
    if (schemas && schemas_index(schemas, SCIM_SCHEMA_PATCHOP) < 0) {
        return scim_error_make(p, 400, SCIM_TYPE_INVALID_SYNTAX,
                               "\"schemas\" must list %s",
                               SCIM_SCHEMA_PATCHOP);
    }
    operations = scim_json_get_ci(request, "Operations", NULL);
    if (!json_is_array(operations)) {
        return scim_error_make(p, 400, SCIM_TYPE_INVALID_SYNTAX,
                               "A PATCH request needs an \"Operations\" "
                               "array");
    }
    count = json_array_size(operations);
    /* RFC 7644 3.5.2: "an array of one or more PATCH operations".  An
     * empty list is refused rather than answered with an unchanged
     * resource, so a client bug does not pass for a successful update. */
    if (count == 0) {
        return scim_error_make(p, 400, SCIM_TYPE_INVALID_VALUE,
                               "\"Operations\" is empty");
    }
    if (count > PATCH_MAX_OPERATIONS) {
        return scim_error_make(p, 400, SCIM_TYPE_INVALID_VALUE,
                               "Too many operations (at most %d)",
                               PATCH_MAX_OPERATIONS);
    }

    memset(&ctx, 0, sizeof(ctx));
    ctx.p = p;
    ctx.rt = rt;
    ctx.resource = resource;
    ctx.detached_attr = detached_attr;
    ctx.detached = detached;
    for (i = 0; i < count; i++) {
        ctx.index = (int)i;
        err = apply_operation(&ctx, json_array_get(operations, i));
        if (err) {
            return err;
        }
    }
    return NULL;
}
