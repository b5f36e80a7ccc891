/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

#include <string.h>

#include <apr_encode.h>
#include <apr_sha1.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "scim_walk.h"

/* ---- the list a key belongs to ------------------------------------------ */

/* SHA-1 over a tag, the list's parts (NUL-separated, so that no two lists
 * give the same input) and extra bytes. */
static void list_digest(const char *tag, const scim_walk_list_t *list,
                        int with_filter, const void *extra, apr_size_t len,
                        unsigned char digest[APR_SHA1_DIGESTSIZE])
{
    apr_sha1_ctx_t ctx;
    const char *parts[4];
    char order = (char)list->order;
    int i;

    parts[0] = list->org;
    parts[1] = list->rtype;
    parts[2] = list->group_id ? list->group_id : "";
    parts[3] = with_filter && list->filter ? list->filter : "";
    apr_sha1_init(&ctx);
    apr_sha1_update_binary(&ctx, (const unsigned char *)tag, strlen(tag) + 1);
    for (i = 0; i < 4; i++) {
        apr_sha1_update_binary(&ctx, (const unsigned char *)parts[i],
                               strlen(parts[i]) + 1);
    }
    apr_sha1_update_binary(&ctx, (const unsigned char *)&order, 1);
    if (len) {
        apr_sha1_update_binary(&ctx, extra, len);
    }
    apr_sha1_final(digest, &ctx);
}

/* A key part as a cursor or the table holds it: not empty (the created of
 * a member walk excepted), not too long, no control character (the
 * cursor's separator is one). */
static int key_part_ok(const char *s, apr_size_t len, apr_size_t max,
                       int may_be_empty)
{
    apr_size_t i;

    if ((!len && !may_be_empty) || len > max) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static int key_ok(const scim_walk_list_t *list, const scim_walk_key_t *key)
{
    int members = list->order == SCIM_WALK_MEMBERS;

    return key->created && key->id
        && key_part_ok(key->created, strlen(key->created),
                       members ? 0 : SCIM_WALK_MAX_CREATED, members)
        && key_part_ok(key->id, strlen(key->id), SCIM_WALK_MAX_ID, 0);
}

/* ---- cursors ------------------------------------------------------------ */

/* Bytes of the check value a cursor carries: enough that an altered
 * cursor is never taken for a good one by chance. */
#define CHECK_LEN 9
#define CURSOR_TAG "mod_scim cursor 1"

/* A cursor's text: unpadded base64url (RFC 7515) of its bytes. */
static const char *b64url_encode(apr_pool_t *p, const unsigned char *in,
                                 apr_size_t len)
{
    return apr_pencode_base64_binary(p, in, (apr_ssize_t)len,
                                     APR_ENCODE_BASE64URL, NULL);
}

/* The bytes of a cursor's text, into *len; NULL for any text that
 * b64url_encode would not have written (APR's decoder also takes padding,
 * '+' and '/', and ignores stray low bits: the text must be what its bytes
 * encode to). */
static const unsigned char *b64url_decode(apr_pool_t *p, const char *in,
                                          apr_size_t *len)
{
    const unsigned char *out = apr_pdecode_base64_binary(p, in,
        APR_ENCODE_STRING, APR_ENCODE_NONE, len);
    const char *again = out ? b64url_encode(p, out, *len) : NULL;

    return again && strcmp(again, in) == 0 ? out : NULL;
}

const char *scim_walk_cursor(apr_pool_t *p, const scim_walk_list_t *list,
                             const scim_walk_key_t *key)
{
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    apr_size_t clen, ilen;
    unsigned char *raw;

    if (!key_ok(list, key)) {
        return NULL;
    }
    /* created '\n' id, then the check value */
    clen = strlen(key->created);
    ilen = strlen(key->id);
    raw = apr_palloc(p, clen + 1 + ilen + CHECK_LEN);
    memcpy(raw, key->created, clen);
    raw[clen] = '\n';
    memcpy(raw + clen + 1, key->id, ilen);
    list_digest(CURSOR_TAG, list, 1, raw, clen + 1 + ilen, digest);
    memcpy(raw + clen + 1 + ilen, digest, CHECK_LEN);
    return b64url_encode(p, raw, clen + 1 + ilen + CHECK_LEN);
}

static scim_error_t *invalid_cursor(apr_pool_t *p)
{
    /* one answer whatever is wrong with it (RFC 9865 7.2) */
    return scim_error_make(p, 400, SCIM_TYPE_INVALID_CURSOR,
                           "The cursor is not one this list handed out;"
                           " leave cursor empty for the first page, then"
                           " pass each nextCursor with the same filter");
}

scim_error_t *scim_walk_cursor_key(apr_pool_t *p, const scim_walk_list_t *list,
                                   const char *cursor, scim_walk_key_t *out)
{
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    apr_size_t len = strlen(cursor), n = 0;
    const unsigned char *raw, *nl;

    if (len > SCIM_WALK_MAX_CURSOR) {
        return invalid_cursor(p);
    }
    raw = b64url_decode(p, cursor, &n);
    if (!raw || n < CHECK_LEN + 2) {
        return invalid_cursor(p);
    }
    n -= CHECK_LEN;
    nl = memchr(raw, '\n', n);
    if (!nl) {
        return invalid_cursor(p);
    }
    list_digest(CURSOR_TAG, list, 1, raw, n, digest);
    if (memcmp(raw + n, digest, CHECK_LEN) != 0) {
        return invalid_cursor(p);
    }
    out->created = apr_pstrmemdup(p, (const char *)raw, (apr_size_t)(nl - raw));
    out->id = apr_pstrmemdup(p, (const char *)nl + 1,
                             (apr_size_t)(raw + n - nl - 1));
    /* a check value that matches by chance must not let a NUL or an
     * oversized key through */
    if (strlen(out->created) != (apr_size_t)(nl - raw)
        || strlen(out->id) != (apr_size_t)(raw + n - nl - 1)
        || !key_ok(list, out)) {
        return invalid_cursor(p);
    }
    return NULL;
}

/* ---- continuations ------------------------------------------------------ */

typedef struct walk_slot {
    unsigned char list[APR_SHA1_DIGESTSIZE];    /* which list */
    int start_index;
    int total;
    apr_time_t expires;                         /* 0: free */
    char created[SCIM_WALK_MAX_CREATED + 1];
    char id[SCIM_WALK_MAX_ID + 1];
} walk_slot_t;

static walk_slot_t *table;
static int (*table_lock)(void);
static void (*table_unlock)(void);

apr_size_t scim_walk_table_size(void)
{
    return sizeof(walk_slot_t) * SCIM_WALK_SLOTS;
}

void scim_walk_install(void *mem, int (*lock)(void), void (*unlock)(void))
{
    table = mem;
    table_lock = lock;
    table_unlock = unlock;
}

/* The one slot a list's continuation at start_index may live in: a walk's
 * pages spread over the table, an entry taken over is only a page read by
 * OFFSET. */
static walk_slot_t *slot_of(const scim_walk_list_t *list, int start_index,
                            unsigned char digest[APR_SHA1_DIGESTSIZE])
{
    apr_uint32_t h;

    list_digest("mod_scim walk", list, 0, NULL, 0, digest);
    memcpy(&h, digest, sizeof(h));
    h ^= (apr_uint32_t)start_index * 2654435761u;
    return &table[h % SCIM_WALK_SLOTS];
}

static int lock(void)
{
    return table && (!table_lock || table_lock() == 0);
}

static void unlock(void)
{
    if (table_unlock) {
        table_unlock();
    }
}

void scim_walk_remember(const scim_walk_list_t *list, int start_index,
                        int total, const scim_walk_key_t *last)
{
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    walk_slot_t *slot;

    if (!table || start_index <= 1 || !key_ok(list, last)) {
        return;
    }
    slot = slot_of(list, start_index, digest);
    if (!lock()) {
        return;
    }
    memcpy(slot->list, digest, sizeof(digest));
    slot->start_index = start_index;
    slot->total = total;
    slot->expires = apr_time_now() + apr_time_from_sec(SCIM_WALK_TTL_SECONDS);
    apr_cpystrn(slot->created, last->created, sizeof(slot->created));
    apr_cpystrn(slot->id, last->id, sizeof(slot->id));
    unlock();
}

int scim_walk_recall(apr_pool_t *p, const scim_walk_list_t *list,
                     int start_index, int total, scim_walk_key_t *out)
{
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    walk_slot_t *slot;
    int found;

    if (!table || start_index <= 1) {
        return 0;
    }
    slot = slot_of(list, start_index, digest);
    if (!lock()) {
        return 0;
    }
    found = slot->expires > apr_time_now()
            && slot->start_index == start_index && slot->total == total
            && memcmp(slot->list, digest, sizeof(digest)) == 0;
    if (found) {
        out->created = apr_pstrdup(p, slot->created);
        out->id = apr_pstrdup(p, slot->id);
    }
    unlock();
    return found;
}
