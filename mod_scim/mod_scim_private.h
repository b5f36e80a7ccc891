/* Licensed to the Apache Software Foundation (ASF) under one or more
 * contributor license agreements; and licensed under the Apache License,
 * Version 2.0 (the "License"); you may not use this file except in
 * compliance with the License.  http://www.apache.org/licenses/LICENSE-2.0
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

/* mod_scim_handler.c: the "scim" handler. */
int scim_handler(request_rec *r);

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
scim_error_t *scim_ratelimit_admit(request_rec *r,
                                   const scim_dir_conf_t *conf,
                                   const scim_token_t *token);

#endif /* MOD_SCIM_PRIVATE_H */
