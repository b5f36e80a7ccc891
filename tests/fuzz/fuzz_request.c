/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* libFuzzer target: the input is what a client sends around a request.
 * The same bytes are decoded as a query string (and its list parameters,
 * its cursor among them), as a SearchRequest body (and its list
 * parameters) and as an If-Match header. */

#include <string.h>

#include <apr_escape.h>
#include <apr_strings.h>

#include "fuzz_common.h"
#include "scim_request.h"
#include "scim_walk.h"

#define MAX_RESULTS 100

static void check_page(const scim_list_params_t *lp, const char *what)
{
    FUZZ_CHECK(lp->start_index >= 1
               && lp->start_index <= SCIM_REQUEST_INT_LIMIT,
               "%s: startIndex %d", what, lp->start_index);
    FUZZ_CHECK(lp->count >= 0 && lp->count <= MAX_RESULTS,
               "%s: count %d", what, lp->count);
    FUZZ_CHECK(lp->descending == 0 || lp->descending == 1,
               "%s: descending %d", what, lp->descending);
}

typedef struct round_trip {
    apr_pool_t *pool;
    const char *query;
} round_trip_t;

/* A decoded parameter, encoded again, decodes to itself. */
static int check_round_trip(void *data, const char *name, const char *value)
{
    const round_trip_t *rt = data;
    const char *again = apr_pstrcat(rt->pool,
                                    apr_pescape_urlencoded(rt->pool, name),
                                    "=",
                                    apr_pescape_urlencoded(rt->pool, value),
                                    NULL);
    apr_table_t *params = NULL;
    const apr_table_entry_t *entry;
    scim_error_t *err;

    FUZZ_CHECK(strlen(name) + strlen(value) <= strlen(rt->query),
               "decoding '%s' made it longer", rt->query);
    err = scim_request_parse_query(rt->pool, again, &params);
    FUZZ_CHECK(err == NULL, "'%s' (from '%s') refused: %s", again, rt->query,
               err->detail);
    FUZZ_CHECK(apr_table_elts(params)->nelts == 1,
               "'%s' decodes to %d parameters", again,
               apr_table_elts(params)->nelts);
    entry = (const apr_table_entry_t *)apr_table_elts(params)->elts;
    FUZZ_CHECK(strcmp(entry->key, name) == 0 && strcmp(entry->val, value) == 0,
               "'%s' does not decode to '%s' = '%s'", again, name, value);
    return 1;
}

/* A cursor is refused with 400 invalidCursor, or is the very cursor its
 * key gives. */
static void check_cursor(apr_pool_t *p, const char *cursor)
{
    static const scim_walk_list_t lists[] = {
        { "acme", "User", NULL, NULL, SCIM_WALK_RESOURCES },
        { "acme", "User", "groups.value eq \"g\"", "g", SCIM_WALK_MEMBERS },
    };
    size_t i;

    for (i = 0; cursor && i < sizeof(lists) / sizeof(lists[0]); i++) {
        scim_walk_key_t key = { NULL, NULL };
        scim_error_t *err = scim_walk_cursor_key(p, &lists[i], cursor, &key);
        const char *again;

        if (err) {
            fuzz_check_error(err, "scim_walk_cursor_key");
            FUZZ_CHECK(err->status == 400
                       && strcmp(err->scim_type, "invalidCursor") == 0,
                       "cursor refused with %d", err->status);
            continue;
        }
        again = scim_walk_cursor(p, &lists[i], &key);
        FUZZ_CHECK(again && strcmp(again, cursor) == 0,
                   "cursor '%s' taken, its key gives '%s'", cursor,
                   again ? again : "(none)");
    }
}

static void check_query(apr_pool_t *p, const char *text)
{
    round_trip_t rt = { p, text };
    apr_table_t *params = (apr_table_t *)1;
    scim_list_params_t lp;
    scim_error_t *err;

    err = scim_request_parse_query(p, text, &params);
    if (err) {
        fuzz_check_error(err, "scim_request_parse_query");
        FUZZ_CHECK(err->status == 400, "query refused with %d", err->status);
        return;
    }
    apr_table_do(check_round_trip, &rt, params, NULL);
    err = scim_request_list_params(p, params, MAX_RESULTS, &lp);
    if (err) {
        fuzz_check_error(err, "scim_request_list_params");
        FUZZ_CHECK(err->status == 400, "list refused with %d", err->status);
        return;
    }
    check_page(&lp, "query");
    FUZZ_CHECK(lp.filter == apr_table_get(params, "filter"),
               "filter is not the parameter");
    check_cursor(p, lp.cursor);
}

static void check_search(apr_pool_t *p, const uint8_t *data, size_t size)
{
    json_t *body = (json_t *)1;
    scim_list_params_t lp;
    scim_error_t *err;

    err = scim_request_parse_body(p, (const char *)data, size, &body);
    if (err) {
        fuzz_check_error(err, "scim_request_parse_body");
        FUZZ_CHECK(body == NULL, "body set on error");
        return;
    }
    FUZZ_CHECK(json_is_object(body) && body->refcount == 1,
               "body is not a new object");
    err = scim_request_search_params(p, body, MAX_RESULTS, &lp);
    if (err) {
        fuzz_check_error(err, "scim_request_search_params");
        FUZZ_CHECK(err->status == 400, "search refused with %d",
                   err->status);
    }
    else {
        check_page(&lp, "search");
        check_cursor(p, lp.cursor);
    }
    json_decref(body);
}

/* Weak comparison: whether a tag is weak does not matter. */
static void check_etags(apr_pool_t *p, const char *header)
{
    const char *const tags[][2] = {
        { "W/\"1\"", "\"1\"" }, { "W/\"\"", "\"\"" }, { "W/", "" },
    };
    size_t i;

    for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
        FUZZ_CHECK(scim_request_etag_listed(p, header, tags[i][0])
                   == scim_request_etag_listed(p, header, tags[i][1]),
                   "'%s' lists %s and %s differently", header, tags[i][0],
                   tags[i][1]);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    const char *text = fuzz_text(p, data, size);

    check_query(p, text);
    check_search(p, data, size);
    check_etags(p, text);
    apr_pool_destroy(p);
    return 0;
}
