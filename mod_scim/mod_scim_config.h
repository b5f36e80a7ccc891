/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
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
    const char *fingerprint;    /* "sha256:" and 12 hex digits, always */
    const char *label;          /* label=, or NULL */
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
    /* access control (mod_scim_authz.c) */
    int seat_limit;                 /* ScimSeatLimit here; -1: unset (the
                                     * organization's limit: see
                                     * scim_conf_seat_limit) */
    int link_attr;                  /* ScimLinkAttribute, a
                                     * scim_link_attr_t; -1: unset */
    const char *link_identity;      /* ScimLinkIdentity; NULL: r->user */
    int audit_retention;            /* ScimAuditRetention days; -1: unset */
    /* The public URL behind a TLS-terminating proxy (mod_scim_url.c) */
    const char *public_base_url;    /* ScimBaseURL, no trailing '/'; NULL:
                                     * unset; like tokens, never inherited
                                     * by another organization's section */
    int trust_forwarded;            /* ScimTrustForwardedHeaders; -1: unset */
    struct scim_limits *limits;     /* ScimRateLimit, ScimMaxConcurrent
                                     * (mod_scim_ratelimit.c); NULL: unset */
} scim_dir_conf_t;

/* A SCIM endpoint of the configuration, for the status page. */
typedef struct scim_endpoint_conf {
    const char *organization;
    const char *base_path;
    const scim_dir_conf_t *conf;    /* its section's record (tokens) */
} scim_endpoint_conf_t;

#define SCIM_DEFAULT_AUDIT_RETENTION 90   /* days */

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
/* The organization's seat limit (0: unlimited), wherever it was set. */
int scim_conf_seat_limit(const scim_dir_conf_t *conf);
int scim_conf_org_seat_limit(const char *organization);
int scim_conf_link_attr(const scim_dir_conf_t *conf);
int scim_conf_audit_retention(const scim_dir_conf_t *conf);

/* Every SCIM endpoint configured (scim_endpoint_conf_t), in the order of
 * the configuration. */
const apr_array_header_t *scim_config_endpoints(void);

/* pre_config: forgets the previous reading of the configuration. */
int scim_config_pre(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp);
int scim_conf_max_results(const scim_dir_conf_t *conf);
int scim_conf_trust_forwarded(const scim_dir_conf_t *conf);

#endif /* MOD_SCIM_CONFIG_H */
