/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* The small helpers every part of the core shares, each written once:
 * jansson references owned by a pool, JSON text written and read in one
 * pass, ASCII case folding and case-insensitive JSON member access,
 * RFC 3339 date-times, the clock and new resource ids.  APR and jansson
 * only. */

#ifndef SCIM_UTIL_H
#define SCIM_UTIL_H

#include <apr_pools.h>
#include <jansson.h>

/* ---- jansson references owned by a pool -------------------------------- */

/* Ties the reference v to pool p: it is released (json_decref) when p is
 * cleared or destroyed.  Returns v; NULL is passed through, so the result
 * of a jansson constructor can be handed in unchecked. */
json_t *scim_json_pool_own(apr_pool_t *p, json_t *v);

/* json_dumps(json, JSON_COMPACT), the same bytes, written in one pass:
 * jansson's encoder calls a UTF-8 decoder for every character of every
 * string (half the instructions of rendering a user).  Valid jansson
 * values hold valid UTF-8, copied as it is; only '"', '\\' and control
 * characters are escaped, as jansson escapes them.  Returns malloc'd
 * text (free() it) and its length in *len (when len is not NULL), or NULL
 * when out of memory or nested deeper than jansson would go. */
char *scim_json_dump_compact(const json_t *json, size_t *len);

/* json_loadb(text, len, 0, NULL): the same value, or NULL where it gives
 * NULL, read in one pass for the text the store writes (jansson's parser
 * calls a function for every character; the parse of each stored
 * resource was the largest part of a read).  Strings without escapes are
 * taken whole, after one UTF-8 check of the text; what the fast reader
 * does not cover (reals, \\u0000, invalid text) goes to jansson. */
json_t *scim_json_load_stored(const char *text, size_t len);
/* Its fast reader alone: NULL for all it leaves to jansson. */
json_t *scim_json_load_fast(const char *text, size_t len);

/* Whether scim_json_dump_compact writes the string s otherwise than as it
 * is: s holds a byte a JSON string escapes. */
int scim_json_escapes(const char *s);

/* json_string(s): a new string value, NULL when s is NULL or not valid
 * UTF-8.  jansson checks UTF-8 a character at a time (nine tenths of what
 * json_string cost, and a twentieth of a rendered user); this checks
 * eight ASCII bytes at a time. */
json_t *scim_json_string(const char *s);

/* A pool-owned object from the stored text of a resource; an empty object
 * when the text is NULL or does not parse (as a record always has one). */
json_t *scim_json_load_stored_object(apr_pool_t *p, const char *text);

/* One member of a JSON object's text: its name as written between the
 * quotes, the value's text, and the whole "name":value. */
typedef struct scim_json_member {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
    const char *text;
    size_t len;
} scim_json_member_t;

/* Splits the text of a JSON object into its members without building
 * values, for an answer that serves stored members as they are.  It takes
 * only what parse-then-dump (scim_json_load_stored, then
 * scim_json_dump_compact) would give back unchanged and what a response's
 * default view keeps: valid UTF-8 in compact form (no whitespace between
 * tokens), no empty object or array at any depth, names without escapes
 * and unique within their object (at most 32 in an object within), string
 * escapes only as the encoder writes them.
 * Returns the number of members (at most max) stored in out, or -1 for
 * anything else. */
int scim_json_split_object(const char *text, size_t len,
                           scim_json_member_t *out, int max);

/* ---- ASCII case ------------------------------------------------------- */

/* SCIM names and caseExact=false values compare ignoring ASCII case only.
 * The C library's tolower() (and apr_tolower) follow the locale, which
 * could rewrite bytes of a UTF-8 sequence, so the core never uses them. */
static inline char scim_fold_ascii(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

/* A copy of s in p with ASCII letters lower-cased: the case-insensitive
 * form names are stored and indexed under. */
const char *scim_fold_case(apr_pool_t *p, const char *s);

/* ASCII case-insensitive string equality; NULLs compare equal only to
 * NULL. */
int scim_streq_ci(const char *a, const char *b);

/* Whether a JSON array holds the string s, ignoring ASCII case (a
 * "schemas" list naming a URN). */
int scim_json_array_has_ci(const json_t *array, const char *s);

/* Object member lookup ignoring ASCII case (SCIM attribute names are
 * case-insensitive).  If key_out is given it receives the stored key.
 * Borrowed; NULL when absent or obj is no object. */
json_t *scim_json_get_ci(const json_t *obj, const char *key,
                         const char **key_out);

/* Removes every member whose name matches key case-insensitively. */
void scim_json_del_ci(json_t *obj, const char *key);

/* ---- dateTime --------------------------------------------------------- */

/* An instant on the proleptic Gregorian calendar, UTC. */
typedef struct scim_instant {
    long long seconds;      /* since 0001-01-01T00:00:00Z */
    long nanos;             /* 0..999999999 */
} scim_instant_t;

/* Parses s[0..len) as an RFC 3339 date-time (section 5.6), the form
 * RFC 7643 2.3.5 asks SCIM dateTime values to take:
 *
 *     YYYY-MM-DDThh:mm:ss[.fraction](Z | +hh:mm | -hh:mm)
 *
 * - the date must exist: month 01-12, the day within its month, 29
 *   February only in leap years; year 0001-9999 (xsd:dateTime has no
 *   year 0000);
 * - hour 00-23 (no "24:00:00"), minute 00-59, second 00-60 (60 is a leap
 *   second, taken as the next second);
 * - the fraction has at least one digit; digits past nanoseconds are
 *   read and ignored;
 * - "T" and "Z" may be lower case (RFC 3339 5.6 note); no space instead
 *   of "T";
 * - the offset is REQUIRED.  xsd:dateTime allows none, but such a value
 *   names no instant (its zone is unknown), so it could be neither
 *   compared nor stored faithfully: it is refused like any other malformed
 *   date-time, in resources and in filters alike.
 *
 * Returns 1 and fills *out (when out is not NULL) on success, 0 when s is
 * not such a date-time.  s need not be NUL-terminated. */
int scim_datetime_parse(const char *s, apr_size_t len, scim_instant_t *out);

/* <0, 0, >0 as a is before, at, after b. */
int scim_instant_compare(const scim_instant_t *a, const scim_instant_t *b);

/* The current time as RFC 3339 UTC with milliseconds
 * ("2024-02-29T13:45:01.123Z"), the form meta.created and lastModified
 * take. */
const char *scim_now(apr_pool_t *p);

/* ---- ids -------------------------------------------------------------- */

/* A random (version 4) UUID in lower-case hex; NULL when the system has
 * no random bytes to give. */
const char *scim_new_id(apr_pool_t *p);

#endif /* SCIM_UTIL_H */
