/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

#include <string.h>

#include <apr_strings.h>

#include "scim_discovery.h"
#include "scim_schema.h"

json_t *scim_discovery_service_provider_config(apr_pool_t *p,
                                               const char *base_url,
                                               int max_results)
{
    return json_pack(
        "{s:[s],s:s,s:{s:b},s:{s:b,s:i,s:i},s:{s:b,s:i},s:{s:b},"
        "s:{s:b},s:{s:b},s:{s:b,s:b,s:s,s:i,s:i},"
        "s:[{s:s,s:s,s:s,s:s,s:b}],s:{s:s,s:s}}",
        "schemas", SCIM_SCHEMA_SPC,
        "documentationUri", "https://github.com/mod-scim/mod_scim#readme",
        "patch", "supported", 1,
        "bulk", "supported", 0, "maxOperations", 0, "maxPayloadSize", 0,
        "filter", "supported", 1, "maxResults", max_results,
        "changePassword", "supported", 0,
        "sort", "supported", 1,
        "etag", "supported", 1,
        /* RFC 9865 4: cursors hold a key, not server state, so they do
         * not expire (no cursorTimeout); index stays the default */
        "pagination", "cursor", 1, "index", 1,
            "defaultPaginationMethod", "index",
            "defaultPageSize", max_results, "maxPageSize", max_results,
        "authenticationSchemes",
            "type", "oauthbearertoken",
            "name", "OAuth Bearer Token",
            "description", "A bearer token issued by the administrator"
                           " with the scim-token tool",
            "specUri", "https://www.rfc-editor.org/rfc/rfc6750",
            "primary", 1,
        "meta", "resourceType", "ServiceProviderConfig",
                "location", apr_pstrcat(p, base_url,
                                        "/ServiceProviderConfig", NULL));
}

/* A ListResponse of every resource (taken over), all on one page. */
static json_t *discovery_list(json_t *resources)
{
    size_t n = json_array_size(resources);

    return json_pack("{s:[s],s:i,s:i,s:i,s:o}", "schemas", SCIM_SCHEMA_LIST,
                     "totalResults", (int)n, "startIndex", 1,
                     "itemsPerPage", (int)n, "Resources", resources);
}

scim_error_t *scim_discovery_schemas(apr_pool_t *p, const char *base_url,
                                     const char *id, json_t **out)
{
    const scim_schema_t *const *s;
    json_t *all;

    *out = NULL;
    if (id) {
        for (s = scim_all_schemas; *s; s++) {
            if (strcmp((*s)->id, id) == 0) {
                *out = scim_schema_to_json(*s, base_url);
                return NULL;
            }
        }
        return scim_error_make(p, 404, NULL, "Schema %s not found", id);
    }
    all = json_array();
    for (s = scim_all_schemas; *s; s++) {
        json_array_append_new(all, scim_schema_to_json(*s, base_url));
    }
    *out = discovery_list(all);
    return NULL;
}

scim_error_t *scim_discovery_resource_types(apr_pool_t *p,
                                            const char *base_url,
                                            const char *id, json_t **out)
{
    const scim_resource_type_t *const *t;
    json_t *all;

    *out = NULL;
    if (id) {
        for (t = scim_all_resource_types; *t; t++) {
            if (strcmp((*t)->name, id) == 0) {
                *out = scim_resource_type_to_json(*t, base_url);
                return NULL;
            }
        }
        return scim_error_make(p, 404, NULL, "Resource type %s not found",
                               id);
    }
    all = json_array();
    for (t = scim_all_resource_types; *t; t++) {
        json_array_append_new(all, scim_resource_type_to_json(*t, base_url));
    }
    *out = discovery_list(all);
    return NULL;
}
