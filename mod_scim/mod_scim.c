/* Licensed to the Apache Software Foundation (ASF) under one or more
 * contributor license agreements; and licensed under the Apache License,
 * Version 2.0 (the "License"); you may not use this file except in
 * compliance with the License.  http://www.apache.org/licenses/LICENSE-2.0
 */

/* mod_scim: module record, directives, configuration merge and hooks. */

#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <http_request.h>

#define SCIM_DECLARES_MODULE
#include "mod_scim_private.h"

ap_dbd_t *(*scim_dbd_acquire)(request_rec *) = NULL;

static void *scim_create_dir_conf(apr_pool_t *p, char *dir)
{
    scim_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->max_body = -1;
    conf->max_results = -1;
    return conf;
}

static void *scim_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    scim_dir_conf_t *base = basev, *add = addv;
    scim_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));
    int new_org = add->organization
                  && !(base->organization
                       && strcmp(base->organization, add->organization) == 0);

    conf->organization = add->organization ? add->organization
                                           : base->organization;
    conf->base_path = add->organization ? add->base_path : base->base_path;
    /* Tokens never cross into a section of another organization: an inner
     * <Location> naming its own organization starts with no token. */
    conf->tokens = add->tokens ? add->tokens
                 : new_org ? NULL : base->tokens;
    conf->max_body = add->max_body != -1 ? add->max_body : base->max_body;
    conf->max_results = add->max_results != -1 ? add->max_results
                                               : base->max_results;
    return conf;
}

apr_off_t scim_conf_max_body(const scim_dir_conf_t *conf)
{
    return conf->max_body != -1 ? conf->max_body : SCIM_DEFAULT_MAX_BODY;
}

int scim_conf_max_results(const scim_dir_conf_t *conf)
{
    return conf->max_results != -1 ? conf->max_results
                                   : SCIM_DEFAULT_MAX_RESULTS;
}

static const char *set_organization(cmd_parms *cmd, void *dconf,
                                    const char *name)
{
    scim_dir_conf_t *conf = dconf;
    const char *err = ap_check_cmd_context(cmd, NOT_IN_HTACCESS);
    const char *c;

    if (err) {
        return err;
    }
    if (!*name || strlen(name) > 255) {
        return "ScimOrganization takes a name of 1 to 255 characters";
    }
    for (c = name; *c; c++) {
        if (!apr_isalnum(*c) && !strchr("._-", *c)) {
            return apr_psprintf(cmd->pool, "ScimOrganization '%s': use only "
                                "letters, digits, '.', '_' and '-'", name);
        }
    }
    conf->organization = name;
    conf->base_path = cmd->path;
    if (cmd->path) {
        /* "/scim/v2/acme/" and "/scim/v2/acme" are the same root, and
         * <Location /> is the root "" (URLs then start "/Users"). */
        apr_size_t len = strlen(cmd->path);
        while (len > 0 && cmd->path[len - 1] == '/') {
            len--;
        }
        conf->base_path = apr_pstrndup(cmd->pool, cmd->path, len);
    }
    return NULL;
}

static const char *add_token(cmd_parms *cmd, void *dconf, const char *arg)
{
    scim_dir_conf_t *conf = dconf;
    const char *err = ap_check_cmd_context(cmd, NOT_IN_HTACCESS);
    unsigned char *digest;
    int i;

    if (err) {
        return err;
    }
    if (strncasecmp(arg, "sha256:", 7) != 0 || strlen(arg + 7) != 64) {
        return "ScimToken takes sha256:<64 hexadecimal digits>, the SHA-256 "
               "of the bearer token (the scim-token tool prints the line)";
    }
    digest = apr_palloc(cmd->pool, SCIM_TOKEN_DIGEST_LEN);
    for (i = 0; i < SCIM_TOKEN_DIGEST_LEN; i++) {
        char hi = apr_tolower(arg[7 + 2 * i]), lo = apr_tolower(arg[8 + 2 * i]);

        if (!apr_isxdigit(hi) || !apr_isxdigit(lo)) {
            return "ScimToken: the digest after sha256: must be 64 "
                   "hexadecimal digits";
        }
        digest[i] = (unsigned char)(((apr_isdigit(hi) ? hi - '0' : hi - 'a' + 10)
                                     << 4)
                                    | (apr_isdigit(lo) ? lo - '0'
                                                       : lo - 'a' + 10));
    }
    if (!conf->tokens) {
        conf->tokens = apr_array_make(cmd->pool, 2, sizeof(unsigned char *));
    }
    APR_ARRAY_PUSH(conf->tokens, unsigned char *) = digest;
    return NULL;
}

static const char *set_max_body(cmd_parms *cmd, void *dconf, const char *arg)
{
    scim_dir_conf_t *conf = dconf;
    char *end;
    apr_off_t v;

    if (apr_strtoff(&v, arg, &end, 10) != APR_SUCCESS || *end || v < 1
        || v > APR_INT64_C(1073741824)) {
        return "ScimMaxBodySize takes a number of bytes from 1 to 1073741824";
    }
    conf->max_body = v;
    return NULL;
}

static const char *set_max_results(cmd_parms *cmd, void *dconf,
                                   const char *arg)
{
    scim_dir_conf_t *conf = dconf;
    char *end;
    long v = strtol(arg, &end, 10);

    if (!*arg || *end || v < 1 || v > 10000) {
        return "ScimMaxResults takes a number from 1 to 10000";
    }
    conf->max_results = (int)v;
    return NULL;
}

static const command_rec scim_directives[] = {
    AP_INIT_TAKE1("ScimOrganization", set_organization, NULL, ACCESS_CONF,
                  "The organization this location serves (name)"),
    AP_INIT_ITERATE("ScimToken", add_token, NULL, ACCESS_CONF,
                    "sha256:<hex> of a bearer token accepted here; "
                    "repeatable for rotation"),
    AP_INIT_TAKE1("ScimMaxBodySize", set_max_body, NULL, ACCESS_CONF,
                  "Largest request body in bytes (default 1048576)"),
    AP_INIT_TAKE1("ScimMaxResults", set_max_results, NULL, ACCESS_CONF,
                  "Most resources in one list page (default 200)"),
    { NULL }
};

static int scim_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s)
{
    /* Looked up here, not in optional_fn_retrieve: that hook runs only
     * after post_config, too late for this check. */
    scim_dbd_acquire = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
    if (!scim_dbd_acquire) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, SCIMLOGNO(1001)
                     "mod_dbd is not loaded: load it (LoadModule dbd_module) "
                     "and set DBDriver/DBDParams for mod_scim's store");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static void scim_register_hooks(apr_pool_t *p)
{
    static const char *const after_dbd[] = { "mod_dbd.c", NULL };

    ap_hook_post_config(scim_post_config, after_dbd, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(scim_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(scim) = {
    STANDARD20_MODULE_STUFF,
    scim_create_dir_conf,
    scim_merge_dir_conf,
    NULL,
    NULL,
    scim_directives,
    scim_register_hooks
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    , AP_MODULE_FLAG_NONE
#endif
};
