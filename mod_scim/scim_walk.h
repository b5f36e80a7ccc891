/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Walks through a list, page after page, that seek each page by the key of
 * the last row of the page before ((created, id) in the default order, the
 * member id in a group's member order) instead of stepping over every row
 * before it:
 *
 * - cursors (RFC 9865): the key of a page's last row, handed to the client
 *   as nextCursor, opaque and checked;
 * - continuations of startIndex walks: after page [s, s+n) of a list the
 *   key of its last row is remembered for startIndex s+n, in a table of
 *   bounded size whose entries expire, shared by every process and thread
 *   of the server (the glue puts it in shared memory behind a global
 *   mutex). */

#ifndef SCIM_WALK_H
#define SCIM_WALK_H

#include <apr_pools.h>

#include "scim_error.h"

/* The orders a walk follows. */
typedef enum {
    SCIM_WALK_RESOURCES = 'R',  /* a type's resources by (created, id) */
    SCIM_WALK_MEMBERS = 'M'     /* a group's members by member id; created
                                   is "" */
} scim_walk_order_t;

/* Where a walk stands: the key of the last row served. */
typedef struct scim_walk_key {
    const char *created;
    const char *id;
} scim_walk_key_t;

/* What a cursor or a continuation belongs to: one list of one
 * organization.  filter is the request's filter text (NULL: none); a
 * cursor is only good for the list it came from. */
typedef struct scim_walk_list {
    const char *org;
    const char *rtype;
    const char *filter;
    const char *group_id;       /* a group's members, or NULL */
    scim_walk_order_t order;
} scim_walk_list_t;

/* Longest key parts a cursor or a continuation holds (the columns' sizes);
 * a longer key is never handed out. */
#define SCIM_WALK_MAX_CREATED 32
#define SCIM_WALK_MAX_ID 64
/* Longest cursor this build hands out, in characters. */
#define SCIM_WALK_MAX_CURSOR 200

/* ---- cursors ------------------------------------------------------------ */

/* The cursor after key in list: URL-safe base64 (RFC 4648 5, unpadded) of
 * the key and a check value over the key and the list.  NULL when the key
 * is too long to hand out. */
const char *scim_walk_cursor(apr_pool_t *p, const scim_walk_list_t *list,
                             const scim_walk_key_t *key);

/* The key a cursor of list holds; any other text (altered, truncated, of
 * another list, organization or filter) is a 400 invalidCursor. */
scim_error_t *scim_walk_cursor_key(apr_pool_t *p, const scim_walk_list_t *list,
                                   const char *cursor, scim_walk_key_t *out);

/* ---- continuations of startIndex walks ---------------------------------- */

/* Entries kept at once, and for how long: a walk that pauses longer starts
 * its next page by OFFSET again. */
#define SCIM_WALK_SLOTS 1024
#define SCIM_WALK_TTL_SECONDS 600

/* Bytes of the table. */
apr_size_t scim_walk_table_size(void);

/* Installs the table (scim_walk_table_size() bytes at mem, zeroed, NULL:
 * none, continuations off) and the lock that guards it: lock returns 0
 * when it holds it; NULL functions: no lock (one thread only). */
void scim_walk_install(void *mem, int (*lock)(void), void (*unlock)(void));

/* After page [start_index, start_index + n) of list was served, with
 * total rows in the list: the key of its last row, for the page at
 * start_index + n. */
void scim_walk_remember(const scim_walk_list_t *list, int start_index,
                        int total, const scim_walk_key_t *last);

/* The key of the row before start_index, when a walk of list left it and
 * the list still has total rows (an insert or a delete since moves the
 * positions: the caller steps by OFFSET, as without a continuation).
 * Returns 1 and fills *out (copied into p), else 0. */
int scim_walk_recall(apr_pool_t *p, const scim_walk_list_t *list,
                     int start_index, int total, scim_walk_key_t *out);

#endif /* SCIM_WALK_H */
