/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* The public base URL of a SCIM endpoint: meta.location, Location and
 * $ref must name the URL the IdP uses, also behind a TLS-terminating
 * proxy that talks plain HTTP to this server.  In order:
 *   1. ScimBaseURL, as configured;
 *   2. with ScimTrustForwardedHeaders On, the proxy's X-Forwarded-Proto
 *      and X-Forwarded-Host (any client can send them, hence off by
 *      default);
 *   3. httpd's own URL of the request (ap_construct_url): the scheme,
 *      name and port of "ServerName https://id.example.com" under
 *      UseCanonicalName On, else of the Host header. */

#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>

#include "mod_scim_private.h"

#define HOST_MAX 255

/* The first value of a comma-separated header (the one the client-facing
 * proxy wrote), trimmed, or NULL. */
static const char *first_value(apr_pool_t *p, const char *header)
{
    apr_size_t len;

    if (!header) {
        return NULL;
    }
    while (*header == ' ' || *header == '\t') {
        header++;
    }
    len = strcspn(header, ", \t");
    return len ? apr_pstrndup(p, header, len) : NULL;
}

/* A host[:port] fit to go into a URL: letters, digits, '.', '-', ':' and
 * the brackets of an IPv6 literal, nothing that could start a path. */
static int is_plain_authority(const char *host)
{
    const char *c;

    if (!host || strlen(host) > HOST_MAX) {
        return 0;
    }
    for (c = host; *c; c++) {
        if (!apr_isalnum(*c) && !strchr(".-:[]", *c)) {
            return 0;
        }
    }
    return 1;
}

/* "https" or "http" in their URL spelling, or NULL for anything else. */
static const char *url_scheme(const char *proto)
{
    if (proto && strcasecmp(proto, "https") == 0) {
        return "https";
    }
    if (proto && strcasecmp(proto, "http") == 0) {
        return "http";
    }
    return NULL;
}

static const char *forwarded_base_url(request_rec *r, const char *path)
{
    const char *scheme = url_scheme(first_value(r->pool,
        apr_table_get(r->headers_in, "X-Forwarded-Proto")));
    const char *host = first_value(r->pool,
        apr_table_get(r->headers_in, "X-Forwarded-Host"));

    if (host && !is_plain_authority(host)) {
        host = NULL;
    }
    if (!scheme && !host) {
        return NULL;
    }
    /* The port this server listens on is not the proxy's: without a
     * forwarded host, the server's name alone, on the scheme's port. */
    return apr_pstrcat(r->pool, scheme ? scheme : ap_http_scheme(r), "://",
                       host ? host : ap_get_server_name_for_url(r), path,
                       NULL);
}

const char *scim_public_base_url(request_rec *r, const scim_dir_conf_t *conf)
{
    const char *url;

    if (conf->public_base_url) {
        return conf->public_base_url;
    }
    if (scim_conf_trust_forwarded(conf)
        && (url = forwarded_base_url(r, conf->base_path)) != NULL) {
        return url;
    }
    return ap_construct_url(r->pool, conf->base_path, r);
}
