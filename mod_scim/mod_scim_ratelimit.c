/* Licensed to the Apache Software Foundation (ASF) under one or more
 * contributor license agreements; and licensed under the Apache License,
 * Version 2.0 (the "License"); you may not use this file except in
 * compliance with the License.  http://www.apache.org/licenses/LICENSE-2.0
 */

/* What is refused before the SCIM service runs: more requests per token
 * than ScimRateLimit allows in its window, more of them at once than
 * ScimMaxConcurrent allows (429 with Retry-After, RFC 7644 3.12), and TRACE
 * on a SCIM location (405: it would echo the Authorization header back).
 *
 * The counts live in one anonymous shared memory segment created in
 * post_config, which every child inherits, behind one global mutex
 * (Mutex scim-ratelimit), so that all processes of the server count
 * together.  A table of slots, one per (organization, token) seen
 * recently, found by hashing; when a neighbourhood of the table is full
 * the slot used longest ago (and not busy) is taken over. */

#include <apr_global_mutex.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_mutex.h>

#include "mod_scim_private.h"
#include "scim_service.h"

#define SLOTS 4096              /* tokens counted at once */
#define PROBES 16               /* slots looked at per token */
#define MUTEX_TYPE "scim-ratelimit"

struct scim_limits {
    int requests;               /* ScimRateLimit: per period; -1: unset */
    int seconds;
    int concurrent;             /* ScimMaxConcurrent; -1: unset, 0: off */
};

typedef struct slot {
    apr_uint64_t key;           /* 0: free */
    apr_time_t window_start;
    apr_time_t last_used;
    int count;                  /* requests in the window */
    int in_flight;
} slot_t;

static apr_shm_t *shm;
static slot_t *slots;
static apr_global_mutex_t *mutex;
/* Set while the configuration is read: a section uses a directive. */
static int limits_configured;

/* ---- directives ----------------------------------------------------- */

static struct scim_limits *limits_of(cmd_parms *cmd, void *dconf)
{
    scim_dir_conf_t *conf = dconf;

    if (!conf->limits) {
        conf->limits = apr_palloc(cmd->pool, sizeof(*conf->limits));
        conf->limits->requests = conf->limits->seconds = -1;
        conf->limits->concurrent = -1;
    }
    return conf->limits;
}

static const char *set_rate_limit(cmd_parms *cmd, void *dconf,
                                  const char *requests, const char *seconds)
{
    struct scim_limits *limits = limits_of(cmd, dconf);
    char *end1, *end2;
    long n = strtol(requests, &end1, 10), s = strtol(seconds, &end2, 10);

    if (strcasecmp(requests, "off") == 0 && !*seconds) {
        n = 0;
        s = 1;
    }
    else if (!*requests || *end1 || n < 1 || n > 1000000 || !*seconds
             || *end2 || s < 1 || s > 86400) {
        return "ScimRateLimit takes a number of requests (1 to 1000000) and "
               "a number of seconds (1 to 86400), or off";
    }
    limits->requests = (int)n;
    limits->seconds = (int)s;
    limits_configured |= n > 0;
    return NULL;
}

static const char *set_max_concurrent(cmd_parms *cmd, void *dconf,
                                      const char *arg)
{
    struct scim_limits *limits = limits_of(cmd, dconf);
    char *end;
    long n = strtol(arg, &end, 10);

    if (strcasecmp(arg, "off") == 0) {
        n = 0;
    }
    else if (!*arg || *end || n < 1 || n > 100000) {
        return "ScimMaxConcurrent takes a number of requests (1 to 100000) "
               "or off";
    }
    limits->concurrent = (int)n;
    limits_configured |= n > 0;
    return NULL;
}

/* ScimRateLimit with one argument ("off") or two. */
const char *scim_ratelimit_set_rate(cmd_parms *cmd, void *dconf,
                                    const char *a, const char *b)
{
    return set_rate_limit(cmd, dconf, a, b ? b : "");
}

const char *scim_ratelimit_set_concurrent(cmd_parms *cmd, void *dconf,
                                          const char *arg)
{
    return set_max_concurrent(cmd, dconf, arg);
}

struct scim_limits *scim_ratelimit_merge(apr_pool_t *p,
                                         const struct scim_limits *base,
                                         const struct scim_limits *add)
{
    struct scim_limits *merged;

    if (!base || !add) {
        return (struct scim_limits *)(add ? add : base);
    }
    merged = apr_palloc(p, sizeof(*merged));
    merged->requests = add->requests != -1 ? add->requests : base->requests;
    merged->seconds = add->requests != -1 ? add->seconds : base->seconds;
    merged->concurrent = add->concurrent != -1 ? add->concurrent
                                               : base->concurrent;
    return merged;
}

/* ---- the shared table ----------------------------------------------- */

static int ratelimit_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                                apr_pool_t *ptemp)
{
    limits_configured = 0;
    return ap_mutex_register(pconf, MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

static apr_status_t forget_table(void *unused)
{
    shm = NULL;
    slots = NULL;
    mutex = NULL;
    return APR_SUCCESS;
}

static int ratelimit_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                 apr_pool_t *ptemp, server_rec *s)
{
    apr_status_t rv;

    if (!limits_configured
        || ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    rv = apr_shm_create(&shm, sizeof(slot_t) * SLOTS, NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, SCIMLOGNO(2101)
                     "cannot create the shared memory of ScimRateLimit / "
                     "ScimMaxConcurrent");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    slots = apr_shm_baseaddr_get(shm);
    memset(slots, 0, sizeof(slot_t) * SLOTS);
    rv = ap_global_mutex_create(&mutex, NULL, MUTEX_TYPE, NULL, s, pconf, 0);
    if (rv != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;    /* httpd logged why */
    }
    apr_pool_cleanup_register(pconf, NULL, forget_table,
                              apr_pool_cleanup_null);
    return OK;
}

static void ratelimit_child_init(apr_pool_t *p, server_rec *s)
{
    apr_status_t rv;

    if (mutex && (rv = apr_global_mutex_child_init(&mutex,
            apr_global_mutex_lockfile(mutex), p)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, SCIMLOGNO(2102)
                     "cannot attach the ScimRateLimit mutex in a child");
        mutex = NULL;
    }
}

/* FNV-1a over the organization and the token's digest; never 0. */
static apr_uint64_t slot_key(const char *org, const scim_token_t *token)
{
    apr_uint64_t h = APR_UINT64_C(14695981039346656037);
    const unsigned char *c;
    int i;

    for (c = (const unsigned char *)org; *c; c++) {
        h = (h ^ *c) * APR_UINT64_C(1099511628211);
    }
    h = (h ^ 0xff) * APR_UINT64_C(1099511628211);
    for (i = 0; i < SCIM_TOKEN_DIGEST_LEN; i++) {
        h = (h ^ token->digest[i]) * APR_UINT64_C(1099511628211);
    }
    return h ? h : 1;
}

/* The token's slot, taken over if it has none; NULL when every slot of
 * its neighbourhood is busy (then the token goes uncounted rather than
 * refused).  Under the mutex. */
static slot_t *find_slot(apr_uint64_t key, apr_time_t now)
{
    slot_t *oldest = NULL;
    int i;

    for (i = 0; i < PROBES; i++) {
        slot_t *slot = &slots[(key + (apr_uint64_t)i) % SLOTS];

        if (slot->key == key) {
            return slot;
        }
        if (slot->in_flight == 0
            && (!oldest || slot->last_used < oldest->last_used)) {
            oldest = slot;
        }
    }
    if (oldest) {
        memset(oldest, 0, sizeof(*oldest));
        oldest->key = key;
        oldest->window_start = now;
    }
    return oldest;
}

#define HELD_KEY "scim-ratelimit-held"

typedef struct in_flight {
    apr_uint64_t key;
} in_flight_t;

static apr_status_t leave(void *data)
{
    const in_flight_t *held = data;
    slot_t *slot;
    int i;

    if (!mutex || apr_global_mutex_lock(mutex) != APR_SUCCESS) {
        return APR_SUCCESS;
    }
    for (i = 0; i < PROBES; i++) {
        slot = &slots[(held->key + (apr_uint64_t)i) % SLOTS];
        if (slot->key == held->key && slot->in_flight > 0) {
            slot->in_flight--;
            break;
        }
    }
    apr_global_mutex_unlock(mutex);
    return APR_SUCCESS;
}

/* Leaves the count as the handler returns, before httpd sends the last
 * of the response: a client that waits for its answer and asks again
 * must find its slot free (the pool cleanup alone would run after the
 * client has read the answer). */
void scim_ratelimit_done(request_rec *r)
{
    void *held = NULL;

    apr_pool_userdata_get(&held, HELD_KEY, r->pool);
    if (held) {
        apr_pool_userdata_setn(NULL, HELD_KEY, NULL, r->pool);
        apr_pool_cleanup_run(r->pool, held, leave);
    }
}

static scim_error_t *too_many(request_rec *r, int retry_after,
                              const char *why)
{
    scim_error_t *err = scim_error_make(r->pool, HTTP_TOO_MANY_REQUESTS, NULL,
                                        "%s; retry after %d seconds", why,
                                        retry_after);

    err->retry_after = retry_after;
    return err;
}

scim_error_t *scim_ratelimit_admit(request_rec *r,
                                   const scim_dir_conf_t *conf,
                                   const scim_token_t *token)
{
    const struct scim_limits *limits = conf->limits;
    int rate = limits && limits->requests > 0;
    int concurrent = limits && limits->concurrent > 0;
    apr_time_t now = apr_time_now();
    scim_error_t *err = NULL;
    in_flight_t *held;
    slot_t *slot;

    if ((!rate && !concurrent) || !mutex || !token) {
        return NULL;
    }
    if (apr_global_mutex_lock(mutex) != APR_SUCCESS) {
        return NULL;        /* counting is best effort; serving is not */
    }
    slot = find_slot(slot_key(conf->organization, token), now);
    if (slot) {
        apr_time_t period = apr_time_from_sec(rate ? limits->seconds : 1);

        slot->last_used = now;
        if (now - slot->window_start >= period || now < slot->window_start) {
            slot->window_start = now;
            slot->count = 0;
        }
        if (rate && slot->count >= limits->requests) {
            apr_time_t left = slot->window_start + period - now;

            err = too_many(r, (int)((left + APR_USEC_PER_SEC - 1)
                                    / APR_USEC_PER_SEC),
                           "Too many requests for this token");
        }
        else if (concurrent && slot->in_flight >= limits->concurrent) {
            err = too_many(r, 1, "Too many requests of this token at once");
        }
        else {
            slot->count++;
            if (concurrent) {
                slot->in_flight++;
                held = apr_palloc(r->pool, sizeof(*held));
                held->key = slot->key;
                apr_pool_cleanup_register(r->pool, held, leave,
                                          apr_pool_cleanup_null);
                apr_pool_userdata_setn(held, HELD_KEY, NULL, r->pool);
            }
        }
    }
    apr_global_mutex_unlock(mutex);
    if (err) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, SCIMLOGNO(2103)
                      "%s: 429 for %s of organization %s (%s)", r->uri,
                      token->user, conf->organization, err->detail);
    }
    return err;
}

/* ---- TRACE ------------------------------------------------------------ */

/* Before http's own map_to_storage hook answers TRACE with the request,
 * its Authorization header included.  The <Location> sections apply only
 * after map_to_storage: they are walked here first (httpd caches the
 * walk, so the one that follows costs nothing more). */
static int refuse_trace(request_rec *r)
{
    const scim_dir_conf_t *conf;

    if (r->method_number != M_TRACE || ap_location_walk(r) != OK) {
        return DECLINED;
    }
    conf = scim_config_of(r);
    if (!conf || !conf->organization) {
        return DECLINED;
    }
    apr_table_setn(r->err_headers_out, "Allow",
                   "GET, HEAD, POST, PUT, PATCH, DELETE");
    return HTTP_METHOD_NOT_ALLOWED;
}

void scim_ratelimit_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(ratelimit_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(ratelimit_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(ratelimit_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_map_to_storage(refuse_trace, NULL, NULL, APR_HOOK_FIRST);
}
