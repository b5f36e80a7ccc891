/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* What the administrator meets around the SCIM protocol: the version in
 * the log at start-up, an SQLite database file that only the server's
 * user can read, a log line naming the file and the user when the store
 * cannot be used, and an answer for a location that names an organization
 * and tokens but lacks SetHandler scim.
 *
 * mod_dbd keeps DBDriver/DBDParams private, so they are read where the
 * configuration check reads them, in httpd's configuration tree; a
 * <VirtualHost> section is matched to its server_rec by file and line. */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <unixd.h>
#include <util_cfgtree.h>

#include "mod_scim_private.h"
#include "scim_logthrottle.h"
#include "scim_version.h"

/* At most one identical store diagnosis per this many seconds and
 * process: every request meets the same broken store. */
#define STORE_LOG_WINDOW 10

/* mod_dbd's settings of one server, as the configuration tree shows them. */
typedef struct store_conf {
    const char *driver;             /* DBDriver, or NULL */
    const char *params;             /* DBDParams, or NULL */
} store_conf_t;

/* server_rec -> store_conf_t, rebuilt in the parent at each (re)start and
 * inherited by the children. */
static apr_hash_t *server_stores;

/* ---- reading mod_dbd's directives -------------------------------------- */

static const char *directive_arg(apr_pool_t *p, const ap_directive_t *first,
                                 const char *name)
{
    const ap_directive_t *d;
    const char *value = NULL;

    for (d = first; d; d = d->next) {
        if (strcasecmp(d->directive, name) == 0) {
            const char *args = d->args ? d->args : "";

            value = ap_getword_conf(p, &args);    /* the last one wins */
        }
    }
    return value;
}

/* The <VirtualHost> section that defined s, or NULL (the main server). */
static const ap_directive_t *vhost_section(const ap_directive_t *first,
                                           const server_rec *s)
{
    const ap_directive_t *d, *found;

    if (!s->defn_name) {
        return NULL;
    }
    for (d = first; d; d = d->next) {
        if (strcasecmp(d->directive, "<VirtualHost") == 0 && d->filename
            && (unsigned)d->line_num == s->defn_line_number
            && strcmp(d->filename, s->defn_name) == 0) {
            return d;
        }
        if (d->first_child && (found = vhost_section(d->first_child, s))) {
            return found;
        }
    }
    return NULL;
}

static store_conf_t *read_store_conf(apr_pool_t *p, const server_rec *s)
{
    const ap_directive_t *vhost = vhost_section(ap_conftree, s);
    store_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    if (vhost) {
        sc->driver = directive_arg(p, vhost->first_child, "DBDriver");
        sc->params = directive_arg(p, vhost->first_child, "DBDParams");
    }
    sc->driver = sc->driver ? sc->driver
                            : directive_arg(p, ap_conftree, "DBDriver");
    sc->params = sc->params ? sc->params
                            : directive_arg(p, ap_conftree, "DBDParams");
    return sc;
}

/* The database file of an SQLite store, or NULL: DBDParams is the path
 * apr_dbd_sqlite3 hands to SQLite. */
static const char *sqlite_file(const store_conf_t *sc)
{
    if (!sc || !sc->driver || strcmp(sc->driver, "sqlite3") != 0
        || !sc->params || sc->params[0] != '/') {
        return NULL;
    }
    return sc->params;
}

/* ---- users ----------------------------------------------------------- */

/* The user this process runs as, by name when it has one. */
static const char *process_user(apr_pool_t *p)
{
    struct passwd pw, *found = NULL;
    char buf[1024];
    uid_t uid = geteuid();

    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found) {
        return apr_psprintf(p, "%s (uid %ld)", found->pw_name, (long)uid);
    }
    return apr_psprintf(p, "uid %ld", (long)uid);
}

/* The user the children run as: User when httpd starts as root (the
 * children switch to it), else whoever started it. */
static const char *server_user(apr_pool_t *p)
{
    return geteuid() == 0 ? ap_unixd_config.user_name : process_user(p);
}

/* ---- start-up ---------------------------------------------------------- */

/* Creates the SQLite database file 0600, owned by the user the children
 * run as, before SQLite would create it with the umask's mode (0644 under
 * Debian's): the members' data is nobody else's.  SQLite gives its -wal
 * and -shm files the database file's mode.  An existing file is the
 * administrator's and stays as it is. */
static void create_private_database(apr_pool_t *p, server_rec *s,
                                    const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    if (fd < 0) {
        if (errno != EEXIST) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s, SCIMLOGNO(1011)
                         "cannot create the SCIM database %s (DBDParams); "
                         "create its folder, mode 0700, owned by the "
                         "server's user %s", path, server_user(p));
        }
        return;
    }
    close(fd);
    if (geteuid() == 0
        && chown(path, ap_unixd_config.user_id, ap_unixd_config.group_id)
           != 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, s, SCIMLOGNO(1012)
                     "cannot give the new SCIM database %s to the server's "
                     "user %s", path, server_user(p));
    }
}

static int admin_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    apr_hash_t *created = apr_hash_make(ptemp);
    server_rec *vs;

    /* httpd reads its configuration twice at start-up; the first pass
     * only checks it. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, SCIMLOGNO(1010)
                 "mod_scim %s configured", SCIM_VERSION);
    server_stores = apr_hash_make(pconf);
    for (vs = s; vs; vs = vs->next) {
        store_conf_t *sc = read_store_conf(pconf, vs);
        const char *path = sqlite_file(sc);

        /* keyed by the server_rec's address, which the children share */
        apr_hash_set(server_stores, apr_pmemdup(pconf, &vs, sizeof(vs)),
                     sizeof(vs), sc);
        if (path && !apr_hash_get(created, path, APR_HASH_KEY_STRING)) {
            apr_hash_set(created, path, APR_HASH_KEY_STRING, path);
            create_private_database(ptemp, s, path);
        }
    }
    return OK;
}

/* ---- a store that cannot be used --------------------------------------- */

/* What keeps this process from using the SQLite database path, or NULL
 * when the file system is not to blame. */
static const char *sqlite_problem(apr_pool_t *p, const char *path,
                                  const char *user)
{
    char *folder = apr_pstrdup(p, path);
    char *slash = strrchr(folder, '/');
    struct stat st;

    if (slash) {
        *(slash == folder ? slash + 1 : slash) = '\0';
    }
    if (stat(folder, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return apr_psprintf(p, "the database's folder %s does not exist: "
                            "create it, mode 0700, owned by %s", folder,
                            user);
    }
    if (access(folder, W_OK | X_OK) != 0) {
        return apr_psprintf(p, "the database's folder %s is not writable by "
                            "%s, who creates the database and its -wal and "
                            "-shm files there: chown it to that user",
                            folder, user);
    }
    if (stat(path, &st) == 0 && access(path, R_OK | W_OK) != 0) {
        return apr_psprintf(p, "the database %s is not readable and "
                            "writable by %s: chown it to that user", path,
                            user);
    }
    return NULL;
}

static scim_log_throttle_t store_throttle = {
    .window = apr_time_from_sec(STORE_LOG_WINDOW)
};
static pthread_mutex_t store_throttle_lock = PTHREAD_MUTEX_INITIALIZER;

void scim_admin_explain_store_failure(request_rec *r)
{
    const store_conf_t *sc = server_stores
        ? apr_hash_get(server_stores, &r->server, sizeof(r->server)) : NULL;
    const char *path = sqlite_file(sc), *user, *problem;
    unsigned held_back;
    int admitted;

    if (!path) {
        return;
    }
    user = process_user(r->pool);
    if (!(problem = sqlite_problem(r->pool, path, user))) {
        return;
    }
    pthread_mutex_lock(&store_throttle_lock);
    admitted = scim_log_throttle_admit(&store_throttle, problem,
                                       apr_time_now(), &held_back);
    pthread_mutex_unlock(&store_throttle_lock);
    if (admitted) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, SCIMLOGNO(2005)
                      "the SCIM store (DBDriver sqlite3, DBDParams %s) "
                      "cannot be used: %s", path, problem);
    }
}

/* ---- a location that is almost a SCIM endpoint ------------------------- */

/* ScimOrganization and ScimToken without SetHandler scim: the
 * administrator meant an endpoint, and the IdP would get the default
 * handler's 404 page.  Runs after every other handler but core's, so a
 * location that serves something else keeps doing so. */
static int misplaced_handler(request_rec *r)
{
    const scim_dir_conf_t *conf = scim_config_of(r);

    if (!conf->organization || !conf->tokens || conf->endpoint == 1
        || (r->handler && strcmp(r->handler, "scim") == 0)) {
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, SCIMLOGNO(2006)
                  "%s is in a location with ScimOrganization %s and "
                  "ScimToken but no SetHandler scim: add SetHandler scim to "
                  "that <Location> to make it the organization's SCIM "
                  "endpoint", r->uri, conf->organization);
    return scim_send_error(r, HTTP_NOT_FOUND, "No SCIM service here: the "
                           "server's configuration names an organization "
                           "for this location but lacks SetHandler scim");
}

void scim_admin_register_hooks(void)
{
    /* before mod_dbd's, which may open the database in the parent */
    static const char *const before[] = { "mod_dbd.c", NULL };

    ap_hook_post_config(admin_post_config, NULL, before, APR_HOOK_MIDDLE);
    /* after every other handler but core's (APR_HOOK_REALLY_LAST) */
    ap_hook_handler(misplaced_handler, NULL, NULL, APR_HOOK_LAST);
}
