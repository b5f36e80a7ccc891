/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "scim_util.h"

/* ---- jansson references owned by a pool -------------------------------- */

static apr_status_t release_json(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

json_t *scim_json_pool_own(apr_pool_t *p, json_t *v)
{
    if (v) {
        apr_pool_cleanup_register(p, v, release_json, apr_pool_cleanup_null);
    }
    return v;
}

/* ---- compact JSON text ------------------------------------------------ */

typedef struct {
    char *text;
    size_t len, size;
} dump_buf_t;

/* as deep as jansson parses (JSON_PARSER_MAX_DEPTH): no value the module
 * holds is deeper */
#define DUMP_MAX_DEPTH 2048

static int dump_reserve(dump_buf_t *b, size_t more)
{
    size_t size = b->size ? b->size : 1024;
    char *text;

    if (b->len + more + 1 <= b->size) {
        return 0;
    }
    while (size < b->len + more + 1) {
        size *= 2;
    }
    if (!(text = realloc(b->text, size))) {
        return -1;
    }
    b->text = text;
    b->size = size;
    return 0;
}

static int dump_raw(dump_buf_t *b, const char *s, size_t n)
{
    if (dump_reserve(b, n)) {
        return -1;
    }
    memcpy(b->text + b->len, s, n);
    b->len += n;
    return 0;
}

/* The bytes a JSON string escapes: '"', '\\' and the control characters. */
static int needs_escape(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

/* The two-byte escapes; NULL for the other control characters. */
static const char *short_escape(char c)
{
    switch (c) {
    case '"':  return "\\\"";
    case '\\': return "\\\\";
    case '\b': return "\\b";
    case '\f': return "\\f";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default:   return NULL;
    }
}

static int dump_string(dump_buf_t *b, const char *s, size_t n)
{
    size_t i = 0, run;
    const char *escape;

    if (dump_raw(b, "\"", 1)) {
        return -1;
    }
    while (i < n) {
        for (run = i; run < n && !needs_escape((unsigned char)s[run]); run++) {
        }
        if (run > i && dump_raw(b, s + i, run - i)) {
            return -1;
        }
        if (run == n) {
            break;
        }
        if (dump_reserve(b, 6)) {
            return -1;
        }
        if ((escape = short_escape(s[run]))) {
            memcpy(b->text + b->len, escape, 2);
            b->len += 2;
        }
        else {
            /* as jansson: upper-case hex */
            snprintf(b->text + b->len, 7, "\\u%04X", (unsigned char)s[run]);
            b->len += 6;
        }
        i = run + 1;
    }
    return dump_raw(b, "\"", 1);
}

static int dump_value(dump_buf_t *b, const json_t *json, int depth)
{
    char number[64];
    void *iter;
    size_t i, n;
    int first = 1;

    if (depth > DUMP_MAX_DEPTH) {
        return -1;
    }
    switch (json_typeof(json)) {
    case JSON_OBJECT:
        if (dump_raw(b, "{", 1)) {
            return -1;
        }
        /* in jansson's order (insertion), keys with their length */
        for (iter = json_object_iter((json_t *)json); iter;
             iter = json_object_iter_next((json_t *)json, iter)) {
            if ((!first && dump_raw(b, ",", 1))
                || dump_string(b, json_object_iter_key(iter),
                               json_object_iter_key_len(iter))
                || dump_raw(b, ":", 1)
                || dump_value(b, json_object_iter_value(iter), depth + 1)) {
                return -1;
            }
            first = 0;
        }
        return dump_raw(b, "}", 1);
    case JSON_ARRAY:
        if (dump_raw(b, "[", 1)) {
            return -1;
        }
        n = json_array_size(json);
        for (i = 0; i < n; i++) {
            if ((i && dump_raw(b, ",", 1))
                || dump_value(b, json_array_get(json, i), depth + 1)) {
                return -1;
            }
        }
        return dump_raw(b, "]", 1);
    case JSON_STRING:
        return dump_string(b, json_string_value(json),
                           json_string_length(json));
    case JSON_INTEGER:
        n = (size_t)snprintf(number, sizeof(number), "%" JSON_INTEGER_FORMAT,
                             json_integer_value(json));
        return dump_raw(b, number, n);
    case JSON_REAL: {
        /* rare in SCIM: jansson's own formatting, to the byte */
        char *text = json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY);
        int rv = text ? dump_raw(b, text, strlen(text)) : -1;

        free(text);
        return rv;
    }
    case JSON_TRUE:
        return dump_raw(b, "true", 4);
    case JSON_FALSE:
        return dump_raw(b, "false", 5);
    default:
        return dump_raw(b, "null", 4);
    }
}

char *scim_json_dump_compact(const json_t *json, size_t *len)
{
    dump_buf_t b = { NULL, 0, 0 };

    if (!json || dump_value(&b, json, 0) || dump_reserve(&b, 0)) {
        free(b.text);
        return NULL;
    }
    b.text[b.len] = '\0';
    if (len) {
        *len = b.len;
    }
    return b.text;
}

/* ---- ASCII case ------------------------------------------------------- */

const char *scim_fold_case(apr_pool_t *p, const char *s)
{
    char *copy = apr_pstrdup(p, s), *c;

    for (c = copy; *c; c++) {
        *c = scim_fold_ascii(*c);
    }
    return copy;
}

int scim_streq_ci(const char *a, const char *b)
{
    if (!a || !b) {
        return a == b;
    }
    while (*a && scim_fold_ascii(*a) == scim_fold_ascii(*b)) {
        a++;
        b++;
    }
    return *a == *b;
}

json_t *scim_json_get_ci(const json_t *obj, const char *key,
                         const char **key_out)
{
    const char *k;
    json_t *v;

    if (!json_is_object(obj) || !key) {
        return NULL;
    }
    /* Exact spelling first: the stored form uses canonical names. */
    v = json_object_get(obj, key);
    if (v) {
        if (key_out) {
            *key_out = key;
        }
        return v;
    }
    json_object_foreach((json_t *)obj, k, v) {
        if (scim_streq_ci(k, key)) {
            if (key_out) {
                *key_out = k;
            }
            return v;
        }
    }
    return NULL;
}

void scim_json_del_ci(json_t *obj, const char *key)
{
    const char *k;
    json_t *v;
    void *tmp;

    if (!json_is_object(obj) || !key) {
        return;
    }
    json_object_foreach_safe(obj, tmp, k, v) {
        if (scim_streq_ci(k, key)) {
            json_object_del(obj, k);
        }
    }
}

/* ---- dateTime --------------------------------------------------------- */

static int is_leap_year(long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(long y, long m)
{
    static const int days[] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    return days[m - 1] + (m == 2 && is_leap_year(y));
}

/* Days from 0001-01-01 to y-m-d, a valid date of year 1 or later. */
static long long days_before_date(long y, long m, long d)
{
    static const int days_before_month[] = {
        0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334
    };
    long prior = y - 1;
    long long days = (long long)prior * 365 + prior / 4 - prior / 100
                     + prior / 400;

    return days + days_before_month[m - 1] + (m > 2 && is_leap_year(y))
           + d - 1;
}

/* A cursor over s[0..len): never reads past len, so input need not be
 * NUL-terminated and an embedded NUL is just a byte that matches nothing. */
typedef struct {
    const char *s;
    apr_size_t len;
    apr_size_t i;
} cursor_t;

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads exactly n digits. */
static int read_digits(cursor_t *c, int n, long *out)
{
    long v = 0;

    for (; n > 0; n--, c->i++) {
        if (c->i >= c->len || !is_digit(c->s[c->i])) {
            return 0;
        }
        v = v * 10 + (c->s[c->i] - '0');
    }
    *out = v;
    return 1;
}

/* Consumes the next byte when it is a or b. */
static int read_either(cursor_t *c, char a, char b)
{
    if (c->i >= c->len || (c->s[c->i] != a && c->s[c->i] != b)) {
        return 0;
    }
    c->i++;
    return 1;
}

static int read_char(cursor_t *c, char a)
{
    return read_either(c, a, a);
}

int scim_datetime_parse(const char *s, apr_size_t len, scim_instant_t *out)
{
    cursor_t c = { s, len, 0 };
    long year, month, day, hour, minute, second, off_h = 0, off_m = 0;
    long nanos = 0, scale = 100000000L;
    int sign = 0;

    if (!read_digits(&c, 4, &year) || !read_char(&c, '-')
        || !read_digits(&c, 2, &month) || !read_char(&c, '-')
        || !read_digits(&c, 2, &day) || !read_either(&c, 'T', 't')
        || !read_digits(&c, 2, &hour) || !read_char(&c, ':')
        || !read_digits(&c, 2, &minute) || !read_char(&c, ':')
        || !read_digits(&c, 2, &second)) {
        return 0;
    }
    if (year < 1 || month < 1 || month > 12 || day < 1
        || day > days_in_month(year, month)
        || hour > 23 || minute > 59 || second > 60) {
        return 0;
    }
    if (read_char(&c, '.')) {
        apr_size_t first = c.i;

        for (; c.i < len && is_digit(s[c.i]); c.i++) {
            nanos += (s[c.i] - '0') * scale;
            scale /= 10;
        }
        if (c.i == first) {
            return 0;
        }
    }
    if (c.i < len && (s[c.i] == '+' || s[c.i] == '-')) {
        sign = s[c.i++] == '+' ? 1 : -1;
        if (!read_digits(&c, 2, &off_h) || !read_char(&c, ':')
            || !read_digits(&c, 2, &off_m) || off_h > 23 || off_m > 59) {
            return 0;
        }
    }
    else if (!read_either(&c, 'Z', 'z')) {
        return 0;      /* no offset: see scim_util.h */
    }
    if (c.i != len) {
        return 0;
    }
    if (out) {
        out->seconds = days_before_date(year, month, day) * 86400LL
                       + hour * 3600L + minute * 60L + second
                       - sign * (off_h * 3600L + off_m * 60L);
        out->nanos = nanos;
    }
    return 1;
}

int scim_instant_compare(const scim_instant_t *a, const scim_instant_t *b)
{
    if (a->seconds != b->seconds) {
        return a->seconds < b->seconds ? -1 : 1;
    }
    return (a->nanos > b->nanos) - (a->nanos < b->nanos);
}

const char *scim_now(apr_pool_t *p)
{
    apr_time_exp_t t;

    apr_time_exp_gmt(&t, apr_time_now());
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                        t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                        t.tm_hour, t.tm_min, t.tm_sec, t.tm_usec / 1000);
}

/* ---- ids -------------------------------------------------------------- */

/* A UUID version 7 (RFC 9562): the creation time in milliseconds, then 74
 * random bits.  Ids made close in time sort close together, so a create
 * adds to the last page of every index on the id (the primary key, a
 * user's e-mail rows, memberships by member) instead of a random page of
 * each: fewer pages for each commit to write and sync. */
const char *scim_new_id(apr_pool_t *p)
{
    unsigned char b[16];
    apr_uint64_t ms = (apr_uint64_t)apr_time_as_msec(apr_time_now());
    int i;

    if (apr_generate_random_bytes(b, sizeof(b)) != APR_SUCCESS) {
        return NULL;
    }
    for (i = 5; i >= 0; i--, ms >>= 8) {
        b[i] = (unsigned char)(ms & 0xff);
    }
    b[6] = (b[6] & 0x0f) | 0x70;   /* version 7 */
    b[8] = (b[8] & 0x3f) | 0x80;   /* RFC 9562 variant */
    return apr_psprintf(p,
        "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
        b[11], b[12], b[13], b[14], b[15]);
}

int scim_json_array_has_ci(const json_t *array, const char *s)
{
    size_t i;
    json_t *v;

    json_array_foreach(array, i, v) {
        if (scim_streq_ci(json_string_value(v), s)) {
            return 1;
        }
    }
    return 0;
}
