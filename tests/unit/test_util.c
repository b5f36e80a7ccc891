/* The shared helpers of scim_util.h: pool-owned JSON, ASCII case folding,
 * RFC 3339 date-times, the clock and new ids. */

#include <stdlib.h>
#include <string.h>

#include <apr_pools.h>
#include <apr_strings.h>

#include "scim_util.h"
#include "suites.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* ---- pool-owned JSON ---------------------------------------------------- */

START_TEST(json_released_with_pool)
{
    apr_pool_t *sub;
    json_t *v = json_object();

    apr_pool_create(&sub, pool);
    json_incref(v);                        /* our reference, to watch it */
    ck_assert_ptr_eq(scim_json_pool_own(sub, v), v);
    ck_assert_int_eq(v->refcount, 2);
    apr_pool_clear(sub);
    ck_assert_int_eq(v->refcount, 1);      /* the pool's reference is gone */
    json_decref(v);
    ck_assert_ptr_null(scim_json_pool_own(sub, NULL));
    apr_pool_destroy(sub);
}
END_TEST

/* ---- ASCII case --------------------------------------------------------- */

START_TEST(fold_ascii_only)
{
    ck_assert_int_eq(scim_fold_ascii('A'), 'a');
    ck_assert_int_eq(scim_fold_ascii('Z'), 'z');
    ck_assert_int_eq(scim_fold_ascii('a'), 'a');
    ck_assert_int_eq(scim_fold_ascii('@'), '@');
    ck_assert_int_eq(scim_fold_ascii('['), '[');
    /* bytes of UTF-8 sequences stay as they are, whatever the locale */
    ck_assert_int_eq(scim_fold_ascii((char)0xC3), (char)0xC3);
    ck_assert_int_eq(scim_fold_ascii((char)0x80), (char)0x80);

    ck_assert_str_eq(scim_fold_case(pool, "MiXeD@Ex.COM"), "mixed@ex.com");
    /* "ÄB" in UTF-8: only the B folds */
    ck_assert_str_eq(scim_fold_case(pool, "\xC3\x84" "B"), "\xC3\x84" "b");
    ck_assert_str_eq(scim_fold_case(pool, ""), "");
}
END_TEST

START_TEST(case_insensitive_equality)
{
    ck_assert(scim_streq_ci("userName", "USERNAME"));
    ck_assert(scim_streq_ci("", ""));
    ck_assert(!scim_streq_ci("user", "userName"));
    ck_assert(!scim_streq_ci("userName", "user"));
    ck_assert(!scim_streq_ci("\xC3\xA4", "\xC3\x84"));   /* ä, Ä: not ASCII */
    ck_assert(scim_streq_ci(NULL, NULL));
    ck_assert(!scim_streq_ci(NULL, ""));
    ck_assert(!scim_streq_ci("", NULL));
}
END_TEST

/* ---- dateTime ----------------------------------------------------------- */

static int parses(const char *s)
{
    return scim_datetime_parse(s, strlen(s), NULL);
}

static scim_instant_t instant(const char *s)
{
    scim_instant_t t;

    ck_assert_msg(scim_datetime_parse(s, strlen(s), &t), "%s", s);
    return t;
}

static int compare(const char *a, const char *b)
{
    scim_instant_t ta = instant(a), tb = instant(b);

    return scim_instant_compare(&ta, &tb);
}

START_TEST(datetime_calendar)
{
    ck_assert(parses("2024-02-29T00:00:00Z"));        /* leap year */
    ck_assert(parses("2000-02-29T00:00:00Z"));        /* 400 rule */
    ck_assert(!parses("2023-02-29T00:00:00Z"));
    ck_assert(!parses("1900-02-29T00:00:00Z"));       /* 100 rule */
    ck_assert(!parses("2024-02-31T00:00:00Z"));
    ck_assert(!parses("2024-04-31T00:00:00Z"));
    ck_assert(parses("2024-12-31T00:00:00Z"));
    ck_assert(!parses("2024-13-01T00:00:00Z"));
    ck_assert(!parses("2024-00-01T00:00:00Z"));
    ck_assert(!parses("2024-01-00T00:00:00Z"));
    ck_assert(parses("0001-01-01T00:00:00Z"));
    ck_assert(!parses("0000-01-01T00:00:00Z"));
    ck_assert(parses("9999-12-31T23:59:59Z"));
    ck_assert(!parses("24-01-01T00:00:00Z"));
    ck_assert(!parses("+2024-01-01T00:00:00Z"));
}
END_TEST

START_TEST(datetime_clock)
{
    ck_assert(parses("2024-01-01T23:59:59Z"));
    ck_assert(!parses("2024-01-01T24:00:00Z"));
    ck_assert(!parses("2024-01-01T00:60:00Z"));
    ck_assert(parses("2016-12-31T23:59:60Z"));        /* leap second */
    ck_assert(!parses("2024-01-01T00:00:61Z"));
    ck_assert(!parses("2024-01-01T0:00:00Z"));
    ck_assert(!parses("2024-01-01T00:00Z"));          /* seconds required */
    /* a leap second is the instant after 23:59:59 */
    ck_assert_int_eq(compare("2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z"),
                     0);
}
END_TEST

START_TEST(datetime_fraction)
{
    scim_instant_t t = instant("2024-01-01T00:00:00.5Z");

    ck_assert_int_eq(t.nanos, 500000000);
    ck_assert_int_eq(instant("2024-01-01T00:00:00.123456789Z").nanos,
                     123456789);
    /* past nanoseconds: read, ignored */
    ck_assert_int_eq(instant("2024-01-01T00:00:00.1234567891234Z").nanos,
                     123456789);
    ck_assert(!parses("2024-01-01T00:00:00.Z"));
    ck_assert(!parses("2024-01-01T00:00:00,5Z"));
    ck_assert(!parses("2024-01-01T00:00:00.5.5Z"));
    ck_assert_int_lt(compare("2024-01-01T00:00:00.1Z",
                             "2024-01-01T00:00:00.10001Z"), 0);
    ck_assert_int_eq(compare("2024-01-01T00:00:00.100Z",
                             "2024-01-01T00:00:00.1Z"), 0);
}
END_TEST

START_TEST(datetime_offset)
{
    ck_assert(parses("2024-01-01T00:00:00Z"));
    ck_assert(parses("2024-01-01t00:00:00z"));        /* RFC 3339 5.6 note */
    ck_assert(parses("2024-01-01T00:00:00+23:59"));
    ck_assert(parses("2024-01-01T00:00:00-00:00"));
    /* the offset is required: see scim_util.h */
    ck_assert(!parses("2024-01-01T00:00:00"));
    ck_assert(!parses("2024-01-01T00:00:00.5"));
    ck_assert(!parses("2024-01-01T00:00:00+24:00"));
    ck_assert(!parses("2024-01-01T00:00:00+01:60"));
    ck_assert(!parses("2024-01-01T00:00:00+0100"));
    ck_assert(!parses("2024-01-01T00:00:00+01"));
    ck_assert(!parses("2024-01-01T00:00:00ZZ"));
    ck_assert(!parses("2024-01-01T00:00:00Z "));
    ck_assert(!parses("2024-01-01 00:00:00Z"));       /* "T" only */
    ck_assert(!parses(""));

    ck_assert_int_eq(compare("2024-03-01T00:30:00Z",
                             "2024-02-29T23:30:00-01:00"), 0);
    ck_assert_int_eq(compare("2011-05-13T10:12:34+05:30",
                             "2011-05-13T04:42:34Z"), 0);
    ck_assert_int_lt(compare("2011-05-13T05:00:00+02:00",
                             "2011-05-13T04:00:00Z"), 0);
    ck_assert_int_gt(compare("2012-01-01T00:00:00Z",
                             "2011-12-31T23:59:59Z"), 0);
}
END_TEST

START_TEST(datetime_bounded_by_length)
{
    static const char text[] = "2024-01-01T00:00:00Zjunk";

    /* the length, not a NUL, ends the value */
    ck_assert(scim_datetime_parse(text, 20, NULL));
    ck_assert(!scim_datetime_parse(text, 19, NULL));
    ck_assert(!scim_datetime_parse(text, sizeof(text) - 1, NULL));
    ck_assert(!scim_datetime_parse("2024-01-01T00:00:00Z\0", 21, NULL));
}
END_TEST

/* ---- clock and ids ------------------------------------------------------ */

START_TEST(now_and_ids)
{
    const char *now = scim_now(pool), *id = scim_new_id(pool);
    const char *hex = "0123456789abcdef";
    int i;

    /* the form meta carries, which the parser reads back */
    ck_assert_int_eq(strlen(now), 24);
    ck_assert_int_eq(now[23], 'Z');
    ck_assert(parses(now));

    ck_assert_int_eq(strlen(id), 36);
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            ck_assert_int_eq(id[i], '-');
        }
        else {
            ck_assert_ptr_nonnull(strchr(hex, id[i]));
        }
    }
    ck_assert_int_eq(id[14], '7');                     /* version 7 */
    ck_assert_ptr_nonnull(strchr("89ab", id[19]));     /* RFC 9562 variant */
    ck_assert_str_ne(id, scim_new_id(pool));
    /* the first 48 bits are the time in milliseconds: an id made later
     * sorts after (creates append to the indexes on ids) */
    {
        char stamp[13];
        apr_uint64_t ms = (apr_uint64_t)apr_time_as_msec(apr_time_now());
        const char *later;

        snprintf(stamp, sizeof(stamp), "%08x%04x", (unsigned)(ms >> 16),
                 (unsigned)(ms & 0xffff));
        ck_assert(strncmp(id, stamp, 8) <= 0);
        apr_sleep(apr_time_from_msec(2));
        later = scim_new_id(pool);
        ck_assert_int_lt(strcmp(id, later), 0);
    }
}
END_TEST

/* ---- compact JSON text -------------------------------------------------- */

/* scim_json_dump_compact gives json_dumps(JSON_COMPACT)'s bytes. */
static void assert_dumps_as_jansson(const json_t *v)
{
    char *ours, *theirs = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t len = 0;

    ck_assert_ptr_nonnull(theirs);
    ours = scim_json_dump_compact(v, &len);
    ck_assert_ptr_nonnull(ours);
    ck_assert_str_eq(ours, theirs);
    ck_assert_uint_eq(len, strlen(theirs));
    free(ours);
    free(theirs);
}

START_TEST(json_dump_matches_jansson)
{
    char every[128], *big;
    json_t *doc, *nest, *arr;
    int i;

    /* every ASCII byte, NUL and DEL included, in a value and in a key */
    for (i = 0; i < 128; i++) {
        every[i] = (char)i;
    }
    doc = json_object();
    json_object_set_new(doc, "every", json_stringn(every, sizeof(every)));
    json_object_setn_new(doc, every + 1, sizeof(every) - 1,
                         json_string("key"));
    json_object_set_new(doc, "utf8", json_string("J\xc3\xa9r\xc3\xb4me "
                        "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 /"));
    json_object_set_new(doc, "empty", json_string(""));
    json_object_set_new(doc, "ints", json_pack("[I,I,I,I]", (json_int_t)0,
                        (json_int_t)-42, (json_int_t)9223372036854775807LL,
                        (json_int_t)(-9223372036854775807LL - 1)));
    json_object_set_new(doc, "reals", json_pack("[f,f,f,f,f]", 0.1, 3.0,
                        -0.0, 1e300, 1.5e-7));
    json_object_set_new(doc, "atoms", json_pack("[b,b,n]", 1, 0));
    json_object_set_new(doc, "hollow", json_pack("{s:{},s:[]}", "o", "a"));
    assert_dumps_as_jansson(doc);

    /* past the first buffer, and nested */
    big = malloc(100000);
    for (i = 0; i < 99999; i++) {
        big[i] = "ab\"\\\n\001cd\xc3\xa9"[i % 10];
    }
    big[99999] = '\0';
    big[99998] = 'x';          /* no cut UTF-8 sequence at the end */
    json_object_set_new(doc, "big", json_string_nocheck(big));
    nest = arr = json_array();
    for (i = 0; i < 200; i++) {
        json_t *next = json_array();

        json_array_append_new(nest, json_pack("{s:i}", "depth", i));
        json_array_append_new(nest, next);
        nest = next;
    }
    json_object_set_new(doc, "deep", arr);
    assert_dumps_as_jansson(doc);
    json_decref(doc);
    free(big);

    /* every escaped byte at every place of the eight bytes the encoder
     * reads at once, among plain ASCII and UTF-8 (bytes of 0x80 and up) */
    for (i = 0; i < 34; i++) {
        unsigned char escaped = i < 32 ? (unsigned char)i : i == 32 ? '"' : '\\';
        int at;

        for (at = 0; at < 17; at++) {
            char text[20] = "abc\xc3\xa9 xyz\xe6\x97\xa5 123 ";
            int k;

            /* the UTF-8 sequence the byte lands in becomes dots */
            for (k = at; k > 0 && ((unsigned char)text[k] & 0xC0) == 0x80;
                 k--) {
            }
            if ((unsigned char)text[k] & 0x80) {
                do {
                    text[k++] = '.';
                } while (k < 19 && ((unsigned char)text[k] & 0xC0) == 0x80);
            }
            text[at] = (char)escaped;
            doc = json_stringn(text, 19);
            ck_assert_ptr_nonnull(doc);
            assert_dumps_as_jansson(doc);
            json_decref(doc);
        }
    }

    /* a value alone */
    doc = json_string("alone \"quoted\"");
    assert_dumps_as_jansson(doc);
    json_decref(doc);
    ck_assert_ptr_null(scim_json_dump_compact(NULL, NULL));
}
END_TEST

/* scim_json_load_stored reads what json_loadb(text, len, 0) reads. */
static void assert_loads_as_jansson(const char *text)
{
    json_t *ours = scim_json_load_stored(text, strlen(text));
    json_t *theirs = json_loadb(text, strlen(text), 0, NULL);

    if (!theirs) {
        ck_assert_msg(!ours, "read what jansson refuses: %s", text);
    }
    else {
        ck_assert_msg(ours && json_equal(ours, theirs), "differs: %s", text);
    }
    json_decref(ours);
    json_decref(theirs);
}

START_TEST(json_load_matches_jansson)
{
    static const char *const texts[] = {
        "{}", "[]", " { } ", "{\"a\":1}", "[1,-2,0,-0,9223372036854775807]",
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        "\"userName\":\"bjensen@example.com\",\"name\":{\"givenName\":"
        "\"Barbara\",\"familyName\":\"Jensen\"},\"active\":true,\"emails\":"
        "[{\"value\":\"b@example.com\",\"type\":\"work\",\"primary\":true}],"
        "\"x\":null,\"f\":false}",
        "{\"esc\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9 \\u65E5 "
        "\\ud83d\\ude00 \\u0001\"}",
        "{\"J\xc3\xa9r\xc3\xb4me\":\"\xe6\x97\xa5\xf0\x9f\x98\x80\"}",
        "{\"dup\":1,\"dup\":2}", "{\"\":\"\"}", " [ 1 , { \"a\" : [ ] } ]\n",
        "{\"k\\u00e9y\":\"v\\nw\",\"k\\\"2\":{\"\\t\":\"\\/\"}}",
        NULL,   /* above: read by the fast reader itself */
        "{\"real\":1.5}", "{\"exp\":1e3}", "[0.0]",
        /* refused, or not this reader's: jansson decides */
        "", "1", "\"alone\"", "true", "{", "[1,]", "{\"a\":}", "{\"a\" 1}",
        "{\"a\":1,}", "[01]", "[-]", "[+1]", "[1]x", "{\"a\":tru}",
        "{\"nul\":\"\\u0000\"}", "{\"\\u0000\":1}", "{\"lone\":\"\\ud800\"}",
        "{\"low\":\"\\udc00\"}", "{\"bad\":\"\\x\"}", "{\"hex\":\"\\u12G4\"}",
        "{\"ctl\":\"a\x01\"}", "{\"overlong\":\"\xc0\xaf\"}",
        "{\"surrogate\":\"\xed\xa0\x80\"}", "{\"cut\":\"\xe6\x97\"}",
        "[99999999999999999999]", "{\"open\":\"never closed}",
    };
    char deep[2 * 2100 + 1];
    size_t i, depth;

    for (i = 0; texts[i]; i++) {
        json_t *fast = scim_json_load_fast(texts[i], strlen(texts[i]));

        ck_assert_msg(fast != NULL, "left to jansson: %s", texts[i]);
        json_decref(fast);
        assert_loads_as_jansson(texts[i]);
    }
    for (i++; i < sizeof(texts) / sizeof(texts[0]); i++) {
        assert_loads_as_jansson(texts[i]);
    }
    /* nesting past the fast reader's depth (512), and past jansson's */
    for (depth = 600; depth <= 2100; depth += 1500) {
        memset(deep, '[', depth);
        memset(deep + depth, ']', depth);
        deep[2 * depth] = '\0';
        assert_loads_as_jansson(deep);
    }
}
END_TEST

/* scim_json_string takes and refuses what json_string does. */
START_TEST(json_string_checks_as_jansson)
{
    static const char *const texts[] = {
        "", "plain ASCII, longer than a word", "J\xc3\xa9r\xc3\xb4me",
        "\xe6\x97\xa5\xe6\x9c\xac and more ASCII after it",
        "\xf0\x9f\x98\x80", "12345678\xc3\xa9", "1234567\xc3\xa9",
        "ASCII then a cut \xe6\x97", "\xc0\xaf overlong", "\xed\xa0\x80",
        "\xf4\x90\x80\x80 past U+10FFFF", "\xff", "12345678\x80",
        "\x7f and \x01 control bytes are valid",
    };
    size_t i;

    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        json_t *ours = scim_json_string(texts[i]);
        json_t *theirs = json_string(texts[i]);

        ck_assert_msg(!ours == !theirs, "differs on %zu", i);
        ck_assert(!ours || json_equal(ours, theirs));
        json_decref(ours);
        json_decref(theirs);
    }
    ck_assert_ptr_null(scim_json_string(NULL));
}
END_TEST

/* What scim_json_split_object accepts, parse-then-dump gives back to the
 * byte, and its members, joined, are the text; -1 otherwise. */
static int split_checked(const char *text)
{
    scim_json_member_t members[8];
    int n = scim_json_split_object(text, strlen(text), members, 8), i;
    const char *joined = "{";
    json_t *value;
    char *dumped;

    if (n < 0) {
        return n;
    }
    value = scim_json_load_stored(text, strlen(text));
    ck_assert_msg(value != NULL, "split what does not parse: %s", text);
    dumped = scim_json_dump_compact(value, NULL);
    ck_assert_msg(strcmp(dumped, text) == 0, "split what dumps otherwise: "
                  "%s -> %s", text, dumped);
    ck_assert_int_eq(n, (int)json_object_size(value));
    for (i = 0; i < n; i++) {
        const scim_json_member_t *m = &members[i];
        char *key = apr_pstrndup(pool, m->key, m->key_len);

        ck_assert_ptr_eq(m->text + 1, m->key);
        ck_assert_ptr_eq(m->value, m->key + m->key_len + 2);
        ck_assert_uint_eq(m->len, m->key_len + 3 + m->value_len);
        ck_assert_ptr_nonnull(json_object_get(value, key));
        joined = apr_pstrcat(pool, joined, i ? "," : "",
                             apr_pstrndup(pool, m->text, m->len), NULL);
    }
    ck_assert_str_eq(apr_pstrcat(pool, joined, "}", NULL), text);
    free(dumped);
    json_decref(value);
    return n;
}

START_TEST(json_split_serves_only_what_dumps_back)
{
    static const struct {
        const char *text;
        int members;            /* -1: refused */
    } cases[] = {
        { "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
          "\"userName\":\"bjensen\",\"name\":{\"givenName\":\"Barbara\"},"
          "\"active\":true,\"emails\":[{\"value\":\"b@example.com\","
          "\"primary\":false}],\"x\":null,\"n\":-42,\"z\":0}", 8 },
        { "{\"esc\":\"q\\\" b\\\\ \\b\\f\\n\\r\\t \\u0001\\u001F\\u007F\"}",
          -1 },                 /* DEL is not escaped by the encoder */
        { "{\"esc\":\"q\\\" b\\\\ \\b\\f\\n\\r\\t \\u0001\\u001F \x7f\"}", 1 },
        { "{\"J\xc3\xa9r\xc3\xb4me\":\"\xe6\x97\xa5\xf0\x9f\x98\x80\"}", 1 },
        { "{\"\":\"\",\"deep\":[[[[1]]]]}", 2 },
        { "{\"s\":\"[{\\\"not\\\":{}}]\"}", 1 },    /* braces in a string */
        /* empty values (the default view drops them) */
        { "{}", -1 }, { "{\"a\":[]}", -1 }, { "{\"a\":{}}", -1 },
        { "{\"a\":[1,{}]}", -1 }, { "{\"a\":{\"b\":[]}}", -1 },
        /* not as the encoder writes */
        { " {\"a\":1}", -1 }, { "{\"a\": 1}", -1 }, { "{\"a\":1} ", -1 },
        { "{\"a\":1,\"b\":[1, 2]}", -1 }, { "{\"s\":\"\\/\"}", -1 },
        { "{\"s\":\"\\u0008\"}", -1 }, { "{\"s\":\"\\u001f\"}", -1 },
        { "{\"s\":\"\\u00e9\"}", -1 }, { "{\"s\":\"\\u0000\"}", -1 },
        { "{\"s\":\"\\ud83d\\ude00\"}", -1 }, { "{\"s\":\"a\x01\"}", -1 },
        { "{\"r\":1.5}", -1 }, { "{\"r\":1e3}", -1 }, { "{\"r\":-0}", -1 },
        { "{\"r\":01}", -1 }, { "{\"r\":+1}", -1 },
        { "{\"r\":1234567890123456789}", -1 },
        /* names: escaped, repeated */
        { "{\"a\\n\":1}", -1 }, { "{\"a\":1,\"a\":2}", -1 },
        { "{\"a\":[{\"k\":1,\"j\":2,\"k\":3}]}", -1 },
        { "{\"a\":{\"k\\t\":1}}", -1 }, { "{\"a\":{\"k\":{\"k\":1}}}", 1 },
        /* not JSON */
        { "", -1 }, { "[1]", -1 }, { "{\"a\":tru}", -1 }, { "{\"a\":1", -1 },
        { "{\"a\":[1}", -1 }, { "{\"a\":{\"b\"}}", -1 }, { "{\"a\":1,}", -1 },
        { "{\"a\":\"open}", -1 }, { "{\"a\":1}x", -1 },
        { "{\"bad\":\"\xc0\xaf\"}", -1 }, { "{\"cut\":\"\xe6\x97\"}", -1 },
        /* more members than room for them */
        { "{\"1\":1,\"2\":2,\"3\":3,\"4\":4,\"5\":5,\"6\":6,\"7\":7,"
          "\"8\":8}", 8 },
        { "{\"1\":1,\"2\":2,\"3\":3,\"4\":4,\"5\":5,\"6\":6,\"7\":7,"
          "\"8\":8,\"9\":9}", -1 },
    };
    char deep[2 * 65 + 16];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(split_checked(cases[i].text) == cases[i].members,
                      "%s: expected %d", cases[i].text, cases[i].members);
    }
    /* each escape at every place of the eight bytes read at once */
    for (i = 0; i < 4 * 17; i++) {
        static const char *const escapes[] = {
            "\\\"", "\\\\", "\\n", "\\u0001"
        };
        char *text = apr_psprintf(pool, "{\"k\":\"%.*s%s%.*s\",\"n\":1}",
                                  (int)(i % 17), "abcdefghijklmnopq",
                                  escapes[i / 17], (int)(16 - i % 17),
                                  "rstuvwxyz0123456");

        ck_assert_int_eq(split_checked(text), 2);
    }
    /* names in an object within: as many as the split compares, and one
     * more */
    for (i = 32; i <= 33; i++) {
        char *text = apr_pstrdup(pool, "{\"o\":{");
        size_t k;

        for (k = 0; k < i; k++) {
            text = apr_psprintf(pool, "%s%s\"k%d\":%d", text, k ? "," : "",
                                (int)k, (int)k);
        }
        text = apr_pstrcat(pool, text, "}}", NULL);
        ck_assert_int_eq(split_checked(text), (i == 32 ? 1 : -1));
    }
    /* nesting: as deep as the split goes, and one level more */
    for (i = 64; i <= 65; i++) {
        strcpy(deep, "{\"d\":");
        memset(deep + 5, '[', i);
        deep[5 + i] = '1';
        memset(deep + 6 + i, ']', i);
        strcpy(deep + 6 + 2 * i, "}");
        ck_assert_int_eq(split_checked(deep), (i == 64 ? 1 : -1));
    }
}
END_TEST

/* Objects the encoder writes from random values: the split takes every
 * one without an empty value (or a real, or a name with an escape, which
 * these have not), and gives back its members. */
START_TEST(json_split_takes_what_the_encoder_writes)
{
    static const char *const strings[] = {
        "plain", "", "q\"uote", "back\\slash", "new\nline", "\x01\x1f",
        "J\xc3\xa9r\xc3\xb4me", "\xf0\x9f\x98\x80", "{[,]}:", "\x7f",
    };
    static const char *const names[] = {
        "userName", "", "name", "J\xc3\xa9r\xc3\xb4me", "\xf0\x9f\x98\x80",
        "{[,]}:", "urn:x:1.0:User", "a", "b", "c",
    };
    unsigned seed = 7;
    int round, taken = 0;

    for (round = 0; round < 2000; round++) {
        json_t *doc = json_object();
        int members = 1 + (int)(seed % 6), m, hollow = 0;
        char *text;

        for (m = 0; m < members; m++) {
            json_t *value;

            seed = seed * 1103515245u + 12345u;
            switch ((seed >> 8) % 7) {
            case 0: value = json_string(strings[(seed >> 12) % 10]); break;
            case 1: value = json_integer((json_int_t)(seed >> 4) - 100000);
                    break;
            case 2: value = json_boolean((seed >> 9) & 1); break;
            case 3: value = json_null(); break;
            case 4: value = json_pack("[s,{s:i}]",
                                      strings[(seed >> 12) % 10],
                                      names[(seed >> 16) % 10], m);
                    break;
            case 5: value = (seed >> 12) % 4 ? json_pack("{s:[b]}", "v", 1)
                                             : json_array();
                    hollow |= json_array_size(value) == 0;
                    break;
            default: value = json_pack("{s:{s:s}}", "sub",
                                       names[(seed >> 12) % 10],
                                       strings[(seed >> 16) % 10]);
            }
            json_object_set_new(doc, names[(seed >> 20) % 10], value);
        }
        text = scim_json_dump_compact(doc, NULL);
        if (hollow) {
            /* set again under the same name, a hollow value may be gone */
            hollow = strstr(text, "[]") != NULL;
        }
        ck_assert_msg((split_checked(text) >= 0) == !hollow, "%s", text);
        taken += !hollow;
        free(text);
        json_decref(doc);
    }
    ck_assert_int_gt(taken, 1000);
}
END_TEST

Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("util");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, json_released_with_pool);
    tcase_add_test(tc, json_dump_matches_jansson);
    tcase_add_test(tc, json_load_matches_jansson);
    tcase_add_test(tc, json_string_checks_as_jansson);
    tcase_add_test(tc, json_split_serves_only_what_dumps_back);
    tcase_add_test(tc, json_split_takes_what_the_encoder_writes);
    tcase_add_test(tc, fold_ascii_only);
    tcase_add_test(tc, case_insensitive_equality);
    tcase_add_test(tc, datetime_calendar);
    tcase_add_test(tc, datetime_clock);
    tcase_add_test(tc, datetime_fraction);
    tcase_add_test(tc, datetime_offset);
    tcase_add_test(tc, datetime_bounded_by_length);
    tcase_add_test(tc, now_and_ids);
    suite_add_tcase(s, tc);
    return s;
}
