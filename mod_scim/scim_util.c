/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

#include <errno.h>
#include <stdint.h>
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

/* Grows the buffer (doubling) to hold more bytes and a final NUL. */
static int dump_grow(dump_buf_t *b, size_t more)
{
    size_t size = b->size ? b->size : 1024;
    char *text;

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

/* The common case (room enough) without a call: a GET's response makes
 * some 150 of these. */
static inline int dump_reserve(dump_buf_t *b, size_t more)
{
    return b->len + more + 1 <= b->size ? 0 : dump_grow(b, more);
}

static inline int dump_raw(dump_buf_t *b, const char *s, size_t n)
{
    if (dump_reserve(b, n)) {
        return -1;
    }
    memcpy(b->text + b->len, s, n);
    b->len += n;
    return 0;
}

static inline int dump_char(dump_buf_t *b, char c)
{
    if (dump_reserve(b, 1)) {
        return -1;
    }
    b->text[b->len++] = c;
    return 0;
}

/* The bytes a JSON string escapes: '"', '\\' and the control characters
 * (looked up for the bytes word_has_escape does not clear at once). */
static const unsigned char escaped_byte[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1,
    [0x06] = 1, [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0A] = 1, [0x0B] = 1,
    [0x0C] = 1, [0x0D] = 1, [0x0E] = 1, [0x0F] = 1, [0x10] = 1, [0x11] = 1,
    [0x12] = 1, [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1,
    [0x18] = 1, [0x19] = 1, [0x1A] = 1, [0x1B] = 1, [0x1C] = 1, [0x1D] = 1,
    [0x1E] = 1, [0x1F] = 1, ['"'] = 1, ['\\'] = 1,
};

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

#define BYTES_01 0x0101010101010101ULL
#define BYTES_80 0x8080808080808080ULL

/* Whether any of 8 bytes is one escaped_byte names: a control character
 * (x - 0x20 borrows into a byte's top bit only where it was below 0x20 and
 * the byte's own top bit was clear), or a zero byte after XOR with '"' or
 * '\\'.  A match may mark higher bytes too; only "any" counts. */
static inline uint64_t escape_bits(uint64_t x)
{
    uint64_t quote = x ^ (BYTES_01 * '"'), backslash = x ^ (BYTES_01 * '\\');

    return (((x - BYTES_01 * 0x20) & ~x)
            | ((quote - BYTES_01) & ~quote)
            | ((backslash - BYTES_01) & ~backslash)) & BYTES_80;
}

static inline int word_has_escape(uint64_t x)
{
    return escape_bits(x) != 0;
}

/* How many of the 8 bytes (as read from memory) come before the first one
 * escaped_byte names, given one does: the lowest mark is exact (a borrow
 * only marks bytes above a match). */
static inline size_t bytes_before_escape(uint64_t x)
{
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (size_t)__builtin_ctzll(escape_bits(x)) / 8;
#else
    (void)x;
    return 0;
#endif
}

/* Room for the string as it is and its quotes is taken first, and the bytes
 * copied as scanned, eight at a time where none is escaped: most strings
 * need no escape, and then this is one reservation and one pass. */
static int dump_string(dump_buf_t *b, const char *s, size_t n)
{
    size_t i;
    char *out;
    const char *escape;

    if (dump_reserve(b, n + 2)) {
        return -1;
    }
    out = b->text + b->len;
    *out++ = '"';
    for (i = 0; i < n; i++) {
        unsigned char c;
        uint64_t word;

        if (n - i >= 8) {
            memcpy(&word, s + i, 8);
            if (!word_has_escape(word)) {
                memcpy(out, &word, 8);
                out += 8;
                i += 7;
                continue;
            }
        }
        c = (unsigned char)s[i];
        if (!escaped_byte[c]) {
            *out++ = (char)c;
            continue;
        }
        /* an escape: up to 6 bytes for this one, 1 for each one left and
         * the closing quote */
        b->len = (size_t)(out - b->text);
        if (dump_reserve(b, 6 + (n - i - 1) + 1)) {
            return -1;
        }
        out = b->text + b->len;
        if ((escape = short_escape((char)c))) {
            memcpy(out, escape, 2);
            out += 2;
        }
        else {
            /* as jansson: upper-case hex */
            snprintf(out, 7, "\\u%04X", c);
            out += 6;
        }
    }
    *out++ = '"';
    b->len = (size_t)(out - b->text);
    return 0;
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
        if (dump_char(b, '{')) {
            return -1;
        }
        /* in jansson's order (insertion), keys with their length */
        for (iter = json_object_iter((json_t *)json); iter;
             iter = json_object_iter_next((json_t *)json, iter)) {
            if ((!first && dump_char(b, ','))
                || dump_string(b, json_object_iter_key(iter),
                               json_object_iter_key_len(iter))
                || dump_char(b, ':')
                || dump_value(b, json_object_iter_value(iter), depth + 1)) {
                return -1;
            }
            first = 0;
        }
        return dump_char(b, '}');
    case JSON_ARRAY:
        if (dump_char(b, '[')) {
            return -1;
        }
        n = json_array_size(json);
        for (i = 0; i < n; i++) {
            if ((i && dump_char(b, ','))
                || dump_value(b, json_array_get(json, i), depth + 1)) {
                return -1;
            }
        }
        return dump_char(b, ']');
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

/* ---- reading stored JSON text ------------------------------------------ */

/* Whether s[0..n) is UTF-8 as jansson accepts it: no overlong forms, no
 * surrogates, nothing past U+10FFFF. */
static int valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char c = s[i];
        size_t k, more;
        unsigned long cp;
        uint64_t word;

        if (n - i >= 8) {
            memcpy(&word, s + i, 8);
            if (!(word & BYTES_80)) {   /* eight ASCII bytes */
                i += 8;
                continue;
            }
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            more = 1, cp = c & 0x1F;
        }
        else if (c >= 0xE0 && c <= 0xEF) {
            more = 2, cp = c & 0x0F;
        }
        else if (c >= 0xF0 && c <= 0xF4) {
            more = 3, cp = c & 0x07;
        }
        else {
            return 0;
        }
        if (n - i <= more) {
            return 0;
        }
        for (k = 1; k <= more; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000)
            || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
            return 0;
        }
        i += more + 1;
    }
    return 1;
}

/* deeper text is jansson's to read (or refuse, past its own limit) */
#define LOAD_MAX_DEPTH 512

typedef struct {
    const char *p, *end;
    char *scratch;              /* unescaped strings, malloc'd */
    size_t scratch_size;
} loader_t;

static void skip_space(loader_t *l)
{
    while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n'
                             || *l->p == '\r')) {
        l->p++;
    }
}

static int hex4(const char *p, unsigned long *out)
{
    int i;

    *out = 0;
    for (i = 0; i < 4; i++) {
        char c = p[i];
        int v = c >= '0' && c <= '9' ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

        if (v < 0) {
            return -1;
        }
        *out = (*out << 4) | (unsigned long)v;
    }
    return 0;
}

/* A string at l->p (after its quote): *text and *n, in the input when it
 * has no escapes, else unescaped into l->scratch.  -1: not for this
 * reader. */
static int load_string(loader_t *l, const char **text, size_t *n)
{
    const char *start = l->p, *q;
    size_t len = 0;

    for (q = start; q < l->end && *q != '"' && *q != '\\'; q++) {
        if ((unsigned char)*q < 0x20) {
            return -1;
        }
    }
    if (q < l->end && *q == '"') {
        *text = start;
        *n = (size_t)(q - start);
        l->p = q + 1;
        return 0;
    }
    /* escapes: each input byte gives at most one output byte, \u four */
    if (l->scratch_size < (size_t)(l->end - start) + 1) {
        char *grown = realloc(l->scratch, (size_t)(l->end - start) + 1);

        if (!grown) {
            return -1;
        }
        l->scratch = grown;
        l->scratch_size = (size_t)(l->end - start) + 1;
    }
    for (q = start; q < l->end && *q != '"'; ) {
        unsigned long cp, low;

        if ((unsigned char)*q < 0x20) {
            return -1;
        }
        if (*q != '\\') {
            l->scratch[len++] = *q++;
            continue;
        }
        if (++q >= l->end) {
            return -1;
        }
        switch (*q) {
        case '"': case '\\': case '/':
            l->scratch[len++] = *q++;
            continue;
        case 'b': l->scratch[len++] = '\b'; q++; continue;
        case 'f': l->scratch[len++] = '\f'; q++; continue;
        case 'n': l->scratch[len++] = '\n'; q++; continue;
        case 'r': l->scratch[len++] = '\r'; q++; continue;
        case 't': l->scratch[len++] = '\t'; q++; continue;
        case 'u':
            break;
        default:
            return -1;
        }
        if (l->end - q < 5 || hex4(q + 1, &cp) || cp == 0) {
            return -1;          /* \u0000: jansson's to refuse */
        }
        q += 5;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (l->end - q < 6 || q[0] != '\\' || q[1] != 'u'
                || hex4(q + 2, &low) || low < 0xDC00 || low > 0xDFFF) {
                return -1;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            q += 6;
        }
        else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return -1;
        }
        if (cp < 0x80) {
            l->scratch[len++] = (char)cp;
        }
        else if (cp < 0x800) {
            l->scratch[len++] = (char)(0xC0 | (cp >> 6));
            l->scratch[len++] = (char)(0x80 | (cp & 0x3F));
        }
        else if (cp < 0x10000) {
            l->scratch[len++] = (char)(0xE0 | (cp >> 12));
            l->scratch[len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            l->scratch[len++] = (char)(0x80 | (cp & 0x3F));
        }
        else {
            l->scratch[len++] = (char)(0xF0 | (cp >> 18));
            l->scratch[len++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            l->scratch[len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            l->scratch[len++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    if (q >= l->end) {
        return -1;
    }
    *text = l->scratch;
    *n = len;
    l->p = q + 1;
    return 0;
}

/* Whether c comes next (after white space); if so it is consumed. */
static int take(loader_t *l, char c)
{
    skip_space(l);
    if (l->p < l->end && *l->p == c) {
        l->p++;
        return 1;
    }
    return 0;
}

static json_t *load_value(loader_t *l, int depth);

static json_t *load_object(loader_t *l, int depth)
{
    json_t *obj = json_object(), *value;
    const char *key;
    char *copy;
    size_t n;

    if (take(l, '}')) {
        return obj;
    }
    while (obj) {
        if (!take(l, '"') || load_string(l, &key, &n)) {
            break;
        }
        /* an unescaped key is in the scratch buffer the value may reuse */
        copy = NULL;
        if (key == l->scratch) {
            if (!(copy = malloc(n + 1))) {
                break;
            }
            key = memcpy(copy, key, n);
        }
        value = take(l, ':') ? load_value(l, depth + 1) : NULL;
        if (!value || json_object_setn_new_nocheck(obj, key, n, value)) {
            free(copy);
            break;
        }
        free(copy);
        if (take(l, ',')) {
            continue;
        }
        if (take(l, '}')) {
            return obj;
        }
        break;
    }
    json_decref(obj);
    return NULL;
}

static json_t *load_array(loader_t *l, int depth)
{
    json_t *arr = json_array(), *value;

    if (take(l, ']')) {
        return arr;
    }
    while (arr) {
        if (!(value = load_value(l, depth + 1))
            || json_array_append_new(arr, value)) {
            break;
        }
        if (take(l, ',')) {
            continue;
        }
        if (take(l, ']')) {
            return arr;
        }
        break;
    }
    json_decref(arr);
    return NULL;
}

/* An integer as jansson reads one; reals are jansson's. */
static json_t *load_integer(loader_t *l)
{
    const char *q = l->p;
    char digits[24];
    long long v;
    char *stop;

    if (q < l->end && *q == '-') {
        q++;
    }
    if (q >= l->end || *q < '0' || *q > '9'
        || (*q == '0' && q + 1 < l->end && q[1] >= '0' && q[1] <= '9')) {
        return NULL;
    }
    while (q < l->end && *q >= '0' && *q <= '9') {
        q++;
    }
    if ((q < l->end && (*q == '.' || *q == 'e' || *q == 'E'))
        || (size_t)(q - l->p) >= sizeof(digits)) {
        return NULL;
    }
    memcpy(digits, l->p, (size_t)(q - l->p));
    digits[q - l->p] = '\0';
    errno = 0;
    v = strtoll(digits, &stop, 10);
    if (errno) {
        return NULL;
    }
    l->p = q;
    return json_integer((json_int_t)v);
}

static json_t *load_literal(loader_t *l, const char *word, json_t *value)
{
    size_t n = strlen(word);

    if ((size_t)(l->end - l->p) < n || memcmp(l->p, word, n) != 0) {
        return NULL;
    }
    l->p += n;
    return value;
}

static json_t *load_value(loader_t *l, int depth)
{
    const char *text;
    size_t n;

    if (depth > LOAD_MAX_DEPTH) {
        return NULL;
    }
    skip_space(l);
    if (l->p >= l->end) {
        return NULL;
    }
    switch (*l->p++) {
    case '{':
        return load_object(l, depth);
    case '[':
        return load_array(l, depth);
    case '"':
        /* no NUL: raw control characters and \u0000 are refused */
        return load_string(l, &text, &n) ? NULL
                                         : json_stringn_nocheck(text, n);
    case 't':
        l->p--;
        return load_literal(l, "true", json_true());
    case 'f':
        l->p--;
        return load_literal(l, "false", json_false());
    case 'n':
        l->p--;
        return load_literal(l, "null", json_null());
    default:
        l->p--;
        return load_integer(l);
    }
}

json_t *scim_json_load_fast(const char *text, size_t len)
{
    loader_t l = { text, text + len, NULL, 0 };
    json_t *value = NULL;

    if (valid_utf8((const unsigned char *)text, len)) {
        value = load_value(&l, 0);
        skip_space(&l);
        if (value && (l.p != l.end
                      || !(json_is_object(value) || json_is_array(value)))) {
            json_decref(value);
            value = NULL;
        }
    }
    free(l.scratch);
    return value;
}

json_t *scim_json_load_stored(const char *text, size_t len)
{
    json_t *value = scim_json_load_fast(text, len);

    return value ? value : json_loadb(text, len, 0, NULL);
}

int scim_json_escapes(const char *s)
{
    for (; *s; s++) {
        if (escaped_byte[(unsigned char)*s]) {
            return 1;
        }
    }
    return 0;
}

json_t *scim_json_string(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    return s && valid_utf8((const unsigned char *)s, n)
           ? json_stringn_nocheck(s, n) : NULL;
}

json_t *scim_json_load_stored_object(apr_pool_t *p, const char *text)
{
    json_t *value = text ? scim_json_load_stored(text, strlen(text)) : NULL;

    if (!json_is_object(value)) {
        json_decref(value);
        value = json_object();
    }
    return scim_json_pool_own(p, value);
}

/* ---- stored members served as they are --------------------------------- */

/* The split below accepts text only where scim_json_dump_compact would
 * write the same bytes for the value scim_json_load_stored reads from it,
 * so that serving a member's text and dumping its parse cannot differ. */

#define SPLIT_MAX_DEPTH 64
#define SPLIT_MAX_NESTED_KEYS 32    /* names of an object within; more:
                                       not split */

static const char *split_value(const char *p, const char *end, int depth);

/* Past the string starting at p (its opening quote); NULL unless every
 * byte is as the encoder writes it: no raw control character, and only
 * its escapes (the two-byte ones, and \u00XX in upper case for the other
 * control characters, never NUL). */
static const char *split_string(const char *p, const char *end)
{
    static const char hex[] = "0123456789ABCDEF";

    for (p++; p < end; p++) {
        unsigned char c;
        uint64_t word;

        /* eight bytes at a time up to the quote, as the encoder writes */
        while (end - p >= 8) {
            memcpy(&word, p, 8);
            if (word_has_escape(word)) {
                p += bytes_before_escape(word);
                break;
            }
            p += 8;
        }
        if (p == end) {
            return NULL;
        }
        c = (unsigned char)*p;
        if (c == '"') {
            return p + 1;
        }
        if (c < 0x20) {
            return NULL;
        }
        if (c != '\\') {
            continue;
        }
        if (end - p < 2) {
            return NULL;
        }
        c = (unsigned char)p[1];
        if (c != 'u') {
            if (!strchr("\"\\bfnrt", c) || c == '\0') {
                return NULL;
            }
            p++;
            continue;
        }
        if (end - p < 6 || p[2] != '0' || p[3] != '0'
            || (p[4] != '0' && p[4] != '1') || !p[5]
            || !strchr(hex, p[5])) {
            return NULL;
        }
        c = (unsigned char)((p[4] - '0') * 16
                            + (unsigned)(strchr(hex, p[5]) - hex));
        if (c == 0 || short_escape((char)c)) {
            return NULL;
        }
        p += 5;
    }
    return NULL;
}

/* An integer as the encoder writes one; reals (written by jansson's own
 * formatting) and anything else are left to the full path. */
static const char *split_number(const char *p, const char *end)
{
    const char *digits;

    if (p < end && *p == '-') {
        p++;
    }
    digits = p;
    while (p < end && *p >= '0' && *p <= '9') {
        p++;
    }
    if (p == digits || p - digits > 18 || (*digits == '0' && p - digits > 1)
        || (*digits == '0' && digits[-1] == '-')) {
        return NULL;
    }
    return p;
}

static const char *split_literal(const char *p, const char *end,
                                 const char *word)
{
    size_t n = strlen(word);

    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

/* Whether the name between quotes at key (past its opening quote, len
 * bytes) is among the n before it: jansson keeps the last of equal names,
 * so an object with two is written out otherwise. */
static int split_name_repeated(const char *const *keys, const size_t *lens,
                               int n, const char *key, size_t len)
{
    int i;

    for (i = 0; i < n; i++) {
        if (lens[i] == len && memcmp(keys[i], key, len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Past the object or array starting at p; NULL when it is empty (the
 * default view drops an empty value) or not as the encoder writes it. */
static const char *split_container(const char *p, const char *end,
                                   int depth)
{
    int object = *p == '{', n = 0;
    char close = object ? '}' : ']';
    const char *keys[SPLIT_MAX_NESTED_KEYS], *key;
    size_t lens[SPLIT_MAX_NESTED_KEYS];

    if (depth > SPLIT_MAX_DEPTH || ++p >= end || *p == close) {
        return NULL;
    }
    for (;;) {
        if (object) {
            key = p + 1;
            if (*p != '"' || !(p = split_string(p, end)) || p >= end
                || *p++ != ':' || n == SPLIT_MAX_NESTED_KEYS) {
                return NULL;
            }
            lens[n] = (size_t)(p - 2 - key);
            if (memchr(key, '\\', lens[n])
                || split_name_repeated(keys, lens, n, key, lens[n])) {
                return NULL;
            }
            keys[n++] = key;
        }
        if (!(p = split_value(p, end, depth + 1)) || p >= end) {
            return NULL;
        }
        if (*p == close) {
            return p + 1;
        }
        if (*p++ != ',' || p >= end) {
            return NULL;
        }
    }
}

static const char *split_value(const char *p, const char *end, int depth)
{
    if (p >= end) {
        return NULL;
    }
    switch (*p) {
    case '"':
        return split_string(p, end);
    case '{':
    case '[':
        return split_container(p, end, depth);
    case 't':
        return split_literal(p, end, "true");
    case 'f':
        return split_literal(p, end, "false");
    case 'n':
        return split_literal(p, end, "null");
    default:
        return split_number(p, end);
    }
}

int scim_json_split_object(const char *text, size_t len,
                           scim_json_member_t *out, int max)
{
    const char *p = text, *end = text + len;
    int n = 0, i;

    if (len < 2 || *p != '{' || p[1] == '}') {
        return -1;
    }
    p++;
    for (;;) {
        scim_json_member_t *m = &out[n];

        if (n == max || p >= end || *p != '"') {
            return -1;
        }
        m->text = p;
        m->key = p + 1;
        if (!(p = split_string(p, end))) {
            return -1;
        }
        m->key_len = (size_t)(p - 1 - m->key);
        if (memchr(m->key, '\\', m->key_len) || p >= end || *p++ != ':') {
            return -1;
        }
        for (i = 0; i < n; i++) {
            if (out[i].key_len == m->key_len
                && memcmp(out[i].key, m->key, m->key_len) == 0) {
                return -1;      /* jansson keeps the last of two */
            }
        }
        m->value = p;
        if (!(p = split_value(p, end, 1)) || p >= end) {
            return -1;
        }
        m->value_len = (size_t)(p - m->value);
        m->len = (size_t)(p - m->text);
        n++;
        if (*p == '}') {
            /* valid UTF-8 checked last: text the scan refuses costs no
             * pass over all of it */
            return p + 1 == end
                   && valid_utf8((const unsigned char *)text, len) ? n : -1;
        }
        if (*p++ != ',') {
            return -1;
        }
    }
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
