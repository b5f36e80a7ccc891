/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* libFuzzer target: the input is the text of a filter (the "filter" query
 * parameter or a SearchRequest's "filter"), and the same text as a PATCH
 * path and as a sortBy path.  It is parsed for Users and for Groups and,
 * when it parses, evaluated on fixed realistic resources the way the
 * service evaluates it. */

#include <string.h>

#include "fuzz_common.h"
#include "scim_filter.h"
#include "scim_util.h"

/* The fixtures are loaded at start-up, so the lists hold their
 * addresses. */
static json_t **const user_resources[] = {
    &fuzz_entra_user, &fuzz_okta_user, &fuzz_custom_user, NULL
};
static json_t **const group_resources[] = {
    &fuzz_group, &fuzz_group_members, NULL
};
static json_t **const typed_resources[] = { &fuzz_typed, NULL };

typedef struct {
    const scim_resource_type_t *rt;
    json_t **const *resources;      /* NULL-terminated */
} target_t;

/* The names the service asks the index hint about ("value" too, on a
 * member value filter). */
static const char *const indexed_names[] = {
    "id", "userName", "externalId", "displayName", "value", NULL
};

/* The store fetches the candidates of a filter with an index hint by
 * that value alone, so every resource the filter matches must hold it. */
static void check_hint(const target_t *t, const scim_filter_t *f,
                       const char *name, const char *hint)
{
    const scim_attr_t *def = scim_attr_find(t->rt->core->attrs, name);
    json_t **const *r;
    json_t *literal;
    const json_t *v;

    if (!def) {
        def = scim_attr_find(scim_common_attrs, name);
    }
    if (!def) {
        return;         /* "value": a member filter, not a resource one */
    }
    literal = json_string(hint);
    FUZZ_CHECK(literal != NULL, "index hint is not UTF-8");
    for (r = t->resources; *r; r++) {
        if (!scim_filter_match(f, **r)) {
            continue;
        }
        v = scim_json_get_ci(**r, name, NULL);
        FUZZ_CHECK(json_is_string(v) && scim_value_compare(def, v, literal)
                                        == 0,
                   "filter matches a resource whose %s is not the index "
                   "hint '%s'", name, hint);
    }
    json_decref(literal);
}

static void check_filter(apr_pool_t *p, const target_t *t, const char *text)
{
    scim_filter_t *f = (scim_filter_t *)1;
    scim_error_t *err;
    const char *const *name;
    const char *hint;
    json_t **const *r;

    err = scim_filter_parse(p, t->rt, text, &f);
    if (err) {
        fuzz_check_error(err, "scim_filter_parse");
        FUZZ_CHECK(err->status == 400, "filter error status %d",
                   err->status);
        FUZZ_CHECK(f == NULL, "filter set on error");
        return;
    }
    FUZZ_CHECK(f != NULL, "no filter on success");
    /* A filter for one type run on the other type's resources is
     * nonsense, but must still be harmless. */
    for (r = user_resources; *r; r++) {
        scim_filter_match(f, **r);
    }
    for (r = group_resources; *r; r++) {
        scim_filter_match(f, **r);
    }
    for (r = typed_resources; *r; r++) {
        scim_filter_match(f, **r);
    }
    for (name = indexed_names; *name; name++) {
        hint = scim_filter_indexed_eq(f, *name);
        if (hint) {
            check_hint(t, f, *name, hint);
        }
    }
}

static void check_patch_path(apr_pool_t *p, const target_t *t,
                             const char *text)
{
    scim_patch_path_t path;
    scim_error_t *err;
    const json_t *v;
    json_t **const *r;
    size_t i;

    err = scim_patch_path_parse(p, t->rt, text, &path);
    if (err) {
        fuzz_check_error(err, "scim_patch_path_parse");
        FUZZ_CHECK(err->status == 400, "path error status %d", err->status);
        return;
    }
    if (!path.value_filter) {
        return;
    }
    /* The engine runs a path's value filter on each element of the
     * attribute; the service on member elements it builds. */
    for (r = t->resources; *r; r++) {
        v = scim_attr_path_value(&path.path, **r);
        if (json_is_array(v)) {
            for (i = 0; i < json_array_size(v); i++) {
                scim_filter_match_element(path.value_filter,
                                          json_array_get(v, i));
            }
        }
        else {
            scim_filter_match_element(path.value_filter, v);
        }
    }
}

static void check_sort_path(apr_pool_t *p, const target_t *t,
                            const char *text)
{
    scim_attr_path_t path;
    scim_error_t *err;
    const json_t *a, *b;
    const scim_attr_t *def;
    json_t **const *r;

    err = scim_attr_path_resolve(p, t->rt, text, 0, &path);
    if (err) {
        fuzz_check_error(err, "scim_attr_path_resolve");
        return;
    }
    def = scim_attr_path_leaf(&path);
    for (r = t->resources; *r; r++) {
        a = scim_sort_value(&path, **r);
        FUZZ_CHECK(!a || scim_value_compare(def, a, a) == 0,
                   "a sort value differs from itself");
    }
    for (r = t->resources; r[0] && r[1]; r++) {
        a = scim_sort_value(&path, *r[0]);
        b = scim_sort_value(&path, *r[1]);
        if (a && b) {
            /* Sorting needs a total order: antisymmetric at least. */
            int ab = scim_value_compare(def, a, b);
            int ba = scim_value_compare(def, b, a);
            FUZZ_CHECK((ab > 0) == (ba < 0) && (ab == 0) == (ba == 0),
                       "scim_value_compare not antisymmetric (%d, %d)",
                       ab, ba);
        }
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const target_t targets[] = {
        { &scim_resource_type_user, user_resources },
        { &scim_resource_type_group, group_resources },
        { &fuzz_typed_type, typed_resources },
    };
    apr_pool_t *p = fuzz_pool();
    const char *text = fuzz_text(p, data, size);
    size_t i;

    for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        check_filter(p, &targets[i], text);
        check_patch_path(p, &targets[i], text);
        check_sort_path(p, &targets[i], text);
    }
    apr_pool_destroy(p);
    return 0;
}
