/* Licensed to the Apache Software Foundation (ASF) under one or more
 * contributor license agreements; and licensed under the Apache License,
 * Version 2.0 (the "License"); you may not use this file except in
 * compliance with the License.  http://www.apache.org/licenses/LICENSE-2.0
 */

/* mod_scim's configuration: directives, the per-directory record and its
 * merge, getters with the defaults, and the checks of the whole
 * configuration that make `apache2 -t` refuse what cannot work. */

#ifndef MOD_SCIM_CONFIG_H
#define MOD_SCIM_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#define SCIM_TOKEN_DIGEST_LEN 32      /* SHA-256 */
#define SCIM_DEFAULT_MAX_BODY (1024 * 1024)
#define SCIM_DEFAULT_MAX_RESULTS 200

/* One bearer token a location accepts.  Only its SHA-256 is configured. */
typedef struct scim_token {
    unsigned char digest[SCIM_TOKEN_DIGEST_LEN];
    /* Who presented it, for r->user and the logs: the administrator's
     * label= or else "sha256:" and the first 12 hex digits of the
     * configured digest (stable, and found again by grep in the
     * configuration; the token cannot be recovered from it). */
    const char *user;
} scim_token_t;

/* Per directory (<Location>).  Unset fields (NULL, -1) inherit from the
 * enclosing section when merged, except tokens: see the merge. */
typedef struct scim_dir_conf {
    const char *organization;       /* ScimOrganization; NULL: unset */
    const char *base_path;          /* its <Location> path, no trailing '/' */
    int endpoint;                   /* 1: the section of ScimOrganization
                                     * also has SetHandler scim; -1: unset */
    apr_array_header_t *tokens;     /* of scim_token_t; NULL: unset */
    apr_off_t max_body;             /* ScimMaxBodySize; -1: unset */
    int max_results;                /* ScimMaxResults; -1: unset */
    struct scim_limits *limits;     /* ScimRateLimit, ScimMaxConcurrent
                                     * (mod_scim_ratelimit.c); NULL: unset */
} scim_dir_conf_t;

extern const command_rec scim_config_directives[];

void *scim_config_create_dir(apr_pool_t *p, char *dir);
void *scim_config_merge_dir(apr_pool_t *p, void *basev, void *addv);

/* The check_config hook: every mistake found in the whole configuration is
 * logged (directive, location, fix) and the start-up or `apache2 -t`
 * fails.  Runs before post_config, which `apache2 -t` never reaches. */
int scim_config_check(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                      server_rec *s);

/* The merged configuration of a request. */
const scim_dir_conf_t *scim_config_of(const request_rec *r);

/* Whether the request's location is a SCIM endpoint of an organization
 * (ScimOrganization beside SetHandler scim). */
int scim_conf_is_endpoint(const scim_dir_conf_t *conf);
apr_off_t scim_conf_max_body(const scim_dir_conf_t *conf);
int scim_conf_max_results(const scim_dir_conf_t *conf);

#endif /* MOD_SCIM_CONFIG_H */
