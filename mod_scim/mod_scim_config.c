/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* mod_scim's configuration: directives, the per-directory record, its
 * merge and getters, and the check of the whole configuration at start-up
 * and `apache2 -t`.
 *
 * Sections are recognised in httpd's configuration tree (ap_conftree), the
 * parsed file with every Include and <IfModule> already resolved and each
 * line's file and number: that is where a SCIM endpoint (SetHandler scim
 * beside ScimOrganization) and mod_dbd's DBDriver/DBDParams can be seen,
 * since core's SetHandler value and mod_dbd's server record are private to
 * their modules. */

#include <string.h>

#include <apr_escape.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include <util_cfgtree.h>

#include "mod_scim_private.h"
#include "scim_store.h"

#define LABEL_MAX 64
#define FINGERPRINT_BYTES 6     /* 12 hex digits */

/* ---- what one reading of the configuration declared ---------------- */

/* Built by the directive handlers, in pconf, anew for every reading of
 * the configuration (scim_config_pre). */
typedef struct seat_limit_line {
    const scim_dir_conf_t *conf;
    const char *where;
} seat_limit_line_t;

static apr_array_header_t *endpoints;       /* scim_endpoint_conf_t */
static apr_array_header_t *seat_lines;      /* seat_limit_line_t */
static apr_hash_t *seat_limits;             /* organization -> int * */

int scim_config_pre(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    endpoints = apr_array_make(pconf, 8, sizeof(scim_endpoint_conf_t));
    seat_lines = apr_array_make(pconf, 4, sizeof(seat_limit_line_t));
    seat_limits = apr_hash_make(pconf);
    return OK;
}

const apr_array_header_t *scim_config_endpoints(void)
{
    return endpoints;
}

/* ---- the per-directory record -------------------------------------- */

void *scim_config_create_dir(apr_pool_t *p, char *dir)
{
    scim_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->endpoint = -1;
    conf->max_body = -1;
    conf->max_results = -1;
    conf->seat_limit = -1;
    conf->link_attr = -1;
    conf->audit_retention = -1;
    conf->trust_forwarded = -1;
    return conf;
}

/* The public URL settings: a base URL names one endpoint, so it does not
 * flow into another organization's section. */
static void merge_public_url(scim_dir_conf_t *conf,
                             const scim_dir_conf_t *base,
                             const scim_dir_conf_t *add, int other_org)
{
    conf->public_base_url = add->public_base_url ? add->public_base_url
                          : other_org ? NULL : base->public_base_url;
    conf->trust_forwarded = add->trust_forwarded != -1 ? add->trust_forwarded
                                                       : base->trust_forwarded;
}

void *scim_config_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    const scim_dir_conf_t *base = basev, *add = addv;
    scim_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));
    int other_org = add->organization
                    && !(base->organization
                         && strcmp(base->organization, add->organization) == 0);

    conf->organization = add->organization ? add->organization
                                           : base->organization;
    conf->base_path = add->organization ? add->base_path : base->base_path;
    conf->endpoint = add->endpoint != -1 ? add->endpoint : base->endpoint;
    /* Tokens never cross into a section of another organization: an inner
     * <Location> naming its own organization starts with no token. */
    conf->tokens = add->tokens ? add->tokens
                 : other_org ? NULL : base->tokens;
    conf->max_body = add->max_body != -1 ? add->max_body : base->max_body;
    conf->max_results = add->max_results != -1 ? add->max_results
                                               : base->max_results;
    conf->seat_limit = add->seat_limit != -1 ? add->seat_limit
                                             : base->seat_limit;
    conf->link_attr = add->link_attr != -1 ? add->link_attr : base->link_attr;
    conf->link_identity = add->link_identity ? add->link_identity
                                             : base->link_identity;
    conf->audit_retention = add->audit_retention != -1
                            ? add->audit_retention : base->audit_retention;
    merge_public_url(conf, base, add, other_org);
    conf->limits = scim_ratelimit_merge(p, base->limits, add->limits);
    return conf;
}

const scim_dir_conf_t *scim_config_of(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &scim_module);
}

int scim_conf_is_endpoint(const scim_dir_conf_t *conf)
{
    return conf->endpoint == 1 && conf->organization && conf->base_path;
}

apr_off_t scim_conf_max_body(const scim_dir_conf_t *conf)
{
    return conf->max_body != -1 ? conf->max_body : SCIM_DEFAULT_MAX_BODY;
}

int scim_conf_org_seat_limit(const char *organization)
{
    const int *limit = organization && seat_limits
                       ? apr_hash_get(seat_limits, organization,
                                      APR_HASH_KEY_STRING)
                       : NULL;

    return limit ? *limit : 0;
}

int scim_conf_seat_limit(const scim_dir_conf_t *conf)
{
    return scim_conf_org_seat_limit(conf->organization);
}

int scim_conf_link_attr(const scim_dir_conf_t *conf)
{
    return conf->link_attr != -1 ? conf->link_attr : SCIM_LINK_USER_NAME;
}

int scim_conf_audit_retention(const scim_dir_conf_t *conf)
{
    return conf->audit_retention != -1 ? conf->audit_retention
                                       : SCIM_DEFAULT_AUDIT_RETENTION;
}

int scim_conf_max_results(const scim_dir_conf_t *conf)
{
    return conf->max_results != -1 ? conf->max_results
                                   : SCIM_DEFAULT_MAX_RESULTS;
}

int scim_conf_trust_forwarded(const scim_dir_conf_t *conf)
{
    return conf->trust_forwarded == 1;
}

/* ---- reading the configuration tree -------------------------------- */

/* A directive's first argument, unquoted; without the '>' that ends a
 * section's opening line. */
static const char *first_arg(apr_pool_t *p, const ap_directive_t *d)
{
    const char *args = d->args ? d->args : "";
    char *word = ap_getword_conf(p, &args);
    apr_size_t len = strlen(word);

    if (d->directive[0] == '<' && len > 0 && word[len - 1] == '>') {
        word[len - 1] = '\0';
    }
    return word;
}

static int is_directive(const ap_directive_t *d, const char *name)
{
    return d && strcasecmp(d->directive, name) == 0;
}

static const ap_directive_t *find_directive(const ap_directive_t *first,
                                            const char *name)
{
    const ap_directive_t *d;

    for (d = first; d; d = d->next) {
        if (is_directive(d, name)) {
            return d;
        }
    }
    return NULL;
}

/* The SetHandler line among these sibling directives if the handler it
 * leaves in effect is "scim" (the last SetHandler of a section wins), or
 * NULL.  Case-sensitive, as the handler's own comparison. */
static const ap_directive_t *scim_handler_line(apr_pool_t *p,
                                               const ap_directive_t *first)
{
    const ap_directive_t *d, *found = NULL;

    for (d = first; d; d = d->next) {
        if (is_directive(d, "SetHandler")) {
            found = strcmp(first_arg(p, d), "scim") == 0 ? d : NULL;
        }
    }
    return found;
}

/* <LocationMatch re> or <Location ~ re>. */
static int is_regex_location(apr_pool_t *p, const ap_directive_t *section)
{
    return is_directive(section, "<LocationMatch")
           || (is_directive(section, "<Location")
               && strcmp(first_arg(p, section), "~") == 0);
}

/* A <Location> with a path: the only section whose path is a URL prefix,
 * the base URL of an endpoint. */
static int is_path_location(apr_pool_t *p, const ap_directive_t *section)
{
    return is_directive(section, "<Location")
           && !is_regex_location(p, section);
}

/* "<LocationMatch>", "<Location ~ ...>": a section's kind, for messages. */
static const char *section_kind(apr_pool_t *p, const ap_directive_t *section)
{
    if (is_directive(section, "<Location") && is_regex_location(p, section)) {
        return "<Location ~ ...>";
    }
    return apr_pstrcat(p, section->directive, ">", NULL);
}

static const char *where(apr_pool_t *p, const ap_directive_t *d)
{
    return d->filename ? apr_psprintf(p, "%s:%d", d->filename, d->line_num)
                       : "the command line";
}

/* ---- directives ---------------------------------------------------- */

static const char *set_organization(cmd_parms *cmd, void *dconf,
                                    const char *name)
{
    scim_dir_conf_t *conf = dconf;
    const char *err = ap_check_cmd_context(cmd, NOT_IN_HTACCESS);
    const ap_directive_t *section;
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
    /* An endpoint's URLs are built from its section's path, so a SCIM
     * endpoint needs a <Location /path>.  Other sections may name an
     * organization for access control, regular expressions included. */
    section = cmd->directive ? cmd->directive->parent : NULL;
    if (section && scim_handler_line(cmd->temp_pool, section->first_child)) {
        if (!is_path_location(cmd->temp_pool, section)) {
            return apr_psprintf(cmd->pool, "ScimOrganization %s with "
                                "SetHandler scim: a SCIM endpoint needs a "
                                "<Location /path> section, whose path is "
                                "its base URL; %s %s: write <Location "
                                "/scim/v2/%s> instead", name,
                                section_kind(cmd->temp_pool, section),
                                is_regex_location(cmd->temp_pool, section)
                                    ? "holds a regular expression"
                                    : "is not a URL path", name);
        }
        conf->endpoint = 1;
    }
    conf->organization = name;
    if (conf->endpoint == 1) {
        scim_endpoint_conf_t *ep = apr_array_push(endpoints);

        ep->organization = name;
        ep->conf = conf;
    }
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
    if (conf->endpoint == 1) {
        APR_ARRAY_IDX(endpoints, endpoints->nelts - 1,
                      scim_endpoint_conf_t).base_path = conf->base_path;
    }
    return NULL;
}

static const char *const token_syntax =
    "ScimToken takes sha256:<64 hexadecimal digits>, the SHA-256 of the "
    "bearer token, never the token itself: run `scim-token -s`, give it the "
    "token on standard input and use the line it prints";

static const char *parse_token_hash(const char *arg, scim_token_t *token,
                                    apr_pool_t *p)
{
    apr_size_t len = 0;

    if (strncasecmp(arg, "sha256:", 7) != 0 || strlen(arg + 7) != 64
        || apr_unescape_hex(token->digest, arg + 7, 64, 0, &len)
           != APR_SUCCESS
        || len != SCIM_TOKEN_DIGEST_LEN) {
        return token_syntax;
    }
    token->fingerprint = apr_pstrcat(p, "sha256:",
                                     apr_pescape_hex(p, token->digest,
                                                     FINGERPRINT_BYTES, 0),
                                     NULL);
    token->user = token->fingerprint;
    token->label = NULL;
    return NULL;
}

/* A label goes into r->user and the logs: a short word, never taken for
 * a fingerprint (those contain ':'). */
static const char *check_label(apr_pool_t *p, const char *label)
{
    const char *c;

    if (!*label || strlen(label) > LABEL_MAX) {
        return "ScimToken label= takes a name of 1 to 64 characters";
    }
    for (c = label; *c; c++) {
        if (!apr_isalnum(*c) && !strchr("._-@", *c)) {
            return apr_psprintf(p, "ScimToken label=%s: use only letters, "
                                "digits, '.', '_', '-' and '@'", label);
        }
    }
    return NULL;
}

/* ScimToken sha256:<hex> [label=NAME] ... : each label= names the hash
 * before it. */
static const char *add_tokens(cmd_parms *cmd, void *dconf, int argc,
                              char *const argv[])
{
    scim_dir_conf_t *conf = dconf;
    const char *err = ap_check_cmd_context(cmd, NOT_IN_HTACCESS);
    scim_token_t *last = NULL;
    int labelled = 0, i;

    if (err) {
        return err;
    }
    if (argc == 0) {
        return token_syntax;
    }
    for (i = 0; i < argc; i++) {
        if (strncasecmp(argv[i], "label=", 6) == 0) {
            if (!last || labelled) {
                return "ScimToken: label= names the sha256: value before "
                       "it (ScimToken sha256:<64 hex digits> label=NAME)";
            }
            if ((err = check_label(cmd->pool, argv[i] + 6)) != NULL) {
                return err;
            }
            last->user = last->label = argv[i] + 6;
            labelled = 1;
            continue;
        }
        if (!conf->tokens) {
            conf->tokens = apr_array_make(cmd->pool, 2, sizeof(scim_token_t));
        }
        last = apr_array_push(conf->tokens);
        labelled = 0;
        if ((err = parse_token_hash(argv[i], last, cmd->pool)) != NULL) {
            return err;
        }
    }
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

static const char *set_seat_limit(cmd_parms *cmd, void *dconf,
                                  const char *arg)
{
    scim_dir_conf_t *conf = dconf;
    seat_limit_line_t *line;
    char *end;
    long v = strtol(arg, &end, 10);

    if (!*arg || *end || v < 0 || v > 100000000) {
        return "ScimSeatLimit takes a number of seats from 0 (unlimited) to "
               "100000000";
    }
    conf->seat_limit = (int)v;
    line = apr_array_push(seat_lines);
    line->conf = conf;
    line->where = cmd->directive && cmd->directive->filename
                  ? apr_psprintf(cmd->pool, "%s:%d",
                                 cmd->directive->filename,
                                 cmd->directive->line_num)
                  : "the command line";
    return NULL;
}

static const char *set_link_attribute(cmd_parms *cmd, void *dconf,
                                      const char *arg)
{
    scim_dir_conf_t *conf = dconf;

    if (strcasecmp(arg, "userName") == 0) {
        conf->link_attr = SCIM_LINK_USER_NAME;
    }
    else if (strcasecmp(arg, "externalId") == 0) {
        conf->link_attr = SCIM_LINK_EXTERNAL_ID;
    }
    else if (strcasecmp(arg, "email") == 0
             || strcasecmp(arg, "emails") == 0) {
        conf->link_attr = SCIM_LINK_EMAIL;
    }
    else {
        return apr_psprintf(cmd->pool, "ScimLinkAttribute %s: use userName, "
                            "externalId or email", arg);
    }
    return NULL;
}

static const char *set_audit_retention(cmd_parms *cmd, void *dconf,
                                       const char *arg)
{
    scim_dir_conf_t *conf = dconf;
    char *end;
    long v = strtol(arg, &end, 10);

    if (!*arg || *end || v < 1 || v > 36500) {
        return "ScimAuditRetention takes a number of days from 1 to 36500";
    }
    conf->audit_retention = (int)v;
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

/* ScimBaseURL https://host[:port]/path: what an IdP and the resources'
 * meta.location see, when the server's own URL is not the public one. */
static const char *set_base_url(cmd_parms *cmd, void *dconf, const char *arg)
{
    scim_dir_conf_t *conf = dconf;
    apr_uri_t uri;
    apr_size_t len = strlen(arg);

    if (apr_uri_parse(cmd->pool, arg, &uri) != APR_SUCCESS || !uri.scheme
        || (strcasecmp(uri.scheme, "https") != 0
            && strcasecmp(uri.scheme, "http") != 0)
        || !uri.hostname || !*uri.hostname || uri.query || uri.fragment
        || uri.user || uri.password) {
        return apr_psprintf(cmd->pool, "ScimBaseURL '%s': give the absolute "
                            "public URL of this endpoint, such as "
                            "https://id.example.com/scim/v2/acme", arg);
    }
    while (len > 0 && arg[len - 1] == '/') {
        len--;
    }
    conf->public_base_url = apr_pstrndup(cmd->pool, arg, len);
    return NULL;
}

static const char *set_trust_forwarded(cmd_parms *cmd, void *dconf, int on)
{
    ((scim_dir_conf_t *)dconf)->trust_forwarded = on;
    return NULL;
}

const command_rec scim_config_directives[] = {
    AP_INIT_TAKE1("ScimOrganization", set_organization, NULL, ACCESS_CONF,
                  "The organization this location serves (name)"),
    AP_INIT_TAKE_ARGV("ScimToken", add_tokens, NULL, ACCESS_CONF,
                      "sha256:<hex> of a bearer token accepted here, "
                      "optionally followed by label=NAME; repeatable for "
                      "rotation"),
    AP_INIT_TAKE1("ScimMaxBodySize", set_max_body, NULL, ACCESS_CONF,
                  "Largest request body in bytes (default 1048576)"),
    AP_INIT_TAKE1("ScimMaxResults", set_max_results, NULL, ACCESS_CONF,
                  "Most resources in one list page (default 200)"),
    AP_INIT_TAKE1("ScimSeatLimit", set_seat_limit, NULL, ACCESS_CONF,
                  "Seats of the organization for linked, active members "
                  "(0: unlimited)"),
    AP_INIT_TAKE1("ScimLinkAttribute", set_link_attribute, NULL, ACCESS_CONF,
                  "SCIM attribute a signed-in identity is matched against: "
                  "userName (default), externalId or email"),
    AP_INIT_TAKE1("ScimLinkIdentity", ap_set_string_slot,
                  (void *)APR_OFFSETOF(scim_dir_conf_t, link_identity),
                  ACCESS_CONF, "Request environment variable holding the "
                  "signed-in identity (default: the request's user)"),
    AP_INIT_TAKE1("ScimAuditRetention", set_audit_retention, NULL, ACCESS_CONF,
                  "Days audit records are kept (default 90)"),
    AP_INIT_TAKE1("ScimBaseURL", set_base_url, NULL, ACCESS_CONF,
                  "The public URL of this SCIM endpoint, behind a proxy"),
    AP_INIT_FLAG("ScimTrustForwardedHeaders", set_trust_forwarded, NULL,
                 ACCESS_CONF, "Build URLs from the X-Forwarded-Proto and "
                 "X-Forwarded-Host headers of a trusted proxy (default Off)"),
    /* mod_scim_ratelimit.c */
    AP_INIT_TAKE12("ScimRateLimit", scim_ratelimit_set_rate, NULL,
                   ACCESS_CONF, "Most requests one token may make per "
                   "period: <requests> <seconds>, or off (default)"),
    AP_INIT_TAKE1("ScimMaxConcurrent", scim_ratelimit_set_concurrent, NULL,
                  ACCESS_CONF, "Most requests of one token served at once, "
                  "or off (default)"),
    { NULL }
};

/* ---- the whole configuration --------------------------------------- */

/* A section where SetHandler scim is in effect, as the tree shows it. */
typedef struct scim_section {
    const ap_directive_t *section;      /* <Location ...>, ... or a server */
    const ap_directive_t *vhost;        /* its <VirtualHost>; NULL: main */
    const ap_directive_t *handler;      /* the SetHandler scim line */
    const ap_directive_t *organization; /* its ScimOrganization, or NULL */
} scim_section_t;

static void find_scim_sections(apr_pool_t *p, const ap_directive_t *section,
                               const ap_directive_t *vhost,
                               const ap_directive_t *first,
                               apr_array_header_t *found)
{
    const ap_directive_t *d, *handler = scim_handler_line(p, first);

    for (d = first; d; d = d->next) {
        if (d->first_child) {
            find_scim_sections(p, d,
                               is_directive(d, "<VirtualHost") ? d : vhost,
                               d->first_child, found);
        }
    }
    if (handler) {
        scim_section_t *sec = apr_array_push(found);

        sec->section = section;
        sec->vhost = vhost;
        sec->handler = handler;
        sec->organization = find_directive(first, "ScimOrganization");
    }
}

/* A well-formed endpoint (ScimOrganization beside SetHandler scim in a
 * <Location /path>), or the mistake logged. */
static int check_endpoint_section(apr_pool_t *p, server_rec *s,
                                  const scim_section_t *sec)
{
    if (!sec->section || sec->section == sec->vhost) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, SCIMLOGNO(1002)
                     "SetHandler scim at %s applies to a whole server: put "
                     "it in a <Location /path> section with "
                     "ScimOrganization NAME", where(p, sec->handler));
        return 0;
    }
    if (!is_path_location(p, sec->section)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, SCIMLOGNO(1003)
                     "SetHandler scim at %s is in a %s section: a SCIM "
                     "endpoint needs a <Location /path>, whose path is its "
                     "base URL, with ScimOrganization NAME",
                     where(p, sec->handler), section_kind(p, sec->section));
        return 0;
    }
    if (!sec->organization) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, SCIMLOGNO(1004)
                     "SetHandler scim in <Location %s> at %s has no "
                     "ScimOrganization: add ScimOrganization NAME (the "
                     "organization this endpoint serves) to that section",
                     first_arg(p, sec->section), where(p, sec->section));
        return 0;
    }
    return 1;
}

/* One organization, one SCIM endpoint: two would each serve the same
 * users, each under its own URL and tokens. */
static int check_unique_organization(apr_pool_t *p, server_rec *s,
                                     const scim_section_t *sections, int i)
{
    const char *org = first_arg(p, sections[i].organization);
    int j;

    for (j = 0; j < i; j++) {
        if (sections[j].organization
            && strcmp(first_arg(p, sections[j].organization), org) == 0) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, SCIMLOGNO(1005)
                         "ScimOrganization %s is the SCIM endpoint of both "
                         "<Location %s> at %s and <Location %s> at %s: an "
                         "organization has one SCIM endpoint; remove one of "
                         "them or give it another organization", org,
                         first_arg(p, sections[j].section),
                         where(p, sections[j].section),
                         first_arg(p, sections[i].section),
                         where(p, sections[i].section));
            return 0;
        }
    }
    return 1;
}

/* mod_dbd's DBDriver/DBDParams for the endpoint's server: set in its
 * <VirtualHost> or, inherited, in the main server. */
static int check_database(apr_pool_t *p, server_rec *s,
                          const scim_section_t *sec)
{
    int driver = find_directive(ap_conftree, "DBDriver")
                 || (sec->vhost
                     && find_directive(sec->vhost->first_child, "DBDriver"));
    int params = find_directive(ap_conftree, "DBDParams")
                 || (sec->vhost
                     && find_directive(sec->vhost->first_child, "DBDParams"));

    if (driver && params) {
        return 1;
    }
    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, SCIMLOGNO(1006)
                 "<Location %s> at %s is a SCIM endpoint but its server has "
                 "no %s: add DBDriver sqlite3 and DBDParams "
                 "/var/lib/apache2/scim/scim.db (mod_dbd's directives) to %s",
                 first_arg(p, sec->section), where(p, sec->section),
                 !driver && !params ? "DBDriver or DBDParams"
                 : !driver ? "DBDriver" : "DBDParams",
                 sec->vhost ? apr_psprintf(p, "its <VirtualHost %s> at %s",
                                           first_arg(p, sec->vhost),
                                           where(p, sec->vhost))
                            : "the main server configuration");
    return 0;
}

/* The seat limit belongs to the organization: locations that set none
 * follow the one that does; two different limits are a mistake. */
static int check_seat_limits(apr_pool_t *p, server_rec *s)
{
    const seat_limit_line_t *lines = (const seat_limit_line_t *)
                                     seat_lines->elts;
    apr_hash_t *where = apr_hash_make(p);
    int ok = 1, i;

    for (i = 0; i < seat_lines->nelts; i++) {
        const scim_dir_conf_t *conf = lines[i].conf;
        const int *known;

        if (!conf->organization) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, SCIMLOGNO(1007)
                         "ScimSeatLimit at %s has no ScimOrganization in "
                         "its section: add ScimOrganization NAME beside it",
                         lines[i].where);
            ok = 0;
            continue;
        }
        known = apr_hash_get(seat_limits, conf->organization,
                             APR_HASH_KEY_STRING);
        if (known && *known != conf->seat_limit) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, SCIMLOGNO(1008)
                         "ScimSeatLimit %d at %s contradicts ScimSeatLimit "
                         "%d at %s for organization %s: an organization has "
                         "one seat limit; set it once, or the same in every "
                         "location", conf->seat_limit, lines[i].where,
                         *known, (const char *)apr_hash_get(where,
                             conf->organization, APR_HASH_KEY_STRING),
                         conf->organization);
            ok = 0;
            continue;
        }
        apr_hash_set(seat_limits, conf->organization, APR_HASH_KEY_STRING,
                     &conf->seat_limit);
        apr_hash_set(where, conf->organization, APR_HASH_KEY_STRING,
                     lines[i].where);
    }
    return ok;
}

int scim_config_check(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                      server_rec *s)
{
    apr_array_header_t *found = apr_array_make(ptemp, 8,
                                               sizeof(scim_section_t));
    const scim_section_t *sections;
    int ok = 1, i;

    if (!APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, SCIMLOGNO(1001)
                     "mod_dbd is not loaded: add LoadModule dbd_module "
                     "and set DBDriver/DBDParams for mod_scim's store");
        ok = 0;
    }
    ok &= check_seat_limits(ptemp, s);
    find_scim_sections(ptemp, NULL, NULL, ap_conftree, found);
    sections = (const scim_section_t *)found->elts;
    for (i = 0; i < found->nelts; i++) {
        if (!check_endpoint_section(ptemp, s, &sections[i])) {
            ok = 0;
            continue;
        }
        ok &= check_unique_organization(ptemp, s, sections, i);
        ok &= check_database(ptemp, s, &sections[i]);
    }
    return ok ? OK : HTTP_INTERNAL_SERVER_ERROR;
}
