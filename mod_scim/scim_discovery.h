/* Licensed to the Apache Software Foundation (ASF) under one or more
 * contributor license agreements; and licensed under the Apache License,
 * Version 2.0 (the "License"); you may not use this file except in
 * compliance with the License.  http://www.apache.org/licenses/LICENSE-2.0
 */

/* The discovery documents (RFC 7644 4): ServiceProviderConfig, Schemas and
 * ResourceTypes.  base_url is the absolute URL of the SCIM root, no '/' at
 * the end.  Every document is a new reference the caller owns. */

#ifndef SCIM_DISCOVERY_H
#define SCIM_DISCOVERY_H

#include <apr_pools.h>
#include <jansson.h>

#include "scim_error.h"

/* max_results: the page size limit announced as filter.maxResults. */
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
