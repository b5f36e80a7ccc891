/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* mod_scim: the module record and its hooks.  Directives and configuration
 * checks are in mod_scim_config.c, bearer authentication in
 * mod_scim_bearer.c, the endpoint in mod_scim_handler.c. */

#include <http_request.h>

#define SCIM_DECLARES_MODULE
#include "mod_scim_private.h"

ap_dbd_t *(*scim_dbd_acquire)(request_rec *) = NULL;

/* The configuration check has made sure mod_dbd is there. */
static void scim_retrieve_optional_fns(void)
{
    scim_dbd_acquire = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
    scim_authz_retrieve_optional_fns();
}

static void scim_register_hooks(apr_pool_t *p)
{
    /* check_config, not post_config: `apache2 -t` stops before
     * post_config. */
    ap_hook_pre_config(scim_config_pre, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(scim_config_check, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_optional_fn_retrieve(scim_retrieve_optional_fns, NULL, NULL,
                                 APR_HOOK_MIDDLE);
    /* First, so that the other access checkers and authorization see the
     * bearer as r->user. */
    ap_hook_check_access(scim_bearer_check_access, NULL, NULL,
                         APR_HOOK_FIRST, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_translate_name(scim_translate_name, NULL, NULL, APR_HOOK_FIRST);
    /* before core's walk of the file system (APR_HOOK_REALLY_LAST) */
    ap_hook_map_to_storage(scim_map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_child_init(scim_handler_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(scim_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(scim_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    scim_authz_register_hooks(p);
    scim_admin_register_hooks();
    scim_ratelimit_register_hooks(p);
    scim_walk_register_hooks(p);
}

AP_DECLARE_MODULE(scim) = {
    STANDARD20_MODULE_STUFF,
    scim_config_create_dir,
    scim_config_merge_dir,
    NULL,
    NULL,
    scim_config_directives,
    scim_register_hooks
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    , AP_MODULE_FLAG_NONE
#endif
};
