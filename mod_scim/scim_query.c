/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "scim_filter.h"
#include "scim_query.h"
#include "scim_render.h"
#include "scim_walk.h"
#include "scim_sqlfilter.h"

/* Members listed in one list response of groups, all groups together: a
 * page of many large groups shows fewer members of each (a page of 100
 * groups, 1,000 each), so a response stays bounded. */
#define LIST_MEMBERS_SHOWN 100000

/* Rows read per round trip when a filter has to look at every resource. */
#define SCAN_CHUNK 500

/* ---- planning: what an index can answer --------------------------------- */

static int filter_mentions(const scim_filter_t *f, const char *attr)
{
    if (!f) {
        return 0;
    }
    switch (f->kind) {
    case SCIM_FILTER_AND:
    case SCIM_FILTER_OR:
        return filter_mentions(f->left, attr) || filter_mentions(f->right, attr);
    case SCIM_FILTER_NOT:
        return filter_mentions(f->left, attr);
    default:
        return !f->path.schema_urn && scim_streq_ci(f->path.attr_name, attr);
    }
}

/* The id in a membership condition "attr.value eq X", "attr eq X" or
 * "attr[value eq X]", else NULL. */
static const char *membership_condition(const scim_filter_t *f,
                                        const char *attr)
{
    if (!f || f->path.schema_urn || !scim_streq_ci(f->path.attr_name, attr)) {
        return NULL;
    }
    if (f->kind == SCIM_FILTER_COMPARE && f->op == SCIM_OP_EQ
        && json_is_string(f->value)
        && (!f->path.sub_name || scim_streq_ci(f->path.sub_name, "value"))) {
        return json_string_value(f->value);
    }
    if (f->kind == SCIM_FILTER_VALUE_PATH && !f->has_tail && f->left
        && f->left->kind == SCIM_FILTER_COMPARE) {
        return scim_filter_indexed_eq(f->left, "value");
    }
    return NULL;
}

/* A membership condition on attr that f requires: f itself or an operand
 * of its top-level "and" chain.  *id gets the member / group id. */
static const scim_filter_t *membership_conjunct(const scim_filter_t *f,
                                                const char *attr,
                                                const char **id)
{
    const scim_filter_t *found;

    if (f && f->kind == SCIM_FILTER_AND) {
        found = membership_conjunct(f->left, attr, id);
        return found ? found : membership_conjunct(f->right, attr, id);
    }
    *id = membership_condition(f, attr);
    return *id ? f : NULL;
}

/* f without one of its required conditions, which an index already
 * answered: what remains to test on the candidates (NULL: nothing). */
static const scim_filter_t *without_conjunct(apr_pool_t *p,
                                             const scim_filter_t *f,
                                             const scim_filter_t *conjunct)
{
    const scim_filter_t *left, *right;
    scim_filter_t *rest;

    if (f == conjunct) {
        return NULL;
    }
    if (f->kind != SCIM_FILTER_AND) {
        return f;
    }
    left = without_conjunct(p, f->left, conjunct);
    right = without_conjunct(p, f->right, conjunct);
    if (!left || !right) {
        return left ? left : right;
    }
    if (left == f->left && right == f->right) {
        return f;
    }
    rest = apr_pmemdup(p, f, sizeof(*f));
    rest->left = (scim_filter_t *)left;
    rest->right = (scim_filter_t *)right;
    return rest;
}

/* ---- collecting the matches -------------------------------------------- */

/* Whether the list shows its resources in the default view (no attributes,
 * no excludedAttributes): the view their stored texts may serve. */
static int default_view(const scim_list_params_t *lp)
{
    return !lp->attributes && !lp->excluded;
}

typedef struct match {
    scim_record_t *rec;
    json_t *full;               /* the served form, filters ran on it;
                                   NULL for a page's resource until the
                                   answer needs it */
    int seq;                    /* position among the matches */
    int groups_known;           /* a user read with its groups: full has
                                   them */
} match_t;

typedef struct sort_spec {
    const scim_attr_path_t *path;
    const scim_attr_t *def;
    int descending;
} sort_spec_t;

/* A match of a sorted list while the scan runs: only what ordering needs,
 * held by jansson and malloc rather than a pool, so that an entry pushed
 * out of the heap is given back at once. */
typedef struct sort_entry {
    json_t *key;                /* the sort value, NULL when absent */
    char *id;
    int seq;
} sort_entry_t;

typedef struct collector {
    const scim_request_t *req;
    const endpoint_t *ep;
    const scim_filter_t *filter;
    scim_sql_cond_t cond;       /* filter for the database (sql NULL:
                                   none); scan() reads its candidates */
    const scim_list_params_t *lp;
    int filter_needs_related;   /* filter names groups / members */
    int total;
    apr_array_header_t *kept;   /* match_t: the page */
    /* sortBy: the first heap_size matches in sort order (those up to the
     * end of the page), a heap with the last of them on top; the page is
     * read by id once the scan is over.  Memory is bounded by the page's
     * end, not by the organization. */
    const sort_spec_t *sort;
    int heap_size;
    apr_array_header_t *heap;   /* sort_entry_t */
    scim_error_t *err;
    /* cursor pagination (RFC 9865): the page's nextCursor (NULL: the last
     * page); total is -1 when the walk cannot tell it */
    const char *next_cursor;
} collector_t;

/* Absent values sort last in ascending order (and first descending);
 * ties keep the default order so pages stay stable. */
static int compare_entries(const void *a, const void *b, void *arg)
{
    const sort_entry_t *x = a, *y = b;
    const sort_spec_t *spec = arg;
    int cmp;

    if (!x->key || !y->key) {
        cmp = !x->key - !y->key;
    }
    else {
        cmp = scim_value_compare(spec->def, x->key, y->key);
    }
    if (spec->descending) {
        cmp = -cmp;
    }
    return cmp ? cmp : (x->seq > y->seq) - (x->seq < y->seq);
}

static void heap_swap(sort_entry_t *h, int i, int j)
{
    sort_entry_t t = h[i];

    h[i] = h[j];
    h[j] = t;
}

/* Restores the heap order (the entry sorting last on top) from i down. */
static void heap_sift_down(collector_t *c, int i)
{
    sort_entry_t *h = (sort_entry_t *)c->heap->elts;
    int n = c->heap->nelts;

    for (;;) {
        int last = i, l = 2 * i + 1, r = l + 1;

        if (l < n && compare_entries(&h[l], &h[last], (void *)c->sort) > 0) {
            last = l;
        }
        if (r < n && compare_entries(&h[r], &h[last], (void *)c->sort) > 0) {
            last = r;
        }
        if (last == i) {
            return;
        }
        heap_swap(h, i, last);
        i = last;
    }
}

static void heap_sift_up(collector_t *c, int i)
{
    sort_entry_t *h = (sort_entry_t *)c->heap->elts;

    while (i > 0
           && compare_entries(&h[i], &h[(i - 1) / 2], (void *)c->sort) > 0) {
        heap_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

/* Keeps a match in the heap if it sorts before the last one kept. */
static void heap_offer(collector_t *c, const json_t *key, const char *id,
                       int seq)
{
    sort_entry_t candidate = { (json_t *)key, NULL, seq }, *slot;
    int full = c->heap->nelts == c->heap_size;

    if (c->heap_size == 0) {
        return;
    }
    if (full) {
        slot = (sort_entry_t *)c->heap->elts;
        if (compare_entries(&candidate, slot, (void *)c->sort) >= 0) {
            return;
        }
        json_decref(slot->key);
        free(slot->id);
    }
    else {
        slot = apr_array_push(c->heap);
    }
    slot->key = json_incref(candidate.key);
    slot->id = strdup(id);
    slot->seq = seq;
    if (!slot->id) {
        c->err = scim_error_make(c->req->pool, 503, NULL,
                                 "Out of memory sorting the matches");
    }
    if (full) {
        heap_sift_down(c, 0);
    }
    else {
        heap_sift_up(c, c->heap->nelts - 1);
    }
}

static void heap_release(collector_t *c)
{
    int i;

    for (i = 0; c->heap && i < c->heap->nelts; i++) {
        sort_entry_t *e = &APR_ARRAY_IDX(c->heap, i, sort_entry_t);

        json_decref(e->key);
        free(e->id);
    }
    if (c->heap) {
        c->heap->nelts = 0;
    }
}

static void keep_match(collector_t *c, const scim_record_t *rec,
                       json_t *full, int seq)
{
    match_t *m = apr_array_push(c->kept);

    m->rec = scim_record_copy(c->req->pool, rec);
    m->full = scim_json_pool_own(c->req->pool, json_incref(full));
    m->seq = seq;
    m->groups_known = rec->groups != NULL;
}

/* Considers one candidate, read into scratch pool p; a kept match is
 * copied to the request pool. */
static void collect(collector_t *c, apr_pool_t *p, const scim_record_t *rec)
{
    json_t *full = NULL;
    int position;

    if (c->err) {
        return;
    }
    /* groups read with the user cost nothing more to show */
    c->err = scim_render_full_resource(c->req, p, c->ep, rec,
                                       c->filter_needs_related || rec->groups,
                                       &full);
    if (c->err || (c->filter && !scim_filter_match(c->filter, full))) {
        return;
    }
    position = ++c->total;
    if (c->sort) {
        heap_offer(c, scim_sort_value(c->sort->path, full), rec->id,
                   position);
    }
    else if (position >= c->lp->start_index
             && position < c->lp->start_index + c->lp->count) {
        keep_match(c, rec, full, position);
    }
}

static void collect_all(collector_t *c, apr_pool_t *p,
                        const apr_array_header_t *recs)
{
    int i;

    for (i = 0; i < recs->nelts; i++) {
        collect(c, p, APR_ARRAY_IDX(recs, i, scim_record_t *));
    }
}

/* The page of a sorted list: the heap in order, from startIndex on, each
 * read again by id.  A resource deleted or changed so that it no longer
 * matches since the scan read it is left out. */
static scim_error_t *sorted_page(collector_t *c)
{
    const scim_request_t *req = c->req;
    int i;

    qsort_r(c->heap->elts, c->heap->nelts, sizeof(sort_entry_t),
            compare_entries, (void *)c->sort);
    for (i = c->lp->start_index - 1; i < c->heap->nelts; i++) {
        const sort_entry_t *e = &APR_ARRAY_IDX(c->heap, i, sort_entry_t);
        scim_record_t *rec = NULL;
        json_t *full = NULL;
        scim_error_t *err;

        err = scim_store_get(req->store, req->org, c->ep->rt->name, e->id,
                             &rec);
        if (!err && rec) {
            err = scim_render_full_resource(req, req->pool, c->ep, rec,
                                            c->filter_needs_related, &full);
        }
        if (err) {
            return err;
        }
        if (rec && (!c->filter || scim_filter_match(c->filter, full))) {
            keep_match(c, rec, full, e->seq);
        }
    }
    return NULL;
}

/* Reads candidates in chunks, each into a scratch pool, so that memory is
 * bounded by the matches kept, not the organization's size.  group_id
 * non-NULL reads that group's user members, else every resource. */
static scim_error_t *scan(collector_t *c, const char *group_id)
{
    const scim_request_t *req = c->req;
    scim_record_t *last = NULL;

    for (;;) {
        apr_pool_t *scratch;
        apr_array_header_t *page;
        scim_error_t *err;
        int more;

        apr_pool_create(&scratch, req->pool);
        page = apr_array_make(scratch, SCAN_CHUNK, sizeof(scim_record_t *));
        err = group_id
            ? scim_store_member_scan_chunk(req->store, scratch, req->org,
                                           group_id, "User",
                                           last ? last->id : NULL,
                                           SCAN_CHUNK, page)
            : scim_store_scan_where(req->store, scratch, req->org,
                                    c->ep->rt->name, &c->cond, last,
                                    SCAN_CHUNK, page);
        if (!err) {
            collect_all(c, scratch, page);
            err = c->err;
        }
        more = !err && page->nelts == SCAN_CHUNK;
        if (more) {
            /* where the next chunk starts, kept beyond this chunk's pool */
            const scim_record_t *tail = APR_ARRAY_IDX(page, page->nelts - 1,
                                                      scim_record_t *);
            if (!last) {
                last = apr_pcalloc(req->pool, sizeof(*last));
            }
            last->id = apr_pstrdup(req->pool, tail->id);
            last->created = apr_pstrdup(req->pool, tail->created);
        }
        apr_pool_destroy(scratch);
        if (!more) {
            return err;
        }
    }
}

/* ---- walks that seek each page by key (scim_walk.h) --------------------- */

/* The list a page of c belongs to, for its cursor and continuations. */
static scim_walk_list_t walk_list(const collector_t *c, const char *group_id)
{
    scim_walk_list_t list;

    list.org = c->req->org;
    list.rtype = c->ep->rt->name;
    list.filter = c->lp->filter;
    list.group_id = group_id;
    list.order = group_id ? SCIM_WALK_MEMBERS : SCIM_WALK_RESOURCES;
    return list;
}

/* The key of a record in the order of list. */
static scim_walk_key_t record_key(const scim_walk_list_t *list,
                                  const scim_record_t *rec)
{
    scim_walk_key_t key;

    key.created = list->order == SCIM_WALK_MEMBERS ? "" : rec->created;
    key.id = rec->id;
    return key;
}

/* Where a page of c starts: *has_key 0 for the first row of the list.  A
 * cursor says it; a startIndex walk's page may continue where the walk's
 * page before ended (*has_key 0: step over start_index - 1 rows). */
static scim_error_t *page_start(collector_t *c, const scim_walk_list_t *list,
                                int *has_key, scim_walk_key_t *key)
{
    const scim_list_params_t *lp = c->lp;

    *has_key = 0;
    if (lp->cursor && *lp->cursor) {
        scim_error_t *err = scim_walk_cursor_key(c->req->pool, list,
                                                 lp->cursor, key);
        *has_key = !err;
        return err;
    }
    if (!lp->cursor) {
        *has_key = scim_walk_recall(c->req->pool, list, lp->start_index,
                                    c->total, key);
    }
    return NULL;
}

/* After a page was read (limit rows asked): a cursor walk's nextCursor
 * when a row beyond the page came back (and that row dropped), or a
 * startIndex walk's continuation. */
static void page_end(collector_t *c, const scim_walk_list_t *list,
                     apr_array_header_t *recs)
{
    const scim_list_params_t *lp = c->lp;
    scim_walk_key_t last;

    if (lp->cursor) {
        if (recs->nelts > lp->count) {
            recs->nelts = lp->count;
            last = record_key(list, APR_ARRAY_IDX(recs, recs->nelts - 1,
                                                  scim_record_t *));
            c->next_cursor = scim_walk_cursor(c->req->pool, list, &last);
        }
    }
    else if (recs->nelts > 0) {
        last = record_key(list, APR_ARRAY_IDX(recs, recs->nelts - 1,
                                              scim_record_t *));
        scim_walk_remember(list, lp->start_index + recs->nelts, c->total,
                           &last);
    }
}

/* The page of a list whose filter the database evaluates exactly (or that
 * has none), in the order of an SQL sort key (NULL: the default order):
 * the page read by the database, each row still judged by the filter, and
 * the number of matches.  That number comes without a count, which
 * would read every row again, when the window counted the matches on its
 * way (scim_store_window) or came back short, ending them (the common
 * filter answers one page: an eq filter's few matches).  *declined when
 * the connection cannot prepare the statements (then nothing was kept). */
static scim_error_t *window_page(collector_t *c, const char *key,
                                 int *declined)
{
    const scim_request_t *req = c->req;
    const scim_list_params_t *lp = c->lp;
    int offset = lp->start_index - 1;
    int total = -1;
    apr_array_header_t *recs;
    scim_error_t *err;
    int i;

    *declined = 0;
    recs = apr_array_make(req->pool, lp->count > 0 ? lp->count : 1,
                          sizeof(scim_record_t *));
    if (lp->count > 0) {
        err = scim_store_window(req->store, req->pool, req->org,
                                c->ep->rt->name, &c->cond, key,
                                c->sort && c->sort->descending, offset,
                                lp->count, recs, &total, declined);
        if (err || *declined) {
            return err;
        }
    }
    if (total >= 0) {
        c->total = total;
    }
    else if (lp->count > 0 && recs->nelts < lp->count
             && (recs->nelts > 0 || offset == 0)) {
        c->total = offset + recs->nelts;
    }
    else {
        err = scim_store_count_where(req->store, req->org, c->ep->rt->name,
                                     &c->cond, &c->total, declined);
        if (err || *declined) {
            return err;
        }
    }
    for (i = 0; i < recs->nelts; i++) {
        const scim_record_t *rec = APR_ARRAY_IDX(recs, i, scim_record_t *);
        json_t *full = NULL;

        err = scim_render_full_resource(req, req->pool, c->ep, rec, 0, &full);
        if (err) {
            return err;
        }
        if (!c->filter || scim_filter_match(c->filter, full)) {
            keep_match(c, rec, full, lp->start_index + i);
        }
    }
    return NULL;
}

/* A filter no index answers, or a sortBy: the database evaluates what of
 * the filter it can (scim_sqlfilter.h).  Where it evaluates all of it and
 * can order as sortBy asks, it counts and reads the page; otherwise it
 * hands the scan only candidates, which the filter judges and the heap
 * orders. */
static scim_error_t *searched(collector_t *c,
                              const scim_attr_path_t *sort_path)
{
    const scim_request_t *req = c->req;
    scim_sql_dialect_t dialect = scim_store_dialect(req->store);
    const char *key = NULL;
    int declined = 0;
    scim_error_t *err;

    c->cond = scim_sqlfilter_translate(req->pool, c->filter, dialect);
    if (sort_path) {
        key = scim_sqlfilter_sort_key(req->pool, sort_path, dialect);
    }
    if (c->cond.exact && !c->filter_needs_related && (!sort_path || key)) {
        err = window_page(c, key, &declined);
        if (err || !declined) {
            return err;
        }
        c->total = 0;
        c->kept->nelts = 0;
    }
    return scan(c, NULL);
}

/* A page read straight from an index: no filter beyond the index's own
 * condition, no sorting.  group_id: a group's user members.  Pages after
 * the first are sought by key (a cursor's, or where a startIndex walk's
 * page before ended) rather than stepped to by OFFSET, so that the last
 * page of a long walk costs what the first does. */
static scim_error_t *indexed_page(collector_t *c, const char *group_id)
{
    const scim_request_t *req = c->req;
    const scim_list_params_t *lp = c->lp;
    scim_walk_list_t list = walk_list(c, group_id);
    apr_array_header_t *recs = apr_array_make(req->pool, lp->count + 1,
                                              sizeof(scim_record_t *));
    /* a cursor page reads one row more: is there a next page? */
    int limit = lp->cursor ? lp->count + 1 : lp->count;
    /* the default view may be served from the stored texts, unparsed */
    int reads = default_view(lp)
                ? SCIM_READ_STORED_TEXT | SCIM_READ_UNPARSED : 0;
    scim_walk_key_t key;
    scim_error_t *err;
    int i, has_key = 0;

    err = group_id
        ? scim_store_member_records_count(req->store, req->org, group_id,
                                          "User", &c->total)
        : scim_store_count(req->store, req->org, c->ep->rt->name, &c->total);
    if (!err) {
        err = page_start(c, &list, &has_key, &key);
    }
    if (!err && lp->count > 0) {
        int offset = has_key || lp->cursor ? 0 : lp->start_index - 1;

        if (group_id) {
            err = has_key
                ? scim_store_member_scan_chunk(req->store, req->pool,
                                               req->org, group_id, "User",
                                               key.id, limit, recs)
                : scim_store_member_records(req->store, req->pool, req->org,
                                            group_id, "User", offset, limit,
                                            recs);
        }
        else {
            err = has_key
                ? scim_store_page_after(req->store, req->pool, req->org,
                                        c->ep->rt->name, key.created, key.id,
                                        limit, reads, recs)
                : scim_store_page(req->store, req->pool, req->org,
                                  c->ep->rt->name, offset, limit, reads,
                                  recs);
        }
    }
    if (!err) {
        page_end(c, &list, recs);
    }
    for (i = 0; !err && i < recs->nelts; i++) {
        match_t *m = apr_array_push(c->kept);

        /* nothing to judge: the full form waits until the answer needs
         * it (render_matches), which the stored text spares */
        m->rec = APR_ARRAY_IDX(recs, i, scim_record_t *);
        m->seq = lp->start_index + i;
    }
    return err;
}

/* A page of a cursor walk with a filter no index answers: the resources
 * after the cursor's key in the default order, read in chunks and tested
 * until the page and one match more are found, so that a page costs the
 * distance to its end, not the organization.  Its totalResults is not
 * known (RFC 9865 2 lets a cursor page omit it). */
static scim_error_t *cursor_scan(collector_t *c)
{
    const scim_request_t *req = c->req;
    scim_walk_list_t list = walk_list(c, NULL);
    scim_list_params_t window = *c->lp;
    const scim_list_params_t *lp = c->lp;
    scim_walk_key_t key;
    scim_record_t after;
    scim_error_t *err;
    int has_key;

    memset(&after, 0, sizeof(after));
    c->total = -1;
    if ((err = page_start(c, &list, &has_key, &key)) || lp->count <= 0) {
        return err;
    }
    /* the database hands over only candidates, as in scan() */
    c->cond = scim_sqlfilter_translate(req->pool, c->filter,
                                       scim_store_dialect(req->store));
    window.start_index = 1;
    window.count = lp->count + 1;
    c->lp = &window;
    c->total = 0;                   /* collect's positions in the window */
    while (!err && c->kept->nelts <= lp->count) {
        apr_pool_t *scratch;
        apr_array_header_t *chunk;
        int i, more;

        apr_pool_create(&scratch, req->pool);
        chunk = apr_array_make(scratch, SCAN_CHUNK, sizeof(scim_record_t *));
        after.created = key.created;
        after.id = key.id;
        err = scim_store_scan_where(req->store, scratch, req->org,
                                    c->ep->rt->name, &c->cond,
                                    has_key ? &after : NULL, SCAN_CHUNK,
                                    chunk);
        for (i = 0; !err && i < chunk->nelts && c->kept->nelts <= lp->count;
             i++) {
            collect(c, scratch, APR_ARRAY_IDX(chunk, i, scim_record_t *));
            err = c->err;
        }
        more = !err && chunk->nelts == SCAN_CHUNK;
        if (more) {
            /* where the next chunk starts, kept beyond this chunk's pool */
            const scim_record_t *tail = APR_ARRAY_IDX(chunk, i - 1,
                                                      scim_record_t *);
            key.created = apr_pstrdup(req->pool, tail->created);
            key.id = apr_pstrdup(req->pool, tail->id);
            has_key = 1;
        }
        apr_pool_destroy(scratch);
        if (!more) {
            break;
        }
    }
    c->lp = lp;
    if (!err && c->kept->nelts > lp->count) {
        const match_t *last = &APR_ARRAY_IDX(c->kept, lp->count - 1, match_t);
        scim_walk_key_t at = record_key(&list, last->rec);

        c->kept->nelts = lp->count;
        c->next_cursor = scim_walk_cursor(req->pool, &list, &at);
    }
    c->total = -1;
    return err;
}

/* The group whose user members a filter asks for and nothing else
 * ("groups.value eq G"), read page by page from the membership index;
 * NULL for any other filter. */
static const char *member_walk(apr_pool_t *p, const endpoint_t *ep,
                               const scim_filter_t *filter)
{
    const scim_filter_t *cond;
    const char *key;

    if (ep->related_writable || !filter
        || !(cond = membership_conjunct(filter, ep->related, &key))
        || without_conjunct(p, filter, cond)) {
        return NULL;
    }
    return key;
}

/* The index that answers filter (an id, name, externalId or e-mail equality
 * it requires), its value in *value; -1 when none does. */
static int indexed_key(const endpoint_t *ep, const scim_filter_t *filter,
                       const char **value)
{
    if ((*value = scim_filter_indexed_eq(filter, "id"))) {
        return SCIM_STORE_BY_ID;
    }
    if ((*value = scim_filter_indexed_eq(filter, ep->name_attr))) {
        return SCIM_STORE_BY_NAME;
    }
    if ((*value = scim_filter_indexed_eq(filter, "externalId"))) {
        return SCIM_STORE_BY_EXTERNAL_ID;
    }
    if (ep->rt == &scim_resource_type_user
        && (*value = scim_filter_indexed_sub_eq(filter, "emails", "value"))) {
        /* Entra's and Okta's matching forms */
        return SCIM_STORE_BY_EMAIL;
    }
    return -1;
}

/* Resources of one type matching lp, the page only, as match_t in *out;
 * *total gets the number of all matches.  Lookups by id, name, externalId
 * and membership use an index. */
static scim_error_t *query_resources(const scim_request_t *req,
                                     const endpoint_t *ep,
                                     const scim_filter_t *filter,
                                     const scim_list_params_t *lp,
                                     const scim_attr_path_t *sort_path,
                                     int *total, apr_array_header_t **out,
                                     const char **next_cursor)
{
    collector_t c;
    sort_spec_t spec;
    scim_error_t *err = NULL;
    apr_array_header_t *recs = apr_array_make(req->pool, 1,
                                              sizeof(scim_record_t *));
    const scim_filter_t *cond;
    const char *key;
    int by;

    memset(&c, 0, sizeof(c));
    c.req = req;
    c.ep = ep;
    c.filter = filter;
    c.lp = lp;
    c.filter_needs_related = filter_mentions(filter, ep->related);
    /* room grows with the matches: apr_array_make zeroes all it is given,
     * and a page of count (up to ScimMaxResults) for a lookup that finds
     * one user was 4 % of its instructions */
    c.kept = apr_array_make(req->pool, lp->count > 0 && lp->count < 16
                                       ? lp->count : 16, sizeof(match_t));
    if (sort_path) {
        long long page_end = (long long)lp->start_index - 1 + lp->count;

        spec.path = sort_path;
        spec.def = scim_attr_path_leaf(sort_path);
        spec.descending = lp->descending;
        c.sort = &spec;
        c.heap_size = page_end > INT_MAX ? INT_MAX : (int)page_end;
        c.heap = apr_array_make(req->pool, 16, sizeof(sort_entry_t));
    }

    if (lp->cursor && filter) {
        /* a cursor walks the default order (or a group's member order):
         * pages sought by key, not the index lookups' small answers */
        key = member_walk(req->pool, ep, filter);
        if (key) {
            c.filter = NULL;
        }
        err = key ? indexed_page(&c, key) : cursor_scan(&c);
    }
    else if (filter && (by = indexed_key(ep, filter, &key)) >= 0) {
        /* users come with their groups when the filter or the response
         * needs them; the stored text when the default view may serve it */
        err = scim_store_find(req->store, req->org, ep->rt->name, by, key,
                              (c.filter_needs_related
                               || scim_render_related_wanted(ep,
                                                             lp->attributes,
                                                             lp->excluded)
                               ? SCIM_READ_GROUPS : 0)
                              | (default_view(lp) ? SCIM_READ_STORED_TEXT : 0),
                              recs);
        if (!err) {
            collect_all(&c, req->pool, recs);
        }
    }
    else if (filter && (cond = membership_conjunct(filter, ep->related,
                                                   &key))) {
        /* The membership index answers that condition exactly, also for
         * groups too large to list; the rest is tested on its results. */
        c.filter = without_conjunct(req->pool, filter, cond);
        c.filter_needs_related = filter_mentions(c.filter, ep->related);
        if (ep->related_writable) {
            err = scim_store_groups_with_member(req->store, req->org, key,
                                                recs);
            if (!err) {
                collect_all(&c, req->pool, recs);
            }
        }
        else {
            /* groups.value eq "G": a page of G's members straight from
             * the index when nothing else is asked (how large groups are
             * read page by page) */
            err = !c.filter && !sort_path ? indexed_page(&c, key)
                                          : scan(&c, key);
        }
    }
    else if (!filter && !sort_path) {
        err = indexed_page(&c, NULL);
    }
    else {
        err = searched(&c, sort_path);
    }
    if (!err) {
        err = c.err;
    }
    if (!err && sort_path) {
        err = sorted_page(&c);
    }
    heap_release(&c);
    if (err) {
        return err;
    }
    *total = c.total;
    *out = c.kept;
    if (next_cursor) {
        *next_cursor = c.next_cursor;
    }
    return NULL;
}

/* ---- the response ------------------------------------------------------- */

/* Whether a user of the page has its groups, read with it or since. */
static int groups_known(const match_t *m)
{
    return m->groups_known || m->rec->groups
           || (m->full && json_object_get(m->full, "groups"));
}

/* The groups of every user of a page that lacks them, in batches: into
 * its full form, or its record when the full form is not made yet. */
static scim_error_t *add_page_groups(const scim_request_t *req,
                                     apr_array_header_t *matches)
{
    apr_array_header_t *ids = apr_array_make(req->pool, matches->nelts,
                                             sizeof(const char *));
    apr_hash_t *groups = apr_hash_make(req->pool);
    scim_error_t *err;
    int i;

    for (i = 0; i < matches->nelts; i++) {
        match_t *m = &APR_ARRAY_IDX(matches, i, match_t);
        if (!groups_known(m)) {
            APR_ARRAY_PUSH(ids, const char *) = m->rec->id;
        }
    }
    if (!ids->nelts) {
        return NULL;
    }
    err = scim_store_groups_of(req->store, req->org,
                               (const char *const *)ids->elts, ids->nelts,
                               groups);
    for (i = 0; !err && i < matches->nelts; i++) {
        match_t *m = &APR_ARRAY_IDX(matches, i, match_t);
        apr_array_header_t *of;

        if (groups_known(m)) {
            continue;
        }
        of = apr_hash_get(groups, m->rec->id, APR_HASH_KEY_STRING);
        if (m->full) {
            scim_render_set_groups(req, m->full, of);
        }
        else {
            /* none is known too: the renderer must not read them again */
            m->rec->groups = of ? of : apr_array_make(req->pool, 1,
                                                      sizeof(scim_member_t));
        }
    }
    return err;
}

/* A match's full form with what the response shows of its memberships
 * (a group's first members_shown members; a user's groups as read). */
static scim_error_t *full_with_related(const scim_request_t *req,
                                       const endpoint_t *ep, match_t *m,
                                       int with_related, int members_shown)
{
    scim_error_t *err;

    if (!m->full
        && (err = scim_render_full_resource(req, req->pool, ep, m->rec, 0,
                                            &m->full))) {
        return err;
    }
    if (!with_related || json_object_get(m->full, ep->related)) {
        return NULL;
    }
    if (ep->related_writable) {
        return scim_render_add_related(req, ep, m->rec, m->full,
                                       members_shown);
    }
    scim_render_set_groups(req, m->full, m->rec->groups);
    return NULL;
}

/* Appends the page's resources as the response shows them, written out
 * (scim_render_text_t): from the stored text where it serves (with the
 * server's parts of the full form when the filter made one), else the
 * full form projected. */
static scim_error_t *render_matches(const scim_request_t *req,
                                    const endpoint_t *ep,
                                    const scim_list_params_t *lp,
                                    apr_array_header_t *matches,
                                    apr_array_header_t *resources)
{
    int with_related = scim_render_related_wanted(ep, lp->attributes,
                                                  lp->excluded);
    const scim_projection_t *proj = scim_projection_make(req->pool, ep->rt,
                                                         lp->attributes,
                                                         lp->excluded);
    int members_shown = matches->nelts > LIST_MEMBERS_SHOWN / GROUP_MEMBERS_SHOWN
                        ? LIST_MEMBERS_SHOWN / matches->nelts
                        : GROUP_MEMBERS_SHOWN;
    scim_error_t *err;
    int i;

    if (with_related && !ep->related_writable
        && (err = add_page_groups(req, matches))) {
        return err;
    }
    for (i = 0; i < matches->nelts; i++) {
        match_t *m = &APR_ARRAY_IDX(matches, i, match_t);

        if (m->full
            && (err = full_with_related(req, ep, m, with_related,
                                        members_shown))) {
            return err;
        }
        if (default_view(lp) && m->rec->stored_json) {
            scim_render_text_t t;

            t.text = scim_render_stored_text(req, ep, m->rec, m->full,
                                             members_shown, &t.len, &err);
            if (err) {
                return err;
            }
            if (t.text) {
                *(scim_render_text_t *)apr_array_push(resources) = t;
                continue;
            }
        }
        if ((err = full_with_related(req, ep, m, with_related,
                                     members_shown))) {
            return err;
        }
        if (!scim_render_push_json(req, resources, scim_json_pool_own(
                req->pool, scim_projection_apply(proj, m->full)))) {
            return scim_error_make(req->pool, 500, NULL,
                                   "The resource could not be written");
        }
    }
    return NULL;
}

void scim_query_list(const scim_request_t *req, scim_response_t *resp,
                     const endpoint_t *ep, const scim_list_params_t *lp)
{
    scim_filter_t *filter = NULL;
    scim_attr_path_t sort_path;
    apr_array_header_t *matches = NULL;
    apr_array_header_t *resources = apr_array_make(req->pool, 8,
                                                   sizeof(scim_render_text_t));
    scim_error_t *err = NULL;
    const char *next_cursor = NULL;
    int total = 0;

    if (lp->filter
        && (err = scim_filter_parse(req->pool, ep->rt, lp->filter, &filter))) {
        scim_service_error(req->pool, resp, err);
        return;
    }
    if (lp->cursor && lp->sort_by) {
        /* a cursor is a position in the default order; a sorted list
         * pages by startIndex */
        scim_service_error(req->pool, resp,
            scim_error_make(req->pool, 400, SCIM_TYPE_INVALID_VALUE,
                            "sortBy cannot be combined with cursor: cursors"
                            " follow the default order; page a sorted list"
                            " with startIndex"));
        return;
    }
    if (lp->sort_by
        && (err = scim_attr_path_resolve(req->pool, ep->rt, lp->sort_by, 0,
                                         &sort_path))) {
        err->scim_type = SCIM_TYPE_INVALID_VALUE;
        scim_service_error(req->pool, resp, err);
        return;
    }
    err = query_resources(req, ep, filter, lp, lp->sort_by ? &sort_path : NULL,
                          &total, &matches, &next_cursor);
    if (!err) {
        err = render_matches(req, ep, lp, matches, resources);
    }
    if (err) {
        scim_service_error(req->pool, resp, err);
        return;
    }
    scim_render_respond_list(req, resp, total,
                             lp->cursor ? 0 : lp->start_index, next_cursor,
                             resources);
}

/* Every resource type the filter can apply to (RFC 7644 3.4.3), one list.
 * Types whose schema lacks an attribute the filter names are left out;
 * sortBy is not supported across types (400). */
void scim_query_root_search(const scim_request_t *req, scim_response_t *resp,
                            const endpoint_t *const *endpoints,
                            const scim_list_params_t *lp)
{
    apr_array_header_t *resources = apr_array_make(req->pool, 8,
                                                   sizeof(scim_render_text_t));
    scim_error_t *first_err = NULL;
    int total = 0, applicable = 0;
    const endpoint_t *const *ep;

    if (lp->sort_by || lp->cursor) {
        scim_service_error(req->pool, resp,
            scim_error_make(req->pool, 400, SCIM_TYPE_INVALID_VALUE,
                            "%s is not supported when searching every"
                            " resource type; search /Users or /Groups",
                            lp->sort_by ? "sortBy" : "cursor"));
        return;
    }
    for (ep = endpoints; *ep; ep++) {
        scim_filter_t *filter = NULL;
        apr_array_header_t *matches = NULL;
        scim_list_params_t sub = *lp;
        scim_error_t *err = NULL;
        int n = 0;

        if (lp->filter
            && (err = scim_filter_parse(req->pool, (*ep)->rt, lp->filter,
                                        &filter))) {
            first_err = first_err ? first_err : err;
            continue;
        }
        applicable++;
        /* One page across the types: this type's share of the window. */
        sub.start_index = lp->start_index - total;
        sub.count = lp->count - resources->nelts;
        if (sub.start_index < 1) {
            sub.start_index = 1;
        }
        err = query_resources(req, *ep, filter, &sub, NULL, &n, &matches,
                              NULL);
        if (!err) {
            err = render_matches(req, *ep, lp, matches, resources);
        }
        if (err) {
            scim_service_error(req->pool, resp, err);
            return;
        }
        total += n;
    }
    if (!applicable && first_err) {
        scim_service_error(req->pool, resp, first_err);
        return;
    }
    scim_render_respond_list(req, resp, total,
                             lp->cursor ? 0 : lp->start_index, NULL,
                             resources);
}

