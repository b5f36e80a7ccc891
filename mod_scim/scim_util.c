/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

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
