/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Schema tables, resource validation, projection and discovery documents,
 * exercised with the bodies Okta and Entra ID really send. */

#include <stdio.h>
#include <string.h>

#include <apr_pools.h>
#include <apr_strings.h>
#include <jansson.h>

#include "scim_schema.h"
#include "suites.h"

#define ENTERPRISE SCIM_SCHEMA_ENTERPRISE
#define MEMBERSHIP SCIM_SCHEMA_MEMBERSHIP

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, JSON_DECODE_ANY, &jerr);

    ck_assert_msg(doc != NULL, "bad test JSON: %s (line %d)", jerr.text,
                  jerr.line);
    return doc;
}

/* Asserts that actual equals the JSON text expected, printing both on
 * failure; does not consume actual. */
static void assert_json(const json_t *actual, const char *expected_text)
{
    json_t *expected = parse(expected_text);
    char *got = json_dumps(actual, JSON_SORT_KEYS | JSON_ENCODE_ANY);
    char *want = json_dumps(expected, JSON_SORT_KEYS | JSON_ENCODE_ANY);
    int same = actual && json_equal((json_t *)actual, expected);

    json_decref(expected);
    if (!same) {
        ck_abort_msg("JSON differs:\n  got:  %s\n  want: %s",
                     got ? got : "(null)", want);
    }
    free(got);
    free(want);
}

/* Runs check_resource on texts; returns the result (new reference) and the
 * error in *err. */
static json_t *check(const scim_resource_type_t *rt, const char *input_text,
                     const char *existing_text, scim_error_t **err)
{
    json_t *input = parse(input_text);
    json_t *existing = existing_text ? parse(existing_text) : NULL;
    json_t *out = (json_t *)0x1;

    *err = scim_schema_check_resource(pool, rt, input, existing, &out);
    json_decref(input);
    json_decref(existing);
    if (*err) {
        ck_assert_msg(out == NULL, "output must be NULL on error");
    }
    else {
        ck_assert_msg(out != NULL && out != (json_t *)0x1,
                      "no output on success");
    }
    return out;
}

static json_t *check_ok(const scim_resource_type_t *rt,
                        const char *input_text, const char *existing_text)
{
    scim_error_t *err;
    json_t *out = check(rt, input_text, existing_text, &err);

    ck_assert_msg(err == NULL, "unexpected error %d %s: %s",
                  err ? err->status : 0,
                  err && err->scim_type ? err->scim_type : "-",
                  err ? err->detail : "");
    return out;
}

static void check_fails(const scim_resource_type_t *rt,
                        const char *input_text, const char *existing_text,
                        const char *scim_type)
{
    scim_error_t *err;

    check(rt, input_text, existing_text, &err);
    ck_assert_msg(err != NULL, "expected a %s error", scim_type);
    ck_assert_int_eq(err->status, 400);
    ck_assert_str_eq(err->scim_type, scim_type);
    ck_assert_msg(err->detail && *err->detail, "error without detail");
}

static const json_t *find_attr_json(const json_t *attrs, const char *name)
{
    size_t i;
    json_t *attr;

    json_array_foreach((json_t *)attrs, i, attr) {
        if (strcmp(json_string_value(json_object_get(attr, "name")),
                   name) == 0) {
            return attr;
        }
    }
    ck_abort_msg("attribute %s missing from discovery", name);
    return NULL;
}

/* ---- tables ------------------------------------------------------------ */

/* Every table is well formed: names unique, sub-attributes exactly on
 * complex attributes and themselves simple, descriptions present. */
START_TEST(tables_are_well_formed)
{
    const scim_schema_t *const *schema;
    const scim_attr_t *attr, *other, *sub;
    int schemas = 0;

    for (schema = scim_all_schemas; *schema; schema++) {
        schemas++;
        ck_assert_ptr_nonnull((*schema)->name);
        for (attr = (*schema)->attrs; attr->name; attr++) {
            ck_assert_msg(attr->description && *attr->description,
                          "%s without description", attr->name);
            for (other = attr + 1; other->name; other++) {
                ck_assert_msg(strcasecmp(attr->name, other->name) != 0,
                              "%s twice", attr->name);
            }
            ck_assert_int_eq(attr->type == SCIM_ATTR_COMPLEX,
                             attr->sub_attrs != NULL);
            for (sub = attr->sub_attrs; sub && sub->name; sub++) {
                ck_assert_int_ne(sub->type, SCIM_ATTR_COMPLEX);
                ck_assert_int_eq(sub->multi_valued, 0);
                ck_assert_msg(sub->description && *sub->description,
                              "%s.%s without description", attr->name,
                              sub->name);
            }
        }
    }
    ck_assert_int_eq(schemas, 4);
    ck_assert_ptr_eq(scim_all_resource_types[0], &scim_resource_type_user);
    ck_assert_ptr_eq(scim_all_resource_types[1], &scim_resource_type_group);
    ck_assert_ptr_null(scim_all_resource_types[2]);
}
END_TEST

START_TEST(tables_match_rfc_7643)
{
    const scim_attr_t *a, *members;

    a = scim_attr_find(scim_common_attrs, "id");
    ck_assert_int_eq(a->mutability, SCIM_MUT_READONLY);
    ck_assert_int_eq(a->returned, SCIM_RET_ALWAYS);
    ck_assert_int_eq(a->case_exact, 1);
    ck_assert_int_eq(a->uniqueness, SCIM_UNIQ_SERVER);
    a = scim_attr_find(scim_common_attrs, "externalId");
    ck_assert_int_eq(a->mutability, SCIM_MUT_READWRITE);
    ck_assert_int_eq(a->case_exact, 1);
    a = scim_attr_find(scim_common_attrs, "meta");
    ck_assert_int_eq(a->mutability, SCIM_MUT_READONLY);
    ck_assert_int_eq(scim_attr_find(a->sub_attrs, "lastModified")->type,
                     SCIM_ATTR_DATETIME);
    ck_assert_ptr_nonnull(scim_attr_find(a->sub_attrs, "version"));

    a = scim_attr_find(scim_schema_user.attrs, "userName");
    ck_assert_int_eq(a->required, 1);
    ck_assert_int_eq(a->case_exact, 0);
    ck_assert_int_eq(a->uniqueness, SCIM_UNIQ_SERVER);
    a = scim_attr_find(scim_schema_user.attrs, "password");
    ck_assert_int_eq(a->mutability, SCIM_MUT_WRITEONLY);
    ck_assert_int_eq(a->returned, SCIM_RET_NEVER);
    ck_assert_int_eq(scim_attr_find(scim_schema_user.attrs, "active")->type,
                     SCIM_ATTR_BOOLEAN);
    a = scim_attr_find(scim_schema_user.attrs, "groups");
    ck_assert_int_eq(a->mutability, SCIM_MUT_READONLY);
    ck_assert_int_eq(a->multi_valued, 1);
    ck_assert_ptr_nonnull(scim_attr_find(a->sub_attrs, "$ref"));
    a = scim_attr_find(scim_schema_user.attrs, "x509Certificates");
    ck_assert_int_eq(scim_attr_find(a->sub_attrs, "value")->type,
                     SCIM_ATTR_BINARY);
    a = scim_attr_find(scim_schema_user.attrs, "addresses");
    ck_assert_ptr_nonnull(scim_attr_find(a->sub_attrs, "postalCode"));
    ck_assert_ptr_nonnull(scim_attr_find(a->sub_attrs, "primary"));
    a = scim_attr_find(scim_schema_user.attrs, "name");
    ck_assert_ptr_nonnull(scim_attr_find(a->sub_attrs, "honorificSuffix"));
    ck_assert_int_eq(scim_attr_find(scim_schema_user.attrs,
                                    "profileUrl")->type,
                     SCIM_ATTR_REFERENCE);

    a = scim_attr_find(scim_schema_group.attrs, "displayName");
    ck_assert_int_eq(a->required, 1);
    ck_assert_int_eq(a->case_exact, 0);
    ck_assert_int_eq(a->uniqueness, SCIM_UNIQ_SERVER);
    members = scim_attr_find(scim_schema_group.attrs, "members");
    ck_assert_int_eq(members->multi_valued, 1);
    ck_assert_int_eq(scim_attr_find(members->sub_attrs, "value")->mutability,
                     SCIM_MUT_IMMUTABLE);
    ck_assert_int_eq(scim_attr_find(members->sub_attrs, "$ref")->mutability,
                     SCIM_MUT_IMMUTABLE);
    ck_assert_int_eq(scim_attr_find(members->sub_attrs,
                                    "display")->mutability,
                     SCIM_MUT_READONLY);
    a = scim_attr_find(members->sub_attrs, "type");
    ck_assert_int_eq(a->mutability, SCIM_MUT_IMMUTABLE);
    ck_assert_str_eq(a->canonical_values[0], "User");
    ck_assert_str_eq(a->canonical_values[1], "Group");
    ck_assert_ptr_null(a->canonical_values[2]);

    a = scim_attr_find(scim_schema_enterprise_user.attrs, "manager");
    ck_assert_int_eq(a->multi_valued, 0);
    ck_assert_int_eq(scim_attr_find(a->sub_attrs, "displayName")->mutability,
                     SCIM_MUT_READONLY);

    ck_assert_str_eq(scim_schema_membership.id, MEMBERSHIP);
    for (a = scim_schema_membership.attrs; a->name; a++) {
        ck_assert_int_eq(a->mutability, SCIM_MUT_READONLY);
    }
    ck_assert_int_eq(scim_attr_find(scim_schema_membership.attrs,
                                    "linked")->type, SCIM_ATTR_DATETIME);
    ck_assert_int_eq(scim_attr_find(scim_schema_membership.attrs,
                                    "seat")->type, SCIM_ATTR_BOOLEAN);

    ck_assert_str_eq(scim_resource_type_user.endpoint, "/Users");
    ck_assert_ptr_eq(scim_resource_type_user.extensions[0],
                     &scim_schema_enterprise_user);
    ck_assert_ptr_eq(scim_resource_type_user.extensions[1],
                     &scim_schema_membership);
    ck_assert_ptr_null(scim_resource_type_user.extensions[2]);
    ck_assert_str_eq(scim_resource_type_group.endpoint, "/Groups");
    ck_assert_ptr_null(scim_resource_type_group.extensions[0]);
}
END_TEST

/* ---- check_resource: what IdPs send ----------------------------------- */

START_TEST(element_without_value_is_dropped)
{
    /* what remains after Entra removes emails[type eq "work"].value */
    json_t *out = check_ok(&scim_resource_type_user,
        "{\"schemas\":[\"" SCIM_SCHEMA_USER "\"],\"userName\":\"a\","
        "\"emails\":[{\"type\":\"work\",\"primary\":true},"
        "{\"type\":\"home\",\"value\":\"h@example.com\"}],"
        "\"addresses\":[{\"type\":\"work\",\"locality\":\"Oslo\"}]}",
        NULL);

    /* addresses have no value sub-attribute: kept */
    assert_json(out,
        "{\"schemas\":[\"" SCIM_SCHEMA_USER "\"],\"userName\":\"a\","
        "\"emails\":[{\"type\":\"home\",\"value\":\"h@example.com\"}],"
        "\"addresses\":[{\"type\":\"work\",\"locality\":\"Oslo\"}]}");
    json_decref(out);
}
END_TEST

START_TEST(okta_create_drops_password)
{
    json_t *out = check_ok(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        " \"userName\": \"test.user@okta.local\","
        " \"name\": {\"givenName\": \"Test\", \"familyName\": \"User\"},"
        " \"emails\": [{\"primary\": true, \"value\": "
        "\"test.user@okta.local\", \"type\": \"work\"}],"
        " \"displayName\": \"Test User\", \"locale\": \"en-US\","
        " \"externalId\": \"00ujl29u0le5T6Aj10h7\", \"groups\": [],"
        " \"password\": \"1mz050nq\", \"active\": true}", NULL);

    assert_json(out,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        " \"userName\": \"test.user@okta.local\","
        " \"name\": {\"givenName\": \"Test\", \"familyName\": \"User\"},"
        " \"emails\": [{\"primary\": true, \"value\": "
        "\"test.user@okta.local\", \"type\": \"work\"}],"
        " \"displayName\": \"Test User\", \"locale\": \"en-US\","
        " \"externalId\": \"00ujl29u0le5T6Aj10h7\", \"active\": true}");
    json_decref(out);
}
END_TEST

START_TEST(entra_create_with_nulls_and_string_boolean)
{
    json_t *out = check_ok(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"urn:ietf:params:scim:schemas:extension:enterprise:2.0User\"],"
        " \"externalId\": \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\","
        " \"userName\": \"Test_User_ab6490ee@testuser.com\","
        " \"active\": \"True\", \"addresses\": null,"
        " \"displayName\": \"Test User\", \"phoneNumbers\": null,"
        " \"title\": null, \"preferredLanguage\": null,"
        " \"emails\": [{\"primary\": true, \"type\": \"work\","
        " \"value\": \"Test_User_fd0ea19b@testuser.com\"}],"
        " \"meta\": {\"resourceType\": \"User\"},"
        " \"name\": {\"formatted\": \"givenName familyName\","
        " \"familyName\": \"familyName\", \"givenName\": \"givenName\","
        " \"middleName\": null},"
        " \"roles\": []}", NULL);

    /* The misspelt URN has no data: harmless, kept as listed. */
    assert_json(out,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"urn:ietf:params:scim:schemas:extension:enterprise:2.0User\"],"
        " \"externalId\": \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\","
        " \"userName\": \"Test_User_ab6490ee@testuser.com\","
        " \"active\": true, \"displayName\": \"Test User\","
        " \"emails\": [{\"primary\": true, \"type\": \"work\","
        " \"value\": \"Test_User_fd0ea19b@testuser.com\"}],"
        " \"name\": {\"formatted\": \"givenName familyName\","
        " \"familyName\": \"familyName\", \"givenName\": \"givenName\"}}");
    json_decref(out);
}
END_TEST

START_TEST(string_booleans_any_case)
{
    json_t *out = check_ok(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        " \"userName\": \"u\", \"active\": \"FALSE\","
        " \"roles\": [{\"value\": \"admin\", \"primary\": \"true\"}]}",
        NULL);

    ck_assert(json_is_false(json_object_get(out, "active")));
    assert_json(json_object_get(out, "roles"),
                "[{\"value\": \"admin\", \"primary\": true}]");
    json_decref(out);
    check_fails(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        " \"userName\": \"u\", \"active\": \"yes\"}", NULL,
        SCIM_TYPE_INVALID_VALUE);
    check_fails(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        " \"userName\": \"u\", \"active\": 1}", NULL,
        SCIM_TYPE_INVALID_VALUE);
}
END_TEST

START_TEST(entra_manager_array_and_bare_string)
{
    json_t *out = check_ok(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"" ENTERPRISE "\"],"
        " \"userName\": \"u1\","
        " \"" ENTERPRISE "\": {\"employeeNumber\": \"701984\","
        " \"department\": null,"
        " \"manager\": [{\"$ref\": \"https://h/Users/26118915\","
        " \"value\": \"26118915\"}]}}", NULL);

    assert_json(json_object_get(out, ENTERPRISE),
        "{\"employeeNumber\": \"701984\", \"manager\": "
        "{\"$ref\": \"https://h/Users/26118915\", \"value\": \"26118915\"}}");
    json_decref(out);

    out = check_ok(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"" ENTERPRISE "\"], \"userName\": \"u1\","
        " \"" ENTERPRISE "\": {\"manager\": \"271\"}}", NULL);
    assert_json(json_object_get(out, ENTERPRISE),
                "{\"manager\": {\"value\": \"271\"}}");
    json_decref(out);

    /* Two managers cannot be unwrapped. */
    check_fails(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"" ENTERPRISE "\"], \"userName\": \"u1\","
        " \"" ENTERPRISE "\": {\"manager\": [{\"value\": \"1\"},"
        " {\"value\": \"2\"}]}}", NULL, SCIM_TYPE_INVALID_VALUE);
}
END_TEST

START_TEST(names_become_canonical)
{
    json_t *out = check_ok(&scim_resource_type_user,
        "{\"SCHEMAS\": [\"URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER\","
        " \"urn:ietf:params:scim:schemas:extension:ENTERPRISE:2.0:User\"],"
        " \"USERNAME\": \"Bjensen\", \"NAME\": {\"GIVENNAME\": \"Barbara\"},"
        " \"Emails\": [{\"Value\": \"b@example.com\", \"TYPE\": \"work\"}],"
        " \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user\":"
        " {\"COSTCENTER\": \"4130\"}, \"NotAnAttribute\": 1}", NULL);

    assert_json(out,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"" ENTERPRISE "\"],"
        " \"userName\": \"Bjensen\", \"name\": {\"givenName\": \"Barbara\"},"
        " \"emails\": [{\"value\": \"b@example.com\", \"type\": \"work\"}],"
        " \"" ENTERPRISE "\": {\"costCenter\": \"4130\"}}");
    json_decref(out);
}
END_TEST

START_TEST(core_attributes_under_core_urn)
{
    json_t *out = check_ok(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        " \"displayName\": \"top\","
        " \"urn:ietf:params:scim:schemas:core:2.0:User\":"
        " {\"userName\": \"nested\", \"displayName\": \"inner\"}}", NULL);

    ck_assert_str_eq(json_string_value(json_object_get(out, "userName")),
                     "nested");
    ck_assert_str_eq(json_string_value(json_object_get(out, "displayName")),
                     "top");
    ck_assert_ptr_null(json_object_get(out,
                       "urn:ietf:params:scim:schemas:core:2.0:User"));
    json_decref(out);
}
END_TEST

START_TEST(extension_urns)
{
    json_t *out;

    /* Data of a custom extension that schemas lists is kept as sent. */
    out = check_ok(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"urn:example:custom:1.0:User\"], \"userName\": \"u\","
        " \"urn:example:custom:1.0:User\": {\"badge\": 42,"
        " \"Tags\": [\"a\", null]}}", NULL);
    assert_json(json_object_get(out, "urn:example:custom:1.0:User"),
                "{\"badge\": 42, \"Tags\": [\"a\", null]}");
    assert_json(json_object_get(out, "schemas"),
                "[\"urn:ietf:params:scim:schemas:core:2.0:User\","
                " \"urn:example:custom:1.0:User\"]");
    json_decref(out);

    /* A URN key that schemas does not list: refused, not lost. */
    check_fails(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        " \"userName\": \"u\","
        " \"urn:example:custom:1.0:User\": {\"badge\": 42}}", NULL,
        SCIM_TYPE_INVALID_SYNTAX);

    /* Enterprise data without its URN in schemas (what a PATCH adding the
     * first enterprise attribute produces): accepted, URN added. */
    out = check_ok(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        " \"userName\": \"u\","
        " \"" ENTERPRISE "\": {\"division\": \"R&D\"}}", NULL);
    assert_json(json_object_get(out, "schemas"),
                "[\"urn:ietf:params:scim:schemas:core:2.0:User\","
                " \"" ENTERPRISE "\"]");
    json_decref(out);

    /* Enterprise data that is all null: no extension object, and the URN
     * listed stays listed. */
    out = check_ok(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"" ENTERPRISE "\", \"" ENTERPRISE "\"], \"userName\": \"u\","
        " \"" ENTERPRISE "\": {\"manager\": null, \"department\": null}}",
        NULL);
    ck_assert_ptr_null(json_object_get(out, ENTERPRISE));
    assert_json(json_object_get(out, "schemas"),
                "[\"urn:ietf:params:scim:schemas:core:2.0:User\","
                " \"" ENTERPRISE "\"]");
    json_decref(out);

    check_fails(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"" ENTERPRISE "\"], \"userName\": \"u\","
        " \"" ENTERPRISE "\": \"Sales\"}", NULL, SCIM_TYPE_INVALID_SYNTAX);
}
END_TEST

START_TEST(entra_group_create)
{
    json_t *out = check_ok(&scim_resource_type_group,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:Group\","
        " \"http://schemas.microsoft.com/2006/11/ResourceManagement/"
        "ADSCIM/2.0/Group\"],"
        " \"externalId\": \"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159\","
        " \"displayName\": \"displayName\","
        " \"meta\": {\"resourceType\": \"Group\"}}", NULL);

    assert_json(out,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:Group\","
        " \"http://schemas.microsoft.com/2006/11/ResourceManagement/"
        "ADSCIM/2.0/Group\"],"
        " \"externalId\": \"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159\","
        " \"displayName\": \"displayName\"}");
    json_decref(out);
}
END_TEST

START_TEST(schemas_must_name_the_core)
{
    check_fails(&scim_resource_type_user, "{\"userName\": \"u\"}", NULL,
                SCIM_TYPE_INVALID_SYNTAX);
    check_fails(&scim_resource_type_user,
        "{\"schemas\": \"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"userName\": \"u\"}", NULL, SCIM_TYPE_INVALID_SYNTAX);
    check_fails(&scim_resource_type_user,
        "{\"schemas\": [42], \"userName\": \"u\"}", NULL,
        SCIM_TYPE_INVALID_SYNTAX);
    /* A Group body posted to /Users. */
    check_fails(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:Group\"],"
        " \"displayName\": \"g\"}", NULL, SCIM_TYPE_INVALID_SYNTAX);
    check_fails(&scim_resource_type_user, "[]", NULL,
                SCIM_TYPE_INVALID_SYNTAX);
    check_fails(&scim_resource_type_user, "\"text\"", NULL,
                SCIM_TYPE_INVALID_SYNTAX);
}
END_TEST

START_TEST(required_attributes)
{
    check_fails(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        " \"displayName\": \"No Login\"}", NULL, SCIM_TYPE_INVALID_VALUE);
    check_fails(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        " \"userName\": null}", NULL, SCIM_TYPE_INVALID_VALUE);
    check_fails(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        " \"userName\": \"\"}", NULL, SCIM_TYPE_INVALID_VALUE);
    check_fails(&scim_resource_type_group,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:Group\"],"
        " \"members\": []}", NULL, SCIM_TYPE_INVALID_VALUE);
}
END_TEST

START_TEST(one_primary_at_most)
{
    json_t *out;

    check_fails(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        " \"userName\": \"u\", \"emails\": ["
        "{\"value\": \"a@example.com\", \"type\": \"work\", \"primary\": true},"
        "{\"value\": \"b@example.com\", \"type\": \"home\","
        " \"primary\": \"True\"}]}", NULL, SCIM_TYPE_INVALID_VALUE);

    /* One primary, one explicit non-primary, and two "work" types: the
     * type duplicates Entra's documentation frowns on are accepted. */
    out = check_ok(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        " \"userName\": \"u\", \"emails\": ["
        "{\"value\": \"a@example.com\", \"type\": \"work\", \"primary\": true},"
        "{\"value\": \"b@example.com\", \"type\": \"work\","
        " \"primary\": \"False\"}]}", NULL);
    assert_json(json_object_get(out, "emails"),
        "[{\"value\": \"a@example.com\", \"type\": \"work\","
        " \"primary\": true},"
        " {\"value\": \"b@example.com\", \"type\": \"work\","
        " \"primary\": false}]");
    json_decref(out);
}
END_TEST

START_TEST(custom_type_labels_accepted)
{
    json_t *out = check_ok(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        " \"userName\": \"u\","
        " \"phoneNumbers\": [{\"value\": \"+1 555\", \"type\": \"Teams\"}],"
        " \"addresses\": [{\"type\": \"branch-office\", \"country\": \"DE\","
        " \"primary\": true}]}", NULL);

    assert_json(json_object_get(out, "phoneNumbers"),
                "[{\"value\": \"+1 555\", \"type\": \"Teams\"}]");
    assert_json(json_object_get(out, "addresses"),
                "[{\"type\": \"branch-office\", \"country\": \"DE\","
                " \"primary\": true}]");
    json_decref(out);
}
END_TEST

START_TEST(wrong_types_rejected)
{
    static const char *const bodies[] = {
        "\"userName\": 42",
        "\"userName\": [\"u\"]",
        "\"userName\": {\"value\": \"u\"}",
        "\"userName\": \"u\", \"name\": \"Barbara Jensen\"",
        "\"userName\": \"u\", \"name\": {\"givenName\": 7}",
        "\"userName\": \"u\","
        " \"name\": {\"givenName\": {\"deeper\": {\"still\": [1]}}}",
        "\"userName\": \"u\", \"emails\": {\"value\": \"a@example.com\"}",
        "\"userName\": \"u\", \"emails\": \"a@example.com\"",
        "\"userName\": \"u\", \"emails\": [[{\"value\": \"a@example.com\"}]]",
        "\"userName\": \"u\", \"emails\": [{\"value\": true}]",
        "\"userName\": \"u\", \"emails\": [42]",
        "\"userName\": \"u\", \"profileUrl\": 1",
        "\"userName\": \"u\", \"x509Certificates\": [{\"value\": 12345}]",
        "\"userName\": \"u\", \"externalId\": false",
        "\"userName\": \"u\", \"active\": null, \"title\": [\"a\", \"b\"]",
        NULL
    };
    const char *const *body;

    for (body = bodies; *body; body++) {
        char *text = apr_pstrcat(pool,
            "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
            " ", *body, "}", NULL);

        check_fails(&scim_resource_type_user, text, NULL,
                    SCIM_TYPE_INVALID_VALUE);
    }
}
END_TEST

START_TEST(bare_strings_become_values)
{
    json_t *out = check_ok(&scim_resource_type_group,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:Group\"],"
        " \"displayName\": \"Sales\","
        " \"members\": [\"2819c223\", null,"
        " {\"value\": \"902c246b\", \"$ref\": null, \"type\": \"user\"}]}",
        NULL);

    assert_json(json_object_get(out, "members"),
                "[{\"value\": \"2819c223\"},"
                " {\"value\": \"902c246b\", \"type\": \"user\"}]");
    json_decref(out);
}
END_TEST

START_TEST(member_type_is_canonical)
{
    check_fails(&scim_resource_type_group,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:Group\"],"
        " \"displayName\": \"Sales\","
        " \"members\": [{\"value\": \"1\", \"type\": \"Robot\"}]}", NULL,
        SCIM_TYPE_INVALID_VALUE);
}
END_TEST

START_TEST(id_only_from_existing)
{
    json_t *out = check_ok(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        " \"id\": \"chosen-by-client\", \"userName\": \"u\"}", NULL);

    ck_assert_ptr_null(json_object_get(out, "id"));
    json_decref(out);

    out = check_ok(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        " \"id\": \"chosen-by-client\", \"userName\": \"u2\"}",
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        " \"id\": \"2819c223-7f76\", \"userName\": \"u\"}");
    ck_assert_str_eq(json_string_value(json_object_get(out, "id")),
                     "2819c223-7f76");
    ck_assert_str_eq(json_string_value(json_object_get(out, "userName")),
                     "u2");
    json_decref(out);
}
END_TEST

/* An Okta PUT echoes what GET returned: meta, groups and the membership
 * extension (data and URN) come back and must not be stored. */
START_TEST(okta_put_echo_drops_server_attributes)
{
    json_t *out = check_ok(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"" MEMBERSHIP "\"],"
        " \"id\": \"abc\", \"userName\": \"test.user@okta.local\","
        " \"name\": {\"givenName\": \"Another\", \"familyName\": \"User\"},"
        " \"active\": false, \"password\": \"secret\","
        " \"groups\": [{\"value\": \"g1\", \"display\": \"Sales\"}],"
        " \"meta\": {\"resourceType\": \"User\","
        " \"created\": \"2024-01-01T00:00:00Z\", \"version\": \"W/\\\"1\\\"\"},"
        " \"" MEMBERSHIP "\": {\"state\": \"linked\", \"seat\": true}}",
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        " \"id\": \"abc\", \"userName\": \"test.user@okta.local\","
        " \"meta\": {\"resourceType\": \"User\"},"
        " \"groups\": [{\"value\": \"g0\"}]}");

    assert_json(out,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        " \"id\": \"abc\", \"userName\": \"test.user@okta.local\","
        " \"name\": {\"givenName\": \"Another\", \"familyName\": \"User\"},"
        " \"active\": false}");
    json_decref(out);
}
END_TEST

START_TEST(put_with_immutable_change)
{
    static const char *existing =
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:Group\"],"
        " \"id\": \"g1\", \"displayName\": \"Sales\","
        " \"members\": [{\"value\": \"u1\", \"type\": \"User\","
        " \"$ref\": \"https://h/Users/u1\", \"display\": \"Babs\"}]}";
    json_t *out;

    check_fails(&scim_resource_type_group,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:Group\"],"
        " \"displayName\": \"Sales\","
        " \"members\": [{\"value\": \"u1\", \"type\": \"Group\"}]}",
        existing, SCIM_TYPE_MUTABILITY);
    check_fails(&scim_resource_type_group,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:Group\"],"
        " \"displayName\": \"Sales\","
        " \"members\": [{\"value\": \"u1\","
        " \"$ref\": \"https://elsewhere/Users/u1\"}]}",
        existing, SCIM_TYPE_MUTABILITY);

    /* Same member sent back without type and $ref, with a made-up display,
     * plus a new member: immutable and readOnly values are carried over,
     * the new member's display is not the client's to set. */
    out = check_ok(&scim_resource_type_group,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:Group\"],"
        " \"displayName\": \"Sales EMEA\","
        " \"members\": [{\"value\": \"u1\", \"display\": \"Mallory\","
        " \"type\": \"user\"},"
        " {\"value\": \"u2\", \"display\": \"test.user@okta.local\"}]}",
        existing);
    assert_json(out,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:Group\"],"
        " \"id\": \"g1\", \"displayName\": \"Sales EMEA\","
        " \"members\": [{\"value\": \"u1\", \"type\": \"User\","
        " \"$ref\": \"https://h/Users/u1\", \"display\": \"Babs\"},"
        " {\"value\": \"u2\"}]}");
    json_decref(out);
}
END_TEST

START_TEST(manager_display_name_follows_manager)
{
    static const char *existing =
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"" ENTERPRISE "\"], \"id\": \"u\", \"userName\": \"u\","
        " \"" ENTERPRISE "\": {\"manager\": {\"value\": \"m1\","
        " \"displayName\": \"Boss One\"}}}";
    json_t *out;

    out = check_ok(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"" ENTERPRISE "\"], \"userName\": \"u\","
        " \"" ENTERPRISE "\": {\"manager\": {\"value\": \"m1\","
        " \"displayName\": \"Forged\"}}}", existing);
    assert_json(json_object_get(out, ENTERPRISE),
                "{\"manager\": {\"value\": \"m1\","
                " \"displayName\": \"Boss One\"}}");
    json_decref(out);

    out = check_ok(&scim_resource_type_user,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"" ENTERPRISE "\"], \"userName\": \"u\","
        " \"" ENTERPRISE "\": {\"manager\": \"m2\"}}", existing);
    assert_json(json_object_get(out, ENTERPRISE),
                "{\"manager\": {\"value\": \"m2\"}}");
    json_decref(out);
}
END_TEST

/* Feeding the result back in, as its own existing, changes nothing: the
 * stored form is a fixed point (PUT of an unchanged GET). */
START_TEST(stored_form_is_stable)
{
    static const char *body =
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"" ENTERPRISE "\", \"urn:example:custom:1.0:User\"],"
        " \"userName\": \"bjensen\", \"active\": \"True\","
        " \"name\": {\"givenName\": \"Barbara\", \"familyName\": null},"
        " \"emails\": [{\"value\": \"b@example.com\", \"primary\": true}],"
        " \"x509Certificates\": [{\"value\": \"MIIDQzCCAqygAwIBAgICEAAw\"}],"
        " \"" ENTERPRISE "\": {\"manager\": [{\"value\": \"m\"}]},"
        " \"urn:example:custom:1.0:User\": {\"badge\": 7}}";
    json_t *first, *second;
    char *first_text;
    scim_error_t *err;

    first = check_ok(&scim_resource_type_user, body, NULL);
    json_object_set_new(first, "id", json_string("x1"));
    first_text = json_dumps(first, 0);
    second = check(&scim_resource_type_user, first_text, first_text, &err);
    ck_assert_ptr_null(err);
    ck_assert(json_equal(first, second));
    free(first_text);
    json_decref(first);
    json_decref(second);
}
END_TEST

/* A resource type of the test's own, for the value types and mutability
 * the built-in writable attributes do not have. */
static const scim_attr_t probe_sub_attrs[] = {
    { .name = "value", .description = "v" },
    { .name = "when", .type = SCIM_ATTR_DATETIME, .description = "w" },
    { .name = NULL }
};
static const char *const probe_levels[] = { "low", "high", NULL };
static const scim_attr_t probe_attrs[] = {
    { .name = "label", .required = 1, .description = "l" },
    { .name = "count", .type = SCIM_ATTR_INTEGER, .description = "c" },
    { .name = "ratio", .type = SCIM_ATTR_DECIMAL, .description = "r" },
    { .name = "since", .type = SCIM_ATTR_DATETIME, .description = "s" },
    { .name = "blob", .type = SCIM_ATTR_BINARY,
      .returned = SCIM_RET_REQUEST, .description = "b" },
    { .name = "serial", .mutability = SCIM_MUT_IMMUTABLE, .case_exact = 1,
      .description = "i" },
    { .name = "level", .mutability = SCIM_MUT_IMMUTABLE,
      .canonical_values = probe_levels, .description = "e" },
    { .name = "tags", .multi_valued = 1, .description = "t" },
    { .name = "stamp", .type = SCIM_ATTR_COMPLEX,
      .returned = SCIM_RET_ALWAYS, .description = "x",
      .sub_attrs = probe_sub_attrs },
    { .name = NULL }
};
static const scim_schema_t probe_schema = {
    .id = "urn:example:probe:1.0:Probe", .name = "Probe",
    .description = "probe", .attrs = probe_attrs
};
static const scim_schema_t *const probe_extensions[] = { NULL };
static const scim_resource_type_t probe_type = {
    .name = "Probe", .endpoint = "/Probes", .description = "probe",
    .core = &probe_schema, .extensions = probe_extensions
};

#define PROBE_HEAD "{\"schemas\": [\"urn:example:probe:1.0:Probe\"], " \
                   "\"label\": \"p\", "

/* A PUT of a group over its stored members finds each element's
 * counterpart by value, case-insensitively for members.value: the stored
 * spelling of the immutable value and the readOnly display come from it.
 * 20000 members in reverse order stay far below the test timeout only
 * because the counterparts are looked up rather than scanned for (the
 * scan made this take seconds, and a 1 MiB body most of a minute). */
START_TEST(many_elements_find_counterparts)
{
    enum { N = 20000 };
    json_t *stored = json_array(), *sent = json_array(), *existing, *input;
    json_t *out = NULL, *members, *member;
    scim_error_t *err;
    char id[32];
    int i;

    for (i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "m%d", i);
        json_array_append_new(stored, json_pack("{s:s,s:s,s:s}", "value", id,
                                                "display", id, "type",
                                                "User"));
        snprintf(id, sizeof(id), "M%d", N - 1 - i);
        json_array_append_new(sent, json_pack("{s:s}", "value", id));
    }
    /* An element no stored one stands for gets nothing carried over. */
    json_array_append_new(sent, json_pack("{s:s}", "value", "new"));
    existing = json_pack("{s:[s],s:s,s:s,s:o}", "schemas", SCIM_SCHEMA_GROUP,
                         "id", "g1", "displayName", "G", "members", stored);
    input = json_pack("{s:[s],s:s,s:o}", "schemas", SCIM_SCHEMA_GROUP,
                      "displayName", "G", "members", sent);
    err = scim_schema_check_resource(pool, &scim_resource_type_group, input,
                                     existing, &out);
    ck_assert_ptr_null(err);
    members = json_object_get(out, "members");
    ck_assert_int_eq(json_array_size(members), N + 1);
    for (i = 0; i < N; i++) {
        member = json_array_get(members, (size_t)i);
        snprintf(id, sizeof(id), "m%d", N - 1 - i);
        ck_assert_str_eq(json_string_value(json_object_get(member, "value")),
                         id);
        ck_assert_str_eq(json_string_value(json_object_get(member,
                                                           "display")), id);
        ck_assert_str_eq(json_string_value(json_object_get(member, "type")),
                         "User");
    }
    member = json_array_get(members, N);
    ck_assert_int_eq(json_object_size(member), 1);
    json_decref(out);
    json_decref(input);
    json_decref(existing);
}
END_TEST

/* "schemas" is scanned for every top-level key, so its length is bounded:
 * 100 URNs pass, 101 are refused (a body of 100000 made the check take
 * half a minute). */
START_TEST(schemas_length_is_bounded)
{
    int n;

    for (n = 100; n <= 101; n++) {
        json_t *schemas = json_pack("[s]", SCIM_SCHEMA_USER);
        json_t *input, *out = NULL;
        scim_error_t *err;
        int i;

        for (i = 1; i < n; i++) {
            json_array_append_new(schemas,
                                  json_sprintf("urn:example:s:%d:User", i));
        }
        input = json_pack("{s:o,s:s}", "schemas", schemas, "userName", "u");
        err = scim_schema_check_resource(pool, &scim_resource_type_user,
                                         input, NULL, &out);
        if (n == 100) {
            ck_assert_ptr_null(err);
            ck_assert_int_eq(json_array_size(json_object_get(out, "schemas")),
                             100);
            json_decref(out);
        }
        else {
            ck_assert_ptr_nonnull(err);
            ck_assert_int_eq(err->status, 400);
            ck_assert_str_eq(err->scim_type, SCIM_TYPE_INVALID_SYNTAX);
            ck_assert_ptr_null(out);
        }
        json_decref(input);
    }
}
END_TEST

START_TEST(value_types)
{
    json_t *out = check_ok(&probe_type,
        PROBE_HEAD "\"count\": 3, \"ratio\": 2, \"since\":"
        " \"2008-01-23T04:56:22.125+01:00\", \"blob\": \"AAEC\","
        " \"tags\": [\"a\", \"b\"],"
        " \"stamp\": [{\"when\": \"2024-02-29t23:59:60z\"}]}", NULL);

    assert_json(out,
        PROBE_HEAD "\"count\": 3, \"ratio\": 2, \"since\":"
        " \"2008-01-23T04:56:22.125+01:00\", \"blob\": \"AAEC\","
        " \"tags\": [\"a\", \"b\"],"
        " \"stamp\": {\"when\": \"2024-02-29t23:59:60z\"}}");
    json_decref(out);

    check_fails(&probe_type, PROBE_HEAD "\"count\": 3.0}", NULL,
                SCIM_TYPE_INVALID_VALUE);
    check_fails(&probe_type, PROBE_HEAD "\"count\": \"3\"}", NULL,
                SCIM_TYPE_INVALID_VALUE);
    check_fails(&probe_type, PROBE_HEAD "\"ratio\": \"0.5\"}", NULL,
                SCIM_TYPE_INVALID_VALUE);
    check_fails(&probe_type, PROBE_HEAD "\"blob\": 5}", NULL,
                SCIM_TYPE_INVALID_VALUE);
    check_fails(&probe_type, PROBE_HEAD "\"tags\": [\"a\", 1]}", NULL,
                SCIM_TYPE_INVALID_VALUE);
    check_fails(&probe_type, PROBE_HEAD "\"level\": \"medium\"}", NULL,
                SCIM_TYPE_INVALID_VALUE);
}
END_TEST

START_TEST(date_times)
{
    static const char *const bad[] = {
        "2008-01-23", "2008-01-23T04:56:22", "2008-01-23 04:56:22Z",
        "2008-13-23T04:56:22Z", "2008-01-00T04:56:22Z",
        "2008-01-23T24:00:00Z", "2008-01-23T04:61:22Z",
        "2008-01-23T04:56:61Z", "2008-01-23T04:56:22+24:00",
        "2008-01-23T04:56:22.Z", "2008-01-23T04:56:22+0100",
        "2008-01-23T04:56:22+01:00x", "2008-01-23T04:56:22ZZ",
        "Wed, 23 Jan 2008 04:56:22 GMT", "",
        /* dates that do not exist */
        "2024-02-31T00:00:00Z", "2023-02-29T00:00:00Z",
        "2024-04-31T00:00:00Z", "0000-01-01T00:00:00Z",
        NULL
    };
    const char *const *when;

    for (when = bad; *when; when++) {
        check_fails(&probe_type,
                    apr_pstrcat(pool, PROBE_HEAD "\"since\": \"", *when,
                                "\"}", NULL),
                    NULL, SCIM_TYPE_INVALID_VALUE);
    }
    json_decref(check_ok(&probe_type,
                         PROBE_HEAD "\"since\": \"1999-12-31T23:59:59-08:00\"}",
                         NULL));
}
END_TEST

START_TEST(immutable_simple_value)
{
    static const char *existing =
        "{\"schemas\": [\"urn:example:probe:1.0:Probe\"], \"id\": \"1\","
        " \"label\": \"p\", \"serial\": \"SN-1\", \"level\": \"low\"}";
    json_t *out;

    /* Setting it the first time is allowed. */
    out = check_ok(&probe_type, PROBE_HEAD "\"serial\": \"SN-1\"}",
                   "{\"schemas\": [\"urn:example:probe:1.0:Probe\"],"
                   " \"label\": \"p\"}");
    ck_assert_str_eq(json_string_value(json_object_get(out, "serial")),
                     "SN-1");
    json_decref(out);
    /* Left out: kept. */
    out = check_ok(&probe_type, PROBE_HEAD "\"ratio\": 1.5}", existing);
    ck_assert_str_eq(json_string_value(json_object_get(out, "serial")),
                     "SN-1");
    ck_assert_str_eq(json_string_value(json_object_get(out, "level")),
                     "low");
    json_decref(out);
    /* Case matters for a caseExact immutable value, not for the other. */
    check_fails(&probe_type, PROBE_HEAD "\"serial\": \"sn-1\"}", existing,
                SCIM_TYPE_MUTABILITY);
    json_decref(check_ok(&probe_type, PROBE_HEAD "\"level\": \"LOW\"}",
                         existing));
    check_fails(&probe_type, PROBE_HEAD "\"level\": \"high\"}", existing,
                SCIM_TYPE_MUTABILITY);
}
END_TEST

/* ---- projection -------------------------------------------------------- */

static const char *stored_user =
    "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
    " \"" ENTERPRISE "\", \"urn:example:custom:1.0:User\"],"
    " \"id\": \"2819c223\", \"externalId\": \"bjensen\","
    " \"userName\": \"bjensen@example.com\", \"password\": \"leaked\","
    " \"name\": {\"givenName\": \"Barbara\", \"familyName\": \"Jensen\"},"
    " \"emails\": [{\"value\": \"bjensen@example.com\", \"type\": \"work\","
    " \"primary\": true}, {\"value\": \"babs@jensen.org\", \"type\": \"home\"},"
    " {\"type\": \"other\"}],"
    " \"meta\": {\"resourceType\": \"User\","
    " \"created\": \"2010-01-23T04:56:22Z\", \"version\": \"W/\\\"a\\\"\"},"
    " \"" ENTERPRISE "\": {\"employeeNumber\": \"701984\","
    " \"manager\": {\"value\": \"26118915\", \"displayName\": \"John\"}},"
    " \"" MEMBERSHIP "\": {\"state\": \"linked\", \"seat\": true},"
    " \"urn:example:custom:1.0:User\": {\"badge\": 7, \"floor\": 3}}";

static json_t *project(const scim_resource_type_t *rt, const char *resource,
                       const char *attributes, const char *excluded)
{
    json_t *doc = parse(resource);
    json_t *out = scim_schema_project(pool, rt, doc, attributes, excluded);

    json_decref(doc);
    ck_assert_ptr_nonnull(out);
    return out;
}

START_TEST(project_default)
{
    json_t *out = project(&scim_resource_type_user, stored_user, NULL, NULL);
    json_t *expected = parse(stored_user);

    json_object_del(expected, "password");
    ck_assert(json_equal(out, expected));
    json_decref(out);
    /* Parameters that name nothing are as good as absent. */
    out = project(&scim_resource_type_user, stored_user, " , ", "");
    ck_assert(json_equal(out, expected));
    json_decref(out);
    json_decref(expected);
}
END_TEST

/* What the projection keeps whole it shares: a response that leaves
 * nothing out is the resource itself; one that drops a key (password) or
 * a sub-attribute (emails.type) rebuilds only what it changes.  The
 * resource is never modified. */
START_TEST(project_shares_what_it_keeps_whole)
{
    json_t *doc = parse(stored_user), *before, *out;

    json_object_del(doc, "password");
    before = json_deep_copy(doc);
    out = scim_schema_project(pool, &scim_resource_type_user, doc, NULL,
                              NULL);
    ck_assert_ptr_eq(out, doc);
    json_decref(out);

    json_object_set_new(doc, "password", json_string("secret"));
    out = scim_schema_project(pool, &scim_resource_type_user, doc, NULL,
                              NULL);
    ck_assert_ptr_ne(out, doc);
    ck_assert(json_equal(out, before));
    ck_assert_ptr_eq(json_object_get(out, "name"),
                     json_object_get(doc, "name"));
    ck_assert_ptr_eq(json_object_get(out, "emails"),
                     json_object_get(doc, "emails"));
    json_decref(out);

    out = scim_schema_project(pool, &scim_resource_type_user, doc, NULL,
                              "emails.type");
    ck_assert_ptr_ne(json_object_get(out, "emails"),
                     json_object_get(doc, "emails"));
    ck_assert_ptr_eq(json_object_get(out, "name"),
                     json_object_get(doc, "name"));
    ck_assert_ptr_null(json_object_get(json_array_get(
        json_object_get(out, "emails"), 0), "type"));
    /* {"type": "other"} has nothing left */
    ck_assert_int_eq(json_array_size(json_object_get(out, "emails")), 2);
    json_decref(out);

    json_object_del(doc, "password");
    ck_assert(json_equal(doc, before));
    json_decref(before);
    json_decref(doc);
}
END_TEST

START_TEST(project_attributes)
{
    json_t *out;

    out = project(&scim_resource_type_user, stored_user,
                  "userName,emails.value", NULL);
    assert_json(out,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"" ENTERPRISE "\", \"urn:example:custom:1.0:User\"],"
        " \"id\": \"2819c223\", \"userName\": \"bjensen@example.com\","
        " \"emails\": [{\"value\": \"bjensen@example.com\"},"
        " {\"value\": \"babs@jensen.org\"}]}");
    json_decref(out);

    /* Case-insensitive names, blanks, a sub-attribute of a single-valued
     * complex attribute, meta by name; unknown paths ignored. */
    out = project(&scim_resource_type_user, stored_user,
                  " USERNAME , Name.GivenName,meta.created,bogus,emails..x,",
                  NULL);
    assert_json(out,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"" ENTERPRISE "\", \"urn:example:custom:1.0:User\"],"
        " \"id\": \"2819c223\", \"userName\": \"bjensen@example.com\","
        " \"name\": {\"givenName\": \"Barbara\"},"
        " \"meta\": {\"created\": \"2010-01-23T04:56:22Z\"}}");
    json_decref(out);

    /* Only unknown paths: id and schemas remain; asking for the password
     * does not return it. */
    out = project(&scim_resource_type_user, stored_user, "nope,password",
                  NULL);
    assert_json(out,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"" ENTERPRISE "\", \"urn:example:custom:1.0:User\"],"
        " \"id\": \"2819c223\"}");
    json_decref(out);
    out = project(&scim_resource_type_user, stored_user, "nope", NULL);
    assert_json(out,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"" ENTERPRISE "\", \"urn:example:custom:1.0:User\"],"
        " \"id\": \"2819c223\"}");
    json_decref(out);
}
END_TEST

/* A value filter in "attributes" (Microsoft's reference tests) selects
 * the whole attribute; a comma inside it separates nothing. */
START_TEST(project_attribute_with_value_filter)
{
    json_t *out;

    out = project(&scim_resource_type_user, stored_user,
                  "emails[type eq \"work\"],userName", NULL);
    ck_assert_int_eq(json_array_size(json_object_get(out, "emails")), 3);
    ck_assert_ptr_nonnull(json_object_get(out, "userName"));
    ck_assert_ptr_null(json_object_get(out, "name"));
    json_decref(out);

    out = project(&scim_resource_type_user, stored_user,
                  "emails[type eq \"a,]b\" or value co \"\\\"\"].value,"
                  "externalId", NULL);
    assert_json(out,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"" ENTERPRISE "\", \"urn:example:custom:1.0:User\"],"
        " \"id\": \"2819c223\", \"externalId\": \"bjensen\","
        " \"emails\": [{\"value\": \"bjensen@example.com\"},"
        " {\"value\": \"babs@jensen.org\"}]}");
    json_decref(out);
}
END_TEST

START_TEST(project_extensions)
{
    json_t *out;

    out = project(&scim_resource_type_user, stored_user, ENTERPRISE, NULL);
    assert_json(json_object_get(out, ENTERPRISE),
                "{\"employeeNumber\": \"701984\", \"manager\":"
                " {\"value\": \"26118915\", \"displayName\": \"John\"}}");
    ck_assert_ptr_null(json_object_get(out, "userName"));
    ck_assert_ptr_null(json_object_get(out, MEMBERSHIP));
    ck_assert_str_eq(json_string_value(json_object_get(out, "id")),
                     "2819c223");
    json_decref(out);

    out = project(&scim_resource_type_user, stored_user,
                  ENTERPRISE ":manager.value,employeeNumber,"
                  "urn:example:custom:1.0:User:badge", NULL);
    assert_json(json_object_get(out, ENTERPRISE),
                "{\"employeeNumber\": \"701984\","
                " \"manager\": {\"value\": \"26118915\"}}");
    assert_json(json_object_get(out, "urn:example:custom:1.0:User"),
                "{\"badge\": 7}");
    json_decref(out);

    /* The bare URN of an undeclared extension selects all of it. */
    out = project(&scim_resource_type_user, stored_user,
                  "urn:example:custom:1.0:user", NULL);
    assert_json(json_object_get(out, "urn:example:custom:1.0:User"),
                "{\"badge\": 7, \"floor\": 3}");
    ck_assert_ptr_null(json_object_get(out, ENTERPRISE));
    json_decref(out);

    out = project(&scim_resource_type_user, stored_user, NULL,
                  ENTERPRISE "," MEMBERSHIP ":seat,"
                  "urn:example:custom:1.0:User:floor");
    ck_assert_ptr_null(json_object_get(out, ENTERPRISE));
    assert_json(json_object_get(out, MEMBERSHIP), "{\"state\": \"linked\"}");
    assert_json(json_object_get(out, "urn:example:custom:1.0:User"),
                "{\"badge\": 7}");
    ck_assert_ptr_nonnull(json_object_get(out, "userName"));
    json_decref(out);
}
END_TEST

START_TEST(project_excluded)
{
    static const char *group =
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:Group\"],"
        " \"id\": \"e9e30dba\", \"displayName\": \"Tour Guides\","
        " \"members\": [{\"value\": \"2819c223\", \"display\": \"Babs\"}],"
        " \"meta\": {\"resourceType\": \"Group\"}}";
    json_t *out;

    out = project(&scim_resource_type_group, group, NULL, "members");
    assert_json(out,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:Group\"],"
        " \"id\": \"e9e30dba\", \"displayName\": \"Tour Guides\","
        " \"meta\": {\"resourceType\": \"Group\"}}");
    json_decref(out);

    /* id is returned always; sub-attributes can be excluded. */
    out = project(&scim_resource_type_user, stored_user, NULL,
                  "id,emails.type,emails.primary,name,meta,password");
    ck_assert_str_eq(json_string_value(json_object_get(out, "id")),
                     "2819c223");
    assert_json(json_object_get(out, "emails"),
                "[{\"value\": \"bjensen@example.com\"},"
                " {\"value\": \"babs@jensen.org\"}]");
    ck_assert_ptr_null(json_object_get(out, "name"));
    ck_assert_ptr_null(json_object_get(out, "meta"));
    ck_assert_ptr_nonnull(json_object_get(out, "userName"));
    ck_assert_ptr_nonnull(json_object_get(out, ENTERPRISE));
    json_decref(out);

    /* Both parameters: the selection, minus the exclusions. */
    out = project(&scim_resource_type_user, stored_user, "emails,userName",
                  "emails.value");
    assert_json(json_object_get(out, "emails"),
                "[{\"type\": \"work\", \"primary\": true},"
                " {\"type\": \"home\"}, {\"type\": \"other\"}]");
    ck_assert_ptr_nonnull(json_object_get(out, "userName"));
    json_decref(out);
}
END_TEST

/* returned "always" survives both parameters, sub-attributes included;
 * returned "request" needs asking for. */
START_TEST(project_returned_always_and_request)
{
    static const char *probe =
        "{\"schemas\": [\"urn:example:probe:1.0:Probe\"], \"id\": \"1\","
        " \"label\": \"p\", \"blob\": \"AAEC\","
        " \"stamp\": {\"value\": \"v\", \"when\": \"2024-01-01T00:00:00Z\"}}";
    json_t *out;

    out = project(&probe_type, probe, NULL, NULL);
    ck_assert_ptr_null(json_object_get(out, "blob"));
    ck_assert_ptr_nonnull(json_object_get(out, "label"));
    json_decref(out);

    out = project(&probe_type, probe, "blob", "stamp.when,stamp");
    assert_json(out,
        "{\"schemas\": [\"urn:example:probe:1.0:Probe\"], \"id\": \"1\","
        " \"blob\": \"AAEC\","
        " \"stamp\": {\"value\": \"v\", \"when\": \"2024-01-01T00:00:00Z\"}}");
    json_decref(out);
}
END_TEST

START_TEST(project_bad_input)
{
    json_t *odd = parse("[1, 2]");
    json_t *out = scim_schema_project(pool, &scim_resource_type_user, odd,
                                      "userName", NULL);

    assert_json(out, "{}");
    json_decref(out);
    json_decref(odd);

    /* Values of unexpected shapes are copied, not interpreted. */
    out = project(&scim_resource_type_user,
                  "{\"schemas\": 5, \"id\": 3, \"name\": [1, {\"givenName\":"
                  " \"x\", \"other\": 1}], \"" ENTERPRISE "\": \"text\"}",
                  NULL, "name.givenName");
    assert_json(out, "{\"schemas\": 5, \"id\": 3, \"name\": [1,"
                     " {\"other\": 1}], \"" ENTERPRISE "\": \"text\"}");
    json_decref(out);
}
END_TEST

/* ---- discovery --------------------------------------------------------- */

START_TEST(schema_discovery)
{
    json_t *doc = scim_schema_to_json(&scim_schema_user,
                                      "https://h/scim/v2/acme");
    const json_t *attrs = json_object_get(doc, "attributes");
    const json_t *a, *sub;

    assert_json(json_object_get(doc, "schemas"),
                "[\"urn:ietf:params:scim:schemas:core:2.0:Schema\"]");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "id")),
                     SCIM_SCHEMA_USER);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "name")),
                     "User");
    assert_json(json_object_get(doc, "meta"),
                "{\"resourceType\": \"Schema\", \"location\": "
                "\"https://h/scim/v2/acme/Schemas/"
                "urn:ietf:params:scim:schemas:core:2.0:User\"}");
    ck_assert_int_eq(json_array_size(attrs), 21);

    a = find_attr_json(attrs, "userName");
    assert_json(a,
        "{\"name\": \"userName\", \"type\": \"string\","
        " \"multiValued\": false, \"description\": \"Unique name the user "
        "signs in with.\", \"required\": true, \"caseExact\": false,"
        " \"mutability\": \"readWrite\", \"returned\": \"default\","
        " \"uniqueness\": \"server\"}");
    a = find_attr_json(attrs, "password");
    ck_assert_str_eq(json_string_value(json_object_get(a, "mutability")),
                     "writeOnly");
    ck_assert_str_eq(json_string_value(json_object_get(a, "returned")),
                     "never");
    a = find_attr_json(attrs, "profileUrl");
    assert_json(json_object_get(a, "referenceTypes"), "[\"external\"]");
    a = find_attr_json(attrs, "emails");
    ck_assert(json_is_true(json_object_get(a, "multiValued")));
    ck_assert_str_eq(json_string_value(json_object_get(a, "type")),
                     "complex");
    sub = find_attr_json(json_object_get(a, "subAttributes"), "type");
    assert_json(json_object_get(sub, "canonicalValues"),
                "[\"work\", \"home\", \"other\"]");
    sub = find_attr_json(json_object_get(a, "subAttributes"), "primary");
    ck_assert_str_eq(json_string_value(json_object_get(sub, "type")),
                     "boolean");
    ck_assert_ptr_null(json_object_get(sub, "subAttributes"));
    a = find_attr_json(attrs, "groups");
    ck_assert_str_eq(json_string_value(json_object_get(a, "mutability")),
                     "readOnly");
    a = find_attr_json(attrs, "x509Certificates");
    sub = find_attr_json(json_object_get(a, "subAttributes"), "value");
    ck_assert_str_eq(json_string_value(json_object_get(sub, "type")),
                     "binary");
    json_decref(doc);

    doc = scim_schema_to_json(&scim_schema_group, "https://h/scim/v2/acme");
    a = find_attr_json(json_object_get(doc, "attributes"), "members");
    sub = find_attr_json(json_object_get(a, "subAttributes"), "$ref");
    assert_json(sub,
        "{\"name\": \"$ref\", \"type\": \"reference\","
        " \"multiValued\": false, \"description\": \"URI of the member "
        "resource.\", \"required\": false, \"caseExact\": false,"
        " \"mutability\": \"immutable\", \"returned\": \"default\","
        " \"uniqueness\": \"none\","
        " \"referenceTypes\": [\"User\", \"Group\"]}");
    sub = find_attr_json(json_object_get(a, "subAttributes"), "type");
    assert_json(json_object_get(sub, "canonicalValues"),
                "[\"User\", \"Group\"]");
    json_decref(doc);

    doc = scim_schema_to_json(&scim_schema_membership, "");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(doc, "meta"), "location")),
                     "/Schemas/" MEMBERSHIP);
    a = find_attr_json(json_object_get(doc, "attributes"), "state");
    assert_json(json_object_get(a, "canonicalValues"),
                "[\"provisioned\", \"linked\"]");
    ck_assert_str_eq(json_string_value(json_object_get(a, "mutability")),
                     "readOnly");
    json_decref(doc);
}
END_TEST

START_TEST(every_schema_serialises)
{
    const scim_schema_t *const *schema;
    json_t *doc;

    for (schema = scim_all_schemas; *schema; schema++) {
        doc = scim_schema_to_json(*schema, "https://h");
        ck_assert_ptr_nonnull(doc);
        ck_assert_str_eq(json_string_value(json_object_get(doc, "id")),
                         (*schema)->id);
        ck_assert(json_array_size(json_object_get(doc, "attributes")) > 0);
        json_decref(doc);
    }
}
END_TEST

START_TEST(resource_type_discovery)
{
    json_t *doc = scim_resource_type_to_json(&scim_resource_type_user,
                                             "https://h/scim/v2/acme");

    assert_json(doc,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:"
        "ResourceType\"], \"id\": \"User\", \"name\": \"User\","
        " \"endpoint\": \"/Users\", \"description\": \"User Account\","
        " \"schema\": \"urn:ietf:params:scim:schemas:core:2.0:User\","
        " \"schemaExtensions\": ["
        " {\"schema\": \"" ENTERPRISE "\", \"required\": false},"
        " {\"schema\": \"" MEMBERSHIP "\", \"required\": false}],"
        " \"meta\": {\"resourceType\": \"ResourceType\", \"location\":"
        " \"https://h/scim/v2/acme/ResourceTypes/User\"}}");
    json_decref(doc);

    doc = scim_resource_type_to_json(&scim_resource_type_group,
                                     "https://h/scim/v2/acme");
    assert_json(doc,
        "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:"
        "ResourceType\"], \"id\": \"Group\", \"name\": \"Group\","
        " \"endpoint\": \"/Groups\", \"description\": \"Group\","
        " \"schema\": \"urn:ietf:params:scim:schemas:core:2.0:Group\","
        " \"meta\": {\"resourceType\": \"ResourceType\", \"location\":"
        " \"https://h/scim/v2/acme/ResourceTypes/Group\"}}");
    json_decref(doc);
}
END_TEST

Suite *schema_suite(void)
{
    Suite *s = suite_create("schema");
    TCase *tables = tcase_create("tables");
    TCase *checks = tcase_create("check_resource");
    TCase *projection = tcase_create("project");
    TCase *discovery = tcase_create("discovery");

    tcase_add_test(tables, tables_are_well_formed);
    tcase_add_test(tables, tables_match_rfc_7643);

    tcase_add_checked_fixture(checks, setup, teardown);
    tcase_add_test(checks, okta_create_drops_password);
    tcase_add_test(checks, element_without_value_is_dropped);
    tcase_add_test(checks, entra_create_with_nulls_and_string_boolean);
    tcase_add_test(checks, string_booleans_any_case);
    tcase_add_test(checks, entra_manager_array_and_bare_string);
    tcase_add_test(checks, names_become_canonical);
    tcase_add_test(checks, core_attributes_under_core_urn);
    tcase_add_test(checks, extension_urns);
    tcase_add_test(checks, entra_group_create);
    tcase_add_test(checks, schemas_must_name_the_core);
    tcase_add_test(checks, required_attributes);
    tcase_add_test(checks, one_primary_at_most);
    tcase_add_test(checks, custom_type_labels_accepted);
    tcase_add_test(checks, wrong_types_rejected);
    tcase_add_test(checks, bare_strings_become_values);
    tcase_add_test(checks, member_type_is_canonical);
    tcase_add_test(checks, id_only_from_existing);
    tcase_add_test(checks, okta_put_echo_drops_server_attributes);
    tcase_add_test(checks, put_with_immutable_change);
    tcase_add_test(checks, manager_display_name_follows_manager);
    tcase_add_test(checks, stored_form_is_stable);
    tcase_add_test(checks, value_types);
    tcase_add_test(checks, date_times);
    tcase_add_test(checks, immutable_simple_value);
    tcase_add_test(checks, many_elements_find_counterparts);
    tcase_add_test(checks, schemas_length_is_bounded);

    tcase_add_checked_fixture(projection, setup, teardown);
    tcase_add_test(projection, project_default);
    tcase_add_test(projection, project_shares_what_it_keeps_whole);
    tcase_add_test(projection, project_attributes);
    tcase_add_test(projection, project_extensions);
    tcase_add_test(projection, project_excluded);
    tcase_add_test(projection, project_attribute_with_value_filter);
    tcase_add_test(projection, project_returned_always_and_request);
    tcase_add_test(projection, project_bad_input);

    tcase_add_test(discovery, schema_discovery);
    tcase_add_test(discovery, every_schema_serialises);
    tcase_add_test(discovery, resource_type_discovery);

    suite_add_tcase(s, tables);
    suite_add_tcase(s, checks);
    suite_add_tcase(s, projection);
    suite_add_tcase(s, discovery);
    return s;
}
