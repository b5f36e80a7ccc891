/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Bearer-token authentication of SCIM endpoints.
 *
 * The phase: httpd runs the check_authn (check_user_id) hooks only when
 * mod_authz_core's requirements need a user (Require valid-user and the
 * like).  A SCIM location has no Require line, so mod_authz_core grants it
 * in its access_checker_ex hook and no authentication hook ever runs.  The
 * access_checker hooks run for every request before authorization,
 * whatever AuthType, Require or Satisfy say: the token is checked there,
 * and the bearer becomes r->user for the authorization phase, the later
 * phases and the access log's %u.
 *
 * The hook never refuses: without an accepted token the request goes on
 * without a user and the handler, asking again, answers 401 with SCIM's
 * error document (httpd's own 401 page is HTML).  The handler asks again
 * rather than trusting what the hook left: subrequests and internal
 * redirects skip the hook (AP_AUTH_INTERNAL_PER_CONF), and a SHA-256 costs
 * less than keeping state that must never leak from one location to
 * another. */

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <apr_strings.h>

#include "mod_scim_private.h"

#define BEARER_AUTH_TYPE "Bearer"

/* Every configured digest is compared, in constant time; the token itself
 * is never logged nor kept. */
const scim_token_t *scim_bearer_authenticate(request_rec *r,
                                             const scim_dir_conf_t *conf)
{
    const char *auth = apr_table_get(r->headers_in, "Authorization");
    const scim_token_t *tokens, *found = NULL;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    int i;

    if (!auth || !conf->tokens || strncasecmp(auth, "Bearer ", 7) != 0) {
        return NULL;
    }
    auth += 7;
    while (*auth == ' ') {
        auth++;
    }
    if (!*auth || !EVP_Digest(auth, strlen(auth), digest, &digest_len,
                              EVP_sha256(), NULL)
        || digest_len != SCIM_TOKEN_DIGEST_LEN) {
        return NULL;
    }
    tokens = (const scim_token_t *)conf->tokens->elts;
    for (i = 0; i < conf->tokens->nelts; i++) {
        int equal = CRYPTO_memcmp(digest, tokens[i].digest,
                                  SCIM_TOKEN_DIGEST_LEN) == 0;

        if (equal && !found) {
            found = &tokens[i];
        }
    }
    if (found) {
        r->user = apr_pstrdup(r->pool, found->user);
        r->ap_auth_type = BEARER_AUTH_TYPE;
    }
    return found;
}

int scim_bearer_check_access(request_rec *r)
{
    const scim_dir_conf_t *conf = scim_config_of(r);

    if (scim_conf_is_endpoint(conf) && scim_bearer_authenticate(r, conf)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, SCIMLOGNO(3001)
                      "bearer token of %s accepted for %s", r->user,
                      conf->organization);
    }
    return DECLINED;
}
