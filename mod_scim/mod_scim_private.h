/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Shared by the Apache glue files of mod_scim (never by the core). */

#ifndef MOD_SCIM_PRIVATE_H
#define MOD_SCIM_PRIVATE_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <apr_dbd.h>
#include <apr_optional.h>
#include <mod_dbd.h>

#include "mod_scim_config.h"
#include "scim_store.h"
#include "scim_error.h"

extern module AP_MODULE_DECLARE_DATA scim_module;
/* mod_scim.c declares the module itself, which includes this. */
#ifndef SCIM_DECLARES_MODULE
APLOG_USE_MODULE(scim);
#endif

/* Stable tags for our own log lines (httpd's AH numbers are not ours). */
#define SCIMLOGNO(n) "SCIM" #n ": "

/* mod_dbd's functions, found once at start-up (NULL without mod_dbd). */
extern ap_dbd_t *(*scim_dbd_acquire)(request_rec *);

/* mod_scim_handler.c: the "scim" handler, and its per-process state. */
int scim_handler(request_rec *r);
/* An endpoint's requests skip the DocumentRoot's directory walk. */
int scim_translate_name(request_rec *r);
int scim_map_to_storage(request_rec *r);
void scim_handler_child_init(apr_pool_t *p, server_rec *s);
/* The store over the request's mod_dbd connection (held until the request
 * ends); a 503 error when there is no connection. */
scim_error_t *scim_request_store(request_rec *r, scim_store_t **out);

/* mod_scim_authz.c: Require scim-member / scim-group, the link of a first
 * sign-in and the backend's SCIM_* environment. */
void scim_authz_register_hooks(apr_pool_t *p);
void scim_authz_retrieve_optional_fns(void);

/* mod_scim_status.c: the "scim-status" handler. */
int scim_status_handler(request_rec *r);

/* mod_scim_handler.c: answers with a SCIM error document (no scimType). */
int scim_send_error(request_rec *r, int status, const char *detail);

/* mod_scim_admin.c: registers its hooks (start-up: the version in the
 * log, the SQLite database file created 0600 for the server's user; the
 * answer to a location with ScimOrganization and ScimToken but no
 * SetHandler scim). */
void scim_admin_register_hooks(void);
/* Logs what keeps the request's server from using its SQLite database
 * (a missing folder, one the server's user cannot write, ...), naming
 * the file and the user; nothing when the file system is not to blame. */
void scim_admin_explain_store_failure(request_rec *r);

/* mod_scim_url.c: the absolute public URL of the request's SCIM endpoint
 * (ScimBaseURL, trusted X-Forwarded-* headers, or httpd's own URL). */
const char *scim_public_base_url(request_rec *r, const scim_dir_conf_t *conf);

/* mod_scim_bearer.c: the configured token whose bearer the request's
 * Authorization header presents, or NULL; when there is one, r->user is
 * its label or fingerprint and r->ap_auth_type "Bearer". */
const scim_token_t *scim_bearer_authenticate(request_rec *r,
                                             const scim_dir_conf_t *conf);
/* The access_checker hook that authenticates requests to SCIM endpoints
 * before authorization runs. */
int scim_bearer_check_access(request_rec *r);

/* mod_scim_ratelimit.c: ScimRateLimit and ScimMaxConcurrent, counted per
 * token across the server's processes, and TRACE refused on SCIM
 * locations. */
const char *scim_ratelimit_set_rate(cmd_parms *cmd, void *dconf,
                                    const char *requests,
                                    const char *seconds);
const char *scim_ratelimit_set_concurrent(cmd_parms *cmd, void *dconf,
                                          const char *arg);
struct scim_limits *scim_ratelimit_merge(apr_pool_t *p,
                                         const struct scim_limits *base,
                                         const struct scim_limits *add);
void scim_ratelimit_register_hooks(apr_pool_t *p);
/* NULL when the token may go on (a request in flight until r->pool
 * goes), else the 429 to answer, Retry-After in its retry_after. */
/* The end of a request counted by scim_ratelimit_admit (once). */
void scim_ratelimit_done(request_rec *r);
scim_error_t *scim_ratelimit_admit(request_rec *r,
                                   const scim_dir_conf_t *conf,
                                   const scim_token_t *token);

/* mod_scim_walk.c: the shared table of startIndex walks' continuations
 * (scim_walk.h). */
void scim_walk_register_hooks(apr_pool_t *p);

#endif /* MOD_SCIM_PRIVATE_H */
