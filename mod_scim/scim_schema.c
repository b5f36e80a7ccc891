/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Validation of client-sent resources, response projection (attributes /
 * excludedAttributes) and the discovery documents of RFC 7643 sections 6
 * and 7.
 *
 * Choices the header leaves open:
 *   - Structural faults of the body (not an object, "schemas" missing or
 *     without the core URN, a non-object extension, a top-level URN key
 *     that "schemas" does not list) are 400 invalidSyntax: they are about
 *     the shape of the request, not about one attribute's value.
 *   - Data under a declared extension URN whose URN is missing from
 *     "schemas" is accepted and the URN added: the result of a PATCH that
 *     adds the first enterprise attribute looks exactly like that.
 *   - Top-level readOnly attributes (meta, groups, the membership
 *     extension) are dropped, even when existing has them: the handler
 *     fills them from its own columns, so a stale copy must not survive.
 *     The membership URN is left out of "schemas" for the same reason.
 *     "id" is the exception and comes from existing.  readOnly
 *     sub-attributes of client-written complex values (members.display,
 *     manager.displayName) are stored in the JSON, so they are carried
 *     over from the matching existing value instead.
 *   - Canonical values are enforced only on attributes the client cannot
 *     freely rewrite (immutable or readOnly, e.g. members.type): the
 *     readWrite "type" labels of emails, phoneNumbers... are open lists in
 *     practice and IdPs send their own.
 *   - The elements of a multi-valued complex attribute are matched to
 *     existing ones by their "value" sub-attribute; that match decides
 *     which immutable sub-attributes must be unchanged and which readOnly
 *     ones are carried over. */

#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "scim_path.h"
#include "scim_schema.h"
#include "scim_util.h"

/* Complex attributes hold simple sub-attributes only (RFC 7643 2.3.8):
 * attribute, element, sub-attribute is as deep as a declared value goes.
 * The bound keeps recursion finite whatever the tables say. */
#define MAX_VALUE_DEPTH 3

/* A resource uses a handful of schemas.  "schemas" is scanned for every
 * top-level key here, in projection and by PATCH, so its length is
 * bounded to keep those scans from multiplying into quadratic work on a
 * body of a few hundred thousand URNs. */
#define MAX_SCHEMA_URNS 100

/* ---- small helpers ----------------------------------------------------- */

static int is_urn(const char *s)
{
    return strncasecmp(s, "urn:", 4) == 0;
}

/* Equality of two stored values under an attribute's case rule.  Undeclared
 * attributes (def NULL) compare case-insensitively, as the header says. */
static int values_equal(const scim_attr_t *def, const json_t *a,
                        const json_t *b)
{
    if (json_is_string(a) && json_is_string(b)) {
        if (def && def->case_exact) {
            return strcmp(json_string_value(a), json_string_value(b)) == 0;
        }
        return strcasecmp(json_string_value(a), json_string_value(b)) == 0;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

static int in_string_list(const char *const *list, const char *s,
                          int case_exact)
{
    for (; list && *list; list++) {
        if (case_exact ? strcmp(*list, s) == 0 : strcasecmp(*list, s) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Index of s in an array of C strings, ignoring case; -1 when absent. */
static int find_ci(const apr_array_header_t *arr, const char *s)
{
    int i;

    for (i = 0; i < arr->nelts; i++) {
        if (strcasecmp(APR_ARRAY_IDX(arr, i, const char *), s) == 0) {
            return i;
        }
    }
    return -1;
}

static const scim_schema_t *find_extension(const scim_resource_type_t *rt,
                                           const char *urn)
{
    const scim_schema_t *const *ext;

    for (ext = rt->extensions; ext && *ext; ext++) {
        if (strcasecmp((*ext)->id, urn) == 0) {
            return *ext;
        }
    }
    return NULL;
}

const scim_attr_t *scim_attr_find(const scim_attr_t *table, const char *name)
{
    if (!table || !name) {
        return NULL;
    }
    for (; table->name; table++) {
        /* the first letter rules out most names without a call */
        if (scim_fold_ascii(table->name[0]) == scim_fold_ascii(name[0])
            && strcasecmp(table->name, name) == 0) {
            return table;
        }
    }
    return NULL;
}

/* A core attribute of rt, common attributes included. */
static const scim_attr_t *find_core_attr(const scim_resource_type_t *rt,
                                         const char *name)
{
    const scim_attr_t *def = scim_attr_find(rt->core->attrs, name);

    return def ? def : scim_attr_find(scim_common_attrs, name);
}

/* ---- validation -------------------------------------------------------- */

static scim_error_t *bad_value(apr_pool_t *p, const char *label,
                               const char *why)
{
    return scim_error_make(p, 400, SCIM_TYPE_INVALID_VALUE,
                           "Attribute '%s' %s", label, why);
}

static scim_error_t *check_value(apr_pool_t *p, const scim_attr_t *def,
                                 const char *label, json_t *value,
                                 const json_t *existing, int depth,
                                 json_t **out);

/* A simple (non-complex) value; *out receives a copy in stored form. */
static scim_error_t *check_simple(apr_pool_t *p, const scim_attr_t *def,
                                  const char *label, json_t *value,
                                  json_t **out)
{
    switch (def->type) {
    case SCIM_ATTR_BOOLEAN:
        if (json_is_boolean(value)) {
            break;
        }
        /* Entra ID sends booleans as the strings "True" and "False". */
        if (json_is_string(value)
            && (strcasecmp(json_string_value(value), "true") == 0
                || strcasecmp(json_string_value(value), "false") == 0)) {
            *out = json_boolean(strcasecmp(json_string_value(value),
                                           "true") == 0);
            return NULL;
        }
        return bad_value(p, label, "must be a boolean");
    case SCIM_ATTR_DECIMAL:
        if (!json_is_number(value)) {
            return bad_value(p, label, "must be a number");
        }
        break;
    case SCIM_ATTR_INTEGER:
        if (!json_is_integer(value)) {
            return bad_value(p, label, "must be an integer");
        }
        break;
    case SCIM_ATTR_DATETIME:
        if (!json_is_string(value)
            || !scim_datetime_parse(json_string_value(value),
                                    json_string_length(value), NULL)) {
            return bad_value(p, label, "must be an RFC 3339 date-time");
        }
        break;
    case SCIM_ATTR_COMPLEX:
        return bad_value(p, label, "must be a complex value");
    default:   /* string, reference, binary */
        if (!json_is_string(value)) {
            return bad_value(p, label, "must be a string");
        }
        if (def->canonical_values && def->mutability != SCIM_MUT_READWRITE
            && !in_string_list(def->canonical_values,
                               json_string_value(value), def->case_exact)) {
            return bad_value(p, label, "has a value outside its canonical "
                                       "values");
        }
        break;
    }
    *out = json_deep_copy(value);
    return NULL;
}

/* The existing value a client-sent complex value stands for: in a
 * multi-valued attribute the element with the same "value"; for a
 * single-valued one the existing value, unless a changeable "value" says
 * the client now means something else (another manager). */
static const json_t *find_counterpart(const scim_attr_t *def,
                                      const json_t *value,
                                      const json_t *existing)
{
    const scim_attr_t *value_def = scim_attr_find(def->sub_attrs, "value");
    const json_t *in_id = value_def ? scim_json_get_ci(value, "value", NULL)
                                    : NULL;
    const json_t *old_id;
    size_t i;
    json_t *elem;

    if (json_is_array(existing)) {
        if (!in_id) {
            return NULL;
        }
        json_array_foreach((json_t *)existing, i, elem) {
            old_id = scim_json_get_ci(elem, "value", NULL);
            if (old_id && values_equal(value_def, in_id, old_id)) {
                return elem;
            }
        }
        return NULL;
    }
    if (!json_is_object(existing)) {
        return NULL;
    }
    if (in_id && value_def->mutability != SCIM_MUT_IMMUTABLE) {
        old_id = scim_json_get_ci(existing, "value", NULL);
        if (old_id && !values_equal(value_def, in_id, old_id)) {
            return NULL;
        }
    }
    return existing;
}

/* Checks one attribute (or sub-attribute) of a client-sent object and sets
 * it in dst under its canonical name: writeOnly ones are dropped, readOnly
 * ones carried over from old, immutable ones must equal old. */
static scim_error_t *check_member(apr_pool_t *p, const scim_attr_t *def,
                                  const char *label, json_t *input,
                                  const json_t *old, int depth, json_t *dst)
{
    scim_error_t *err;
    json_t *value = NULL;

    if (json_is_null(old)) {
        old = NULL;
    }
    if (def->mutability == SCIM_MUT_WRITEONLY) {
        return NULL;
    }
    if (def->mutability == SCIM_MUT_READONLY) {
        if (old) {
            json_object_set_new(dst, def->name, json_deep_copy(old));
        }
        return NULL;
    }
    err = check_value(p, def, label, input, old, depth, &value);
    if (err) {
        return err;
    }
    if (def->mutability == SCIM_MUT_IMMUTABLE && old) {
        /* Changing an immutable value is refused; leaving it out (a PUT
         * from a client that does not echo it) or spelling it in another
         * case where case does not matter keeps the stored value. */
        if (value && !values_equal(def, value, old)) {
            json_decref(value);
            return scim_error_make(p, 400, SCIM_TYPE_MUTABILITY,
                                   "Attribute '%s' is immutable", label);
        }
        json_decref(value);
        value = json_deep_copy(old);
    }
    if (def->required
        && (!value || (json_is_string(value)
                       && !*json_string_value(value)))) {
        json_decref(value);
        return bad_value(p, label, "is required");
    }
    if (value) {
        json_object_set_new(dst, def->name, value);
    }
    return NULL;
}

static scim_error_t *check_complex(apr_pool_t *p, const scim_attr_t *def,
                                   const char *label, json_t *value,
                                   const json_t *existing, int depth,
                                   json_t **out)
{
    const scim_attr_t *sub;
    const json_t *counterpart;
    json_t *wrapped = NULL, *result;
    scim_error_t *err = NULL;

    /* A bare string stands for the "value" sub-attribute: Entra's
     * "manager": "271", or "members": ["id1", "id2"]. */
    if (json_is_string(value) && scim_attr_find(def->sub_attrs, "value")) {
        wrapped = json_pack("{s:O}", "value", value);
        value = wrapped;
    }
    if (!json_is_object(value)) {
        return bad_value(p, label, "must be a complex value");
    }
    counterpart = find_counterpart(def, value, existing);
    result = json_object();
    for (sub = def->sub_attrs; sub && sub->name && !err; sub++) {
        err = check_member(p, sub, apr_pstrcat(p, label, ".", sub->name, NULL),
                           scim_json_get_ci(value, sub->name, NULL),
                           scim_json_get_ci(counterpart, sub->name, NULL),
                           depth + 1, result);
    }
    json_decref(wrapped);
    if (err || json_object_size(result) == 0) {
        json_decref(result);
        return err;
    }
    *out = result;
    return NULL;
}

/* One element of a multi-valued attribute, or a single value. */
static scim_error_t *check_one(apr_pool_t *p, const scim_attr_t *def,
                               const char *label, json_t *value,
                               const json_t *existing, int depth,
                               json_t **out)
{
    if (def->type == SCIM_ATTR_COMPLEX) {
        return check_complex(p, def, label, value, existing, depth, out);
    }
    return check_simple(p, def, label, value, out);
}

/* The stored elements of a multi-valued complex attribute by "value", so
 * that each client element finds its counterpart (find_counterpart())
 * without a scan: a PUT, or any PATCH, of a user with thousands of
 * e-mails would otherwise cost quadratic time.  String values are keyed
 * under values_equal()'s case rule; the others, which only a non-string
 * "value" can equal, are kept in order and scanned. */
typedef struct {
    const scim_attr_t *value_def;
    apr_hash_t *strings;           /* key -> first element with that value */
    apr_array_header_t *others;    /* elements with a non-string value */
} counterparts_t;

static const char *counterpart_key(apr_pool_t *p, const scim_attr_t *value_def,
                                   const json_t *id)
{
    if (value_def->case_exact) {
        return json_string_value(id);
    }
    /* ASCII folding, as strcasecmp() does in the C locale. */
    return scim_fold_case(p, json_string_value(id));
}

/* Returns 0 when def or existing leaves nothing to index. */
static int index_counterparts(apr_pool_t *p, const scim_attr_t *def,
                              const json_t *existing, counterparts_t *cp)
{
    const json_t *id;
    const char *key;
    size_t i;
    json_t *elem;

    memset(cp, 0, sizeof(*cp));
    cp->value_def = def->type == SCIM_ATTR_COMPLEX
                    ? scim_attr_find(def->sub_attrs, "value") : NULL;
    if (!cp->value_def || !json_is_array(existing)) {
        return 0;
    }
    cp->strings = apr_hash_make(p);
    cp->others = apr_array_make(p, 1, sizeof(const json_t *));
    json_array_foreach((json_t *)existing, i, elem) {
        id = scim_json_get_ci(elem, "value", NULL);
        if (json_is_string(id)) {
            key = counterpart_key(p, cp->value_def, id);
            if (!apr_hash_get(cp->strings, key, APR_HASH_KEY_STRING)) {
                apr_hash_set(cp->strings, key, APR_HASH_KEY_STRING, elem);
            }
        }
        else if (id) {
            APR_ARRAY_PUSH(cp->others, const json_t *) = elem;
        }
    }
    return 1;
}

/* What find_counterpart() finds for a client element (an object, or a
 * bare string standing for its value) among the indexed ones. */
static const json_t *indexed_counterpart(apr_pool_t *p,
                                         const counterparts_t *cp,
                                         const json_t *elem)
{
    const json_t *id = json_is_string(elem)
                       ? elem : scim_json_get_ci(elem, "value", NULL);
    const json_t *old;
    int i;

    if (json_is_string(id)) {
        return apr_hash_get(cp->strings, counterpart_key(p, cp->value_def, id),
                            APR_HASH_KEY_STRING);
    }
    for (i = 0; id && i < cp->others->nelts; i++) {
        old = APR_ARRAY_IDX(cp->others, i, const json_t *);
        if (values_equal(cp->value_def, id,
                         scim_json_get_ci(old, "value", NULL))) {
            return old;
        }
    }
    return NULL;
}

static scim_error_t *check_multi(apr_pool_t *p, const scim_attr_t *def,
                                 const char *label, json_t *value,
                                 const json_t *existing, int depth,
                                 json_t **out)
{
    json_t *result, *elem, *checked;
    const json_t *old;
    counterparts_t cp;
    scim_error_t *err;
    size_t i;
    int primaries = 0, indexed;

    if (!json_is_array(value)) {
        return bad_value(p, label, "must be an array");
    }
    indexed = index_counterparts(p, def, existing, &cp);
    result = json_array();
    json_array_foreach(value, i, elem) {
        if (json_is_null(elem)) {
            continue;
        }
        if (json_is_array(elem)) {
            json_decref(result);
            return bad_value(p, label, "must not contain arrays");
        }
        checked = NULL;
        /* Given its counterpart (or nothing) rather than the array,
         * find_counterpart() takes the element as found here. */
        old = indexed ? indexed_counterpart(p, &cp, elem) : existing;
        err = check_one(p, def, label, elem, old, depth + 1, &checked);
        if (err) {
            json_decref(result);
            return err;
        }
        if (checked && def->type == SCIM_ATTR_COMPLEX
            && scim_attr_find(def->sub_attrs, "value")
            && !json_object_get(checked, "value")) {
            /* An element is its value: {"type": "work"} left behind by a
             * PATCH that removed emails[type eq "work"].value describes
             * nothing and goes too. */
            json_decref(checked);
            checked = NULL;
        }
        if (!checked) {
            continue;
        }
        if (json_is_true(json_object_get(checked, "primary"))) {
            primaries++;
        }
        json_array_append_new(result, checked);
    }
    if (primaries > 1) {
        json_decref(result);
        return bad_value(p, label, "has more than one primary value");
    }
    if (json_array_size(result) == 0) {
        json_decref(result);
        return NULL;
    }
    *out = result;
    return NULL;
}

/* Checks a client-sent value against def and returns it in stored form
 * (new reference in *out), or *out NULL when the value means "unassigned"
 * (null, empty array, complex value without any kept sub-attribute).
 * existing is the stored value of the same attribute, or NULL. */
static scim_error_t *check_value(apr_pool_t *p, const scim_attr_t *def,
                                 const char *label, json_t *value,
                                 const json_t *existing, int depth,
                                 json_t **out)
{
    *out = NULL;
    if (!value || json_is_null(value)) {
        return NULL;
    }
    if (depth > MAX_VALUE_DEPTH) {
        return bad_value(p, label, "is nested too deeply");
    }
    if (def->multi_valued) {
        return check_multi(p, def, label, value, existing, depth, out);
    }
    if (json_is_array(value)) {
        if (json_array_size(value) == 0) {
            return NULL;
        }
        /* Entra ID sends the single-valued manager as a one-element
         * array. */
        if (def->type != SCIM_ATTR_COMPLEX || json_array_size(value) > 1) {
            return bad_value(p, label, "must be a single value");
        }
        value = json_array_get(value, 0);
        if (json_is_null(value)) {
            return NULL;
        }
    }
    return check_one(p, def, label, value, existing, depth, out);
}

/* The writable attributes of one schema table, read from src (and, for
 * attributes src lacks, from alt_src), into dst.  Top-level readOnly
 * attributes are server-maintained and never taken from either side. */
static scim_error_t *check_attrs(apr_pool_t *p, const scim_attr_t *table,
                                 const char *urn, const json_t *src,
                                 const json_t *alt_src,
                                 const json_t *existing, json_t *dst)
{
    const scim_attr_t *def;
    scim_error_t *err;
    json_t *input;

    for (def = table; def->name; def++) {
        if (def->mutability == SCIM_MUT_READONLY) {
            continue;
        }
        input = scim_json_get_ci(src, def->name, NULL);
        if (!input) {
            input = scim_json_get_ci(alt_src, def->name, NULL);
        }
        err = check_member(p, def,
                           urn ? apr_pstrcat(p, urn, ":", def->name, NULL)
                               : def->name,
                           input, scim_json_get_ci(existing, def->name, NULL),
                           0, dst);
        if (err) {
            return err;
        }
    }
    return NULL;
}

/* The URNs the client listed in "schemas" (borrowed C strings). */
static scim_error_t *read_schemas(apr_pool_t *p,
                                  const scim_resource_type_t *rt,
                                  const json_t *input,
                                  apr_array_header_t **listed)
{
    json_t *schemas = scim_json_get_ci(input, "schemas", NULL);
    json_t *urn;
    size_t i;

    if (!json_is_array(schemas)) {
        return scim_error_make(p, 400, SCIM_TYPE_INVALID_SYNTAX,
                               "'schemas' must be an array of URNs");
    }
    if (json_array_size(schemas) > MAX_SCHEMA_URNS) {
        return scim_error_make(p, 400, SCIM_TYPE_INVALID_SYNTAX,
                               "'schemas' lists more than %d URNs",
                               MAX_SCHEMA_URNS);
    }
    *listed = apr_array_make(p, (int)json_array_size(schemas) + 1,
                             sizeof(const char *));
    json_array_foreach(schemas, i, urn) {
        if (!json_is_string(urn)) {
            return scim_error_make(p, 400, SCIM_TYPE_INVALID_SYNTAX,
                                   "'schemas' must be an array of URNs");
        }
        APR_ARRAY_PUSH(*listed, const char *) = json_string_value(urn);
    }
    if (find_ci(*listed, rt->core->id) < 0) {
        return scim_error_make(p, 400, SCIM_TYPE_INVALID_SYNTAX,
                               "'schemas' must list %s", rt->core->id);
    }
    return NULL;
}

/* Declared extensions: checked like the core; the URNs of those that keep
 * data are appended to with_data. */
static scim_error_t *check_extensions(apr_pool_t *p,
                                      const scim_resource_type_t *rt,
                                      const json_t *input,
                                      const json_t *existing, json_t *result,
                                      apr_array_header_t *with_data)
{
    const scim_schema_t *const *ext;
    scim_error_t *err;
    json_t *data, *old, *checked;

    for (ext = rt->extensions; ext && *ext; ext++) {
        data = scim_json_get_ci(input, (*ext)->id, NULL);
        old = scim_json_get_ci(existing, (*ext)->id, NULL);
        if (data && !json_is_null(data) && !json_is_object(data)) {
            return scim_error_make(p, 400, SCIM_TYPE_INVALID_SYNTAX,
                                   "'%s' must be an object", (*ext)->id);
        }
        if (!json_is_object(data) && !json_is_object(old)) {
            continue;
        }
        checked = json_object();
        err = check_attrs(p, (*ext)->attrs, (*ext)->id, data, NULL, old,
                          checked);
        if (err) {
            json_decref(checked);
            return err;
        }
        if (json_object_size(checked) == 0) {
            json_decref(checked);
            continue;
        }
        json_object_set_new(result, (*ext)->id, checked);
        APR_ARRAY_PUSH(with_data, const char *) = (*ext)->id;
    }
    return NULL;
}

/* Top-level keys that are neither core attributes nor declared extensions:
 * data of an extension the client listed in "schemas" is kept as sent;
 * a URN key it did not list is refused, since the data would otherwise be
 * lost without notice; anything else is an unknown core attribute and is
 * dropped. */
static scim_error_t *check_custom_keys(apr_pool_t *p,
                                       const scim_resource_type_t *rt,
                                       const json_t *input,
                                       const apr_array_header_t *listed,
                                       json_t *result)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *)input, key, value) {
        if (strcasecmp(key, "schemas") == 0
            || strcasecmp(key, rt->core->id) == 0
            || find_extension(rt, key) || find_core_attr(rt, key)) {
            continue;
        }
        if (find_ci(listed, key) >= 0) {
            if (!json_is_null(value)) {
                json_object_set_new(result, key, json_deep_copy(value));
            }
        }
        else if (is_urn(key)) {
            return scim_error_make(p, 400, SCIM_TYPE_INVALID_SYNTAX,
                                   "Extension '%s' is not listed in "
                                   "'schemas'", key);
        }
    }
    return NULL;
}

/* An extension without a writable attribute (membership) is the server's:
 * the handler adds its data and URN to responses, so neither is stored,
 * and a client echoing it back changes nothing. */
static int server_owned(const scim_schema_t *ext)
{
    const scim_attr_t *def;

    for (def = ext->attrs; def->name; def++) {
        if (def->mutability != SCIM_MUT_READONLY) {
            return 0;
        }
    }
    return 1;
}

/* The normalised "schemas": core URN first, then what the client listed
 * (declared URNs in canonical spelling, no duplicates, none of the
 * server's), then declared extensions that carry data without having been
 * listed. */
static json_t *make_schemas(apr_pool_t *p, const scim_resource_type_t *rt,
                            const apr_array_header_t *listed,
                            const apr_array_header_t *with_data)
{
    apr_array_header_t *urns = apr_array_make(p, listed->nelts + 2,
                                              sizeof(const char *));
    const scim_schema_t *ext;
    const char *urn;
    json_t *schemas = json_array();
    int i;

    APR_ARRAY_PUSH(urns, const char *) = rt->core->id;
    for (i = 0; i < listed->nelts + with_data->nelts; i++) {
        urn = i < listed->nelts
              ? APR_ARRAY_IDX(listed, i, const char *)
              : APR_ARRAY_IDX(with_data, i - listed->nelts, const char *);
        ext = find_extension(rt, urn);
        if (ext && server_owned(ext)) {
            continue;
        }
        if (ext) {
            urn = ext->id;
        }
        if (find_ci(urns, urn) < 0) {
            APR_ARRAY_PUSH(urns, const char *) = urn;
        }
    }
    for (i = 0; i < urns->nelts; i++) {
        json_array_append_new(schemas,
                              json_string(APR_ARRAY_IDX(urns, i,
                                                        const char *)));
    }
    return schemas;
}

scim_error_t *scim_schema_check_resource(apr_pool_t *p,
                                         const scim_resource_type_t *rt,
                                         const json_t *input,
                                         const json_t *existing,
                                         json_t **out)
{
    apr_array_header_t *listed = NULL, *with_data;
    json_t *result, *id, *core_nested;
    scim_error_t *err;

    *out = NULL;
    if (!json_is_object(input)) {
        return scim_error_make(p, 400, SCIM_TYPE_INVALID_SYNTAX,
                               "A resource must be a JSON object");
    }
    err = read_schemas(p, rt, input, &listed);
    if (err) {
        return err;
    }
    /* RFC 7643 3.3 lets core attributes be written under the core URN
     * too; top-level spellings win. */
    core_nested = scim_json_get_ci(input, rt->core->id, NULL);
    if (core_nested && !json_is_null(core_nested)
        && !json_is_object(core_nested)) {
        return scim_error_make(p, 400, SCIM_TYPE_INVALID_SYNTAX,
                               "'%s' must be an object", rt->core->id);
    }

    result = json_object();
    with_data = apr_array_make(p, 4, sizeof(const char *));
    json_object_set_new(result, "schemas", json_array());
    id = scim_json_get_ci(existing, "id", NULL);
    if (json_is_string(id)) {
        json_object_set_new(result, "id", json_deep_copy(id));
    }
    err = check_attrs(p, scim_common_attrs, NULL, input, core_nested,
                      existing, result);
    if (!err) {
        err = check_attrs(p, rt->core->attrs, NULL, input, core_nested,
                          existing, result);
    }
    if (!err) {
        err = check_extensions(p, rt, input, existing, result, with_data);
    }
    if (!err) {
        err = check_custom_keys(p, rt, input, listed, result);
    }
    if (err) {
        json_decref(result);
        return err;
    }
    json_object_set_new(result, "schemas",
                        make_schemas(p, rt, listed, with_data));
    *out = result;
    return NULL;
}

/* ---- projection -------------------------------------------------------- */

/* The paths of "attributes" or "excludedAttributes", parsed once per
 * request into hashes keyed by their folded names: projecting a resource
 * then costs time linear in its size, whatever the number of names the
 * client sent (a scan of the list per attribute, per element, per
 * resource of the page would not be), and a name repeated any number of
 * times is one entry. */
typedef struct {
    apr_hash_t *whole;      /* extension URN: all of it */
    apr_hash_t *attrs;      /* (urn, name): the whole attribute */
    apr_hash_t *subs;       /* (urn, name, sub): that sub-attribute */
    apr_hash_t *with_subs;  /* (urn, name): some sub-attribute of it */
} proj_set_t;

struct scim_projection {
    apr_pool_t *pool;
    const scim_resource_type_t *rt;
    const proj_set_t *selected;   /* NULL: no "attributes" */
    const proj_set_t *excluded;   /* NULL: no "excludedAttributes" */
};

/* Hash keys of a path: the folded parts separated by NUL bytes, in buf
 * when they fit (lookups run per value of the resource and allocate
 * nothing), else in p. */
typedef struct {
    char buf[256];
    const char *key;
    apr_size_t len;
} path_key_t;

static const char *path_key(apr_pool_t *p, path_key_t *k, const char *urn,
                            const char *name, const char *sub)
{
    const char *parts[3] = { urn ? urn : "", name ? name : "",
                             sub ? sub : "" };
    apr_size_t lens[3], total = 0, at = 0;
    char *out;
    int i;

    for (i = 0; i < 3; i++) {
        lens[i] = strlen(parts[i]);
        total += lens[i] + 1;
    }
    out = total <= sizeof(k->buf) ? k->buf : apr_palloc(p, total);
    for (i = 0; i < 3; i++) {
        apr_size_t j;

        for (j = 0; j < lens[i]; j++) {
            out[at++] = scim_fold_ascii(parts[i][j]);
        }
        out[at++] = '\0';
    }
    k->key = out;
    k->len = total;
    return out;
}

static void proj_add(apr_pool_t *p, apr_hash_t *set, const char *urn,
                     const char *name, const char *sub)
{
    path_key_t k;

    path_key(p, &k, urn, name, sub);
    if (!apr_hash_get(set, k.key, (apr_ssize_t)k.len)) {
        apr_hash_set(set, k.key == k.buf ? apr_pmemdup(p, k.buf, k.len)
                                         : k.key,
                     (apr_ssize_t)k.len, "");
    }
}

static int proj_has(apr_pool_t *p, const apr_hash_t *set, const char *urn,
                    const char *name, const char *sub)
{
    path_key_t k;

    path_key(p, &k, urn, name, sub);
    return apr_hash_get((apr_hash_t *)set, k.key, (apr_ssize_t)k.len) != NULL;
}

/* The next entry of an "attributes" list, cut out of *cursor in place, or
 * NULL at its end.  A comma inside a value filter, even inside its quoted
 * value (emails[type eq "a,b"]), does not end an entry. */
static char *next_proj_entry(char **cursor)
{
    char *entry = *cursor, *c;
    int in_filter = 0, in_string = 0;

    if (!entry) {
        return NULL;
    }
    for (c = entry; *c; c++) {
        if (in_string) {
            if (*c == '\\' && c[1]) {
                c++;
            }
            else if (*c == '"') {
                in_string = 0;
            }
        }
        else if (*c == '"' && in_filter) {
            in_string = 1;
        }
        else if (*c == '[') {
            in_filter = 1;
        }
        else if (*c == ']') {
            in_filter = 0;
        }
        else if (*c == ',' && !in_filter) {
            *c = '\0';
            *cursor = c + 1;
            return entry;
        }
    }
    *cursor = NULL;
    return entry;
}

/* emails[type eq "work"] selects the attribute emails (and
 * emails[type eq "work"].value its sub-attribute value): the filter picks
 * no values here, the whole attribute is returned, as Microsoft's
 * reference tests expect.  Cuts the first [...] out of entry in place. */
static void drop_value_filter(char *entry)
{
    char *open = strchr(entry, '['), *close;
    int in_string = 0;

    if (!open) {
        return;
    }
    for (close = open + 1; *close; close++) {
        if (in_string && *close == '\\' && close[1]) {
            close++;
        }
        else if (*close == '"') {
            in_string = !in_string;
        }
        else if (*close == ']' && !in_string) {
            break;
        }
    }
    if (*close) {
        memmove(open, close + 1, strlen(close + 1) + 1);
    }
}

/* NULL when text is absent or holds only separators and blanks (as if
 * the parameter were absent); unknown names still restrict the answer to
 * what is always returned. */
static const proj_set_t *parse_proj_paths(apr_pool_t *p,
                                          const scim_resource_type_t *rt,
                                          const char *text)
{
    proj_set_t *set;
    scim_attr_path_t resolved;
    char *cursor, *token;
    int named = 0;

    if (!text) {
        return NULL;
    }
    set = apr_palloc(p, sizeof(*set));
    set->whole = apr_hash_make(p);
    set->attrs = apr_hash_make(p);
    set->subs = apr_hash_make(p);
    set->with_subs = apr_hash_make(p);
    cursor = apr_pstrdup(p, text);
    while ((token = next_proj_entry(&cursor)) != NULL) {
        drop_value_filter(token);
        apr_collapse_spaces(token, token);
        if (!*token) {
            continue;
        }
        named = 1;
        /* A bare URN of an undeclared extension cannot be told from
         * "urn:...:attribute" by syntax: it names the whole extension of
         * a resource that has it as a key (only extension keys are looked
         * up in this set), and also what it reads as a path. */
        if (is_urn(token)) {
            proj_add(p, set->whole, token, NULL, NULL);
        }
        if (scim_attr_path_resolve(p, rt, token, 0, &resolved)) {
            continue;   /* an unknown path selects nothing */
        }
        if (!resolved.attr_name) {
            proj_add(p, set->whole, resolved.schema_urn, NULL, NULL);
        }
        else if (!resolved.sub_name) {
            proj_add(p, set->attrs, resolved.schema_urn, resolved.attr_name,
                     NULL);
        }
        else {
            proj_add(p, set->subs, resolved.schema_urn, resolved.attr_name,
                     resolved.sub_name);
            proj_add(p, set->with_subs, resolved.schema_urn,
                     resolved.attr_name, NULL);
        }
    }
    return named ? set : NULL;
}

/* Does set name (urn, name) as a whole, or with sub set, that very
 * sub-attribute?  A whole extension names each of its attributes, not
 * their sub-attributes one by one. */
static int paths_match(const scim_projection_t *proj, const proj_set_t *set,
                       const char *urn, const char *name, const char *sub)
{
    if (!set) {
        return 0;
    }
    if (sub) {
        return name && proj_has(proj->pool, set->subs, urn, name, sub);
    }
    if (urn && proj_has(proj->pool, set->whole, urn, NULL, NULL)) {
        return 1;
    }
    return name && proj_has(proj->pool, set->attrs, urn, name, NULL);
}

/* Does set name some sub-attribute of (urn, name)? */
static int paths_name_subs(const scim_projection_t *proj,
                           const proj_set_t *set, const char *urn,
                           const char *name)
{
    return set && proj_has(proj->pool, set->with_subs, urn, name, NULL);
}

/* Is key a top-level extension object of resource rather than a core
 * attribute?  Sets *schema to its definition (NULL when undeclared). */
static int is_extension_key(const scim_resource_type_t *rt,
                            const json_t *resource, const char *key,
                            const scim_schema_t **schema)
{
    json_t *schemas = json_object_get(resource, "schemas");
    json_t *urn;
    size_t i;

    *schema = find_extension(rt, key);
    if (*schema) {
        return 1;
    }
    if (find_core_attr(rt, key)) {
        return 0;
    }
    if (is_urn(key)) {
        return 1;
    }
    json_array_foreach(schemas, i, urn) {
        if (json_is_string(urn)
            && strcasecmp(json_string_value(urn), key) == 0) {
            return 1;
        }
    }
    return 0;
}

/* An object being projected from src: no copy while every key so far
 * is kept as it is, so that a response that leaves nothing out shares
 * the resource's values instead of rebuilding each object. */
typedef struct {
    json_t *src;
    json_t *copy;               /* made at the first difference */
} lazy_object_t;

/* Records what the projection keeps of src's key: kept (a new reference,
 * or NULL when the key is left out). */
static void lazy_put(lazy_object_t *l, const char *key, json_t *value,
                     json_t *kept)
{
    const char *k;
    json_t *v;

    if (!l->copy && kept == value) {
        json_decref(kept);      /* the same so far */
        return;
    }
    if (!l->copy) {
        l->copy = json_object();
        json_object_foreach(l->src, k, v) {
            if (k == key) {
                break;
            }
            json_object_set_new(l->copy, k, json_incref(v));
        }
    }
    if (kept) {
        json_object_set_new(l->copy, key, kept);
    }
}

/* The projected object: src itself when nothing differed. */
static json_t *lazy_result(lazy_object_t *l)
{
    return l->copy ? l->copy : json_incref(l->src);
}

/* A complex value with the sub-attributes the request lets through
 * (value itself when that is all of them); NULL when none is left. */
static json_t *project_complex(const scim_projection_t *proj,
                               const scim_attr_t *def, const char *urn,
                               const char *name, json_t *value,
                               const proj_set_t *selected,
                               const proj_set_t *excluded)
{
    lazy_object_t result = { value, NULL };
    const scim_attr_t *sub_def;
    const char *key;
    json_t *sub_value, *shaped;
    int always;

    json_object_foreach(value, key, sub_value) {
        sub_def = def ? scim_attr_find(def->sub_attrs, key) : NULL;
        always = sub_def && sub_def->returned == SCIM_RET_ALWAYS;
        lazy_put(&result, key, sub_value,
                 (sub_def && sub_def->returned == SCIM_RET_NEVER)
                 || (!always
                     && ((selected
                          && !paths_match(proj, selected, urn, name, key))
                         || paths_match(proj, excluded, urn, name, key)))
                 ? NULL : json_incref(sub_value));
    }
    shaped = lazy_result(&result);
    if (json_object_size(shaped) == 0) {
        json_decref(shaped);
        return NULL;
    }
    return shaped;
}

/* An attribute's value as the response shows it (value itself when
 * nothing of it is left out); selected is NULL unless only some of its
 * sub-attributes were asked for. */
static json_t *project_value(const scim_projection_t *proj,
                             const scim_attr_t *def, const char *urn,
                             const char *name, json_t *value,
                             const proj_set_t *selected,
                             const proj_set_t *excluded)
{
    json_t *result = NULL, *elem, *shaped;
    size_t i, j;

    if (json_is_object(value)) {
        return project_complex(proj, def, urn, name, value, selected,
                               excluded);
    }
    if (!json_is_array(value)) {
        return json_incref(value);
    }
    json_array_foreach(value, i, elem) {
        shaped = json_is_object(elem)
                 ? project_complex(proj, def, urn, name, elem, selected,
                                   excluded)
                 : json_incref(elem);
        if (!result && shaped == elem) {
            json_decref(shaped);        /* the same so far */
            continue;
        }
        if (!result) {
            result = json_array();
            for (j = 0; j < i; j++) {
                json_array_append(result, json_array_get(value, j));
            }
        }
        if (shaped) {
            json_array_append_new(result, shaped);
        }
    }
    if (!result) {
        result = json_incref(value);
    }
    if (json_array_size(result) == 0) {
        json_decref(result);
        return NULL;
    }
    return result;
}

/* Attribute (urn, name) as the response shows it, a new reference; NULL
 * when the request does not return it.  selected NULL means no
 * "attributes" parameter applies here. */
static json_t *project_attr(const scim_projection_t *proj,
                            const scim_attr_t *def, const char *urn,
                            const char *name, json_t *value,
                            const proj_set_t *selected,
                            const proj_set_t *excluded)
{
    scim_returned_t returned = def ? def->returned : SCIM_RET_DEFAULT;
    int whole = paths_match(proj, selected, urn, name, NULL);
    int some_subs = paths_name_subs(proj, selected, urn, name);

    if (returned == SCIM_RET_NEVER) {
        return NULL;
    }
    if (returned != SCIM_RET_ALWAYS) {
        if ((selected || returned == SCIM_RET_REQUEST) && !whole
            && !some_subs) {
            return NULL;
        }
        if (paths_match(proj, excluded, urn, name, NULL)) {
            return NULL;
        }
    }
    else {
        excluded = NULL;
    }
    return project_value(proj, def, urn, name, value,
                         whole || returned == SCIM_RET_ALWAYS ? NULL
                                                              : selected,
                         excluded);
}

scim_projection_t *scim_projection_make(apr_pool_t *p,
                                        const scim_resource_type_t *rt,
                                        const char *attributes,
                                        const char *excluded)
{
    scim_projection_t *proj = apr_palloc(p, sizeof(*proj));

    proj->pool = p;
    proj->rt = rt;
    proj->selected = parse_proj_paths(p, rt, attributes);
    proj->excluded = parse_proj_paths(p, rt, excluded);
    return proj;
}

json_t *scim_projection_apply(const scim_projection_t *proj,
                              const json_t *resource)
{
    const proj_set_t *selected = proj->selected;
    const proj_set_t *excluded = proj->excluded, *ext_selected;
    const scim_schema_t *schema;
    const scim_attr_t *core;
    const char *key, *attr_name;
    json_t *value, *attr_value, *kept;
    lazy_object_t result = { (json_t *)resource, NULL }, ext;

    if (!json_is_object(resource)) {
        return json_object();
    }
    json_object_foreach((json_t *)resource, key, value) {
        if (strcasecmp(key, "schemas") == 0) {
            kept = json_incref(value);
        }
        else if ((core = find_core_attr(proj->rt, key))
                 || !is_extension_key(proj->rt, resource, key, &schema)) {
            kept = project_attr(proj, core, NULL, key, value, selected,
                                excluded);
        }
        else if (paths_match(proj, excluded, key, NULL, NULL)) {
            kept = NULL;
        }
        else {
            /* Asking for the bare URN asks for everything under it. */
            ext_selected = paths_match(proj, selected, key, NULL, NULL)
                           ? NULL : selected;
            if (!json_is_object(value)) {
                kept = ext_selected ? NULL : json_incref(value);
            }
            else {
                ext.src = value;
                ext.copy = NULL;
                json_object_foreach(value, attr_name, attr_value) {
                    lazy_put(&ext, attr_name, attr_value,
                             project_attr(proj,
                                          schema ? scim_attr_find(
                                                       schema->attrs,
                                                       attr_name)
                                                 : NULL,
                                          key, attr_name, attr_value,
                                          ext_selected, excluded));
                }
                kept = lazy_result(&ext);
                if (!json_object_size(kept)) {
                    json_decref(kept);
                    kept = NULL;
                }
            }
        }
        lazy_put(&result, key, value, kept);
    }
    return lazy_result(&result);
}

/* The top-level names of a built-in resource type that the default view
 * may show otherwise than stored, found once a process. */
#define HIDDEN_NAMES_MAX 16

typedef struct {
    const scim_resource_type_t *rt;
    const char *names[HIDDEN_NAMES_MAX];
    size_t lens[HIDDEN_NAMES_MAX];
    int count;
    int overflow;               /* more than HIDDEN_NAMES_MAX: trust none */
} hidden_names_t;

static hidden_names_t hidden_names[2];
static pthread_once_t hidden_names_once = PTHREAD_ONCE_INIT;

static int hidden_by_default(const scim_attr_t *def)
{
    return def->returned == SCIM_RET_NEVER
           || def->returned == SCIM_RET_REQUEST;
}

/* Whether an attribute table holds a hidden attribute, at any depth. */
static int holds_hidden(const scim_attr_t *attrs)
{
    for (; attrs && attrs->name; attrs++) {
        if (hidden_by_default(attrs) || holds_hidden(attrs->sub_attrs)) {
            return 1;
        }
    }
    return 0;
}

static void add_hidden(hidden_names_t *h, const char *name)
{
    if (h->count == HIDDEN_NAMES_MAX) {
        h->overflow = 1;
        return;
    }
    h->lens[h->count] = strlen(name);
    h->names[h->count++] = name;
}

static void add_hidden_attrs(hidden_names_t *h, const scim_attr_t *attrs)
{
    for (; attrs->name; attrs++) {
        if (hidden_by_default(attrs) || holds_hidden(attrs->sub_attrs)) {
            add_hidden(h, attrs->name);
        }
    }
}

static void find_hidden_names(void)
{
    const scim_resource_type_t *types[] = {
        &scim_resource_type_user, &scim_resource_type_group
    };
    const scim_schema_t *const *ext;
    int i;

    for (i = 0; i < 2; i++) {
        hidden_names_t *h = &hidden_names[i];

        h->rt = types[i];
        add_hidden_attrs(h, scim_common_attrs);
        add_hidden_attrs(h, types[i]->core->attrs);
        for (ext = types[i]->extensions; ext && *ext; ext++) {
            if (holds_hidden((*ext)->attrs)) {
                add_hidden(h, (*ext)->id);
            }
        }
    }
}

int scim_schema_shown_as_stored(const scim_resource_type_t *rt,
                                const char *name, size_t len)
{
    const hidden_names_t *h = NULL;
    int i;

    pthread_once(&hidden_names_once, find_hidden_names);
    for (i = 0; i < 2; i++) {
        if (hidden_names[i].rt == rt) {
            h = &hidden_names[i];
        }
    }
    if (!h || h->overflow) {
        return 0;
    }
    for (i = 0; i < h->count; i++) {
        if (h->lens[i] == len && strncasecmp(h->names[i], name, len) == 0) {
            return 0;
        }
    }
    return 1;
}

json_t *scim_schema_project(apr_pool_t *p, const scim_resource_type_t *rt,
                            const json_t *resource, const char *attributes,
                            const char *excluded)
{
    return scim_projection_apply(
        scim_projection_make(p, rt, attributes, excluded), resource);
}

/* ---- discovery --------------------------------------------------------- */

static const char *type_name(scim_attr_type_t type)
{
    switch (type) {
    case SCIM_ATTR_BOOLEAN:   return "boolean";
    case SCIM_ATTR_DECIMAL:   return "decimal";
    case SCIM_ATTR_INTEGER:   return "integer";
    case SCIM_ATTR_DATETIME:  return "dateTime";
    case SCIM_ATTR_BINARY:    return "binary";
    case SCIM_ATTR_REFERENCE: return "reference";
    case SCIM_ATTR_COMPLEX:   return "complex";
    default:                  return "string";
    }
}

static const char *mutability_name(scim_mutability_t mutability)
{
    switch (mutability) {
    case SCIM_MUT_READONLY:  return "readOnly";
    case SCIM_MUT_IMMUTABLE: return "immutable";
    case SCIM_MUT_WRITEONLY: return "writeOnly";
    default:                 return "readWrite";
    }
}

static const char *returned_name(scim_returned_t returned)
{
    switch (returned) {
    case SCIM_RET_ALWAYS:  return "always";
    case SCIM_RET_NEVER:   return "never";
    case SCIM_RET_REQUEST: return "request";
    default:               return "default";
    }
}

static const char *uniqueness_name(scim_uniqueness_t uniqueness)
{
    switch (uniqueness) {
    case SCIM_UNIQ_SERVER: return "server";
    case SCIM_UNIQ_GLOBAL: return "global";
    default:               return "none";
    }
}

static json_t *string_list_json(const char *const *list)
{
    json_t *arr = json_array();

    for (; *list; list++) {
        json_array_append_new(arr, json_string(*list));
    }
    return arr;
}

/* The attribute definitions of a table (RFC 7643 7); the tables are static
 * and nest one level, so the recursion is bounded by them. */
static json_t *attrs_json(const scim_attr_t *table)
{
    json_t *attrs = json_array(), *attr;

    for (; table && table->name; table++) {
        attr = json_pack("{s:s, s:s, s:b, s:s, s:b, s:b, s:s, s:s, s:s}",
                         "name", table->name,
                         "type", type_name(table->type),
                         "multiValued", table->multi_valued,
                         "description",
                         table->description ? table->description : "",
                         "required", table->required,
                         "caseExact", table->case_exact,
                         "mutability", mutability_name(table->mutability),
                         "returned", returned_name(table->returned),
                         "uniqueness", uniqueness_name(table->uniqueness));
        if (table->canonical_values) {
            json_object_set_new(attr, "canonicalValues",
                                string_list_json(table->canonical_values));
        }
        if (table->reference_types) {
            json_object_set_new(attr, "referenceTypes",
                                string_list_json(table->reference_types));
        }
        if (table->type == SCIM_ATTR_COMPLEX) {
            json_object_set_new(attr, "subAttributes",
                                attrs_json(table->sub_attrs));
        }
        json_array_append_new(attrs, attr);
    }
    return attrs;
}

static json_t *meta_json(const char *resource_type, const char *base_url,
                         const char *endpoint, const char *id)
{
    return json_pack("{s:s, s:o}", "resourceType", resource_type,
                     "location", json_sprintf("%s%s/%s",
                                              base_url ? base_url : "",
                                              endpoint, id));
}

json_t *scim_schema_to_json(const scim_schema_t *schema, const char *base_url)
{
    return json_pack("{s:[s], s:s, s:s, s:s, s:o, s:o}",
                     "schemas", SCIM_SCHEMA_SCHEMA,
                     "id", schema->id,
                     "name", schema->name,
                     "description",
                     schema->description ? schema->description : "",
                     "attributes", attrs_json(schema->attrs),
                     "meta", meta_json("Schema", base_url, "/Schemas",
                                       schema->id));
}

json_t *scim_resource_type_to_json(const scim_resource_type_t *rt,
                                   const char *base_url)
{
    const scim_schema_t *const *ext;
    json_t *doc, *extensions = json_array();

    doc = json_pack("{s:[s], s:s, s:s, s:s, s:s, s:s}",
                    "schemas", SCIM_SCHEMA_RESTYPE,
                    "id", rt->name,
                    "name", rt->name,
                    "endpoint", rt->endpoint,
                    "description", rt->description ? rt->description : "",
                    "schema", rt->core->id);
    for (ext = rt->extensions; ext && *ext; ext++) {
        json_array_append_new(extensions,
                              json_pack("{s:s, s:b}", "schema", (*ext)->id,
                                        "required", 0));
    }
    /* RFC 7643 6: schemaExtensions is optional; an empty list says
     * nothing, so it is left out. */
    if (json_array_size(extensions)) {
        json_object_set_new(doc, "schemaExtensions", extensions);
    }
    else {
        json_decref(extensions);
    }
    json_object_set_new(doc, "meta", meta_json("ResourceType", base_url,
                                               "/ResourceTypes", rt->name));
    return doc;
}
