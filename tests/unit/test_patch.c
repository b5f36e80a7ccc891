/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Unit tests of the PATCH engine: RFC 7644 3.5.2 operations on every kind
 * of attribute, the requests Entra ID and Okta really send (replayed from
 * their documentation), the error cases and the detached member changes.
 *
 * JSON in this file is written with single quotes for readability; parse()
 * turns them into double quotes, so a double quote inside a JSON string is
 * written \\\" in the C source. */

#include <stdio.h>
#include <string.h>

#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "scim_patch.h"
#include "suites.h"

#define ENT      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define MEMBERSHIP "urn:modscim:schemas:extension:membership:2.0:User"
#define PATCHOP  "urn:ietf:params:scim:api:messages:2.0:PatchOp"
#define USER_ID  "2819c223-7f76-453a-919d-413861904646"
#define MANAGER_ID "26118915-6090-4610-87e4-49d8ca9f808d"
#define GROUP_ID "e9e30dba-f08f-4109-8486-d5c6a331660a"
#define MANDY_ID "902c246b-6245-4190-8e05-00816be7344a"

/* Marks a top-level member the expected document must not have. */
#define ABSENT   "#absent"

/* A user as Entra ID creates it (section 2.2 of the IdP notes), as the
 * store keeps it. */
static const char *const user_json =
    "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User','" ENT "',"
    "            '" MEMBERSHIP "'],"
    " 'id':'" USER_ID "',"
    " 'externalId':'0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',"
    " 'userName':"
    "   'Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee@testuser.com',"
    " 'name':{'formatted':'Barbara Jensen','familyName':'Jensen',"
    "         'givenName':'Barbara'},"
    " 'displayName':'Barbara Jensen',"
    " 'active':true,"
    " 'emails':[{'primary':true,'type':'work','value':'bjensen@contoso.com'},"
    "           {'type':'home','value':'babs@example.org'}],"
    " 'phoneNumbers':[{'type':'work','value':'+1 555 0100'}],"
    " '" ENT "':{'employeeNumber':'701984','department':'Tour Operations',"
    "   'manager':{'value':'" MANAGER_ID "','displayName':'John Smith'}},"
    " '" MEMBERSHIP "':{'state':'provisioned','seat':false},"
    " 'meta':{'resourceType':'User','created':'2024-01-23T04:56:22Z',"
    "         'lastModified':'2024-01-23T04:56:22Z'}}";

/* A user as Okta creates it: no enterprise extension. */
static const char *const okta_user_json =
    "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User'],"
    " 'id':'6b2a9c5e-31f4-4a8e-9d0c-2f1e7b3c4d5a',"
    " 'externalId':'00u1b2c3d4e5f6g7h8i9',"
    " 'userName':'test.user@okta.local',"
    " 'name':{'givenName':'Test','familyName':'User'},"
    " 'emails':[{'primary':true,'value':'test.user@okta.local',"
    "            'type':'work'}],"
    " 'displayName':'Test User','locale':'en-US','active':true,"
    " 'meta':{'resourceType':'User','created':'2024-02-01T10:00:00Z',"
    "         'lastModified':'2024-02-01T10:00:00Z'}}";

/* A group as stored when its members live in their own table. */
static const char *const group_json =
    "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:Group'],"
    " 'id':'" GROUP_ID "',"
    " 'externalId':'8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',"
    " 'displayName':'Tour Guides',"
    " 'meta':{'resourceType':'Group','created':'2024-01-23T04:56:22Z',"
    "         'lastModified':'2024-01-23T04:56:22Z'}}";

/* The same group with its members in the JSON (no detached attribute). */
static const char *const group_members_json =
    "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:Group'],"
    " 'id':'" GROUP_ID "',"
    " 'displayName':'Tour Guides',"
    " 'members':[{'value':'" USER_ID "','display':'Barbara Jensen',"
    "             'type':'User'},"
    "            {'value':'" MANDY_ID "','display':'Mandy Pepperidge',"
    "             'type':'User'}]}";

/* A resource type of the tests' own, for what the built-in schemas do not
 * have: an immutable attribute and a multi-valued simple one. */
static const scim_attr_t device_attrs[] = {
    { .name = "label", .required = 1 },
    { .name = "serialNumber", .mutability = SCIM_MUT_IMMUTABLE },
    { .name = "tags", .multi_valued = 1 },
    { .name = NULL }
};
static const scim_schema_t device_schema = {
    .id = "urn:example:scim:schemas:core:1.0:Device",
    .name = "Device",
    .attrs = device_attrs
};
static const scim_schema_t *const device_extensions[] = { NULL };
static const scim_resource_type_t device_type = {
    .name = "Device",
    .endpoint = "/Devices",
    .core = &device_schema,
    .extensions = device_extensions
};

static const char *const device_json =
    "{'schemas':['urn:example:scim:schemas:core:1.0:Device'],"
    " 'id':'d1','label':'Front desk','serialNumber':'SN-1',"
    " 'tags':['lobby','Printer']}";

/* A user carrying a custom extension the resource type does not declare. */
#define BADGE    "urn:example:scim:schemas:extension:badge:1.0:User"
static const char *const badge_user_json =
    "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User','" BADGE "'],"
    " 'id':'u1','userName':'bjensen',"
    " '" BADGE "':{'number':'B-17','colour':'red'}}";

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
    char *s = apr_pstrdup(pool, text), *c;
    json_error_t jerr;
    json_t *doc;

    for (c = s; *c; c++) {
        if (*c == '\'') {
            *c = '"';
        }
    }
    doc = json_loads(s, JSON_DECODE_ANY, &jerr);
    ck_assert_msg(doc != NULL, "test JSON does not parse (%s): %s",
                  jerr.text, s);
    return doc;
}

static const char *dump(const json_t *doc)
{
    char *s = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT
                              | JSON_ENCODE_ANY);
    const char *copy = apr_pstrdup(pool, s ? s : "(null)");

    free(s);
    return copy;
}

static void assert_json(const json_t *got, const json_t *expected)
{
    ck_assert_msg(json_equal((json_t *)got, (json_t *)expected),
                  "\n got      %s\n expected %s", dump(got), dump(expected));
}

/* base with the top-level members of overrides set (ABSENT: removed). */
static json_t *with_overrides(const char *base, const char *overrides)
{
    json_t *doc = parse(base), *changes = parse(overrides), *value;
    const char *key;

    json_object_foreach(changes, key, value) {
        if (json_is_string(value)
            && strcmp(json_string_value(value), ABSENT) == 0) {
            json_object_del(doc, key);
        }
        else {
            json_object_set(doc, key, value);
        }
    }
    json_decref(changes);
    return doc;
}

static scim_error_t *apply(const scim_resource_type_t *rt, json_t *resource,
                           const char *request, const char *detached_attr,
                           apr_array_header_t *detached)
{
    json_t *req = parse(request);
    scim_error_t *err = scim_patch_apply(pool, rt, resource, req,
                                         detached_attr, detached);
    json_decref(req);
    return err;
}

static void assert_ok(const scim_error_t *err)
{
    ck_assert_msg(err == NULL, "PATCH failed: %d %s: %s",
                  err ? err->status : 0,
                  err && err->scim_type ? err->scim_type : "-",
                  err ? err->detail : "");
}

/* Patches base and compares the whole result with base + overrides. */
static void expect_patch(const scim_resource_type_t *rt, const char *base,
                         const char *request, const char *overrides)
{
    json_t *resource = parse(base);
    json_t *expected = with_overrides(base, overrides);

    assert_ok(apply(rt, resource, request, NULL, NULL));
    assert_json(resource, expected);
    json_decref(resource);
    json_decref(expected);
}

static void expect_user(const char *request, const char *overrides)
{
    expect_patch(&scim_resource_type_user, user_json, request, overrides);
}

static void expect_error(const scim_resource_type_t *rt, const char *base,
                         const char *request, const char *scim_type)
{
    json_t *resource = parse(base);
    scim_error_t *err = apply(rt, resource, request, NULL, NULL);

    ck_assert_msg(err != NULL, "PATCH succeeded, expected %s: %s",
                  scim_type, request);
    ck_assert_int_eq(err->status, 400);
    ck_assert_msg(scim_type ? err->scim_type
                              && strcmp(err->scim_type, scim_type) == 0
                            : err->scim_type == NULL,
                  "scimType %s, expected %s (%s)",
                  err->scim_type ? err->scim_type : "none",
                  scim_type ? scim_type : "none", err->detail);
    json_decref(resource);
}

static void expect_user_error(const char *request, const char *scim_type)
{
    expect_error(&scim_resource_type_user, user_json, request, scim_type);
}

/* Patches a group with "members" detached; checks the group JSON against
 * group_json + overrides and returns the detached changes. */
static apr_array_header_t *expect_group(const char *request,
                                        const char *overrides)
{
    apr_array_header_t *changes = apr_array_make(pool, 4, sizeof(void *));
    json_t *resource = parse(group_json);
    json_t *expected = with_overrides(group_json, overrides);

    assert_ok(apply(&scim_resource_type_group, resource, request, "members",
                    changes));
    assert_json(resource, expected);
    json_decref(resource);
    json_decref(expected);
    return changes;
}

static void expect_group_error(const char *request, const char *scim_type)
{
    apr_array_header_t *changes = apr_array_make(pool, 4, sizeof(void *));
    json_t *resource = parse(group_json);
    scim_error_t *err = apply(&scim_resource_type_group, resource, request,
                              "members", changes);

    ck_assert_msg(err != NULL, "PATCH succeeded, expected %s: %s",
                  scim_type, request);
    ck_assert_str_eq(err->scim_type, scim_type);
    json_decref(resource);
}

/* Asserts change i: its op, its values (JSON text, or NULL for none), and
 * for a filter the member id it must select (NULL: no filter). */
static void expect_change(const apr_array_header_t *changes, int i,
                          scim_detached_op_t op, const char *values,
                          const char *filter_selects)
{
    const scim_detached_change_t *c;

    ck_assert_int_gt(changes->nelts, i);
    c = APR_ARRAY_IDX(changes, i, const scim_detached_change_t *);
    ck_assert_int_eq(c->op, op);
    if (values) {
        json_t *expected = parse(values);
        ck_assert_ptr_nonnull(c->values);
        assert_json(c->values, expected);
        json_decref(expected);
    }
    else {
        ck_assert_ptr_null(c->values);
    }
    if (filter_selects) {
        json_t *hit = json_pack("{s:s}", "value", filter_selects);
        json_t *miss = json_pack("{s:s}", "value", "someone-else");

        ck_assert_ptr_nonnull(c->filter);
        ck_assert(scim_filter_match_element(c->filter, hit));
        ck_assert(!scim_filter_match_element(c->filter, miss));
        json_decref(hit);
        json_decref(miss);
    }
    else {
        ck_assert_ptr_null(c->filter);
    }
}

/* ==== add ================================================================ */

START_TEST(add_simple_with_path)
{
    expect_user("{'Operations':[{'op':'add','path':'nickName',"
                "'value':'Babs'}]}",
                "{'nickName':'Babs'}");
}
END_TEST

START_TEST(add_simple_existing_is_replaced)
{
    expect_user("{'Operations':[{'op':'add','path':'displayName',"
                "'value':'Babs Jensen'}]}",
                "{'displayName':'Babs Jensen'}");
}
END_TEST

START_TEST(add_complex_merges_sub_attributes)
{
    expect_user("{'Operations':[{'op':'add','path':'name',"
                "'value':{'middleName':'Jane','GivenName':'Barb'}}]}",
                "{'name':{'formatted':'Barbara Jensen','familyName':'Jensen',"
                "         'givenName':'Barb','middleName':'Jane'}}");
}
END_TEST

START_TEST(add_sub_attribute)
{
    expect_user("{'Operations':[{'op':'add','path':'name.honorificPrefix',"
                "'value':'Ms.'}]}",
                "{'name':{'formatted':'Barbara Jensen','familyName':'Jensen',"
                "         'givenName':'Barbara','honorificPrefix':'Ms.'}}");
}
END_TEST

START_TEST(add_multi_valued_single_value)
{
    expect_user("{'Operations':[{'op':'add','path':'emails',"
                "'value':{'type':'other','value':'bj@example.net'}}]}",
                "{'emails':[{'primary':true,'type':'work',"
                "            'value':'bjensen@contoso.com'},"
                "           {'type':'home','value':'babs@example.org'},"
                "           {'type':'other','value':'bj@example.net'}]}");
}
END_TEST

START_TEST(add_multi_valued_skips_held_values)
{
    /* The first two are already there (the second without its
     * "primary"), the third twice in the request. */
    expect_user("{'Operations':[{'op':'add','path':'emails','value':["
                " {'type':'home','value':'babs@example.org'},"
                " {'value':'bjensen@contoso.com','type':'work'},"
                " {'type':'other','value':'x@example.net'},"
                " {'type':'other','value':'x@example.net'}]}]}",
                "{'emails':[{'primary':true,'type':'work',"
                "            'value':'bjensen@contoso.com'},"
                "           {'type':'home','value':'babs@example.org'},"
                "           {'type':'other','value':'x@example.net'}]}");
}
END_TEST

START_TEST(add_primary_clears_other_primary)
{
    expect_user("{'Operations':[{'op':'add','path':'emails','value':["
                " {'type':'other','value':'x@example.net','primary':true}]}]}",
                "{'emails':[{'primary':false,'type':'work',"
                "            'value':'bjensen@contoso.com'},"
                "           {'type':'home','value':'babs@example.org'},"
                "           {'type':'other','value':'x@example.net',"
                "            'primary':true}]}");
}
END_TEST

START_TEST(add_value_path_sub_on_match)
{
    expect_user("{'Operations':[{'op':'add',"
                "'path':'emails[type eq \\\"home\\\"].display',"
                "'value':'Home'}]}",
                "{'emails':[{'primary':true,'type':'work',"
                "            'value':'bjensen@contoso.com'},"
                "           {'type':'home','value':'babs@example.org',"
                "            'display':'Home'}]}");
}
END_TEST

START_TEST(add_value_path_sub_creates_element)
{
    expect_user("{'Operations':[{'op':'add',"
                "'path':'phoneNumbers[type eq \\\"mobile\\\"].value',"
                "'value':'+1 555 0199'}]}",
                "{'phoneNumbers':[{'type':'work','value':'+1 555 0100'},"
                "                 {'type':'mobile','value':'+1 555 0199'}]}");
}
END_TEST

START_TEST(add_value_path_element_merges)
{
    expect_user("{'Operations':[{'op':'add',"
                "'path':'emails[type eq \\\"home\\\"]',"
                "'value':{'display':'Home mail'}}]}",
                "{'emails':[{'primary':true,'type':'work',"
                "            'value':'bjensen@contoso.com'},"
                "           {'type':'home','value':'babs@example.org',"
                "            'display':'Home mail'}]}");
}
END_TEST

START_TEST(add_value_path_element_created_from_and_filter)
{
    expect_user("{'Operations':[{'op':'add',"
                "'path':'emails[type eq \\\"other\\\" and primary eq false]',"
                "'value':{'value':'x@example.net'}}]}",
                "{'emails':[{'primary':true,'type':'work',"
                "            'value':'bjensen@contoso.com'},"
                "           {'type':'home','value':'babs@example.org'},"
                "           {'type':'other','primary':false,"
                "            'value':'x@example.net'}]}");
}
END_TEST

START_TEST(add_value_path_underivable_filter_is_no_target)
{
    /* Which element would "or" describe? */
    expect_user_error("{'Operations':[{'op':'add',"
                      "'path':'emails[type eq \\\"other\\\" or "
                      "type eq \\\"x\\\"].value','value':'x@example.net'}]}",
                      SCIM_TYPE_NO_TARGET);
    /* The value contradicts the filter it is added under. */
    expect_user_error("{'Operations':[{'op':'add',"
                      "'path':'emails[type eq \\\"other\\\"]',"
                      "'value':{'type':'home','value':'x@example.net'}}]}",
                      SCIM_TYPE_NO_TARGET);
}
END_TEST

START_TEST(add_without_path_merges_attribute_by_attribute)
{
    expect_user("{'schemas':['" PATCHOP "'],'Operations':[{'op':'add',"
                "'value':{'nickName':'Babs',"
                "         'name':{'middleName':'Jane'},"
                "         'emails':[{'type':'other','value':'x@example.net'},"
                "           {'type':'home','value':'babs@example.org'}],"
                "         '" ENT ":costCenter':'4130'}}]}",
                "{'nickName':'Babs',"
                " 'name':{'formatted':'Barbara Jensen','familyName':'Jensen',"
                "         'givenName':'Barbara','middleName':'Jane'},"
                " 'emails':[{'primary':true,'type':'work',"
                "            'value':'bjensen@contoso.com'},"
                "           {'type':'home','value':'babs@example.org'},"
                "           {'type':'other','value':'x@example.net'}],"
                " '" ENT "':{'employeeNumber':'701984',"
                "   'department':'Tour Operations','costCenter':'4130',"
                "   'manager':{'value':'" MANAGER_ID "',"
                "              'displayName':'John Smith'}}}");
}
END_TEST

START_TEST(add_extension_attribute)
{
    expect_user("{'Operations':[{'op':'add','path':'" ENT ":costCenter',"
                "'value':'4130'}]}",
                "{'" ENT "':{'employeeNumber':'701984',"
                "   'department':'Tour Operations','costCenter':'4130',"
                "   'manager':{'value':'" MANAGER_ID "',"
                "              'displayName':'John Smith'}}}");
}
END_TEST

START_TEST(add_whole_extension)
{
    expect_user("{'Operations':[{'op':'add','path':'" ENT "',"
                "'value':{'division':'Theme Park',"
                "         'organization':'Universal Studios'}}]}",
                "{'" ENT "':{'employeeNumber':'701984',"
                "   'department':'Tour Operations','division':'Theme Park',"
                "   'organization':'Universal Studios',"
                "   'manager':{'value':'" MANAGER_ID "',"
                "              'displayName':'John Smith'}}}");
}
END_TEST

START_TEST(add_extension_to_user_without_it)
{
    /* The extension object is created and listed in "schemas". */
    expect_patch(&scim_resource_type_user, okta_user_json,
                 "{'Operations':[{'op':'add',"
                 "'path':'" ENT ":employeeNumber','value':'42'}]}",
                 "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User',"
                 "            '" ENT "'],"
                 " '" ENT "':{'employeeNumber':'42'}}");
    /* Also through a no-path value with the extension as a whole. */
    expect_patch(&scim_resource_type_user, okta_user_json,
                 "{'Operations':[{'op':'add',"
                 "'value':{'" ENT "':{'department':'QA'}}}]}",
                 "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User',"
                 "            '" ENT "'],"
                 " '" ENT "':{'department':'QA'}}");
}
END_TEST

START_TEST(add_undeclared_extension_attribute)
{
    expect_patch(&scim_resource_type_user, okta_user_json,
                 "{'Operations':[{'op':'add','path':"
                 "'urn:example:scim:schemas:extension:badge:1.0:User:number',"
                 "'value':'B-17'}]}",
                 "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User',"
                 "  'urn:example:scim:schemas:extension:badge:1.0:User'],"
                 " 'urn:example:scim:schemas:extension:badge:1.0:User':"
                 "   {'number':'B-17'}}");
}
END_TEST

START_TEST(add_writes_canonical_names)
{
    /* A differently-cased stored key is replaced, not duplicated, and
     * sub-attribute keys of new values are spelled canonically. */
    expect_patch(&scim_resource_type_user,
                 "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User'],"
                 " 'id':'u1','userName':'bjensen','NICKNAME':'Bee'}",
                 "{'Operations':[{'op':'add','path':'nickname',"
                 "'value':'Babs'},{'op':'add','path':'EMAILS',"
                 "'value':[{'Value':'b@example.org','TYPE':'home'}]}]}",
                 "{'NICKNAME':'" ABSENT "','nickName':'Babs',"
                 " 'emails':[{'value':'b@example.org','type':'home'}]}");
}
END_TEST

/* ==== replace ============================================================ */

START_TEST(replace_multi_valued_wholly)
{
    expect_user("{'Operations':[{'op':'replace','path':'emails',"
                "'value':[{'value':'new@contoso.com','type':'work',"
                "          'primary':true}]}]}",
                "{'emails':[{'value':'new@contoso.com','type':'work',"
                "            'primary':true}]}");
    expect_user("{'Operations':[{'op':'replace','path':'phoneNumbers',"
                "'value':{'type':'mobile','value':'+1 555 0199'}}]}",
                "{'phoneNumbers':[{'type':'mobile','value':'+1 555 0199'}]}");
    /* null is "unassigned": the schema check drops it. */
    expect_user("{'Operations':[{'op':'replace','path':'phoneNumbers',"
                "'value':null}]}",
                "{'phoneNumbers':null}");
}
END_TEST

START_TEST(replace_complex_keeps_unnamed_sub_attributes)
{
    /* RFC 7644 3.5.2.3: sub-attributes not in the value are left. */
    expect_user("{'Operations':[{'op':'replace','path':'name',"
                "'value':{'givenName':'Babs'}}]}",
                "{'name':{'formatted':'Barbara Jensen','familyName':'Jensen',"
                "         'givenName':'Babs'}}");
}
END_TEST

START_TEST(replace_value_path_element)
{
    expect_user("{'Operations':[{'op':'replace',"
                "'path':'emails[type eq \\\"home\\\"]',"
                "'value':{'type':'home','value':'b@example.org'}}]}",
                "{'emails':[{'primary':true,'type':'work',"
                "            'value':'bjensen@contoso.com'},"
                "           {'type':'home','value':'b@example.org'}]}");
}
END_TEST

START_TEST(replace_value_path_without_match_is_no_target)
{
    expect_user_error("{'Operations':[{'op':'replace',"
                      "'path':'emails[type eq \\\"other\\\"]',"
                      "'value':{'type':'other','value':'b@example.org'}}]}",
                      SCIM_TYPE_NO_TARGET);
}
END_TEST

START_TEST(replace_value_path_sub_without_match_creates)
{
    /* Entra ID replaces the work address of a user who has none. */
    expect_patch(&scim_resource_type_user,
                 "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User'],"
                 " 'id':'u1','userName':'bjensen'}",
                 "{'Operations':[{'op':'Replace',"
                 "'path':'emails[type eq \\\"work\\\"].value',"
                 "'value':'bjensen@contoso.com'}]}",
                 "{'emails':[{'type':'work','value':'bjensen@contoso.com'}]}");
}
END_TEST

START_TEST(replace_primary_clears_other_primary)
{
    expect_user("{'Operations':[{'op':'replace',"
                "'path':'emails[type eq \\\"home\\\"].primary',"
                "'value':true}]}",
                "{'emails':[{'primary':false,'type':'work',"
                "            'value':'bjensen@contoso.com'},"
                "           {'type':'home','value':'babs@example.org',"
                "            'primary':true}]}");
}
END_TEST

START_TEST(replace_extension_attribute)
{
    expect_user("{'Operations':[{'op':'replace',"
                "'path':'" ENT ":employeeNumber','value':'123456'}]}",
                "{'" ENT "':{'employeeNumber':'123456',"
                "   'department':'Tour Operations',"
                "   'manager':{'value':'" MANAGER_ID "',"
                "              'displayName':'John Smith'}}}");
}
END_TEST

START_TEST(replace_without_path_ignores_read_only_keys)
{
    /* A client echoing the resource back: id, meta, schemas, groups and
     * the membership extension are the server's; only displayName is the
     * client's to change. */
    expect_user("{'Operations':[{'op':'replace','value':{"
                " 'id':'another-id',"
                " 'schemas':['urn:ietf:params:scim:schemas:core:2.0:User'],"
                " 'meta':{'resourceType':'Group'},"
                " 'groups':[{'value':'g1'}],"
                " 'meta.created':'2000-01-01T00:00:00Z',"
                " '" MEMBERSHIP "':{'state':'linked','seat':true},"
                " '" MEMBERSHIP ":seat':true,"
                " 'displayName':'Babs'}}]}",
                "{'displayName':'Babs'}");
}
END_TEST

START_TEST(replace_without_path_ignores_unknown_keys)
{
    /* As a PUT drops unknown core attributes. */
    expect_user("{'Operations':[{'op':'replace','value':{"
                " 'favouriteColour':'teal','name.nickname':'x',"
                " 'title':'Tour Guide'}}]}",
                "{'title':'Tour Guide'}");
}
END_TEST

START_TEST(read_only_paths_are_mutability_errors)
{
    static const char *const paths[] = {
        "id", "meta", "meta.lastModified", "groups",
        "groups[value eq \\\"g1\\\"].display",
        MEMBERSHIP ":state", MEMBERSHIP,
        ENT ":manager.displayName",
        NULL
    };
    static const char *const ops[] = { "add", "Replace", "remove", NULL };
    int i, j;

    for (i = 0; paths[i]; i++) {
        for (j = 0; ops[j]; j++) {
            expect_user_error(apr_psprintf(pool,
                                "{'Operations':[{'op':'%s','path':'%s',"
                                "'value':'x'}]}", ops[j], paths[i]),
                              SCIM_TYPE_MUTABILITY);
        }
    }
}
END_TEST

START_TEST(immutable_sub_attribute)
{
    /* members.value is immutable (RFC 7643 8.7.1); here the group keeps
     * members in its JSON. */
    expect_error(&scim_resource_type_group, group_members_json,
                 "{'Operations':[{'op':'replace',"
                 "'path':'members[value eq \\\"" USER_ID "\\\"].value',"
                 "'value':'someone-else'}]}",
                 SCIM_TYPE_MUTABILITY);
    expect_error(&scim_resource_type_group, group_members_json,
                 "{'Operations':[{'op':'remove',"
                 "'path':'members[value eq \\\"" USER_ID "\\\"].value'}]}",
                 SCIM_TYPE_MUTABILITY);
    /* Setting it to what it is changes nothing and is allowed. */
    expect_patch(&scim_resource_type_group, group_members_json,
                 "{'Operations':[{'op':'replace',"
                 "'path':'members[value eq \\\"" USER_ID "\\\"].value',"
                 "'value':'" USER_ID "'}]}",
                 "{}");
    /* A new element may carry it. */
    expect_patch(&scim_resource_type_group, group_members_json,
                 "{'Operations':[{'op':'add',"
                 "'path':'members[value eq \\\"abc\\\"].type',"
                 "'value':'User'}]}",
                 "{'members':[{'value':'" USER_ID "',"
                 "  'display':'Barbara Jensen','type':'User'},"
                 " {'value':'" MANDY_ID "','display':'Mandy Pepperidge',"
                 "  'type':'User'},"
                 " {'value':'abc','type':'User'}]}");
}
END_TEST

START_TEST(immutable_attribute)
{
    static const char *const refused[] = {
        "{'Operations':[{'op':'add','path':'serialNumber','value':'SN-2'}]}",
        "{'Operations':[{'op':'replace','path':'serialNumber',"
        " 'value':'SN-2'}]}",
        "{'Operations':[{'op':'replace','value':{'serialNumber':'SN-2'}}]}",
        "{'Operations':[{'op':'remove','path':'serialNumber'}]}",
        NULL
    };
    int i;

    for (i = 0; refused[i]; i++) {
        expect_error(&device_type, device_json, refused[i],
                     SCIM_TYPE_MUTABILITY);
    }
    /* Restating the value changes nothing. */
    expect_patch(&device_type, device_json,
                 "{'Operations':[{'op':'replace','path':'serialNumber',"
                 "'value':'SN-1'},{'op':'add',"
                 "'value':{'serialNumber':'SN-1','label':'Lobby'}}]}",
                 "{'label':'Lobby'}");
    /* Without a value yet, it may be given once. */
    expect_patch(&device_type,
                 "{'schemas':['urn:example:scim:schemas:core:1.0:Device'],"
                 " 'id':'d2','label':'Spare'}",
                 "{'Operations':[{'op':'add','path':'serialNumber',"
                 "'value':'SN-9'}]}",
                 "{'serialNumber':'SN-9'}");
}
END_TEST

START_TEST(simple_multi_valued)
{
    expect_patch(&device_type, device_json,
                 "{'Operations':[{'op':'add','path':'tags',"
                 "'value':['lobby','wifi']},"
                 "{'op':'add','path':'tags','value':'colour'}]}",
                 "{'tags':['lobby','Printer','wifi','colour']}");
    /* Listed values compare as the attribute does: caseExact false. */
    expect_patch(&device_type, device_json,
                 "{'Operations':[{'op':'remove','path':'tags',"
                 "'value':['printer']}]}",
                 "{'tags':['lobby']}");
    expect_patch(&device_type, device_json,
                 "{'Operations':[{'op':'replace','path':'tags',"
                 "'value':'kiosk'}]}",
                 "{'tags':['kiosk']}");
    expect_error(&device_type, device_json,
                 "{'Operations':[{'op':'remove','path':'label'}]}",
                 SCIM_TYPE_INVALID_VALUE);
}
END_TEST

START_TEST(undeclared_extension_as_a_whole)
{
    /* Listed in "schemas", the custom URN addresses the extension. */
    expect_patch(&scim_resource_type_user, badge_user_json,
                 "{'Operations':[{'op':'replace','value':{"
                 "'" BADGE "':{'colour':'blue','floor':3}}}]}",
                 "{'" BADGE "':{'number':'B-17','colour':'blue','floor':3}}");
    expect_patch(&scim_resource_type_user, badge_user_json,
                 "{'Operations':[{'op':'remove','path':'" BADGE ":colour'}]}",
                 "{'" BADGE "':{'number':'B-17'}}");
    expect_patch(&scim_resource_type_user, badge_user_json,
                 "{'Operations':[{'op':'remove','path':'" BADGE "'}]}",
                 "{'" BADGE "':'" ABSENT "',"
                 " 'schemas':['urn:ietf:params:scim:schemas:core:2.0:User']}");
}
END_TEST

/* ==== remove ============================================================= */

START_TEST(remove_simple)
{
    expect_user("{'Operations':[{'op':'remove','path':'displayName'}]}",
                "{'displayName':'" ABSENT "'}");
}
END_TEST

START_TEST(remove_absent_is_a_no_op)
{
    expect_user("{'Operations':[{'op':'remove','path':'nickName'},"
                "{'op':'remove','path':'" ENT ":costCenter'},"
                "{'op':'remove','path':'name.middleName'},"
                "{'op':'remove','path':'ims[type eq \\\"xmpp\\\"]'},"
                "{'op':'remove','path':'emails[type eq \\\"other\\\"]'}]}",
                "{}");
    /* No extension object appears for a remove. */
    expect_patch(&scim_resource_type_user, okta_user_json,
                 "{'Operations':[{'op':'remove','path':'" ENT ":manager'}]}",
                 "{}");
}
END_TEST

START_TEST(remove_sub_attribute)
{
    expect_user("{'Operations':[{'op':'remove','path':'name.givenName'}]}",
                "{'name':{'formatted':'Barbara Jensen',"
                "         'familyName':'Jensen'}}");
}
END_TEST

START_TEST(remove_complex_and_multi_valued)
{
    expect_user("{'Operations':[{'op':'remove','path':'name'},"
                "{'op':'remove','path':'emails'}]}",
                "{'name':'" ABSENT "','emails':'" ABSENT "'}");
}
END_TEST

START_TEST(remove_value_path)
{
    expect_user("{'Operations':[{'op':'remove',"
                "'path':'emails[type eq \\\"home\\\"]'}]}",
                "{'emails':[{'primary':true,'type':'work',"
                "            'value':'bjensen@contoso.com'}]}");
    /* The last value gone, the attribute is unassigned. */
    expect_user("{'Operations':[{'op':'remove',"
                "'path':'phoneNumbers[type eq \\\"work\\\"]'}]}",
                "{'phoneNumbers':'" ABSENT "'}");
}
END_TEST

START_TEST(remove_value_path_sub_attribute)
{
    expect_user("{'Operations':[{'op':'remove',"
                "'path':'emails[type eq \\\"work\\\"].primary'}]}",
                "{'emails':[{'type':'work','value':'bjensen@contoso.com'},"
                "           {'type':'home','value':'babs@example.org'}]}");
    expect_user("{'Operations':[{'op':'remove','path':'emails.type'}]}",
                "{'emails':[{'primary':true,'value':'bjensen@contoso.com'},"
                "           {'value':'babs@example.org'}]}");
}
END_TEST

START_TEST(remove_required_attribute_is_invalid_value)
{
    expect_user_error("{'Operations':[{'op':'remove','path':'userName'}]}",
                      SCIM_TYPE_INVALID_VALUE);
    expect_error(&scim_resource_type_group, group_json,
                 "{'Operations':[{'op':'remove','path':'displayName'}]}",
                 SCIM_TYPE_INVALID_VALUE);
}
END_TEST

START_TEST(remove_extension_attribute)
{
    expect_user("{'Operations':[{'op':'remove','path':'" ENT ":manager'}]}",
                "{'" ENT "':{'employeeNumber':'701984',"
                "   'department':'Tour Operations'}}");
}
END_TEST

START_TEST(remove_whole_extension)
{
    expect_user("{'Operations':[{'op':'remove','path':'" ENT "'}]}",
                "{'" ENT "':'" ABSENT "',"
                " 'schemas':['urn:ietf:params:scim:schemas:core:2.0:User',"
                "            '" MEMBERSHIP "']}");
}
END_TEST

START_TEST(remove_with_value_list_in_json)
{
    /* Entra's remove-with-value on an attribute kept in the JSON: exactly
     * the listed values go. */
    expect_patch(&scim_resource_type_group, group_members_json,
                 "{'Operations':[{'op':'Remove','path':'members',"
                 "'value':[{'value':'" USER_ID "'}]}]}",
                 "{'members':[{'value':'" MANDY_ID "',"
                 "  'display':'Mandy Pepperidge','type':'User'}]}");
    /* An empty list removes nothing, never the whole attribute. */
    expect_patch(&scim_resource_type_group, group_members_json,
                 "{'Operations':[{'op':'Remove','path':'members',"
                 "'value':[]}]}",
                 "{}");
    /* Removing by filter, when members are in the JSON. */
    expect_patch(&scim_resource_type_group, group_members_json,
                 "{'Operations':[{'op':'remove',"
                 "'path':'members[value eq \\\"" MANDY_ID "\\\"]'}]}",
                 "{'members':[{'value':'" USER_ID "',"
                 "  'display':'Barbara Jensen','type':'User'}]}");
}
END_TEST

/* ==== Entra ID, replayed from its documentation ========================= */

START_TEST(entra_update_multi_valued)
{
    expect_user("{'schemas':['" PATCHOP "'],'Operations':["
                "{'op':'Replace','path':'emails[type eq \\\"work\\\"].value',"
                " 'value':'updatedEmail@microsoft.com'},"
                "{'op':'Replace','path':'name.familyName',"
                " 'value':'updatedFamilyName'}]}",
                "{'emails':[{'primary':true,'type':'work',"
                "            'value':'updatedEmail@microsoft.com'},"
                "           {'type':'home','value':'babs@example.org'}],"
                " 'name':{'formatted':'Barbara Jensen',"
                "         'familyName':'updatedFamilyName',"
                "         'givenName':'Barbara'}}");
}
END_TEST

START_TEST(entra_update_user_name)
{
    expect_user("{'schemas':['" PATCHOP "'],'Operations':[{'op':'Replace',"
                "'path':'userName',"
                "'value':"
                "'5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com'}]}",
                "{'userName':'5b50642d-79fc-4410-9e90-4c077cdd1a59"
                "@testuser.com'}");
}
END_TEST

START_TEST(entra_disable)
{
    /* aadOptscim062020: a real boolean, schemas after Operations. */
    expect_user("{'Operations':[{'op':'Replace','path':'active',"
                "'value':false}],'schemas':['" PATCHOP "']}",
                "{'active':false}");
    /* Default: the string "False", which the schema check converts. */
    expect_user("{'schemas':['" PATCHOP "'],'Operations':[{'op':'Replace',"
                "'path':'active','value':'False'}]}",
                "{'active':'False'}");
}
END_TEST

START_TEST(entra_add_single_value_string)
{
    expect_user("{'schemas':['" PATCHOP "'],'Operations':[{'op':'Add',"
                "'path':'nickName','value':'Babs'}]}",
                "{'nickName':'Babs'}");
    expect_user("{'schemas':['" PATCHOP "'],'Operations':[{'op':'add',"
                "'path':'nickName','value':'Babs'}]}",
                "{'nickName':'Babs'}");
}
END_TEST

START_TEST(entra_replace_several_default)
{
    expect_user("{'schemas':['" PATCHOP "'],'Operations':["
                "{'op':'Replace','path':'displayName','value':'Babs J'},"
                "{'op':'Replace','path':'emails[type eq \\\"work\\\"].value',"
                " 'value':'babs@contoso.com'},"
                "{'op':'Replace','path':'name.givenName','value':'Babs'},"
                "{'op':'Replace','path':'name.familyName','value':'J'},"
                "{'op':'Replace','path':'externalId','value':'babsj'},"
                "{'op':'Replace','path':'" ENT ":employeeNumber',"
                " 'value':'42'}]}",
                "{'displayName':'Babs J','externalId':'babsj',"
                " 'emails':[{'primary':true,'type':'work',"
                "            'value':'babs@contoso.com'},"
                "           {'type':'home','value':'babs@example.org'}],"
                " 'name':{'formatted':'Barbara Jensen','familyName':'J',"
                "         'givenName':'Babs'},"
                " '" ENT "':{'employeeNumber':'42',"
                "   'department':'Tour Operations',"
                "   'manager':{'value':'" MANAGER_ID "',"
                "              'displayName':'John Smith'}}}");
}
END_TEST

START_TEST(entra_replace_several_aad_opt_scim_062020)
{
    expect_user("{'schemas':['" PATCHOP "'],'Operations':["
                "{'op':'replace','path':'emails[type eq \\\"work\\\"].value',"
                " 'value':'babs@contoso.com'},"
                "{'op':'replace','value':{'displayName':'Babs J',"
                " 'name.givenName':'Babs','name.familyName':'J',"
                " '" ENT ":employeeNumber':'42'}}]}",
                "{'displayName':'Babs J',"
                " 'emails':[{'primary':true,'type':'work',"
                "            'value':'babs@contoso.com'},"
                "           {'type':'home','value':'babs@example.org'}],"
                " 'name':{'formatted':'Barbara Jensen','familyName':'J',"
                "         'givenName':'Babs'},"
                " '" ENT "':{'employeeNumber':'42',"
                "   'department':'Tour Operations',"
                "   'manager':{'value':'" MANAGER_ID "',"
                "              'displayName':'John Smith'}}}");
}
END_TEST

START_TEST(entra_manager_as_one_element_array)
{
    /* Stored as sent; the schema check unwraps the one-element array. */
    expect_user("{'schemas':['" PATCHOP "'],'Operations':[{'op':'Add',"
                "'path':'manager','value':[{'$ref':"
                "'http://example.com/scim/v2/Users/00aa00aa-bb11-cc22',"
                "'value':'00aa00aa-bb11-cc22'}]}]}",
                "{'" ENT "':{'employeeNumber':'701984',"
                "   'department':'Tour Operations',"
                "   'manager':[{'$ref':"
                "     'http://example.com/scim/v2/Users/00aa00aa-bb11-cc22',"
                "     'value':'00aa00aa-bb11-cc22'}]}}");
}
END_TEST

START_TEST(entra_manager_as_bare_string)
{
    /* Stored as sent; the schema check turns it into {"value": "271"}. */
    expect_user("{'schemas':['" PATCHOP "'],'Operations':[{'op':'Add',"
                "'path':'" ENT ":manager','value':'271'}]}",
                "{'" ENT "':{'employeeNumber':'701984',"
                "   'department':'Tour Operations','manager':'271'}}");
}
END_TEST

START_TEST(entra_validator_manager)
{
    expect_patch(&scim_resource_type_user, okta_user_json,
                 "{'Operations':[{'op':'add','path':'" ENT ":manager',"
                 "'value':{'value':'m1'}}]}",
                 "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User',"
                 "            '" ENT "'],"
                 " '" ENT "':{'manager':{'value':'m1'}}}");
    expect_user("{'Operations':[{'op':'replace','path':'" ENT ":manager',"
                "'value':{'value':'m2'}}]}",
                "{'" ENT "':{'employeeNumber':'701984',"
                "   'department':'Tour Operations',"
                "   'manager':{'value':'m2','displayName':'John Smith'}}}");
    expect_user("{'Operations':[{'op':'remove','path':'" ENT ":manager',"
                "'value':{'value':'" MANAGER_ID "'}}]}",
                "{'" ENT "':{'employeeNumber':'701984',"
                "   'department':'Tour Operations'}}");
}
END_TEST

START_TEST(entra_roles_json_in_string)
{
    expect_user("{'Operations':[{'op':'Add','path':'roles','value':[{"
                "'value':'{\\\"id\\\":\\\"7f3c\\\","
                "\\\"value\\\":\\\"Admin\\\","
                "\\\"displayName\\\":\\\"Admin\\\"}'}]}]}",
                "{'roles':[{'value':'{\\\"id\\\":\\\"7f3c\\\","
                "\\\"value\\\":\\\"Admin\\\","
                "\\\"displayName\\\":\\\"Admin\\\"}'}]}");
}
END_TEST

START_TEST(entra_validator_add_work_email_creates_it)
{
    expect_patch(&scim_resource_type_user,
                 "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User'],"
                 " 'id':'u1','userName':'bjensen',"
                 " 'emails':[{'type':'home','value':'b@example.org'}]}",
                 "{'Operations':[{'op':'add',"
                 "'path':'emails[type eq \\\"work\\\"].value',"
                 "'value':'bjensen@contoso.com'},"
                 "{'op':'add',"
                 "'path':'addresses[type eq \\\"work\\\"].locality',"
                 "'value':'Hollywood'},"
                 "{'op':'add','path':'addresses[type eq \\\"work\\\"].region',"
                 "'value':'CA'}]}",
                 "{'emails':[{'type':'home','value':'b@example.org'},"
                 "           {'type':'work','value':'bjensen@contoso.com'}],"
                 " 'addresses':[{'type':'work','locality':'Hollywood',"
                 "               'region':'CA'}]}");
}
END_TEST

START_TEST(entra_validator_no_path_user_name)
{
    expect_user("{'schemas':['" PATCHOP "'],'Operations':[{'op':'replace',"
                "'value':{'userName':'babs@contoso.com'}}]}",
                "{'userName':'babs@contoso.com'}");
}
END_TEST

START_TEST(entra_group_replace_display_name)
{
    apr_array_header_t *changes;

    changes = expect_group("{'schemas':['" PATCHOP "'],'Operations':[{"
                           "'op':'Replace','path':'displayName',"
                           "'value':'Tour Guides updatedDisplayName'}]}",
                           "{'displayName':'Tour Guides updatedDisplayName'}");
    ck_assert_int_eq(changes->nelts, 0);
    changes = expect_group("{'schemas':['" PATCHOP "'],'Operations':[{"
                           "'op':'replace','value':{'externalId':'e-42'}}]}",
                           "{'externalId':'e-42'}");
    ck_assert_int_eq(changes->nelts, 0);
}
END_TEST

START_TEST(entra_group_add_members)
{
    apr_array_header_t *changes;

    changes = expect_group("{'schemas':['" PATCHOP "'],'Operations':[{"
                           "'op':'Add','path':'members','value':["
                           "{'$ref':null,'value':'f648f8d5ea4e4cd38e9c'}]}]}",
                           "{}");
    ck_assert_int_eq(changes->nelts, 1);
    expect_change(changes, 0, SCIM_DETACHED_ADD,
                  "[{'$ref':null,'value':'f648f8d5ea4e4cd38e9c'}]", NULL);
}
END_TEST

START_TEST(entra_group_remove_members_value_list)
{
    apr_array_header_t *changes;

    changes = expect_group("{'schemas':['" PATCHOP "'],'Operations':[{"
                           "'op':'Remove','path':'members','value':["
                           "{'$ref':null,'value':'f648f8d5ea4e4cd38e9c'},"
                           "{'value':'u1091'}]}]}",
                           "{}");
    ck_assert_int_eq(changes->nelts, 1);
    expect_change(changes, 0, SCIM_DETACHED_REMOVE,
                  "[{'$ref':null,'value':'f648f8d5ea4e4cd38e9c'},"
                  " {'value':'u1091'}]", NULL);
}
END_TEST

START_TEST(entra_group_remove_member_filter)
{
    apr_array_header_t *changes;

    changes = expect_group("{'schemas':['" PATCHOP "'],'Operations':[{"
                           "'op':'remove','path':'members[value eq "
                           "\\\"7f4bc1a3-285e-48ae-8202-5accb43efb0e\\\"]'}]}",
                           "{}");
    ck_assert_int_eq(changes->nelts, 1);
    expect_change(changes, 0, SCIM_DETACHED_REMOVE, NULL,
                  "7f4bc1a3-285e-48ae-8202-5accb43efb0e");
}
END_TEST

/* ==== Okta, replayed from its documentation ============================= */

START_TEST(okta_deactivate)
{
    expect_patch(&scim_resource_type_user, okta_user_json,
                 "{'schemas':['" PATCHOP "'],'Operations':[{'op':'replace',"
                 "'value':{'active':false}}]}",
                 "{'active':false}");
}
END_TEST

START_TEST(okta_group_rename_with_id)
{
    apr_array_header_t *changes;

    changes = expect_group("{'schemas':['" PATCHOP "'],'Operations':[{"
                           "'op':'replace','value':{'id':'" GROUP_ID "',"
                           "'displayName':'Test SCIMv2 renamed'}}]}",
                           "{'displayName':'Test SCIMv2 renamed'}");
    ck_assert_int_eq(changes->nelts, 0);
    /* Even a different id is the server's, never the client's. */
    expect_group("{'schemas':['" PATCHOP "'],'Operations':[{"
                 "'op':'replace','value':{'id':'forged',"
                 "'displayName':'Renamed'}}]}",
                 "{'displayName':'Renamed'}");
}
END_TEST

START_TEST(okta_members_remove_by_filter_then_add)
{
    apr_array_header_t *changes;

    changes = expect_group("{'schemas':['" PATCHOP "'],'Operations':["
                           "{'op':'remove','path':'members[value eq "
                           "\\\"89bb1940-b905-4575-9e7f-6f887cfb368e\\\"]'},"
                           "{'op':'add','path':'members','value':["
                           "{'value':'23a35c27-23d3-4c03-b4c5-6443c09e7173',"
                           "'display':'test.user@okta.local'}]}]}",
                           "{}");
    ck_assert_int_eq(changes->nelts, 2);
    expect_change(changes, 0, SCIM_DETACHED_REMOVE, NULL,
                  "89bb1940-b905-4575-9e7f-6f887cfb368e");
    expect_change(changes, 1, SCIM_DETACHED_ADD,
                  "[{'value':'23a35c27-23d3-4c03-b4c5-6443c09e7173',"
                  "  'display':'test.user@okta.local'}]", NULL);
}
END_TEST

START_TEST(okta_members_replace)
{
    apr_array_header_t *changes;

    changes = expect_group("{'schemas':['" PATCHOP "'],'Operations':["
                           "{'op':'replace','path':'members','value':["
                           "{'value':'a1','display':'a@okta.local'},"
                           "{'value':'b2','display':'b@okta.local'}]}]}",
                           "{}");
    ck_assert_int_eq(changes->nelts, 1);
    expect_change(changes, 0, SCIM_DETACHED_REPLACE,
                  "[{'value':'a1','display':'a@okta.local'},"
                  " {'value':'b2','display':'b@okta.local'}]", NULL);
}
END_TEST

/* ==== detached members ================================================= */

START_TEST(detached_remove_all)
{
    apr_array_header_t *changes;

    changes = expect_group("{'Operations':[{'op':'remove',"
                           "'path':'members'}]}", "{}");
    ck_assert_int_eq(changes->nelts, 1);
    expect_change(changes, 0, SCIM_DETACHED_REMOVE, NULL, NULL);
}
END_TEST

START_TEST(detached_in_value_object_and_order)
{
    apr_array_header_t *changes;

    /* A no-path value naming members, a single element, canonical keys,
     * null meaning none: all in request order, none in the JSON. */
    changes = expect_group("{'Operations':["
                           "{'op':'replace','value':{'displayName':'Ops',"
                           " 'Members':[{'VALUE':'a1','Display':'A'}]}},"
                           "{'op':'add','path':'members',"
                           " 'value':{'value':'b2'}},"
                           "{'op':'add','path':'members','value':null},"
                           "{'op':'replace','path':'members','value':null},"
                           "{'op':'remove','path':'members','value':[]}]}",
                           "{'displayName':'Ops'}");
    ck_assert_int_eq(changes->nelts, 4);
    expect_change(changes, 0, SCIM_DETACHED_REPLACE,
                  "[{'value':'a1','display':'A'}]", NULL);
    expect_change(changes, 1, SCIM_DETACHED_ADD, "[{'value':'b2'}]", NULL);
    expect_change(changes, 2, SCIM_DETACHED_REPLACE, "[]", NULL);
    expect_change(changes, 3, SCIM_DETACHED_REMOVE, "[]", NULL);
}
END_TEST

START_TEST(detached_invalid_values)
{
    static const char *const values[] = {
        "'f648f8d5ea4e4cd38e9c'", "42", "true",
        "['f648f8d5ea4e4cd38e9c']", "[{'display':'no value'}]",
        "[{'value':42}]", "[{'value':''}]", "[{'value':null}]",
        "[{'value':'ok'},[]]",
        NULL
    };
    static const char *const ops[] = { "add", "replace", "remove", NULL };
    int i, j;

    for (i = 0; values[i]; i++) {
        for (j = 0; ops[j]; j++) {
            expect_group_error(apr_psprintf(pool,
                                 "{'Operations':[{'op':'%s',"
                                 "'path':'members','value':%s}]}",
                                 ops[j], values[i]),
                               SCIM_TYPE_INVALID_VALUE);
        }
    }
}
END_TEST

START_TEST(detached_unsupported_paths)
{
    expect_group_error("{'Operations':[{'op':'replace',"
                       "'path':'members[value eq \\\"a1\\\"].display',"
                       "'value':'A'}]}", SCIM_TYPE_INVALID_PATH);
    expect_group_error("{'Operations':[{'op':'replace',"
                       "'path':'members[value eq \\\"a1\\\"]',"
                       "'value':{'value':'b2'}}]}", SCIM_TYPE_INVALID_PATH);
    expect_group_error("{'Operations':[{'op':'remove',"
                       "'path':'members.display'}]}", SCIM_TYPE_INVALID_PATH);
}
END_TEST

/* ==== errors =========================================================== */

START_TEST(malformed_documents)
{
    static const char *const requests[] = {
        "[]", "'Operations'", "{}", "{'Operations':{}}",
        "{'Operations':'add'}",
        "{'schemas':['urn:ietf:params:scim:api:messages:2.0:ListResponse'],"
        " 'Operations':[{'op':'add','path':'nickName','value':'x'}]}",
        "{'schemas':'" PATCHOP "',"
        " 'Operations':[{'op':'add','path':'nickName','value':'x'}]}",
        "{'Operations':['add']}",
        "{'Operations':[{'path':'nickName','value':'x'}]}",
        "{'Operations':[{'op':3,'path':'nickName','value':'x'}]}",
        "{'Operations':[{'op':'delete','path':'nickName'}]}",
        "{'Operations':[{'op':'add','path':'nickName'}]}",
        "{'Operations':[{'op':'replace'}]}",
        NULL
    };
    int i;

    for (i = 0; requests[i]; i++) {
        expect_user_error(requests[i], SCIM_TYPE_INVALID_SYNTAX);
    }
}
END_TEST

START_TEST(empty_operations_is_invalid_value)
{
    expect_user_error("{'schemas':['" PATCHOP "'],'Operations':[]}",
                      SCIM_TYPE_INVALID_VALUE);
}
END_TEST

START_TEST(remove_without_path_is_no_target)
{
    expect_user_error("{'Operations':[{'op':'remove'}]}",
                      SCIM_TYPE_NO_TARGET);
    expect_user_error("{'Operations':[{'op':'Remove','path':null,"
                      "'value':{'nickName':'x'}}]}", SCIM_TYPE_NO_TARGET);
}
END_TEST

START_TEST(invalid_paths)
{
    static const char *const paths[] = {
        "favouriteColour", "name.nickname", "emails[type eq \\\"work\\\"",
        "emails[type eq \\\"work\\\"].colour", "", "name[givenName eq "
        "\\\"x\\\"]", ENT ":shoeSize", "urn:ietf:params:scim:schemas:"
        "core:2.0:User", "members",
        NULL
    };
    int i;

    for (i = 0; paths[i]; i++) {
        expect_user_error(apr_psprintf(pool, "{'Operations':[{'op':'add',"
                                       "'path':'%s','value':'x'}]}",
                                       paths[i]),
                          SCIM_TYPE_INVALID_PATH);
    }
    expect_user_error("{'Operations':[{'op':'add','path':42,"
                      "'value':'x'}]}", SCIM_TYPE_INVALID_PATH);
}
END_TEST

START_TEST(wrongly_shaped_values)
{
    static const char *const requests[] = {
        "{'Operations':[{'op':'add','value':'nickName'}]}",
        "{'Operations':[{'op':'replace','value':[{'nickName':'x'}]}]}",
        "{'Operations':[{'op':'add','path':'" ENT "','value':'x'}]}",
        "{'Operations':[{'op':'replace','path':'" ENT "','value':[]}]}",
        "{'Operations':[{'op':'replace','path':'emails[type eq "
        "\\\"work\\\"]','value':'x@example.org'}]}",
        NULL
    };
    int i;

    for (i = 0; requests[i]; i++) {
        expect_user_error(requests[i], SCIM_TYPE_INVALID_VALUE);
    }
}
END_TEST

START_TEST(bounded_work)
{
    json_t *resource = parse(user_json);
    json_t *request = json_pack("{s:[{s:s,s:s,s:[]}]}", "Operations",
                                "op", "add", "path", "roles", "value");
    json_t *values = json_object_get(json_array_get(
                         json_object_get(request, "Operations"), 0), "value");
    json_t *ops;
    scim_error_t *err;
    int i;

    /* 20000 distinct values appended with duplicate detection. */
    for (i = 0; i < 20000; i++) {
        json_array_append_new(values, json_pack("{s:i}", "value", i));
    }
    err = scim_patch_apply(pool, &scim_resource_type_user, resource, request,
                           NULL, NULL);
    ck_assert_ptr_nonnull(err);
    ck_assert_str_eq(err->scim_type, SCIM_TYPE_INVALID_VALUE);
    json_decref(request);

    /* Too many operations. */
    request = json_pack("{s:[]}", "Operations");
    ops = json_object_get(request, "Operations");
    for (i = 0; i < 10001; i++) {
        json_array_append_new(ops, json_pack("{s:s,s:s,s:i}", "op", "add",
                                             "path", "title", "value", i));
    }
    err = scim_patch_apply(pool, &scim_resource_type_user, resource, request,
                           NULL, NULL);
    ck_assert_ptr_nonnull(err);
    ck_assert_str_eq(err->scim_type, SCIM_TYPE_INVALID_VALUE);
    json_decref(request);
    json_decref(resource);
}
END_TEST

/* A no-path add of thousands of attributes of an undeclared extension:
 * each key is looked up in an object that grows with every key, so the
 * lookups alone were quadratic (60000 keys in a 1 MiB body cost a minute
 * of CPU) while no primitive charged them.  They are charged now, and
 * such a request is refused; a few hundred keys still go through. */
START_TEST(many_extension_keys_bounded)
{
    const int counts[] = { 20000, 300 };
    char key[64];
    int c, i;

    for (c = 0; c < 2; c++) {
        json_t *resource = parse(user_json);
        json_t *value = json_object();
        json_t *request = json_pack("{s:[{s:s,s:o}]}", "Operations", "op",
                                    "add", "value", value);
        scim_error_t *err;

        for (i = 0; i < counts[c]; i++) {
            snprintf(key, sizeof(key), "urn:example:x:1.0:User:k%d", i);
            json_object_set_new(value, key, json_integer(i));
        }
        err = scim_patch_apply(pool, &scim_resource_type_user, resource,
                               request, NULL, NULL);
        if (c == 0) {
            ck_assert_ptr_nonnull(err);
            ck_assert_str_eq(err->scim_type, SCIM_TYPE_INVALID_VALUE);
        }
        else {
            assert_ok(err);
            ck_assert_int_eq(json_object_size(json_object_get(
                                 resource, "urn:example:x:1.0:User")),
                             counts[c]);
        }
        json_decref(request);
        json_decref(resource);
    }
}
END_TEST

START_TEST(hostile_input_never_crashes)
{
    /* Every path against values of every JSON type, on a resource whose
     * stored attributes have unexpected types too. */
    static const char *const paths[] = {
        "name", "name.givenName", "emails", "emails.value",
        "emails[type eq \\\"work\\\"]", "emails[type eq \\\"work\\\"].value",
        "emails[value pr]", ENT, ENT ":manager", ENT ":manager.value",
        "urn:example:x:1.0:User:thing", "active", "members", NULL
    };
    static const char *const values[] = {
        "null", "true", "0", "'s'", "[]", "{}", "[null]", "[[]]", "[{}]",
        "{'value':{}}", "[{'value':[]}]", "{'type':'work'}", NULL
    };
    static const char *const ops[] = { "add", "replace", "remove", NULL };
    static const char *const odd_user =
        "{'schemas':'x','id':'u1','userName':'b','name':'Barbara',"
        " 'emails':{'type':'work'},'active':[],"
        " '" ENT "':['x'],'urn:example:x:1.0:User':7}";
    const char *bases[] = { user_json, okta_user_json, odd_user, NULL };
    int b, i, j, k;

    for (b = 0; bases[b]; b++) {
        for (i = 0; paths[i]; i++) {
            for (j = 0; values[j]; j++) {
                for (k = 0; ops[k]; k++) {
                    apr_array_header_t *changes =
                        apr_array_make(pool, 1, sizeof(void *));
                    json_t *resource = parse(bases[b]);
                    scim_error_t *err;

                    err = apply(&scim_resource_type_user, resource,
                                apr_psprintf(pool, "{'Operations':[{'op':"
                                             "'%s','path':'%s','value':%s},"
                                             "{'op':'%s','value':%s}]}",
                                             ops[k], paths[i], values[j],
                                             ops[k], values[j]),
                                b ? "emails" : NULL, changes);
                    ck_assert(err == NULL || err->status == 400);
                    ck_assert(json_is_object(resource));
                    json_decref(resource);
                }
            }
        }
    }
}
END_TEST

START_TEST(request_is_neither_changed_nor_shared)
{
    json_t *resource = parse(user_json);
    json_t *request = parse("{'Operations':["
                            "{'op':'add','path':'emails',"
                            " 'value':[{'type':'other','value':'x@y.org'}]},"
                            "{'op':'replace','value':{'name':{'givenName':"
                            " 'B'},'title':'T'}},"
                            "{'op':'add','path':'" ENT ":manager',"
                            " 'value':[{'value':'m'}]}]}");
    json_t *pristine = json_deep_copy(request);

    assert_ok(scim_patch_apply(pool, &scim_resource_type_user, resource,
                               request, NULL, NULL));
    assert_json(request, pristine);
    /* Changing the result must not reach into the request. */
    json_object_set_new(json_array_get(json_object_get(resource, "emails"),
                                       2), "display", json_string("X"));
    json_object_set_new(json_array_get(json_object_get(
                            json_object_get(resource, ENT), "manager"), 0),
                        "z", json_true());
    json_array_clear(json_object_get(json_object_get(resource, ENT),
                                     "manager"));
    assert_json(request, pristine);
    json_decref(pristine);
    json_decref(request);
    json_decref(resource);
}
END_TEST

Suite *patch_suite(void)
{
    Suite *s = suite_create("patch");
    TCase *tc;

    tc = tcase_create("add");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, add_simple_with_path);
    tcase_add_test(tc, add_simple_existing_is_replaced);
    tcase_add_test(tc, add_complex_merges_sub_attributes);
    tcase_add_test(tc, add_sub_attribute);
    tcase_add_test(tc, add_multi_valued_single_value);
    tcase_add_test(tc, add_multi_valued_skips_held_values);
    tcase_add_test(tc, add_primary_clears_other_primary);
    tcase_add_test(tc, add_value_path_sub_on_match);
    tcase_add_test(tc, add_value_path_sub_creates_element);
    tcase_add_test(tc, add_value_path_element_merges);
    tcase_add_test(tc, add_value_path_element_created_from_and_filter);
    tcase_add_test(tc, add_value_path_underivable_filter_is_no_target);
    tcase_add_test(tc, add_without_path_merges_attribute_by_attribute);
    tcase_add_test(tc, add_extension_attribute);
    tcase_add_test(tc, add_whole_extension);
    tcase_add_test(tc, add_extension_to_user_without_it);
    tcase_add_test(tc, add_undeclared_extension_attribute);
    tcase_add_test(tc, add_writes_canonical_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("replace");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, replace_multi_valued_wholly);
    tcase_add_test(tc, replace_complex_keeps_unnamed_sub_attributes);
    tcase_add_test(tc, replace_value_path_element);
    tcase_add_test(tc, replace_value_path_without_match_is_no_target);
    tcase_add_test(tc, replace_value_path_sub_without_match_creates);
    tcase_add_test(tc, replace_primary_clears_other_primary);
    tcase_add_test(tc, replace_extension_attribute);
    tcase_add_test(tc, replace_without_path_ignores_read_only_keys);
    tcase_add_test(tc, replace_without_path_ignores_unknown_keys);
    tcase_add_test(tc, read_only_paths_are_mutability_errors);
    tcase_add_test(tc, immutable_sub_attribute);
    tcase_add_test(tc, immutable_attribute);
    tcase_add_test(tc, simple_multi_valued);
    tcase_add_test(tc, undeclared_extension_as_a_whole);
    suite_add_tcase(s, tc);

    tc = tcase_create("remove");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, remove_simple);
    tcase_add_test(tc, remove_absent_is_a_no_op);
    tcase_add_test(tc, remove_sub_attribute);
    tcase_add_test(tc, remove_complex_and_multi_valued);
    tcase_add_test(tc, remove_value_path);
    tcase_add_test(tc, remove_value_path_sub_attribute);
    tcase_add_test(tc, remove_required_attribute_is_invalid_value);
    tcase_add_test(tc, remove_extension_attribute);
    tcase_add_test(tc, remove_whole_extension);
    tcase_add_test(tc, remove_with_value_list_in_json);
    suite_add_tcase(s, tc);

    tc = tcase_create("entra");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, entra_update_multi_valued);
    tcase_add_test(tc, entra_update_user_name);
    tcase_add_test(tc, entra_disable);
    tcase_add_test(tc, entra_add_single_value_string);
    tcase_add_test(tc, entra_replace_several_default);
    tcase_add_test(tc, entra_replace_several_aad_opt_scim_062020);
    tcase_add_test(tc, entra_manager_as_one_element_array);
    tcase_add_test(tc, entra_manager_as_bare_string);
    tcase_add_test(tc, entra_validator_manager);
    tcase_add_test(tc, entra_roles_json_in_string);
    tcase_add_test(tc, entra_validator_add_work_email_creates_it);
    tcase_add_test(tc, entra_validator_no_path_user_name);
    tcase_add_test(tc, entra_group_replace_display_name);
    tcase_add_test(tc, entra_group_add_members);
    tcase_add_test(tc, entra_group_remove_members_value_list);
    tcase_add_test(tc, entra_group_remove_member_filter);
    suite_add_tcase(s, tc);

    tc = tcase_create("okta");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, okta_deactivate);
    tcase_add_test(tc, okta_group_rename_with_id);
    tcase_add_test(tc, okta_members_remove_by_filter_then_add);
    tcase_add_test(tc, okta_members_replace);
    suite_add_tcase(s, tc);

    tc = tcase_create("detached");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, detached_remove_all);
    tcase_add_test(tc, detached_in_value_object_and_order);
    tcase_add_test(tc, detached_invalid_values);
    tcase_add_test(tc, detached_unsupported_paths);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, malformed_documents);
    tcase_add_test(tc, empty_operations_is_invalid_value);
    tcase_add_test(tc, remove_without_path_is_no_target);
    tcase_add_test(tc, invalid_paths);
    tcase_add_test(tc, wrongly_shaped_values);
    tcase_add_test(tc, bounded_work);
    tcase_add_test(tc, many_extension_keys_bounded);
    tcase_add_test(tc, hostile_input_never_crashes);
    tcase_add_test(tc, request_is_neither_changed_nor_shared);
    suite_add_tcase(s, tc);

    return s;
}
