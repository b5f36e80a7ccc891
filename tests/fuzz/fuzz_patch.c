/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* libFuzzer target: the input is a PATCH request body.  As the service
 * does, it is applied to a copy of a stored resource, the result is
 * schema-checked against the original and the stored form is shaped for
 * responses.  Users are patched in place; groups both with "members"
 * detached (the store's shape) and in the JSON. */

#include <string.h>

#include <apr_tables.h>

#include "fuzz_common.h"
#include "scim_patch.h"

/* Member elements as the service builds them for a filtered removal. */
static const char *const member_ids[] = {
    "2819c223-7f76-453a-919d-413861904646",
    "902c246b-6245-4190-8e05-00816be7344a",
    "FC348AA8-3835-40EB-A20B-C726E15C55B5",
};

static void check_detached(const apr_array_header_t *changes)
{
    json_t *element;
    size_t i, k;
    int j;

    for (j = 0; j < changes->nelts; j++) {
        const scim_detached_change_t *c =
            APR_ARRAY_IDX(changes, j, scim_detached_change_t *);

        FUZZ_CHECK(c != NULL, "NULL detached change");
        switch (c->op) {
        case SCIM_DETACHED_ADD:
        case SCIM_DETACHED_REPLACE:
            FUZZ_CHECK(json_is_array(c->values) && !c->filter,
                       "add/replace change without values");
            break;
        case SCIM_DETACHED_REMOVE:
            FUZZ_CHECK(!(c->values && c->filter),
                       "remove change with values and a filter");
            break;
        default:
            FUZZ_CHECK(0, "unknown detached op %d", (int)c->op);
        }
        /* The service reads every value's "value" as a member id. */
        for (i = 0; i < json_array_size(c->values); i++) {
            json_t *id = json_object_get(json_array_get(c->values, i),
                                         "value");
            FUZZ_CHECK(json_is_string(id) && *json_string_value(id),
                       "detached value without a member id");
        }
        if (c->filter) {
            for (k = 0; k < sizeof(member_ids) / sizeof(member_ids[0]);
                 k++) {
                element = json_pack("{s:s,s:s,s:s}", "value", member_ids[k],
                                    "type", k == 2 ? "Group" : "User",
                                    "display", "Barbara Jensen");
                scim_filter_match_element(c->filter, element);
                json_decref(element);
            }
            scim_filter_indexed_eq(c->filter, "value");
        }
    }
}

/* The stored form must be a fixed point of the schema check: what PATCH
 * and PUT store is checked again, against the same stored original, by
 * the next PATCH that changes nothing else. */
static void check_stored(apr_pool_t *p, const scim_resource_type_t *rt,
                         const json_t *stored, const json_t *existing)
{
    scim_error_t *err;
    json_t *again = NULL;

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

static void patch_one(apr_pool_t *p, const scim_resource_type_t *rt,
                      const json_t *original, const json_t *request,
                      const char *detached_attr)
{
    json_t *resource = json_deep_copy(original), *stored = NULL;
    apr_array_header_t *detached = NULL;
    scim_error_t *err;

    if (detached_attr) {
        detached = apr_array_make(p, 4, sizeof(scim_detached_change_t *));
    }
    err = scim_patch_apply(p, rt, resource, request, detached_attr,
                           detached);
    FUZZ_CHECK(json_is_object(resource), "patched resource not an object");
    if (err) {
        fuzz_check_error(err, "scim_patch_apply");
        FUZZ_CHECK(err->status == 400, "PATCH error status %d",
                   err->status);
        json_decref(resource);
        return;
    }
    if (detached) {
        check_detached(detached);
    }
    err = scim_schema_check_resource(p, rt, resource, original, &stored);
    if (err) {
        fuzz_check_error(err, "scim_schema_check_resource");
        FUZZ_CHECK(stored == NULL, "output set on error");
    }
    else {
        FUZZ_CHECK(json_is_object(stored), "no output on success");
        check_stored(p, rt, stored, original);
        fuzz_project_lists(p, rt, stored, 1);
        json_decref(stored);
    }
    json_decref(resource);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *request = fuzz_json(data, size), *before;
    apr_pool_t *p;

    if (!request) {
        return 0;
    }
    before = json_deep_copy(request);
    p = fuzz_pool();
    patch_one(p, &scim_resource_type_user, fuzz_entra_user, request, NULL);
    patch_one(p, &scim_resource_type_user, fuzz_okta_user, request, NULL);
    patch_one(p, &scim_resource_type_user, fuzz_custom_user, request, NULL);
    patch_one(p, &scim_resource_type_group, fuzz_group, request, "members");
    patch_one(p, &scim_resource_type_group, fuzz_group_members, request,
              NULL);
    patch_one(p, &fuzz_typed_type, fuzz_typed, request, NULL);
    /* The request is const to the engine. */
    FUZZ_CHECK(json_equal(request, before), "PATCH changed its request");
    apr_pool_destroy(p);
    json_decref(before);
    json_decref(request);
    return 0;
}
