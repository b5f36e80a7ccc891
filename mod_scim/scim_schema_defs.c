/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* The attribute tables of the schemas mod_scim serves: RFC 7643 sections
 * 3.1 (common attributes), 4.1 and 4.2 (User, Group), 4.3 (enterprise user)
 * and the module's own read-only membership extension.
 *
 * Fields left out of an initializer are zero, which is the RFC default for
 * each of them: type string, single-valued, not required, caseExact false,
 * readWrite, returned default, uniqueness none. */

#include <stddef.h>

#include "scim_schema.h"

/* ---- canonical values and reference types ----------------------------- */

static const char *const canon_email_type[] = {
    "work", "home", "other", NULL
};
static const char *const canon_phone_type[] = {
    "work", "home", "mobile", "fax", "pager", "other", NULL
};
static const char *const canon_im_type[] = {
    "aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo", NULL
};
static const char *const canon_photo_type[] = {
    "photo", "thumbnail", NULL
};
static const char *const canon_address_type[] = {
    "work", "home", "other", NULL
};
static const char *const canon_group_membership_type[] = {
    "direct", "indirect", NULL
};
static const char *const canon_member_type[] = {
    "User", "Group", NULL
};
static const char *const canon_membership_state[] = {
    "provisioned", "linked", NULL
};

static const char *const ref_external[] = { "external", NULL };
static const char *const ref_uri[] = { "uri", NULL };
static const char *const ref_user[] = { "User", NULL };
static const char *const ref_user_group[] = { "User", "Group", NULL };

/* ---- common attributes ------------------------------------------------- */

static const scim_attr_t meta_sub_attrs[] = {
    { .name = "resourceType", .case_exact = 1,
      .mutability = SCIM_MUT_READONLY,
      .description = "Name of the resource type of the resource." },
    { .name = "created", .type = SCIM_ATTR_DATETIME,
      .mutability = SCIM_MUT_READONLY,
      .description = "When the service provider first stored the resource." },
    { .name = "lastModified", .type = SCIM_ATTR_DATETIME,
      .mutability = SCIM_MUT_READONLY,
      .description = "When the resource last changed." },
    { .name = "location", .type = SCIM_ATTR_REFERENCE, .case_exact = 1,
      .mutability = SCIM_MUT_READONLY, .reference_types = ref_uri,
      .description = "Absolute URL of the resource." },
    { .name = "version", .case_exact = 1,
      .mutability = SCIM_MUT_READONLY,
      .description = "Entity tag of the current state of the resource." },
    { .name = NULL }
};

const scim_attr_t scim_common_attrs[] = {
    { .name = "id", .case_exact = 1, .mutability = SCIM_MUT_READONLY,
      .returned = SCIM_RET_ALWAYS, .uniqueness = SCIM_UNIQ_SERVER,
      .description = "Identifier the service provider assigned; stable "
                     "and never reused." },
    { .name = "externalId", .case_exact = 1,
      .description = "Identifier the provisioning client uses for the "
                     "resource." },
    { .name = "meta", .type = SCIM_ATTR_COMPLEX,
      .mutability = SCIM_MUT_READONLY,
      .description = "Metadata the service provider maintains.",
      .sub_attrs = meta_sub_attrs },
    { .name = NULL }
};

/* ---- User (RFC 7643 4.1, 8.7.1) --------------------------------------- */

static const scim_attr_t user_name_sub_attrs[] = {
    { .name = "formatted",
      .description = "Full name as it is displayed." },
    { .name = "familyName",
      .description = "Family (last) name." },
    { .name = "givenName",
      .description = "Given (first) name." },
    { .name = "middleName",
      .description = "Middle name(s)." },
    { .name = "honorificPrefix",
      .description = "Title before the name, such as Ms. or Dr." },
    { .name = "honorificSuffix",
      .description = "Suffix after the name, such as III or PhD." },
    { .name = NULL }
};

static const scim_attr_t user_email_sub_attrs[] = {
    { .name = "value", .description = "The e-mail address." },
    { .name = "display", .description = "Human-readable label." },
    { .name = "type", .canonical_values = canon_email_type,
      .description = "Kind of address, such as work or home." },
    { .name = "primary", .type = SCIM_ATTR_BOOLEAN,
      .description = "The preferred address; at most one is primary." },
    { .name = NULL }
};

static const scim_attr_t user_phone_sub_attrs[] = {
    { .name = "value", .description = "The phone number." },
    { .name = "display", .description = "Human-readable label." },
    { .name = "type", .canonical_values = canon_phone_type,
      .description = "Kind of number, such as work or mobile." },
    { .name = "primary", .type = SCIM_ATTR_BOOLEAN,
      .description = "The preferred number; at most one is primary." },
    { .name = NULL }
};

static const scim_attr_t user_im_sub_attrs[] = {
    { .name = "value", .description = "The instant messaging address." },
    { .name = "display", .description = "Human-readable label." },
    { .name = "type", .canonical_values = canon_im_type,
      .description = "Messaging service, such as xmpp or skype." },
    { .name = "primary", .type = SCIM_ATTR_BOOLEAN,
      .description = "The preferred address; at most one is primary." },
    { .name = NULL }
};

static const scim_attr_t user_photo_sub_attrs[] = {
    { .name = "value", .type = SCIM_ATTR_REFERENCE,
      .reference_types = ref_external,
      .description = "URL of the image." },
    { .name = "display", .description = "Human-readable label." },
    { .name = "type", .canonical_values = canon_photo_type,
      .description = "photo or thumbnail." },
    { .name = "primary", .type = SCIM_ATTR_BOOLEAN,
      .description = "The preferred image; at most one is primary." },
    { .name = NULL }
};

static const scim_attr_t user_address_sub_attrs[] = {
    { .name = "formatted",
      .description = "Full postal address as it is displayed." },
    { .name = "streetAddress",
      .description = "Street, house number, building." },
    { .name = "locality", .description = "City or locality." },
    { .name = "region", .description = "State or region." },
    { .name = "postalCode", .description = "Postal or ZIP code." },
    { .name = "country", .description = "Country, ISO 3166-1 alpha-2." },
    { .name = "type", .canonical_values = canon_address_type,
      .description = "Kind of address, such as work or home." },
    { .name = "primary", .type = SCIM_ATTR_BOOLEAN,
      .description = "The preferred address; at most one is primary." },
    { .name = NULL }
};

static const scim_attr_t user_group_sub_attrs[] = {
    { .name = "value", .mutability = SCIM_MUT_READONLY,
      .description = "id of the group." },
    { .name = "$ref", .type = SCIM_ATTR_REFERENCE,
      .mutability = SCIM_MUT_READONLY, .reference_types = ref_user_group,
      .description = "URI of the group." },
    { .name = "display", .mutability = SCIM_MUT_READONLY,
      .description = "displayName of the group." },
    { .name = "type", .mutability = SCIM_MUT_READONLY,
      .canonical_values = canon_group_membership_type,
      .description = "direct, or indirect through a nested group." },
    { .name = NULL }
};

/* entitlements and roles share one shape without canonical types. */
static const scim_attr_t user_plain_sub_attrs[] = {
    { .name = "value", .description = "The value." },
    { .name = "display", .description = "Human-readable label." },
    { .name = "type", .description = "Label of the value's function." },
    { .name = "primary", .type = SCIM_ATTR_BOOLEAN,
      .description = "The preferred value; at most one is primary." },
    { .name = NULL }
};

static const scim_attr_t user_x509_sub_attrs[] = {
    { .name = "value", .type = SCIM_ATTR_BINARY,
      .description = "DER certificate, base64 encoded." },
    { .name = "display", .description = "Human-readable label." },
    { .name = "type", .description = "Label of the certificate's "
                                     "function." },
    { .name = "primary", .type = SCIM_ATTR_BOOLEAN,
      .description = "The preferred certificate; at most one is primary." },
    { .name = NULL }
};

static const scim_attr_t user_attrs[] = {
    { .name = "userName", .required = 1, .uniqueness = SCIM_UNIQ_SERVER,
      .description = "Unique name the user signs in with." },
    { .name = "name", .type = SCIM_ATTR_COMPLEX,
      .description = "Parts of the user's real name.",
      .sub_attrs = user_name_sub_attrs },
    { .name = "displayName",
      .description = "Name to show the user by." },
    { .name = "nickName",
      .description = "Casual name of the user." },
    { .name = "profileUrl", .type = SCIM_ATTR_REFERENCE,
      .reference_types = ref_external,
      .description = "URL of the user's online profile." },
    { .name = "title",
      .description = "Job title." },
    { .name = "userType",
      .description = "Relation to the organization, such as Employee." },
    { .name = "preferredLanguage",
      .description = "Preferred written or spoken language, RFC 7231 "
                     "Accept-Language syntax." },
    { .name = "locale",
      .description = "Locale for formatting, such as en-US." },
    { .name = "timezone",
      .description = "IANA time zone name, such as Europe/Paris." },
    { .name = "active", .type = SCIM_ATTR_BOOLEAN,
      .description = "Whether the user may use the service." },
    { .name = "password", .mutability = SCIM_MUT_WRITEONLY,
      .returned = SCIM_RET_NEVER,
      .description = "Clear-text password; accepted, never stored or "
                     "returned." },
    { .name = "emails", .type = SCIM_ATTR_COMPLEX, .multi_valued = 1,
      .description = "E-mail addresses.",
      .sub_attrs = user_email_sub_attrs },
    { .name = "phoneNumbers", .type = SCIM_ATTR_COMPLEX, .multi_valued = 1,
      .description = "Phone numbers.",
      .sub_attrs = user_phone_sub_attrs },
    { .name = "ims", .type = SCIM_ATTR_COMPLEX, .multi_valued = 1,
      .description = "Instant messaging addresses.",
      .sub_attrs = user_im_sub_attrs },
    { .name = "photos", .type = SCIM_ATTR_COMPLEX, .multi_valued = 1,
      .description = "URLs of pictures of the user.",
      .sub_attrs = user_photo_sub_attrs },
    { .name = "addresses", .type = SCIM_ATTR_COMPLEX, .multi_valued = 1,
      .description = "Postal addresses.",
      .sub_attrs = user_address_sub_attrs },
    { .name = "groups", .type = SCIM_ATTR_COMPLEX, .multi_valued = 1,
      .mutability = SCIM_MUT_READONLY,
      .description = "Groups the user belongs to; changed through the "
                     "Group resources.",
      .sub_attrs = user_group_sub_attrs },
    { .name = "entitlements", .type = SCIM_ATTR_COMPLEX, .multi_valued = 1,
      .description = "Things the user is entitled to.",
      .sub_attrs = user_plain_sub_attrs },
    { .name = "roles", .type = SCIM_ATTR_COMPLEX, .multi_valued = 1,
      .description = "Roles of the user.",
      .sub_attrs = user_plain_sub_attrs },
    { .name = "x509Certificates", .type = SCIM_ATTR_COMPLEX,
      .multi_valued = 1,
      .description = "Certificates issued to the user.",
      .sub_attrs = user_x509_sub_attrs },
    { .name = NULL }
};

const scim_schema_t scim_schema_user = {
    .id = SCIM_SCHEMA_USER,
    .name = "User",
    .description = "User Account",     /* RFC 7643 8.7.1, word for word */
    .attrs = user_attrs
};

/* ---- Group (RFC 7643 4.2, 8.7.1) -------------------------------------- */

static const scim_attr_t group_member_sub_attrs[] = {
    { .name = "value", .mutability = SCIM_MUT_IMMUTABLE,
      .description = "id of the member resource." },
    { .name = "$ref", .type = SCIM_ATTR_REFERENCE,
      .mutability = SCIM_MUT_IMMUTABLE, .reference_types = ref_user_group,
      .description = "URI of the member resource." },
    { .name = "display", .mutability = SCIM_MUT_READONLY,
      .description = "Name of the member." },
    { .name = "type", .mutability = SCIM_MUT_IMMUTABLE,
      .canonical_values = canon_member_type,
      .description = "User or Group." },
    { .name = NULL }
};

static const scim_attr_t group_attrs[] = {
    { .name = "displayName", .required = 1, .uniqueness = SCIM_UNIQ_SERVER,
      .description = "Name of the group." },
    { .name = "members", .type = SCIM_ATTR_COMPLEX, .multi_valued = 1,
      .description = "Users and groups in the group.",
      .sub_attrs = group_member_sub_attrs },
    { .name = NULL }
};

const scim_schema_t scim_schema_group = {
    .id = SCIM_SCHEMA_GROUP,
    .name = "Group",
    .description = "Group",
    .attrs = group_attrs
};

/* ---- Enterprise user (RFC 7643 4.3, 8.7.1) ---------------------------- */

static const scim_attr_t enterprise_manager_sub_attrs[] = {
    { .name = "value",
      .description = "id of the manager's User resource." },
    { .name = "$ref", .type = SCIM_ATTR_REFERENCE,
      .reference_types = ref_user,
      .description = "URI of the manager's User resource." },
    { .name = "displayName", .mutability = SCIM_MUT_READONLY,
      .description = "Name of the manager." },
    { .name = NULL }
};

static const scim_attr_t enterprise_attrs[] = {
    { .name = "employeeNumber",
      .description = "Number the organization assigned to the user." },
    { .name = "costCenter",
      .description = "Cost center." },
    { .name = "organization",
      .description = "Organization." },
    { .name = "division",
      .description = "Division." },
    { .name = "department",
      .description = "Department." },
    { .name = "manager", .type = SCIM_ATTR_COMPLEX,
      .description = "The user's manager.",
      .sub_attrs = enterprise_manager_sub_attrs },
    { .name = NULL }
};

const scim_schema_t scim_schema_enterprise_user = {
    .id = SCIM_SCHEMA_ENTERPRISE,
    .name = "EnterpriseUser",
    .description = "Enterprise user",
    .attrs = enterprise_attrs
};

/* ---- Membership (mod_scim) -------------------------------------------- */

static const scim_attr_t membership_attrs[] = {
    { .name = "state", .case_exact = 1, .mutability = SCIM_MUT_READONLY,
      .canonical_values = canon_membership_state,
      .description = "provisioned until the user first signs in, then "
                     "linked." },
    { .name = "linked", .type = SCIM_ATTR_DATETIME,
      .mutability = SCIM_MUT_READONLY,
      .description = "When the user first signed in." },
    { .name = "seat", .type = SCIM_ATTR_BOOLEAN,
      .mutability = SCIM_MUT_READONLY,
      .description = "Whether the user occupies a seat." },
    { .name = NULL }
};

const scim_schema_t scim_schema_membership = {
    .id = SCIM_SCHEMA_MEMBERSHIP,
    .name = "Membership",
    .description = "Membership state kept by the service provider",
    .attrs = membership_attrs
};

/* ---- Resource types and the discovery lists --------------------------- */

static const scim_schema_t *const user_extensions[] = {
    &scim_schema_enterprise_user, &scim_schema_membership, NULL
};
static const scim_schema_t *const no_extensions[] = { NULL };

const scim_resource_type_t scim_resource_type_user = {
    .name = "User",
    .endpoint = "/Users",
    .description = "User Account",
    .core = &scim_schema_user,
    .extensions = user_extensions
};

const scim_resource_type_t scim_resource_type_group = {
    .name = "Group",
    .endpoint = "/Groups",
    .description = "Group",
    .core = &scim_schema_group,
    .extensions = no_extensions
};

const scim_schema_t *const scim_all_schemas[] = {
    &scim_schema_user, &scim_schema_group, &scim_schema_enterprise_user,
    &scim_schema_membership, NULL
};

const scim_resource_type_t *const scim_all_resource_types[] = {
    &scim_resource_type_user, &scim_resource_type_group, NULL
};
