/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* The served form of a stored resource: its JSON with id, meta, the
 * membership extension and the computed groups / members; its entity tag
 * and Location; the response that carries it, projected by attributes /
 * excludedAttributes.  Private to the service. */

#ifndef SCIM_RENDER_H
#define SCIM_RENDER_H

#include <apr_tables.h>
#include <jansson.h>

#include "scim_endpoint.h"
#include "scim_service.h"

/* The entity tag of a version: W/"<version>". */
const char *scim_render_etag(apr_pool_t *p, int version);

/* The absolute URL of a resource. */
const char *scim_render_location(const scim_request_t *req,
                                 const endpoint_t *ep, const char *id);

/* Does a response with these attributes / excludedAttributes lists (either
 * may be NULL) show the computed attribute (groups / members)?  When not,
 * the memberships are never read. */
int scim_render_related_wanted(const endpoint_t *ep, const char *attributes,
                               const char *excluded);

/* Sets a user's groups attribute from its direct groups (scim_member_t),
 * when it has any (groups may be NULL). */
void scim_render_set_groups(const scim_request_t *req, json_t *user,
                            const apr_array_header_t *groups);

/* Adds the computed attribute, read from the store: a user's groups, or a
 * group's first members_shown members. */
scim_error_t *scim_render_add_related(const scim_request_t *req,
                                      const endpoint_t *ep,
                                      const scim_record_t *rec, json_t *res,
                                      int members_shown);

/* The full resource as served: stored JSON plus id, meta, for users the
 * read-only membership extension and, when with_related, the computed
 * groups / members.  Filters run on this form too.  Owned by pool p. */
scim_error_t *scim_render_full_resource(const scim_request_t *req,
                                        apr_pool_t *p, const endpoint_t *ep,
                                        const scim_record_t *rec,
                                        int with_related, json_t **out);

/* The resource as a response without attributes or excludedAttributes
 * shows it, written from its stored text (rec->stored_json) when it can
 * be: the same bytes as the full form's.  The server's parts (membership,
 * meta, groups / members) are taken from full, this resource's full form,
 * or made anew when full is NULL (a group showing its first members_shown
 * members).  NULL, with *err NULL, when it cannot be served so: write the
 * full form.  In the request pool, its length in *len. */
char *scim_render_stored_text(const scim_request_t *req,
                              const endpoint_t *ep, const scim_record_t *rec,
                              const json_t *full, int members_shown,
                              apr_size_t *len, scim_error_t **err);

/* A resource as written in a list response, in the request pool. */
typedef struct scim_render_text {
    const char *text;
    apr_size_t len;
} scim_render_text_t;

/* Appends value, written out, to texts (scim_render_text_t); 0 when it
 * cannot be written. */
int scim_render_push_json(const scim_request_t *req,
                          apr_array_header_t *texts, const json_t *value);

/* resp answers 200 with a list response holding texts in order: its
 * totalResults when total >= 0, startIndex when start_index > 0 (a cursor
 * page has none, RFC 9865), nextCursor when next_cursor is not NULL. */
void scim_render_respond_list(const scim_request_t *req,
                              scim_response_t *resp, int total,
                              int start_index, const char *next_cursor,
                              const apr_array_header_t *texts);

/* resp answers status with body (owned from now on by the request pool). */
void scim_render_respond(const scim_request_t *req, scim_response_t *resp,
                         int status, json_t *body);

/* resp answers status with the resource as the query's attributes /
 * excludedAttributes (query may be NULL) shape it, its ETag and, for 201,
 * its Location. */
void scim_render_respond_resource(const scim_request_t *req,
                                  scim_response_t *resp, int status,
                                  const endpoint_t *ep,
                                  const scim_record_t *rec,
                                  apr_table_t *query);

#endif /* SCIM_RENDER_H */
