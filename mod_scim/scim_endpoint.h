/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* How a store-backed resource type is served: what the stages of the
 * service (rendering, lists, writes, routing) share about Users and Groups,
 * so that both go through one code path.  Private to the service. */

#ifndef SCIM_ENDPOINT_H
#define SCIM_ENDPOINT_H

#include "scim_schema.h"

typedef struct endpoint {
    const scim_resource_type_t *rt;
    const char *name_attr;      /* the unique, case-insensitive attribute */
    const char *related;        /* the attribute computed from memberships */
    int related_writable;       /* members: written through the store's
                                   membership rows, not the JSON */
} endpoint_t;

/* Members listed in one group response.  Larger groups are read page by
 * page with GET /Users?filter=groups.value eq "<group id>". */
#define GROUP_MEMBERS_SHOWN 10000

#endif /* SCIM_ENDPOINT_H */
