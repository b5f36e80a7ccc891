/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "fuzz_common.h"

#define ENT        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define MEMBERSHIP "urn:modscim:schemas:extension:membership:2.0:User"
#define BADGE      "urn:example:scim:schemas:extension:badge:1.0:User"

/* Fixtures are written with single quotes for readability; a double quote
 * inside a JSON string is written \\\" in the C source. */

/* Entra ID's user (IdP notes 2.2) as the store keeps it, with the values
 * Entra really sends: a work e-mail that is not first, a role whose value
 * is JSON in a string, a manager, a date with a fraction. */
static const char *const entra_user_json =
    "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User','" ENT "',"
    "            '" MEMBERSHIP "'],"
    " 'id':'2819c223-7f76-453a-919d-413861904646',"
    " 'externalId':'0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',"
    " 'userName':"
    "   'Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee@testuser.com',"
    " 'name':{'formatted':'Barbara Jensen','familyName':'Jensen',"
    "         'givenName':'Barbara','middleName':''},"
    " 'displayName':'Barbara Jensen','nickName':'Babs','title':'',"
    " 'userType':'Employee','preferredLanguage':'en-US','locale':'en-US',"
    " 'timezone':'America/Los_Angeles','active':true,"
    " 'emails':[{'type':'home','value':'babs@example.org'},"
    "           {'primary':true,'type':'work','value':'bjensen@contoso.com'}],"
    " 'phoneNumbers':[{'type':'work','value':'+1 555 0100'},"
    "                 {'type':'mobile','value':'+1 555 0199'}],"
    " 'addresses':[{'type':'work','streetAddress':'100 Universal City Plaza',"
    "               'locality':'Hollywood','region':'CA','postalCode':'91608',"
    "               'country':'US','primary':true}],"
    " 'roles':[{'primary':false,'type':'WindowsAzureActiveDirectoryRole',"
    "           'value':"
    "             '{\\\"id\\\":\\\"r1\\\",\\\"value\\\":\\\"Admin\\\"}'}],"
    " 'x509Certificates':[{'value':'MIIDQzCCAqygAwIBAgICEAAwDQYJ'}],"
    " '" ENT "':{'employeeNumber':'701984','costCenter':'4130',"
    "   'department':'Tour Operations',"
    "   'manager':{'value':'26118915-6090-4610-87e4-49d8ca9f808d',"
    "              '$ref':'../Users/26118915-6090-4610-87e4-49d8ca9f808d',"
    "              'displayName':'John Smith'}},"
    " '" MEMBERSHIP "':{'state':'linked','linked':'2024-03-01T09:30:00Z',"
    "                   'seat':true},"
    " 'meta':{'resourceType':'User','created':'2024-01-23T04:56:22Z',"
    "         'lastModified':'2024-02-01T18:29:49.793+01:00',"
    "         'version':'W/\\\"3\\\"'}}";

/* Okta's user (IdP notes 3.1): core schema only. */
static const char *const okta_user_json =
    "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User'],"
    " 'id':'6b2a9c5e-31f4-4a8e-9d0c-2f1e7b3c4d5a',"
    " 'externalId':'00u1b2c3d4e5f6g7h8i9',"
    " 'userName':'test.user@okta.local',"
    " 'name':{'givenName':'Test','familyName':'User'},"
    " 'emails':[{'primary':true,'value':'test.user@okta.local',"
    "            'type':'work'}],"
    " 'displayName':'Test User','locale':'en-US','active':false}";

/* A user with an undeclared extension holding every JSON kind. */
static const char *const custom_user_json =
    "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User','" BADGE "'],"
    " 'id':'u1','userName':'bjensen','active':true,"
    " 'emails':[{'value':'b@x.org'},{'value':'B@X.ORG','type':'other'}],"
    " '" BADGE "':{'number':'B-17','clearance':3,'ratio':0.5,"
    "   'valid':true,'expires':'2030-01-01T00:00:00Z','none':null,"
    "   'tags':['Blue','green'],"
    "   'devices':[{'kind':'laptop','serial':'X1-C','value':'d1'},"
    "              {'kind':'phone','serial':'P-9','tags':['a','b']}],"
    "   'owner':{'value':'o1','display':'Owner'}}}";

static const char *const group_json =
    "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:Group'],"
    " 'id':'e9e30dba-f08f-4109-8486-d5c6a331660a',"
    " 'externalId':'8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',"
    " 'displayName':'Tour Guides',"
    " 'meta':{'resourceType':'Group','created':'2024-01-23T04:56:22Z',"
    "         'lastModified':'2024-01-23T04:56:22Z'}}";

static const char *const group_members_json =
    "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:Group'],"
    " 'id':'e9e30dba-f08f-4109-8486-d5c6a331660a',"
    " 'displayName':'Tour Guides',"
    " 'members':[{'value':'2819c223-7f76-453a-919d-413861904646',"
    "             'display':'Barbara Jensen','type':'User',"
    "             '$ref':'../Users/2819c223-7f76-453a-919d-413861904646'},"
    "            {'value':'902c246b-6245-4190-8e05-00816be7344a',"
    "             'display':'Mandy Pepperidge','type':'User'},"
    "            {'value':'fc348aa8-3835-40eb-a20b-c726e15c55b5',"
    "             'type':'Group'}]}";

static const char *const typed_json =
    "{'schemas':['urn:example:scim:schemas:core:1.0:Typed',"
    "            'urn:example:scim:schemas:extension:extra:1.0:Typed'],"
    " 'id':'t1','label':'Front desk','code':'AbC-1','serial':'SN-1',"
    " 'flag':true,'count':10,'ratio':2.5,'when':'2024-02-29T23:30:00-01:00',"
    " 'blob':'SGVsbG8=','link':'https://example.com/a',"
    " 'tags':['lobby','Printer'],'counts':[1,5,9],"
    " 'parts':[{'value':'p1','kind':'Screw','label':'M3','count':1,'made':"
    "           '2020-01-01T00:00:00.5Z','weight':1.25},"
    "          {'value':'p2','kind':'nut','count':3}],"
    " 'urn:example:scim:schemas:extension:extra:1.0:Typed':"
    "   {'level':3,'since':'2023-12-31T23:59:60Z','owner':{'value':'u1',"
    "    'display':'Owner'}}}";

static const char *const canon_kind[] = { "screw", "nut", "bolt", NULL };

static const scim_attr_t typed_part_sub_attrs[] = {
    { .name = "value", .mutability = SCIM_MUT_IMMUTABLE, .case_exact = 1 },
    { .name = "kind", .mutability = SCIM_MUT_IMMUTABLE,
      .canonical_values = canon_kind },
    { .name = "label", .mutability = SCIM_MUT_READONLY },
    { .name = "made", .type = SCIM_ATTR_DATETIME },
    { .name = "weight", .type = SCIM_ATTR_DECIMAL },
    { .name = "count", .type = SCIM_ATTR_INTEGER, .required = 1 },
    { .name = "primary", .type = SCIM_ATTR_BOOLEAN },
    { .name = "secret", .mutability = SCIM_MUT_WRITEONLY,
      .returned = SCIM_RET_NEVER },
    { .name = NULL }
};

static const scim_attr_t typed_attrs[] = {
    { .name = "label", .required = 1 },
    { .name = "code", .case_exact = 1, .returned = SCIM_RET_REQUEST },
    { .name = "serial", .mutability = SCIM_MUT_IMMUTABLE, .case_exact = 1 },
    { .name = "flag", .type = SCIM_ATTR_BOOLEAN },
    { .name = "count", .type = SCIM_ATTR_INTEGER },
    { .name = "ratio", .type = SCIM_ATTR_DECIMAL },
    { .name = "when", .type = SCIM_ATTR_DATETIME },
    { .name = "blob", .type = SCIM_ATTR_BINARY, .case_exact = 1 },
    { .name = "link", .type = SCIM_ATTR_REFERENCE, .case_exact = 1,
      .returned = SCIM_RET_ALWAYS },
    { .name = "tags", .multi_valued = 1 },
    { .name = "counts", .type = SCIM_ATTR_INTEGER, .multi_valued = 1,
      .mutability = SCIM_MUT_IMMUTABLE },
    { .name = "parts", .type = SCIM_ATTR_COMPLEX, .multi_valued = 1,
      .sub_attrs = typed_part_sub_attrs },
    { .name = NULL }
};

static const scim_attr_t typed_owner_sub_attrs[] = {
    { .name = "value", .mutability = SCIM_MUT_IMMUTABLE },
    { .name = "display", .mutability = SCIM_MUT_READONLY },
    { .name = NULL }
};

static const scim_attr_t typed_extra_attrs[] = {
    { .name = "level", .type = SCIM_ATTR_INTEGER, .required = 1 },
    { .name = "since", .type = SCIM_ATTR_DATETIME,
      .mutability = SCIM_MUT_IMMUTABLE },
    { .name = "owner", .type = SCIM_ATTR_COMPLEX,
      .sub_attrs = typed_owner_sub_attrs },
    { .name = "label" },
    { .name = NULL }
};

static const scim_schema_t typed_schema = {
    .id = "urn:example:scim:schemas:core:1.0:Typed",
    .name = "Typed",
    .attrs = typed_attrs
};

static const scim_schema_t typed_extra_schema = {
    .id = "urn:example:scim:schemas:extension:extra:1.0:Typed",
    .name = "TypedExtra",
    .attrs = typed_extra_attrs
};

static const scim_schema_t *const typed_extensions[] = {
    &typed_extra_schema, NULL
};

const scim_resource_type_t fuzz_typed_type = {
    .name = "Typed",
    .endpoint = "/Typed",
    .core = &typed_schema,
    .extensions = typed_extensions
};

json_t *fuzz_entra_user, *fuzz_okta_user, *fuzz_custom_user;
json_t *fuzz_group, *fuzz_group_members, *fuzz_typed;

void fuzz_fail(const char *file, int line, const char *cond,
               const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "\n%s:%d: check failed: %s\n  ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void fuzz_dump(const char *label, const json_t *value)
{
    char *text = value ? json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT
                                           | JSON_SORT_KEYS)
                       : NULL;

    fprintf(stderr, "  %s: %s\n", label, text ? text : "(null)");
    free(text);
}

static json_t *fixture(const char *single_quoted)
{
    char *text = strdup(single_quoted), *c;
    json_error_t jerr;
    json_t *doc;

    FUZZ_CHECK(text != NULL, "out of memory");
    for (c = text; *c; c++) {
        if (*c == '\'') {
            *c = '"';
        }
    }
    doc = json_loads(text, 0, &jerr);
    FUZZ_CHECK(doc != NULL, "bad fixture: %s at %d:%d", jerr.text,
               jerr.line, jerr.column);
    free(text);
    return doc;
}

void fuzz_init(void)
{
    static int done;

    if (done) {
        return;
    }
    done = 1;
    FUZZ_CHECK(apr_initialize() == APR_SUCCESS, "apr_initialize failed");
    fuzz_entra_user = fixture(entra_user_json);
    fuzz_okta_user = fixture(okta_user_json);
    fuzz_custom_user = fixture(custom_user_json);
    fuzz_group = fixture(group_json);
    fuzz_group_members = fixture(group_members_json);
    fuzz_typed = fixture(typed_json);
}

apr_pool_t *fuzz_pool(void)
{
    apr_pool_t *p = NULL;

    FUZZ_CHECK(apr_pool_create_unmanaged_ex(&p, NULL, NULL) == APR_SUCCESS,
               "cannot create a pool");
    return p;
}

char *fuzz_text(apr_pool_t *p, const uint8_t *data, size_t size)
{
    char *text = apr_palloc(p, size + 1);

    memcpy(text, data, size);
    text[size] = '\0';
    return text;
}

json_t *fuzz_json(const uint8_t *data, size_t size)
{
    return json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
                      NULL);
}

void fuzz_check_error(const scim_error_t *err, const char *what)
{
    json_t *doc, *status;
    char expected[16];

    FUZZ_CHECK(err->status >= 400 && err->status <= 599,
               "%s: status %d", what, err->status);
    FUZZ_CHECK(err->detail && *err->detail, "%s: empty detail", what);
    doc = scim_error_to_json(err);
    FUZZ_CHECK(doc != NULL, "%s: no error document for '%s'", what,
               err->detail);
    status = json_object_get(doc, "status");
    snprintf(expected, sizeof(expected), "%d", err->status);
    FUZZ_CHECK(json_is_string(status)
               && strcmp(json_string_value(status), expected) == 0,
               "%s: error document status", what);
    FUZZ_CHECK(json_is_string(json_object_get(doc, "detail")),
               "%s: error document detail", what);
    json_decref(doc);
}

/* attributes / excludedAttributes pairs as clients send them. */
static const char *const projections[][2] = {
    { NULL, NULL },
    { "userName,emails.value,name.givenName,displayName", NULL },
    { NULL, "emails,members,name.familyName," ENT ":manager" },
    { ENT ",members.value", "displayName," ENT ":department" },
    { "id,meta.created,groups,password,externalId," BADGE, "meta" },
    { " , ,", "members.display,roles.value," BADGE ":devices.serial" },
    { "code,parts.secret,parts.kind,counts", "link,parts.made" },
};

void fuzz_project_lists(apr_pool_t *p, const scim_resource_type_t *rt,
                        const json_t *resource, int stored)
{
    const char *key;
    json_t *shaped, *value;
    size_t i;

    for (i = 0; i < sizeof(projections) / sizeof(projections[0]); i++) {
        const char *attributes = projections[i][0];
        const char *excluded = projections[i][1];

        shaped = scim_schema_project(p, rt, resource, attributes, excluded);
        FUZZ_CHECK(json_is_object(shaped), "projection is not an object");
        /* "schemas" is always returned, as it is. */
        json_object_foreach((json_t *)resource, key, value) {
            if (strcasecmp(key, "schemas") == 0) {
                FUZZ_CHECK(json_equal(value, json_object_get(shaped, key)),
                           "projection changed '%s'", key);
            }
        }
        if (stored) {
            /* RFC 7643 7: id is returned always, password never. */
            value = json_object_get(resource, "id");
            if (json_is_string(value)) {
                FUZZ_CHECK(json_equal(value, json_object_get(shaped, "id")),
                           "projection lost the id");
            }
            json_object_foreach(shaped, key, value) {
                FUZZ_CHECK(rt != &scim_resource_type_user
                           || strcasecmp(key, "password") != 0,
                           "projection returned a password");
            }
        }
        json_decref(shaped);
    }
}
