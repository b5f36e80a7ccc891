/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* SCIM filters (RFC 7644 section 3.4.2.2) and PATCH paths (3.5.2).
 *
 * The parser is a small recursive descent over a one-token lookahead lexer.
 * Filters arrive from the network, so:
 *   - every recursion goes through enter_nesting(), which refuses more than
 *     SCIM_FILTER_MAX_DEPTH levels of "(", "not (" and "attr[";
 *   - "and"/"or" chains are built iteratively as right-leaning trees, so
 *     evaluation walks a chain in a loop and only recurses into a nested
 *     group: tree depth stays bounded by the nesting limit, not by the
 *     length of the filter;
 *   - every node is counted against SCIM_FILTER_MAX_NODES;
 *   - the lexer never looks past the terminating NUL, and every detail that
 *     quotes the input quotes it as printable ASCII, so an error document
 *     stays valid JSON whatever bytes were sent. */

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "scim_filter.h"
#include "scim_util.h"

/* ---- Character classes and UTF-8 ---------------------------------------- */

static int is_ascii_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_ascii_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Bytes that end a word: whitespace, grouping, quotes and the end. */
static int is_delimiter(char c)
{
    return !c || is_space(c) || c == '(' || c == ')' || c == '['
           || c == ']' || c == '"';
}

/* Characters of an attribute path: names, the "." of a sub-attribute and
 * the ":" and "." of a schema URN (RFC 7644 figure 1: [URI ":"] ATTRNAME
 * *1subAttr), and the "$" of "$ref". */
static int is_path_char(char c)
{
    return is_ascii_alpha(c) || is_ascii_digit(c) || c == '_' || c == '-'
           || c == '.' || c == ':' || c == '$';
}

/* Length of the well-formed UTF-8 sequence starting a multi-byte character
 * at s (at most avail bytes readable), or 0.  Overlong forms, surrogates and
 * code points above U+10FFFF are refused (RFC 3629). */
static apr_size_t utf8_sequence(const unsigned char *s, apr_size_t avail)
{
    unsigned char lo = 0x80, hi = 0xBF;
    apr_size_t len, i;

    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2;
    }
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3;
        if (s[0] == 0xE0) {
            lo = 0xA0;
        }
        else if (s[0] == 0xED) {
            hi = 0x9F;
        }
    }
    else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        if (s[0] == 0xF0) {
            lo = 0x90;
        }
        else if (s[0] == 0xF4) {
            hi = 0x8F;
        }
    }
    else {
        return 0;
    }
    if (avail < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF) {
            return 0;
        }
    }
    return len;
}

/* Offset of the first byte that is not valid UTF-8, or len when all are. */
static apr_size_t utf8_invalid_at(const char *s, apr_size_t len)
{
    apr_size_t i = 0, n;

    while (i < len) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        n = utf8_sequence((const unsigned char *)s + i, len - i);
        if (!n) {
            return i;
        }
        i += n;
    }
    return len;
}

static apr_size_t utf8_encode(unsigned long cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Four hex digits at s; stops at the first non-hex byte, so it never reads
 * past a NUL. */
static int parse_hex4(const char *s, unsigned long *out)
{
    unsigned long v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (is_ascii_digit(c)) {
            v |= (unsigned long)(c - '0');
        }
        else if (c >= 'a' && c <= 'f') {
            v |= (unsigned long)(c - 'a' + 10);
        }
        else if (c >= 'A' && c <= 'F') {
            v |= (unsigned long)(c - 'A' + 10);
        }
        else {
            return 0;
        }
    }
    *out = v;
    return 1;
}

/* ---- dateTime ------------------------------------------------------------ */

static int json_datetime(const json_t *v, scim_instant_t *out)
{
    return json_is_string(v)
           && scim_datetime_parse(json_string_value(v), json_string_length(v),
                                  out);
}

/* ---- Value comparison (filters and sorting) ----------------------------- */

static int is_case_exact(const scim_attr_t *def)
{
    /* Undeclared attributes are caseExact false (scim_path.h). */
    return def && def->case_exact;
}

static int compare_bytes(const char *a, apr_size_t alen, const char *b,
                         apr_size_t blen, int case_exact)
{
    apr_size_t i, n = alen < blen ? alen : blen;

    for (i = 0; i < n; i++) {
        unsigned char ca = (unsigned char)a[i], cb = (unsigned char)b[i];
        if (!case_exact) {
            ca = (unsigned char)scim_fold_ascii((char)ca);
            cb = (unsigned char)scim_fold_ascii((char)cb);
        }
        if (ca != cb) {
            return ca < cb ? -1 : 1;
        }
    }
    return alen < blen ? -1 : alen > blen;
}

/* The order of kinds when two values are not comparable: absent and null
 * rank last so that they sort after every value in ascending order. */
static int kind_rank(const json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_TRUE:
    case JSON_FALSE:
        return 0;
    case JSON_INTEGER:
    case JSON_REAL:
        return 1;
    case JSON_STRING:
        return 2;
    case JSON_OBJECT:
        return 3;
    case JSON_ARRAY:
        return 4;
    default:
        return 5;
    }
}

int scim_value_compare(const scim_attr_t *def, const json_t *a,
                       const json_t *b)
{
    int ra = kind_rank(a), rb = kind_rank(b);

    if (ra != rb) {
        return ra < rb ? -1 : 1;
    }
    switch (ra) {
    case 0:
        return json_is_true(a) - json_is_true(b);
    case 1:
        if (json_is_integer(a) && json_is_integer(b)) {
            json_int_t ia = json_integer_value(a), ib = json_integer_value(b);
            return (ia > ib) - (ia < ib);
        }
        else {
            double da = json_number_value(a), db = json_number_value(b);
            return (da > db) - (da < db);
        }
    case 2: {
        scim_instant_t ta, tb;
        if (def && def->type == SCIM_ATTR_DATETIME && json_datetime(a, &ta)
            && json_datetime(b, &tb)) {
            return scim_instant_compare(&ta, &tb);
        }
        return compare_bytes(json_string_value(a), json_string_length(a),
                             json_string_value(b), json_string_length(b),
                             is_case_exact(def));
    }
    default:
        return 0;   /* objects, arrays, nulls: no order among themselves */
    }
}

/* ---- Evaluation --------------------------------------------------------- */

/* RFC 7644 3.4.2.2 "pr": has a value that is not null, an empty string, an
 * empty array or an empty object (RFC 7643 2.5 treats those as
 * unassigned). */
static int is_present_scalar(const json_t *v)
{
    if (!v || json_is_null(v)) {
        return 0;
    }
    if (json_is_string(v)) {
        return json_string_length(v) > 0;
    }
    if (json_is_object(v)) {
        return json_object_size(v) > 0;
    }
    if (json_is_array(v)) {
        return json_array_size(v) > 0;
    }
    return 1;
}

static int is_present(const json_t *v)
{
    size_t i;
    json_t *e;

    if (!json_is_array(v)) {
        return is_present_scalar(v);
    }
    /* One level only: an array of nulls or empty strings is unassigned. */
    json_array_foreach(v, i, e) {
        if (is_present_scalar(e)) {
            return 1;
        }
    }
    return 0;
}

static int contains_bytes(const char *hay, apr_size_t hay_len,
                          const char *needle, apr_size_t needle_len,
                          int case_exact)
{
    char *hay_folded, *needle_folded;
    apr_size_t i;
    int found;

    if (needle_len == 0) {
        return 1;
    }
    if (case_exact) {
        return memmem(hay, hay_len, needle, needle_len) != NULL;
    }
    /* Fold copies and use memmem, which is linear, rather than a naive
     * case-insensitive scan that a hostile literal could make quadratic. */
    hay_folded = malloc(hay_len + 1);
    needle_folded = malloc(needle_len);
    if (!hay_folded || !needle_folded) {
        free(hay_folded);
        free(needle_folded);
        return 0;
    }
    for (i = 0; i < hay_len; i++) {
        hay_folded[i] = scim_fold_ascii(hay[i]);
    }
    for (i = 0; i < needle_len; i++) {
        needle_folded[i] = scim_fold_ascii(needle[i]);
    }
    found = memmem(hay_folded, hay_len, needle_folded, needle_len) != NULL;
    free(hay_folded);
    free(needle_folded);
    return found;
}

static int substring_test(scim_compare_op_t op, const json_t *value,
                          const json_t *literal, int case_exact)
{
    const char *s = json_string_value(value), *l = json_string_value(literal);
    apr_size_t slen = json_string_length(value);
    apr_size_t llen = json_string_length(literal);

    switch (op) {
    case SCIM_OP_SW:
        return slen >= llen && compare_bytes(s, llen, l, llen,
                                             case_exact) == 0;
    case SCIM_OP_EW:
        return slen >= llen && compare_bytes(s + slen - llen, llen, l, llen,
                                             case_exact) == 0;
    default:
        return contains_bytes(s, slen, l, llen, case_exact);
    }
}

/* Does the single value v satisfy "op literal" (ne is handled by the
 * caller as the negation of eq)?  A literal of another JSON kind than the
 * value never matches: RFC 7644 leaves it undefined and an error would make
 * a filter fail on one odd resource. */
static int value_satisfies(const scim_attr_t *def, scim_compare_op_t op,
                           const json_t *literal, const json_t *v)
{
    int order;

    if (op == SCIM_OP_PR) {
        return is_present(v);
    }
    if (!v || json_is_null(v) || json_is_null(literal)
        || json_is_object(v) || json_is_array(v)
        || kind_rank(v) != kind_rank(literal)) {
        return 0;
    }
    switch (op) {
    case SCIM_OP_CO:
    case SCIM_OP_SW:
    case SCIM_OP_EW:
        return json_is_string(v)
               && substring_test(op, v, literal, is_case_exact(def));
    default:
        break;
    }
    order = scim_value_compare(def, v, literal);
    switch (op) {
    case SCIM_OP_EQ:
        return order == 0;
    case SCIM_OP_GT:
        return order > 0;
    case SCIM_OP_GE:
        return order >= 0;
    case SCIM_OP_LT:
        return order < 0;
    case SCIM_OP_LE:
        return order <= 0;
    default:
        return 0;
    }
}

/* One element of an attribute's value, narrowed to the compared value: the
 * named sub-attribute, or for a complex element without one its "value"
 * (RFC 7644 3.4.2.2: "emails co ..." compares the addresses; Entra's
 * "manager eq ..." the manager's id).  "pr" looks at the element itself. */
static int element_satisfies(const json_t *element, const char *sub_name,
                             const scim_filter_t *element_filter,
                             const scim_attr_t *def, scim_compare_op_t op,
                             const json_t *literal)
{
    const json_t *v = element;
    size_t i;
    json_t *e;

    if (element_filter && !scim_filter_match_element(element_filter,
                                                     element)) {
        return 0;
    }
    if (sub_name) {
        v = json_is_object(element)
            ? scim_json_get_ci(element, sub_name, NULL) : NULL;
    }
    else if (op != SCIM_OP_PR && json_is_object(element)) {
        v = scim_json_get_ci(element, "value", NULL);
    }
    if (op != SCIM_OP_PR && json_is_array(v)) {
        /* A multi-valued sub-attribute (undeclared data): any value. */
        json_array_foreach(v, i, e) {
            if (value_satisfies(def, op, literal, e)) {
                return 1;
            }
        }
        return 0;
    }
    return value_satisfies(def, op, literal, v);
}

/* True when any value of attribute value v (each element of a multi-valued
 * attribute that passes element_filter) satisfies op. */
static int any_value_satisfies(const json_t *v, const char *sub_name,
                               const scim_filter_t *element_filter,
                               const scim_attr_t *def, scim_compare_op_t op,
                               const json_t *literal)
{
    size_t i;
    json_t *e;

    if (!json_is_array(v)) {
        return v && element_satisfies(v, sub_name, element_filter, def, op,
                                      literal);
    }
    json_array_foreach(v, i, e) {
        if (element_satisfies(e, sub_name, element_filter, def, op,
                              literal)) {
            return 1;
        }
    }
    return 0;
}

static int comparison_matches(const json_t *v, const char *sub_name,
                              const scim_filter_t *element_filter,
                              const scim_attr_t *def, scim_compare_op_t op,
                              const json_t *literal)
{
    /* null is how SCIM spells "unassigned" (RFC 7643 2.5): "eq null" holds
     * when the attribute has no value, "ne null" when it has one. */
    if (json_is_null(literal) && (op == SCIM_OP_EQ || op == SCIM_OP_NE)) {
        int present = any_value_satisfies(v, sub_name, element_filter, def,
                                          SCIM_OP_PR, NULL);
        return op == SCIM_OP_EQ ? !present : present;
    }
    /* ne is the negation of eq: an absent attribute matches, and a
     * multi-valued one matches when none of its values is equal. */
    if (op == SCIM_OP_NE) {
        return !any_value_satisfies(v, sub_name, element_filter, def,
                                    SCIM_OP_EQ, literal);
    }
    return any_value_satisfies(v, sub_name, element_filter, def, op,
                               literal);
}

/* The definition that governs comparisons on a path: the leaf, with the
 * "value" sub-attribute standing for a complex attribute. */
static const scim_attr_t *comparison_def(const scim_attr_path_t *path)
{
    const scim_attr_t *leaf = scim_attr_path_leaf(path);

    if (leaf && leaf->type == SCIM_ATTR_COMPLEX) {
        return scim_attr_find(leaf->sub_attrs, "value");
    }
    return leaf;
}

static int any_element_matches(const json_t *v, const scim_filter_t *inner)
{
    size_t i;
    json_t *e;

    if (!json_is_array(v)) {
        return scim_filter_match_element(inner, v);
    }
    json_array_foreach(v, i, e) {
        if (scim_filter_match_element(inner, e)) {
            return 1;
        }
    }
    return 0;
}

int scim_filter_match_element(const scim_filter_t *inner,
                              const json_t *element)
{
    return json_is_object(element) && scim_filter_match(inner, element);
}

int scim_filter_match(const scim_filter_t *f, const json_t *resource)
{
    const json_t *v;

    if (!f) {
        return 1;   /* no filter: every resource */
    }
    /* "and"/"or" chains lean right: walk them in a loop and recurse only
     * into the left operands, whose depth the parser bounded. */
    for (;;) {
        switch (f->kind) {
        case SCIM_FILTER_AND:
            if (!scim_filter_match(f->left, resource)) {
                return 0;
            }
            f = f->right;
            break;
        case SCIM_FILTER_OR:
            if (scim_filter_match(f->left, resource)) {
                return 1;
            }
            f = f->right;
            break;
        case SCIM_FILTER_NOT:
            return !scim_filter_match(f->left, resource);
        case SCIM_FILTER_VALUE_PATH:
            v = scim_attr_path_value(&f->path, resource);
            if (!f->has_tail) {
                return v && any_element_matches(v, f->left);
            }
            return comparison_matches(v, f->tail_sub_name, f->left,
                                      f->tail_sub, f->op, f->value);
        case SCIM_FILTER_COMPARE:
        default:
            return comparison_matches(scim_attr_path_value(&f->path, resource),
                                      f->path.sub_name, NULL,
                                      comparison_def(&f->path), f->op,
                                      f->value);
        }
    }
}

const char *scim_filter_indexed_eq(const scim_filter_t *f,
                                   const char *attr_name)
{
    const char *found;

    while (f && f->kind == SCIM_FILTER_AND) {
        found = scim_filter_indexed_eq(f->left, attr_name);
        if (found) {
            return found;
        }
        f = f->right;
    }
    if (f && f->kind == SCIM_FILTER_COMPARE && f->op == SCIM_OP_EQ
        && !f->path.schema_urn && !f->path.sub_name && f->path.attr
        && scim_streq_ci(f->path.attr_name, attr_name)
        && json_is_string(f->value)) {
        return json_string_value(f->value);
    }
    return NULL;
}

/* sub eq "x" inside a value path's inner filter (an "and" chain). */
static const char *inner_sub_eq(const scim_filter_t *f, const char *sub_name)
{
    const char *found;

    while (f && f->kind == SCIM_FILTER_AND) {
        if ((found = inner_sub_eq(f->left, sub_name))) {
            return found;
        }
        f = f->right;
    }
    if (f && f->kind == SCIM_FILTER_COMPARE && f->op == SCIM_OP_EQ
        && scim_streq_ci(f->path.attr_name, sub_name)
        && json_is_string(f->value)) {
        return json_string_value(f->value);
    }
    return NULL;
}

const char *scim_filter_indexed_sub_eq(const scim_filter_t *f,
                                       const char *attr_name,
                                       const char *sub_name)
{
    const char *found;

    while (f && f->kind == SCIM_FILTER_AND) {
        if ((found = scim_filter_indexed_sub_eq(f->left, attr_name,
                                                sub_name))) {
            return found;
        }
        f = f->right;
    }
    if (!f || f->path.schema_urn || !f->path.attr
        || !scim_streq_ci(f->path.attr_name, attr_name)) {
        return NULL;
    }
    if (f->kind == SCIM_FILTER_COMPARE) {
        return f->op == SCIM_OP_EQ && f->path.sub_name
               && scim_streq_ci(f->path.sub_name, sub_name)
               && json_is_string(f->value) ? json_string_value(f->value)
                                           : NULL;
    }
    if (f->kind != SCIM_FILTER_VALUE_PATH) {
        return NULL;
    }
    if (f->has_tail && f->op == SCIM_OP_EQ
        && scim_streq_ci(f->tail_sub_name, sub_name)
        && json_is_string(f->value)) {
        return json_string_value(f->value);
    }
    return inner_sub_eq(f->left, sub_name);
}

const json_t *scim_sort_value(const scim_attr_path_t *path,
                              const json_t *resource)
{
    const json_t *v;

    if (!path->attr_name) {
        return NULL;   /* a whole extension has no order */
    }
    v = scim_attr_path_value(path, resource);
    if (json_is_array(v)) {
        /* RFC 7644 3.4.2.3: the primary value, else the first. */
        const json_t *chosen = json_array_get(v, 0);
        size_t i;
        json_t *e;

        json_array_foreach(v, i, e) {
            if (json_is_true(scim_json_get_ci(e, "primary", NULL))) {
                chosen = e;
                break;
            }
        }
        v = chosen;
    }
    if (path->sub_name) {
        v = scim_json_get_ci(v, path->sub_name, NULL);
    }
    else if (json_is_object(v)) {
        v = scim_json_get_ci(v, "value", NULL);
    }
    if (!v || json_is_null(v) || json_is_array(v) || json_is_object(v)) {
        return NULL;
    }
    return v;
}

/* ---- Lexer -------------------------------------------------------------- */

typedef enum {
    TOK_END,
    TOK_LPAREN,
    TOK_RPAREN,
    TOK_LBRACKET,
    TOK_RBRACKET,
    TOK_STRING,    /* a JSON string, decoded */
    TOK_WORD       /* anything else up to a delimiter */
} token_kind_t;

typedef struct {
    token_kind_t kind;
    apr_size_t pos;      /* offset of the first byte */
    apr_size_t len;
    json_t *string;      /* TOK_STRING: the literal, pool-owned */
} token_t;

typedef struct {
    apr_pool_t *pool;
    const scim_resource_type_t *rt;
    const char *text;
    apr_size_t pos;                  /* next byte to lex */
    token_t tok;                     /* current token */
    int for_filter;                  /* invalidFilter, else invalidPath */
    const scim_attr_path_t *parent;  /* inside "attr[...]": attr */
    int depth;
    int nodes;
    scim_error_t *err;               /* the first error */
} parser_t;

/* At most 40 bytes of the input at pos, as printable ASCII. */
static const char *excerpt(const parser_t *ps, apr_size_t pos,
                           apr_size_t len)
{
    enum { MAX_EXCERPT = 40 };
    char *out;
    apr_size_t i, n = len > MAX_EXCERPT ? MAX_EXCERPT : len;

    out = apr_palloc(ps->pool, n + 4);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)ps->text[pos + i];
        out[i] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
    }
    strcpy(out + n, n < len ? "..." : "");
    return out;
}

/* A token for a detail message: quoted, or "the end". */
static const char *token_text(const parser_t *ps, const token_t *tok)
{
    if (tok->kind == TOK_END) {
        return "the end";
    }
    return apr_pstrcat(ps->pool, "'", excerpt(ps, tok->pos, tok->len), "'",
                       NULL);
}

/* Records the first error (with its position, 1-based) and returns NULL so
 * callers can "return fail(...)". */
static void *fail(parser_t *ps, apr_size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void *fail(parser_t *ps, apr_size_t pos, const char *fmt, ...)
{
    va_list ap;
    const char *what;

    if (ps->err) {
        return NULL;
    }
    va_start(ap, fmt);
    what = apr_pvsprintf(ps->pool, fmt, ap);
    va_end(ap);
    ps->err = scim_error_make(ps->pool, 400,
                              ps->for_filter ? SCIM_TYPE_INVALID_FILTER
                                             : SCIM_TYPE_INVALID_PATH,
                              "%s at position %" APR_SIZE_T_FMT " of the %s",
                              what, pos + 1,
                              ps->for_filter ? "filter" : "path");
    return NULL;
}

/* Decodes the JSON string whose opening quote is at start and whose
 * closing quote is at end. */
static json_t *decode_string(parser_t *ps, apr_size_t start, apr_size_t end)
{
    const char *s = ps->text;
    char *buf = apr_palloc(ps->pool, end - start);
    apr_size_t i = start + 1, n = 0, seq;
    unsigned long cp, low;

    while (i < end) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\\') {
            switch (s[i + 1]) {
            case '"': case '\\': case '/':
                buf[n++] = s[i + 1];
                break;
            case 'b': buf[n++] = '\b'; break;
            case 'f': buf[n++] = '\f'; break;
            case 'n': buf[n++] = '\n'; break;
            case 'r': buf[n++] = '\r'; break;
            case 't': buf[n++] = '\t'; break;
            case 'u':
                if (!parse_hex4(s + i + 2, &cp)) {
                    return fail(ps, i, "invalid \\u escape in string");
                }
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return fail(ps, i, "unpaired UTF-16 surrogate \\u%04lX "
                                "in string", cp);
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    /* JSON spells characters above U+FFFF as a pair. */
                    if (s[i + 6] != '\\' || s[i + 7] != 'u'
                        || !parse_hex4(s + i + 8, &low)
                        || low < 0xDC00 || low > 0xDFFF) {
                        return fail(ps, i, "unpaired UTF-16 surrogate "
                                    "\\u%04lX in string", cp);
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    i += 6;
                }
                n += utf8_encode(cp, buf + n);
                i += 4;
                break;
            default:
                return fail(ps, i, "invalid escape '\\%s' in string",
                            excerpt(ps, i + 1, 1));
            }
            i += 2;
        }
        else if (c < 0x20) {
            return fail(ps, i, "control character in string (escape it)");
        }
        else if (c < 0x80) {
            buf[n++] = (char)c;
            i++;
        }
        else {
            seq = utf8_sequence((const unsigned char *)s + i, end - i);
            if (!seq) {
                return fail(ps, i, "invalid UTF-8 in string");
            }
            memcpy(buf + n, s + i, seq);
            n += seq;
            i += seq;
        }
    }
    return scim_json_pool_own(ps->pool, json_stringn(buf, n));
}

/* Reads the next token into ps->tok; 0 on a lexical error. */
static int advance(parser_t *ps)
{
    const char *s = ps->text;
    apr_size_t i = ps->pos;

    while (is_space(s[i])) {
        i++;
    }
    memset(&ps->tok, 0, sizeof(ps->tok));
    ps->tok.pos = i;
    ps->tok.len = 1;
    switch (s[i]) {
    case '\0':
        ps->tok.kind = TOK_END;
        ps->tok.len = 0;
        break;
    case '(':
        ps->tok.kind = TOK_LPAREN;
        break;
    case ')':
        ps->tok.kind = TOK_RPAREN;
        break;
    case '[':
        ps->tok.kind = TOK_LBRACKET;
        break;
    case ']':
        ps->tok.kind = TOK_RBRACKET;
        break;
    case '"': {
        apr_size_t end = i + 1;
        while (s[end] && s[end] != '"') {
            /* Skip the escaped byte, but never a NUL. */
            end += (s[end] == '\\' && s[end + 1]) ? 2 : 1;
        }
        if (!s[end]) {
            fail(ps, i, "unterminated string");
            return 0;
        }
        ps->tok.kind = TOK_STRING;
        ps->tok.len = end + 1 - i;
        ps->tok.string = decode_string(ps, i, end);
        if (!ps->tok.string) {
            if (!ps->err) {
                fail(ps, i, "cannot store string");
            }
            return 0;
        }
        break;
    }
    default: {
        apr_size_t end = i;
        while (!is_delimiter(s[end])) {
            end++;
        }
        ps->tok.kind = TOK_WORD;
        ps->tok.len = end - i;
        break;
    }
    }
    ps->pos = i + ps->tok.len;
    return 1;
}

static int token_is(const parser_t *ps, const char *keyword)
{
    apr_size_t n = strlen(keyword);

    return ps->tok.kind == TOK_WORD && ps->tok.len == n
           && strncasecmp(ps->text + ps->tok.pos, keyword, n) == 0;
}

/* ---- Parser ------------------------------------------------------------- */

static const char *const op_names[] = {
    "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"
};

static const char *const type_names[] = {
    "string", "boolean", "decimal", "integer", "dateTime", "binary",
    "reference", "complex"
};

static scim_filter_t *new_node(parser_t *ps, scim_filter_kind_t kind,
                               apr_size_t pos)
{
    scim_filter_t *f;

    if (++ps->nodes > SCIM_FILTER_MAX_NODES) {
        return fail(ps, pos, "filter has more than %d terms",
                    SCIM_FILTER_MAX_NODES);
    }
    f = apr_pcalloc(ps->pool, sizeof(*f));
    f->kind = kind;
    return f;
}

static int enter_nesting(parser_t *ps, apr_size_t pos)
{
    if (++ps->depth > SCIM_FILTER_MAX_DEPTH) {
        fail(ps, pos, "nesting deeper than %d levels", SCIM_FILTER_MAX_DEPTH);
        return 0;
    }
    return 1;
}

static void leave_nesting(parser_t *ps)
{
    ps->depth--;
}

/* Refuses a name containing characters no attribute path has, before it
 * reaches a detail message that must stay printable. */
static int check_path_chars(parser_t *ps, apr_size_t pos, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (!is_path_char(ps->text[pos + i])) {
            fail(ps, pos + i, "invalid character in attribute name '%s'",
                 excerpt(ps, pos, len));
            return 0;
        }
    }
    return 1;
}

/* A name inside "parent[...]" or after "parent[...].": a sub-attribute of
 * parent, relative to the element.  Under an undeclared parent any name is
 * accepted, without definition. */
static int resolve_sub_attribute(parser_t *ps, apr_size_t pos,
                                 apr_size_t len,
                                 const scim_attr_path_t *parent,
                                 scim_attr_path_t *out)
{
    const char *name = apr_pstrndup(ps->pool, ps->text + pos, len);
    const scim_attr_t *def;

    memset(out, 0, sizeof(*out));
    if (!scim_attr_name_valid(name, len)) {
        fail(ps, pos, "'%s' is not a sub-attribute name of '%s'",
             excerpt(ps, pos, len), parent->attr_name);
        return 0;
    }
    def = parent->attr ? scim_attr_find(parent->attr->sub_attrs, name) : NULL;
    if (parent->attr && !def) {
        fail(ps, pos, "unknown sub-attribute '%s' of '%s'", name,
             parent->attr_name);
        return 0;
    }
    out->attr = def;
    out->attr_name = def ? def->name : name;
    return 1;
}

/* Resolves the attribute name at pos: against the resource type, or inside
 * a value filter against the parent's sub-attributes. */
static int resolve_attribute(parser_t *ps, apr_size_t pos, apr_size_t len,
                             scim_attr_path_t *out)
{
    scim_error_t *err;

    if (!check_path_chars(ps, pos, len)) {
        return 0;
    }
    if (ps->parent) {
        return resolve_sub_attribute(ps, pos, len, ps->parent, out);
    }
    err = scim_attr_path_resolve(ps->pool, ps->rt,
                                 apr_pstrndup(ps->pool, ps->text + pos, len),
                                 ps->for_filter, out);
    if (err) {
        fail(ps, pos, "%s", err->detail);
        return 0;
    }
    return 1;
}

static int is_string_like(scim_attr_type_t type)
{
    return type == SCIM_ATTR_STRING || type == SCIM_ATTR_REFERENCE
           || type == SCIM_ATTR_BINARY || type == SCIM_ATTR_DATETIME;
}

/* Refuses comparisons RFC 7644 3.4.2.2 rules out, while parsing, so a bad
 * filter is a 400 rather than an empty result. */
static int check_comparison(parser_t *ps, apr_size_t op_pos,
                            const token_t *value_tok, const char *name,
                            int complex_without_value,
                            const scim_attr_t *def, scim_compare_op_t op,
                            const json_t *literal)
{
    scim_instant_t ignored;
    int ordering = op == SCIM_OP_GT || op == SCIM_OP_GE || op == SCIM_OP_LT
                   || op == SCIM_OP_LE;
    int substring = op == SCIM_OP_CO || op == SCIM_OP_SW || op == SCIM_OP_EW;

    if (op == SCIM_OP_PR) {
        return 1;
    }
    if (complex_without_value) {
        fail(ps, op_pos, "'%s' is a complex attribute: compare one of its "
             "sub-attributes", name);
        return 0;
    }
    if (!def) {
        return 1;
    }
    if ((ordering && (def->type == SCIM_ATTR_BOOLEAN
                      || def->type == SCIM_ATTR_BINARY))
        || (substring && !is_string_like(def->type))) {
        fail(ps, op_pos, "operator '%s' does not apply to the %s attribute "
             "'%s'", op_names[op], type_names[def->type], name);
        return 0;
    }
    if (def->type == SCIM_ATTR_DATETIME && !substring
        && json_is_string(literal)
        && !json_datetime(literal, &ignored)) {
        fail(ps, value_tok->pos, "%s is not a dateTime such as "
             "2011-05-13T04:42:34Z (attribute '%s')",
             token_text(ps, value_tok), name);
        return 0;
    }
    return 1;
}

/* Advances *i over ASCII digits; returns how many. */
static apr_size_t skip_digits(const char *s, apr_size_t len, apr_size_t *i)
{
    apr_size_t start = *i;

    while (*i < len && is_ascii_digit(s[*i])) {
        (*i)++;
    }
    return *i - start;
}

/* JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int is_json_number(const char *s, apr_size_t len)
{
    apr_size_t i = 0;

    if (i < len && s[i] == '-') {
        i++;
    }
    if (i < len && s[i] == '0') {
        i++;
    }
    else if (!skip_digits(s, len, &i)) {
        return 0;
    }
    if (i < len && s[i] == '.') {
        i++;
        if (!skip_digits(s, len, &i)) {
            return 0;
        }
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        if (!skip_digits(s, len, &i)) {
            return 0;
        }
    }
    return i == len;
}

/* compValue: a JSON string, number, true, false or null.  Consumes it. */
static json_t *parse_literal(parser_t *ps)
{
    const char *word = ps->text + ps->tok.pos;
    apr_size_t len = ps->tok.len, bad;
    json_t *value;

    if (ps->tok.kind == TOK_STRING) {
        value = ps->tok.string;
    }
    else if (ps->tok.kind != TOK_WORD) {
        return fail(ps, ps->tok.pos, "missing value before %s",
                    token_text(ps, &ps->tok));
    }
    else if (token_is(ps, "and") || token_is(ps, "or")) {
        /* Never a bare value: in "userName eq  and active eq true" (a
         * client's empty template variable) the value is missing, and
         * saying so beats comparing userName with "and" and then tripping
         * over what follows.  A value spelled like these words can still
         * be quoted. */
        return fail(ps, ps->tok.pos, "missing value before '%s'",
                    excerpt(ps, ps->tok.pos, len));
    }
    else if (token_is(ps, "true")) {
        /* Any case: ABNF literals are case-insensitive (RFC 5234), and
         * Entra writes "True". */
        value = json_true();
    }
    else if (token_is(ps, "false")) {
        value = json_false();
    }
    else if (token_is(ps, "null")) {
        value = json_null();
    }
    else if (is_json_number(word, len)) {
        /* jansson converts independently of the C locale's decimal
         * point. */
        value = scim_json_pool_own(ps->pool, json_loadb(word, len, JSON_DECODE_ANY,
                                                NULL));
        if (!value) {
            return fail(ps, ps->tok.pos, "number '%s' is out of range",
                        excerpt(ps, ps->tok.pos, len));
        }
    }
    else {
        /* An unquoted word is taken as a string: Entra's documentation
         * shows "externalId eq jyoung" and clients copy it.  Words never
         * contain spaces, quotes, brackets or parentheses, so this cannot
         * swallow the rest of the filter. */
        bad = utf8_invalid_at(word, len);
        if (bad < len) {
            return fail(ps, ps->tok.pos + bad, "invalid UTF-8 in value");
        }
        value = scim_json_pool_own(ps->pool, json_stringn(word, len));
        if (!value) {
            return fail(ps, ps->tok.pos, "cannot store value");
        }
    }
    if (!advance(ps)) {
        return NULL;
    }
    return value;
}

static int lookup_operator(const parser_t *ps, scim_compare_op_t *op)
{
    int i;

    for (i = 0; i <= SCIM_OP_PR; i++) {
        if (token_is(ps, op_names[i])) {
            *op = (scim_compare_op_t)i;
            return 1;
        }
    }
    return 0;
}

/* "op value" or "pr" after an attribute; fills node->op and node->value. */
static scim_filter_t *parse_comparison(parser_t *ps, scim_filter_t *node,
                                       const char *name,
                                       const scim_attr_t *def,
                                       int complex_without_value)
{
    apr_size_t op_pos = ps->tok.pos;
    token_t value_tok;

    if (ps->tok.kind != TOK_WORD) {
        return fail(ps, op_pos, "expected an operator after '%s', found %s",
                    name, token_text(ps, &ps->tok));
    }
    if (!lookup_operator(ps, &node->op)) {
        return fail(ps, op_pos, "unknown operator '%s' (expected eq, ne, "
                    "co, sw, ew, gt, ge, lt, le or pr)",
                    excerpt(ps, op_pos, ps->tok.len));
    }
    if (!advance(ps)) {
        return NULL;
    }
    if (node->op == SCIM_OP_PR) {
        return node;
    }
    value_tok = ps->tok;
    node->value = parse_literal(ps);
    if (!node->value
        || !check_comparison(ps, op_pos, &value_tok, name,
                             complex_without_value, def, node->op,
                             node->value)) {
        return NULL;
    }
    return node;
}

static scim_filter_t *parse_logical(parser_t *ps, scim_filter_kind_t kind);

/* "[" valFilter "]" after the attribute path; the current token is "[".
 * Leaves the "]" as the current token, so the caller can look at what
 * follows it immediately (a ".sub" tail). */
static scim_filter_t *parse_value_filter(parser_t *ps,
                                         const scim_attr_path_t *path,
                                         apr_size_t path_pos)
{
    const scim_attr_path_t *outer = ps->parent;
    apr_size_t open = ps->tok.pos;
    scim_filter_t *inner;

    if (outer) {
        return fail(ps, open, "a value filter cannot be nested in another");
    }
    if (!path->attr_name || path->sub_name
        || (path->attr && path->attr->type != SCIM_ATTR_COMPLEX)) {
        return fail(ps, open, "'%s' is not a complex attribute and cannot "
                    "have a value filter", excerpt(ps, path_pos,
                                                   open - path_pos));
    }
    if (!enter_nesting(ps, open) || !advance(ps)) {
        return NULL;
    }
    ps->parent = path;
    inner = parse_logical(ps, SCIM_FILTER_OR);
    ps->parent = outer;
    if (!inner) {
        return NULL;
    }
    if (ps->tok.kind != TOK_RBRACKET) {
        return fail(ps, ps->tok.pos, "expected ']' to close the '[' at "
                    "position %" APR_SIZE_T_FMT ", found %s", open + 1,
                    token_text(ps, &ps->tok));
    }
    leave_nesting(ps);
    return inner;
}

/* The ".sub" right after "]", if any.  Returns 0 on error. */
static int parse_tail(parser_t *ps, const scim_attr_path_t *parent,
                      scim_attr_path_t *tail)
{
    apr_size_t start, end;

    memset(tail, 0, sizeof(*tail));
    if (ps->text[ps->pos] != '.') {
        return 1;
    }
    start = end = ps->pos + 1;
    while (!is_delimiter(ps->text[end])) {
        end++;
    }
    if (!check_path_chars(ps, start, end - start)
        || !resolve_sub_attribute(ps, start, end - start, parent, tail)) {
        return 0;
    }
    ps->pos = end;
    return 1;
}

/* attrPath followed by "op value", "pr", or "[" valFilter "]" with an
 * optional ".sub op value" (Entra: emails[type eq "work"].value eq "x"). */
static scim_filter_t *parse_attribute_expression(parser_t *ps)
{
    apr_size_t pos = ps->tok.pos, len = ps->tok.len;
    const char *written = excerpt(ps, pos, len);
    const scim_attr_t *def;
    scim_attr_path_t tail;
    scim_filter_t *node = new_node(ps, SCIM_FILTER_COMPARE, pos);

    if (!node || !resolve_attribute(ps, pos, len, &node->path)
        || !advance(ps)) {
        return NULL;
    }
    if (ps->tok.kind == TOK_LBRACKET) {
        node->kind = SCIM_FILTER_VALUE_PATH;
        node->left = parse_value_filter(ps, &node->path, pos);
        if (!node->left || !parse_tail(ps, &node->path, &tail)
            || !advance(ps)) {
            return NULL;
        }
        if (!tail.attr_name) {
            return node;
        }
        node->has_tail = 1;
        node->tail_sub_name = tail.attr_name;
        node->tail_sub = tail.attr;
        return parse_comparison(ps, node, tail.attr_name, tail.attr, 0);
    }
    def = comparison_def(&node->path);
    return parse_comparison(ps, node, written, def,
                            node->path.attr && !node->path.sub_name
                            && node->path.attr->type == SCIM_ATTR_COMPLEX
                            && !def);
}

/* "(" FILTER ")", "not" "(" FILTER ")", or an attribute expression. */
static scim_filter_t *parse_primary(parser_t *ps)
{
    apr_size_t pos = ps->tok.pos;
    scim_filter_t *node = NULL, *inner;

    if (token_is(ps, "not")) {
        node = new_node(ps, SCIM_FILTER_NOT, pos);
        if (!node || !advance(ps)) {
            return NULL;
        }
        if (ps->tok.kind != TOK_LPAREN) {
            return fail(ps, ps->tok.pos, "'not' must be followed by '(', "
                        "found %s", token_text(ps, &ps->tok));
        }
        pos = ps->tok.pos;
    }
    if (ps->tok.kind == TOK_LPAREN) {
        if (!enter_nesting(ps, pos) || !advance(ps)) {
            return NULL;
        }
        inner = parse_logical(ps, SCIM_FILTER_OR);
        if (!inner) {
            return NULL;
        }
        if (ps->tok.kind != TOK_RPAREN) {
            return fail(ps, ps->tok.pos, "expected ')' to close the '(' at "
                        "position %" APR_SIZE_T_FMT ", found %s", pos + 1,
                        token_text(ps, &ps->tok));
        }
        leave_nesting(ps);
        if (!advance(ps)) {
            return NULL;
        }
        if (node) {
            node->left = inner;
            return node;
        }
        return inner;
    }
    if (ps->tok.kind == TOK_WORD && !token_is(ps, "and")
        && !token_is(ps, "or")) {
        return parse_attribute_expression(ps);
    }
    return fail(ps, pos, "expected an attribute, '(' or 'not', found %s",
                token_text(ps, &ps->tok));
}

/* An "or" chain of "and" chains of primaries (precedence not > and > or).
 * The chain is built iteratively and leans right: a or b or c is
 * OR(a, OR(b, c)). */
static scim_filter_t *parse_logical(parser_t *ps, scim_filter_kind_t kind)
{
    const char *keyword = kind == SCIM_FILTER_OR ? "or" : "and";
    scim_filter_t *root, **slot = &root, *node, *operand;

    root = kind == SCIM_FILTER_OR ? parse_logical(ps, SCIM_FILTER_AND)
                                  : parse_primary(ps);
    if (!root) {
        return NULL;
    }
    while (token_is(ps, keyword)) {
        node = new_node(ps, kind, ps->tok.pos);
        if (!node || !advance(ps)) {
            return NULL;
        }
        operand = kind == SCIM_FILTER_OR ? parse_logical(ps, SCIM_FILTER_AND)
                                         : parse_primary(ps);
        if (!operand) {
            return NULL;
        }
        node->left = *slot;
        node->right = operand;
        *slot = node;
        slot = &node->right;
    }
    return root;
}

static void parser_init(parser_t *ps, apr_pool_t *p,
                        const scim_resource_type_t *rt, const char *text,
                        int for_filter)
{
    memset(ps, 0, sizeof(*ps));
    ps->pool = p;
    ps->rt = rt;
    ps->text = text;
    ps->for_filter = for_filter;
}

scim_error_t *scim_filter_parse(apr_pool_t *p, const scim_resource_type_t *rt,
                                const char *text, scim_filter_t **out)
{
    parser_t ps;
    scim_filter_t *f;

    *out = NULL;
    parser_init(&ps, p, rt, text ? text : "", 1);
    if (!advance(&ps)) {
        return ps.err;
    }
    if (ps.tok.kind == TOK_END) {
        fail(&ps, 0, "empty filter");
        return ps.err;
    }
    f = parse_logical(&ps, SCIM_FILTER_OR);
    if (f && ps.tok.kind != TOK_END) {
        if (ps.tok.kind == TOK_RPAREN) {
            fail(&ps, ps.tok.pos, "unbalanced ')'");
        }
        else {
            fail(&ps, ps.tok.pos, "expected 'and', 'or' or the end, "
                 "found %s", token_text(&ps, &ps.tok));
        }
    }
    if (ps.err) {
        return ps.err;
    }
    *out = f;
    return NULL;
}

scim_error_t *scim_patch_path_parse(apr_pool_t *p,
                                    const scim_resource_type_t *rt,
                                    const char *text, scim_patch_path_t *out)
{
    parser_t ps;
    const char *bracket;
    apr_size_t path_len;
    scim_attr_path_t tail;

    memset(out, 0, sizeof(*out));
    parser_init(&ps, p, rt, text ? text : "", 0);
    if (!text || !*text) {
        fail(&ps, 0, "empty path");
        return ps.err;
    }
    bracket = strchr(text, '[');
    path_len = bracket ? (apr_size_t)(bracket - text) : strlen(text);
    if (!resolve_attribute(&ps, 0, path_len, &out->path)) {
        return ps.err;
    }
    if (!bracket) {
        return NULL;
    }
    ps.pos = path_len;
    if (!advance(&ps)) {
        return ps.err;
    }
    out->value_filter = parse_value_filter(&ps, &out->path, 0);
    if (!out->value_filter || !parse_tail(&ps, &out->path, &tail)) {
        return ps.err;
    }
    if (text[ps.pos]) {
        fail(&ps, ps.pos, "unexpected '%s' after the value filter",
             excerpt(&ps, ps.pos, strlen(text + ps.pos)));
        return ps.err;
    }
    out->sub_name = tail.attr_name;
    out->sub = tail.attr;
    return NULL;
}
