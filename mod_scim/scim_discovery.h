/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* The discovery documents (RFC 7644 4): ServiceProviderConfig, Schemas and
 * ResourceTypes.  base_url is the absolute URL of the SCIM root, no '/' at
 * the end.  Every document is a new reference the caller owns. */

#ifndef SCIM_DISCOVERY_H
#define SCIM_DISCOVERY_H

#include <apr_pools.h>
#include <jansson.h>

#include "scim_error.h"

/* max_results: the page size limit announced as filter.maxResults and
 * as pagination.defaultPageSize and maxPageSize (RFC 9865 4). */
json_t *scim_discovery_service_provider_config(apr_pool_t *p,
                                               const char *base_url,
                                               int max_results);

/* The schema with this id, or with id NULL a list of every schema; 404
 * for an unknown id. */
scim_error_t *scim_discovery_schemas(apr_pool_t *p, const char *base_url,
                                     const char *id, json_t **out);

/* The same for resource types, by name ("User"). */
scim_error_t *scim_discovery_resource_types(apr_pool_t *p,
                                            const char *base_url,
                                            const char *id, json_t **out);

#endif /* SCIM_DISCOVERY_H */
