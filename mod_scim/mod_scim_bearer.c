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
 * rather than trusting what the hook left (subrequests and internal
 * redirects skip the hook, AP_AUTH_INTERNAL_PER_CONF); the answer the
 * hook found is remembered for that very request_rec and location only,
 * so the handler of the same request does not hash the token again.
 *
 * Failures are logged here, once per request, at the level mod_auth_basic
 * uses for a wrong password, with the reason and the client's address but
 * never the token; repeated identical lines are held back
 * (scim_logthrottle.h). */

#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "mod_scim_private.h"
#include "scim_logthrottle.h"

#define BEARER_AUTH_TYPE "Bearer"
/* At most one identical failure line per this many seconds and process. */
#define FAILURE_LOG_WINDOW 10
/* An auth-scheme longer than this is rather a token pasted without one. */
#define SCHEME_MAX 16

/* Why a request presents no accepted token: what the error log says. */
typedef enum {
    BEARER_ACCEPTED,
    BEARER_NO_HEADER,
    BEARER_OTHER_SCHEME,
    BEARER_EMPTY,
    BEARER_UNKNOWN,
    BEARER_NONE_CONFIGURED
} bearer_outcome_t;

/* SHA-256, fetched once per process: OpenSSL 3 looks an algorithm up by
 * name on every EVP_sha256() digest otherwise. */
static const EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
#endif
    if (!sha256) {
        sha256 = EVP_sha256();
    }
}

/* Every configured digest is compared, in constant time; the token itself
 * is never logged nor kept. */
static bearer_outcome_t check_bearer(const request_rec *r,
                                     const scim_dir_conf_t *conf,
                                     const scim_token_t **found)
{
    const char *auth = apr_table_get(r->headers_in, "Authorization");
    const scim_token_t *tokens;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    int i;

    *found = NULL;
    if (!auth) {
        return BEARER_NO_HEADER;
    }
    if (strncasecmp(auth, "Bearer", 6) != 0 || (auth[6] && auth[6] != ' ')) {
        return BEARER_OTHER_SCHEME;
    }
    auth += 6;
    while (*auth == ' ') {
        auth++;
    }
    if (!*auth) {
        return BEARER_EMPTY;
    }
    if (!conf->tokens) {
        return BEARER_NONE_CONFIGURED;
    }
    pthread_once(&sha256_once, fetch_sha256);
    if (!EVP_Digest(auth, strlen(auth), digest, &digest_len, sha256, NULL)
        || digest_len != SCIM_TOKEN_DIGEST_LEN) {
        return BEARER_UNKNOWN;
    }
    tokens = (const scim_token_t *)conf->tokens->elts;
    for (i = 0; i < conf->tokens->nelts; i++) {
        int equal = CRYPTO_memcmp(digest, tokens[i].digest,
                                  SCIM_TOKEN_DIGEST_LEN) == 0;

        if (equal && !*found) {
            *found = &tokens[i];
        }
    }
    return *found ? BEARER_ACCEPTED : BEARER_UNKNOWN;
}

/* One request's answer for one location, kept in its pool. */
typedef struct {
    const request_rec *r;
    const scim_dir_conf_t *conf;
    bearer_outcome_t outcome;
    const scim_token_t *found;
} bearer_memo_t;

#define BEARER_MEMO_KEY "mod_scim.bearer"

/* check_bearer, once per request_rec and location: an internal redirect
 * or subrequest (another request_rec, perhaps another location) shares
 * the pool but not the answer. */
static bearer_outcome_t check_bearer_once(request_rec *r,
                                          const scim_dir_conf_t *conf,
                                          const scim_token_t **found)
{
    void *data = NULL;
    bearer_memo_t *memo;

    apr_pool_userdata_get(&data, BEARER_MEMO_KEY, r->pool);
    memo = data;
    if (memo && memo->r == r && memo->conf == conf) {
        *found = memo->found;
        return memo->outcome;
    }
    if (!memo) {
        memo = apr_palloc(r->pool, sizeof(*memo));
        apr_pool_userdata_setn(memo, BEARER_MEMO_KEY, NULL, r->pool);
    }
    memo->r = r;
    memo->conf = conf;
    memo->outcome = check_bearer(r, conf, &memo->found);
    *found = memo->found;
    return memo->outcome;
}

static void set_bearer_user(request_rec *r, const scim_token_t *token)
{
    r->user = apr_pstrdup(r->pool, token->user);
    r->ap_auth_type = BEARER_AUTH_TYPE;
}

const scim_token_t *scim_bearer_authenticate(request_rec *r,
                                             const scim_dir_conf_t *conf)
{
    const scim_token_t *found;

    if (check_bearer_once(r, conf, &found) == BEARER_ACCEPTED) {
        set_bearer_user(r, found);
    }
    return found;
}

/* The scheme of an Authorization header when it looks like one (a short
 * word followed by a space), so that a token pasted without "Bearer " is
 * never written to the log. */
static const char *auth_scheme(apr_pool_t *p, const char *auth)
{
    apr_size_t len = strcspn(auth, " ");
    apr_size_t i;

    if (len == 0 || len > SCHEME_MAX || !auth[len]) {
        return NULL;
    }
    for (i = 0; i < len; i++) {
        if (!apr_isalnum(auth[i]) && auth[i] != '-') {
            return NULL;
        }
    }
    return apr_pstrndup(p, auth, len);
}

static const char *failure_reason(const request_rec *r,
                                  bearer_outcome_t outcome)
{
    const char *scheme;

    switch (outcome) {
    case BEARER_NO_HEADER:
        return "no Authorization header";
    case BEARER_OTHER_SCHEME:
        scheme = auth_scheme(r->pool,
                             apr_table_get(r->headers_in, "Authorization"));
        return scheme ? apr_psprintf(r->pool, "Authorization scheme %s, not "
                                     "Bearer", scheme)
                      : "an Authorization header without the Bearer scheme "
                        "(a token sent without \"Bearer \"?)";
    case BEARER_EMPTY:
        return "an empty bearer token";
    case BEARER_NONE_CONFIGURED:
        return "this location has no ScimToken";
    default:
        return "a bearer token that no ScimToken of this location accepts";
    }
}

static scim_log_throttle_t failure_throttle = {
    .window = apr_time_from_sec(FAILURE_LOG_WINDOW)
};
static pthread_mutex_t failure_throttle_lock = PTHREAD_MUTEX_INITIALIZER;

/* At the level of mod_auth_basic's wrong password, one line per
 * organization, reason and client address and FAILURE_LOG_WINDOW seconds,
 * with the count of identical lines held back. */
static void log_failure(request_rec *r, const scim_dir_conf_t *conf,
                        bearer_outcome_t outcome)
{
    const char *reason = failure_reason(r, outcome);
    const char *key = apr_pstrcat(r->pool, conf->organization, " ",
                                  r->useragent_ip, " ", reason, NULL);
    unsigned held_back = 0;
    int admitted;

    pthread_mutex_lock(&failure_throttle_lock);
    admitted = scim_log_throttle_admit(&failure_throttle, key, apr_time_now(),
                                       &held_back);
    pthread_mutex_unlock(&failure_throttle_lock);
    if (!admitted) {
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, SCIMLOGNO(3002)
                  "bearer token authentication failure for organization %s "
                  "from %s: %s%s", conf->organization, r->useragent_ip,
                  reason,
                  held_back ? apr_psprintf(r->pool, " (%u more like it not "
                                           "logged since the last one)",
                                           held_back)
                            : "");
}

int scim_bearer_check_access(request_rec *r)
{
    const scim_dir_conf_t *conf = scim_config_of(r);
    const scim_token_t *found;
    bearer_outcome_t outcome;

    if (!scim_conf_is_endpoint(conf)) {
        return DECLINED;
    }
    outcome = check_bearer_once(r, conf, &found);
    if (outcome != BEARER_ACCEPTED) {
        log_failure(r, conf, outcome);
        return DECLINED;
    }
    set_bearer_user(r, found);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, SCIMLOGNO(3001)
                  "bearer token of %s accepted for %s", r->user,
                  conf->organization);
    return DECLINED;
}
