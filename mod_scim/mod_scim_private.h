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

extern module AP_MODULE_DECLARE_DATA scim_module;
/* mod_scim.c declares the module itself, which includes this. */
#ifndef SCIM_DECLARES_MODULE
APLOG_USE_MODULE(scim);
#endif

/* Stable tags for our own log lines (httpd's AH numbers are not ours). */
#define SCIMLOGNO(n) "SCIM" #n ": "

#define SCIM_TOKEN_DIGEST_LEN 32      /* SHA-256 */
#define SCIM_DEFAULT_MAX_BODY (1024 * 1024)
#define SCIM_DEFAULT_MAX_RESULTS 200

typedef struct scim_dir_conf {
    const char *organization;       /* NULL: unset */
    const char *base_path;          /* the <Location> ScimOrganization is in */
    apr_array_header_t *tokens;     /* SHA-256 digests; NULL: unset */
    apr_off_t max_body;             /* -1: unset */
    int max_results;                /* -1: unset */
} scim_dir_conf_t;

/* mod_dbd's functions, found once at start-up (NULL without mod_dbd). */
extern ap_dbd_t *(*scim_dbd_acquire)(request_rec *);

int scim_handler(request_rec *r);

apr_off_t scim_conf_max_body(const scim_dir_conf_t *conf);
int scim_conf_max_results(const scim_dir_conf_t *conf);

#endif /* MOD_SCIM_PRIVATE_H */
