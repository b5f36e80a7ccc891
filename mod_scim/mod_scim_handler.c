/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* The "scim" handler: HTTP <-> core.  The 401 without a bearer token, the
 * request body, the database connection, and writing the core's
 * response. */

#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include "mod_scim_private.h"
#include "scim_service.h"

#define SCIM_CONTENT_TYPE "application/scim+json"

static void send_body(request_rec *r, const char *text, apr_size_t len)
{
    ap_set_content_type(r, SCIM_CONTENT_TYPE);
    ap_set_content_length(r, len);
    if (!r->header_only) {
        ap_rwrite(text, (int)len, r);
    }
}

/* Writes a response document (or none) with SCIM's media type. */
static int send_response(request_rec *r, const scim_response_t *resp)
{
    char *text = NULL;
    size_t len = 0;

    r->status = resp->status;
    if (resp->location) {
        apr_table_setn(r->headers_out, "Location", resp->location);
    }
    if (resp->etag) {
        apr_table_setn(r->headers_out, "ETag", resp->etag);
    }
    if (resp->allow) {
        apr_table_setn(r->headers_out, "Allow", resp->allow);
    }
    if (resp->error && resp->error->retry_after > 0) {
        apr_table_setn(r->headers_out, "Retry-After",
                       apr_itoa(r->pool, resp->error->retry_after));
    }
    if (resp->status == HTTP_UNAUTHORIZED) {
        apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                       "Bearer realm=\"SCIM\"");
    }
    if (resp->error) {
        /* the server's own failures; 501 only says what is not offered */
        int level = resp->status >= 500 && resp->status != 501 ? APLOG_ERR
                                                                : APLOG_DEBUG;

        if (resp->error->critical) {
            level = APLOG_CRIT;
        }
        ap_log_rerror(APLOG_MARK, level, 0, r, SCIMLOGNO(2001)
                      "%s %s: %d %s%s%s", r->method, r->uri, resp->status,
                      resp->error->detail,
                      resp->error->internal ? ": " : "",
                      resp->error->internal ? resp->error->internal : "");
    }
    if (resp->body_text) {
        send_body(r, resp->body_text, resp->body_len);
        return OK;
    }
    if (!resp->body) {
        return OK;
    }
    text = scim_json_dump_compact(resp->body, &len);
    if (!text) {
        r->status = HTTP_INTERNAL_SERVER_ERROR;
        return OK;
    }
    send_body(r, text, len);
    free(text);
    return OK;
}

static int send_error(request_rec *r, int status, const char *scim_type,
                      const char *detail)
{
    scim_response_t resp;

    memset(&resp, 0, sizeof(resp));
    scim_service_error(r->pool, &resp,
                       scim_error_make(r->pool, status, scim_type, "%s",
                                       detail));
    return send_response(r, &resp);
}

int scim_send_error(request_rec *r, int status, const char *detail)
{
    return send_error(r, status, NULL, detail);
}

static int media_type_acceptable(request_rec *r)
{
    const char *type = apr_table_get(r->headers_in, "Content-Type");
    apr_size_t len;

    if (!type) {
        return 1;   /* some clients omit it; the body must still be JSON */
    }
    len = strcspn(type, "; \t");
    return (len == 21 && strncasecmp(type, SCIM_CONTENT_TYPE, len) == 0)
        || (len == 16 && strncasecmp(type, "application/json", len) == 0);
}

/* Reads the whole body, at most max bytes, into one buffer from the
 * request pool.  Returns OK, HTTP_REQUEST_ENTITY_TOO_LARGE, or the error
 * an input filter reported (it has answered the client itself then). */
static int read_body(request_rec *r, apr_off_t max, const char **body,
                     apr_size_t *len)
{
    apr_bucket_brigade *in, *collected;
    apr_off_t total = 0;
    const char *clen = apr_table_get(r->headers_in, "Content-Length");
    char *flat;
    apr_size_t flat_len;
    int seen_eos = 0;

    *body = NULL;
    *len = 0;
    if (clen) {
        char *end;
        apr_off_t n;

        if (apr_strtoff(&n, clen, &end, 10) == APR_SUCCESS && n > max) {
            return HTTP_REQUEST_ENTITY_TOO_LARGE;
        }
    }
    in = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    collected = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    do {
        apr_status_t rv = ap_get_brigade(r->input_filters, in,
                                         AP_MODE_READBYTES, APR_BLOCK_READ,
                                         HUGE_STRING_LEN);
        if (rv != APR_SUCCESS) {
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
        while (!APR_BRIGADE_EMPTY(in)) {
            apr_bucket *b = APR_BRIGADE_FIRST(in);

            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = 1;
            }
            if (APR_BUCKET_IS_METADATA(b)) {
                apr_bucket_delete(b);
                continue;
            }
            /* setaside: the data must outlive this brigade's buckets */
            if (apr_bucket_setaside(b, r->pool) != APR_SUCCESS) {
                return HTTP_BAD_REQUEST;
            }
            APR_BUCKET_REMOVE(b);
            APR_BRIGADE_INSERT_TAIL(collected, b);
        }
        if (apr_brigade_length(collected, 1, &total) != APR_SUCCESS) {
            return HTTP_BAD_REQUEST;
        }
        if (total > max) {
            return HTTP_REQUEST_ENTITY_TOO_LARGE;
        }
    } while (!seen_eos);
    if (apr_brigade_pflatten(collected, &flat, &flat_len, r->pool)
        != APR_SUCCESS) {
        return HTTP_BAD_REQUEST;
    }
    apr_brigade_cleanup(collected);
    *body = flat;
    *len = flat_len;
    return OK;
}

/* ---- the store ----------------------------------------------------------- */

scim_error_t *scim_request_store(request_rec *r, scim_store_t **out)
{
    ap_dbd_t *dbd = scim_dbd_acquire ? scim_dbd_acquire(r) : NULL;
    scim_error_t *err;

    *out = NULL;
    if (!dbd) {
        err = scim_error_make(r->pool, HTTP_SERVICE_UNAVAILABLE, NULL,
                              "The directory store is unavailable; retry "
                              "later");
        err->internal = "no database connection (check DBDriver/DBDParams)";
        err->retry_after = SCIM_STORE_RETRY_AFTER;
        return err;
    }
    return scim_store_open(r->pool, dbd->driver, dbd->handle, dbd->prepared,
                           dbd->pool, out);
}

/* ---- the audit trail and the tokens' last use ---------------------------- */

/* What a write request is, in the audit trail. */
static const char *write_event(const request_rec *r)
{
    switch (r->method_number) {
    case M_POST:
        return "create";
    case M_PUT:
        return "replace";
    case M_PATCH:
        return "patch";
    case M_DELETE:
        return "delete";
    default:
        return NULL;
    }
}

/* A rejected token is an audit row of the location's organization (the
 * token itself is neither logged nor kept). */
static void audit_rejected_token(request_rec *r, const scim_dir_conf_t *conf)
{
    scim_audit_ctx_t audit = { "-", r->useragent_ip, NULL,
                               scim_conf_audit_retention(conf) };
    scim_store_t *store = NULL;
    scim_error_t *err;

    if (!scim_dbd_acquire) {
        return;
    }
    err = scim_request_store(r, &store);
    if (!err) {
        scim_store_set_audit(store, &audit);
        err = scim_store_audit(store, conf->organization, "token-rejected",
                               NULL, NULL, NULL, "401");
    }
    if (err) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, SCIMLOGNO(2008)
                      "audit of a rejected token: %s%s%s", err->detail,
                      err->internal ? ": " : "",
                      err->internal ? err->internal : "");
    }
}

/* A token's last use is written at most once a minute per process: the
 * status page needs no more, and reads stay reads. */
#define TOKEN_USE_INTERVAL apr_time_from_sec(60)

static apr_pool_t *token_use_pool;
static apr_hash_t *token_use;           /* "org\ntoken" -> apr_time_t */
#if APR_HAS_THREADS
static apr_thread_mutex_t *token_use_lock;
#endif

void scim_handler_child_init(apr_pool_t *p, server_rec *s)
{
    apr_pool_create(&token_use_pool, p);
    token_use = apr_hash_make(token_use_pool);
#if APR_HAS_THREADS
    apr_thread_mutex_create(&token_use_lock, APR_THREAD_MUTEX_DEFAULT, p);
#endif
}

static int token_use_due(request_rec *r, const char *org,
                         const scim_token_t *token)
{
    const char *key = apr_pstrcat(r->pool, org, "\n", token->fingerprint,
                                  NULL);
    apr_time_t now = apr_time_now(), *last;
    int due = 0;

    if (!token_use) {
        return 0;
    }
#if APR_HAS_THREADS
    apr_thread_mutex_lock(token_use_lock);
#endif
    last = apr_hash_get(token_use, key, APR_HASH_KEY_STRING);
    if (!last) {
        /* one entry per configured token: bounded */
        last = apr_pcalloc(token_use_pool, sizeof(*last));
        apr_hash_set(token_use, apr_pstrdup(token_use_pool, key),
                     APR_HASH_KEY_STRING, last);
    }
    if (!*last || now - *last >= TOKEN_USE_INTERVAL) {
        *last = now;
        due = 1;
    }
#if APR_HAS_THREADS
    apr_thread_mutex_unlock(token_use_lock);
#endif
    return due;
}

static void note_token_use(request_rec *r, scim_store_t *store,
                           const scim_dir_conf_t *conf,
                           const scim_token_t *token)
{
    scim_error_t *err;

    if (!token_use_due(r, conf->organization, token)) {
        return;
    }
    err = scim_store_token_used(store, conf->organization, token->fingerprint,
                                r->useragent_ip);
    if (err) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, SCIMLOGNO(2009)
                      "recording the token's use: %s%s%s", err->detail,
                      err->internal ? ": " : "",
                      err->internal ? err->internal : "");
    }
}

/* An endpoint's URLs name no file.  translate_name still sees the
 * <Location>'s configuration (map_to_storage runs with the server's), so
 * it marks the request, and map_to_storage then spares it core's walk of
 * the DocumentRoot: a stat and an .htaccess lookup for every segment of
 * every request's path, about a dozen system calls. */
#define NOTE_ENDPOINT "scim-endpoint"

int scim_translate_name(request_rec *r)
{
    if (scim_conf_is_endpoint(scim_config_of(r))) {
        apr_table_setn(r->notes, NOTE_ENDPOINT, "1");
    }
    return DECLINED;
}

int scim_map_to_storage(request_rec *r)
{
    return apr_table_get(r->notes, NOTE_ENDPOINT) ? OK : DECLINED;
}

static int serve(request_rec *r);

/* glibc keeps what a worker thread frees in that thread's malloc arena
 * and returns an arena's free pages to the system only from its top: over
 * a million mixed requests the workers grew 9-14 % with nothing leaked
 * (the same with SQLite's page caches cut to an eighth, with MaxMemFree
 * 256, without audit rows).  malloc_trim gives every arena's free pages
 * back, but walks every free chunk to do so: 6-240 ms, median 117 ms, in
 * a bench child.  Hence at most once per TRIM_INTERVAL seconds a process
 * (about 1 % of a core), by whichever request finds the time has come,
 * rather than every so many requests, which cost more the busier the
 * server. */
#define TRIM_INTERVAL 10

static apr_uint32_t last_trim;          /* apr_time_sec of the last one */

static void give_back_freed_memory(void)
{
#ifdef __GLIBC__
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t last = apr_atomic_read32(&last_trim);

    if (now - last >= TRIM_INTERVAL
        && apr_atomic_cas32(&last_trim, now, last) == last) {
        malloc_trim(0);
    }
#endif
}

int scim_handler(request_rec *r)
{
    int rv = serve(r);

    scim_ratelimit_done(r);
    give_back_freed_memory();
    return rv;
}

static int serve(request_rec *r)
{
    const scim_dir_conf_t *conf;
    const scim_token_t *token;
    scim_request_t req;
    scim_response_t resp;
    scim_store_t *store;
    scim_store_stats_t work;
    scim_audit_ctx_t audit;
    scim_error_t *err;
    apr_size_t base_len;
    int rv;

    if (!r->handler || strcmp(r->handler, "scim") != 0) {
        return DECLINED;
    }
    conf = scim_config_of(r);
    if (!conf->organization || !conf->base_path) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, SCIMLOGNO(2002)
                      "SetHandler scim without ScimOrganization in a "
                      "<Location> section");
        return send_error(r, HTTP_NOT_FOUND, NULL, "No SCIM service here");
    }
    /* <Location /scim/v2/acme> also matches /scim/v2/acmeX: not ours. */
    base_len = strlen(conf->base_path);
    if (strncmp(r->uri, conf->base_path, base_len) != 0
        || (r->uri[base_len] && r->uri[base_len] != '/')) {
        return send_error(r, HTTP_NOT_FOUND, NULL, "No SCIM service here");
    }
    /* Asked again here, not taken from the access hook: see
     * mod_scim_bearer.c. */
    token = scim_bearer_authenticate(r, conf);
    if (!token) {
        ap_discard_request_body(r);
        audit_rejected_token(r, conf);
        return send_error(r, HTTP_UNAUTHORIZED, NULL,
                          "A valid bearer token for this organization is "
                          "required");
    }
    if ((err = scim_ratelimit_admit(r, conf, token)) != NULL) {
        ap_discard_request_body(r);
        memset(&resp, 0, sizeof(resp));
        scim_service_error(r->pool, &resp, err);
        return send_response(r, &resp);
    }

    memset(&req, 0, sizeof(req));
    req.pool = r->pool;
    req.org = conf->organization;
    req.base_url = scim_public_base_url(r, conf);
    req.method = r->method_number == M_GET ? "GET" : r->method;
    req.path = r->uri + base_len;
    req.query = r->args;
    req.if_match = apr_table_get(r->headers_in, "If-Match");
    req.if_none_match = apr_table_get(r->headers_in, "If-None-Match");
    req.max_results = scim_conf_max_results(conf);

    if (r->method_number == M_POST || r->method_number == M_PUT
        || r->method_number == M_PATCH) {
        if (!media_type_acceptable(r)) {
            ap_discard_request_body(r);
            return send_error(r, HTTP_UNSUPPORTED_MEDIA_TYPE, NULL,
                              "Send application/scim+json or "
                              "application/json");
        }
        rv = read_body(r, scim_conf_max_body(conf), &req.body,
                       &req.body_len);
        if (rv == HTTP_REQUEST_ENTITY_TOO_LARGE) {
            r->connection->keepalive = AP_CONN_CLOSE;
            return send_error(r, rv, NULL,
                              apr_psprintf(r->pool, "The request body is "
                                           "larger than %" APR_OFF_T_FMT
                                           " bytes",
                                           scim_conf_max_body(conf)));
        }
        if (rv == AP_FILTER_ERROR) {
            return rv;      /* the input filter answered already */
        }
        if (rv != OK) {
            return send_error(r, rv, SCIM_TYPE_INVALID_SYNTAX,
                              "The request body could not be read");
        }
    }
    else if ((rv = ap_discard_request_body(r)) != OK) {
        return rv;
    }

    if ((err = scim_request_store(r, &store))) {
        scim_admin_explain_store_failure(r);
        memset(&resp, 0, sizeof(resp));
        scim_service_error(r->pool, &resp, err);
        return send_response(r, &resp);
    }
    req.store = store;
    audit.actor = token->user;
    audit.address = r->useragent_ip;
    audit.event = write_event(r);
    audit.retention_days = scim_conf_audit_retention(conf);
    scim_store_set_audit(store, &audit);
    note_token_use(r, store, conf, token);

    scim_service_handle(&req, &resp);
    /* The work a request did, so that operators (and the tests) can see
     * that a member change touched only its own rows. */
    if (audit.event && !(r->method_number == M_POST
                         && strstr(req.path, ".search"))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, SCIMLOGNO(2007)
                      "%s %s of organization %s by %s from %s: %d",
                      audit.event, r->uri, conf->organization, token->user,
                      r->useragent_ip, resp.status);
    }
    work = scim_store_stats(store);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, SCIMLOGNO(2004)
                  "%s %s: %d; store: %d statements, %d rows read, "
                  "%d rows written", r->method, r->uri, resp.status,
                  work.statements, work.rows_read, work.rows_written);
    return send_response(r, &resp);
}
