/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* libFuzzer target: the input is a POST or PUT body, schema-checked as a
 * User and as a Group, on create and against a stored resource, the
 * result shaped for responses.  The same bytes, split at the first
 * newline, are also an "attributes" and an "excludedAttributes" parameter
 * applied to the stored fixtures. */

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "fuzz_common.h"
#include "scim_util.h"

static void check_stored(apr_pool_t *p, const scim_resource_type_t *rt,
                         const json_t *stored, const json_t *existing)
{
    scim_error_t *err;
    json_t *again = NULL;

    /* The stored form is a fixed point of the check (a PUT that echoes
     * what GET returned must change nothing). */
    err = scim_schema_check_resource(p, rt, stored, existing, &again);
    if (err) {
        fuzz_dump("stored", stored);
        fuzz_dump("existing", existing);
        FUZZ_CHECK(0, "the checked resource fails the check: %s",
                   err->detail);
    }
    if (!json_equal((json_t *)stored, again)) {
        fuzz_dump("existing", existing);
        fuzz_dump("checked once", stored);
        fuzz_dump("checked twice", again);
        FUZZ_CHECK(0, "the schema check is not idempotent");
    }
    json_decref(again);
}

static void check_one(apr_pool_t *p, const scim_resource_type_t *rt,
                      const json_t *input, const json_t *existing)
{
    scim_error_t *err;
    json_t *out = (json_t *)1, *schemas, *id;

    err = scim_schema_check_resource(p, rt, input, existing, &out);
    if (err) {
        fuzz_check_error(err, "scim_schema_check_resource");
        FUZZ_CHECK(out == NULL, "output set on error");
        return;
    }
    FUZZ_CHECK(json_is_object(out), "no output on success");
    schemas = json_object_get(out, "schemas");
    FUZZ_CHECK(json_is_array(schemas)
               && strcmp(json_string_value(json_array_get(schemas, 0)),
                         rt->core->id) == 0,
               "checked resource does not list its core schema first");
    /* id is the server's: the existing one or none. */
    id = json_object_get(out, "id");
    FUZZ_CHECK(json_equal(id, json_object_get(existing, "id"))
               || (!id && !json_is_string(json_object_get(existing, "id"))),
               "checked resource has a client's id");
    check_stored(p, rt, out, existing);
    fuzz_project_lists(p, rt, out, 1);
    json_decref(out);
}

/* The attribute lists of the input applied to the stored fixtures. */
static void project_split(apr_pool_t *p, const uint8_t *data, size_t size)
{
    const json_t *const users[] = {
        fuzz_entra_user, fuzz_okta_user, fuzz_custom_user
    };
    const json_t *const groups[] = { fuzz_group, fuzz_group_members };
    char *attributes = fuzz_text(p, data, size), *excluded;
    json_t *shaped;
    size_t i;

    excluded = strchr(attributes, '\n');
    if (excluded) {
        *excluded++ = '\0';
    }
    for (i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        shaped = scim_schema_project(p, &scim_resource_type_user, users[i],
                                     attributes, excluded);
        FUZZ_CHECK(json_is_object(shaped), "projection is not an object");
        FUZZ_CHECK(json_equal(json_object_get(shaped, "id"),
                              json_object_get(users[i], "id")),
                   "projection lost the id");
        json_decref(shaped);
        shaped = scim_schema_project(p, &scim_resource_type_user, users[i],
                                     excluded, attributes);
        json_decref(shaped);
    }
    for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        shaped = scim_schema_project(p, &scim_resource_type_group, groups[i],
                                     attributes, excluded);
        FUZZ_CHECK(json_equal(json_object_get(shaped, "id"),
                              json_object_get(groups[i], "id")),
                   "projection lost the id");
        json_decref(shaped);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

/* The store's own JSON reader and writer give jansson's value and
 * jansson's bytes, whatever the stored text. */
static void check_stored_text(const uint8_t *data, size_t size)
{
    json_t *ours = scim_json_load_stored((const char *)data, size);
    json_t *theirs = json_loadb((const char *)data, size, 0, NULL);
    char *a, *b;

    FUZZ_CHECK(!ours == !theirs && (!ours || json_equal(ours, theirs)),
               "scim_json_load_stored and json_loadb disagree");
    if (theirs) {
        a = scim_json_dump_compact(theirs, NULL);
        b = json_dumps(theirs, JSON_COMPACT);
        FUZZ_CHECK(a && b && strcmp(a, b) == 0,
                   "scim_json_dump_compact and json_dumps disagree");
        free(a);
        free(b);
    }
    json_decref(ours);
    json_decref(theirs);
}

/* Whatever text the split of a stored resource accepts, parsing it and
 * writing it out gives it back to the byte, and its members joined are
 * the text: a GET serves those members as they are. */
static void check_split(apr_pool_t *p, const uint8_t *data, size_t size)
{
    scim_json_member_t members[64];
    const char *text = (const char *)data;
    int n = scim_json_split_object(text, size, members, 64), i;
    json_t *value;
    char *again;
    size_t len = 0, at = 1;

    if (n < 0) {
        return;
    }
    value = scim_json_load_stored(text, size);
    FUZZ_CHECK(json_is_object(value) && json_object_size(value) == (size_t)n,
               "the split takes what does not parse as its members");
    again = scim_json_dump_compact(value, &len);
    FUZZ_CHECK(again && len == size && memcmp(again, text, size) == 0,
               "the split takes what parse-then-dump changes");
    for (i = 0; i < n; i++) {
        FUZZ_CHECK(members[i].text == text + at
                   && members[i].key == members[i].text + 1
                   && members[i].value + members[i].value_len
                      == members[i].text + members[i].len
                   && json_object_get(value, apr_pstrndup(p, members[i].key,
                                                          members[i].key_len)),
                   "a member's span is not the member");
        at += members[i].len + 1;
    }
    FUZZ_CHECK(at == size, "the members do not cover the object");
    free(again);
    json_decref(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    json_t *input = fuzz_json(data, size), *before;

    if (input) {
        before = json_deep_copy(input);
        check_one(p, &scim_resource_type_user, input, NULL);
        check_one(p, &scim_resource_type_user, input, fuzz_entra_user);
        check_one(p, &scim_resource_type_user, input, fuzz_custom_user);
        check_one(p, &scim_resource_type_group, input, NULL);
        check_one(p, &scim_resource_type_group, input, fuzz_group_members);
        check_one(p, &fuzz_typed_type, input, NULL);
        check_one(p, &fuzz_typed_type, input, fuzz_typed);
        /* Whatever a resource holds, shaping it must be harmless. */
        fuzz_project_lists(p, &scim_resource_type_user, input, 0);
        fuzz_project_lists(p, &scim_resource_type_group, input, 0);
        FUZZ_CHECK(json_equal(input, before), "the check changed its input");
        json_decref(before);
        json_decref(input);
    }
    project_split(p, data, size);
    check_stored_text(data, size);
    check_split(p, data, size);
    apr_pool_destroy(p);
    return 0;
}
