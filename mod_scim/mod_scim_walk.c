/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Where startIndex walks stopped (scim_walk.h): the table of their
 * continuations in one anonymous shared memory segment created in
 * post_config, which every child inherits, behind one global mutex (Mutex
 * scim-walk), as mod_scim_ratelimit.c keeps its counts.  Shared rather than
 * per process: an IdP's walk is a series of requests that prefork and
 * event hand to whichever child is free, and a continuation only one
 * child knows would leave the others stepping by OFFSET.  Without the
 * table (it could not be created) every page steps by OFFSET, as before. */

#include <apr_global_mutex.h>
#include <apr_shm.h>
#include <http_core.h>
#include <util_mutex.h>

#include "mod_scim_private.h"
#include "scim_walk.h"

#define MUTEX_TYPE "scim-walk"

static apr_shm_t *shm;
static apr_global_mutex_t *mutex;

static int lock_table(void)
{
    return mutex && apr_global_mutex_lock(mutex) == APR_SUCCESS ? 0 : -1;
}

static void unlock_table(void)
{
    apr_global_mutex_unlock(mutex);
}

static int walk_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp)
{
    return ap_mutex_register(pconf, MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

static apr_status_t forget_table(void *unused)
{
    scim_walk_install(NULL, NULL, NULL);
    shm = NULL;
    mutex = NULL;
    return APR_SUCCESS;
}

static int walk_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s)
{
    apr_status_t rv;
    void *mem;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    rv = apr_shm_create(&shm, scim_walk_table_size(), NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, SCIMLOGNO(2104)
                     "cannot create the shared memory of page walks; "
                     "startIndex pages step over the rows before them");
        return OK;
    }
    rv = ap_global_mutex_create(&mutex, NULL, MUTEX_TYPE, NULL, s, pconf, 0);
    if (rv != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;    /* httpd logged why */
    }
    mem = apr_shm_baseaddr_get(shm);
    memset(mem, 0, scim_walk_table_size());
    scim_walk_install(mem, lock_table, unlock_table);
    apr_pool_cleanup_register(pconf, NULL, forget_table,
                              apr_pool_cleanup_null);
    return OK;
}

static void walk_child_init(apr_pool_t *p, server_rec *s)
{
    apr_status_t rv;

    if (mutex && (rv = apr_global_mutex_child_init(&mutex,
            apr_global_mutex_lockfile(mutex), p)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, SCIMLOGNO(2105)
                     "cannot attach the page walks' mutex in a child");
        scim_walk_install(NULL, NULL, NULL);
        mutex = NULL;
    }
}

void scim_walk_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(walk_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(walk_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(walk_child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
