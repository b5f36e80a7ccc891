/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Lists and searches (RFC 7644 3.4.2, 3.4.3): which store reads answer a
 * filter (an index when one condition allows it, a chunked scan
 * otherwise), sorting, the page, and the ListResponse.  Private to the
 * service. */

#ifndef SCIM_QUERY_H
#define SCIM_QUERY_H

#include "scim_endpoint.h"
#include "scim_request.h"
#include "scim_service.h"

/* GET /Users, GET /Groups and their POST .search. */
void scim_query_list(const scim_request_t *req, scim_response_t *resp,
                     const endpoint_t *ep, const scim_list_params_t *lp);

/* POST /.search at the root: one list over the NULL-terminated endpoints,
 * in their order. */
void scim_query_root_search(const scim_request_t *req, scim_response_t *resp,
                            const endpoint_t *const *endpoints,
                            const scim_list_params_t *lp);

#endif /* SCIM_QUERY_H */
