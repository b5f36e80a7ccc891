/* Decoding of request input: query strings, bodies, list parameters from
 * the query and from a SearchRequest, If-Match / If-None-Match lists. */

#include <string.h>

#include <apr_strings.h>

#include "scim_request.h"
#include "scim_schema.h"
#include "suites.h"

#define MAX_RESULTS 100

static apr_pool_t *pool;

static apr_status_t decref_cleanup(void *doc)
{
    json_decref(doc);
    return APR_SUCCESS;
}

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static apr_table_t *query(const char *text)
{
    apr_table_t *params = NULL;
    scim_error_t *err = scim_request_parse_query(pool, text, &params);

    ck_assert_msg(err == NULL, "%s: %s", text, err ? err->detail : "");
    return params;
}

/* The list parameters of a query string that must be accepted. */
static scim_list_params_t list_params(const char *text)
{
    scim_list_params_t lp;
    scim_error_t *err = scim_request_list_params(pool, query(text),
                                                 MAX_RESULTS, &lp);

    ck_assert_msg(err == NULL, "%s: %s", text, err ? err->detail : "");
    return lp;
}

/* The 400 invalidValue a query string's list parameters get. */
static void list_params_refused(const char *text, const char *detail)
{
    scim_list_params_t lp;
    scim_error_t *err = scim_request_list_params(pool, query(text),
                                                 MAX_RESULTS, &lp);

    ck_assert_msg(err != NULL, "%s accepted", text);
    ck_assert_int_eq(err->status, 400);
    ck_assert_str_eq(err->scim_type, SCIM_TYPE_INVALID_VALUE);
    ck_assert_str_eq(err->detail, detail);
}

/* A SearchRequest body's list parameters: NULL on success, else the
 * error. */
static scim_error_t *search(const char *body, scim_list_params_t *lp)
{
    json_error_t jerr;
    json_t *doc = json_loads(body, 0, &jerr);
    scim_error_t *err;

    ck_assert_msg(doc != NULL, "%s: %s", body, jerr.text);
    err = scim_request_search_params(pool, doc, MAX_RESULTS, lp);
    /* the parameters point into the body: it lives as long as the pool */
    apr_pool_cleanup_register(pool, doc, decref_cleanup,
                              apr_pool_cleanup_null);
    return err;
}

static void search_refused(const char *body, const char *scim_type,
                           const char *detail)
{
    scim_list_params_t lp;
    scim_error_t *err = search(body, &lp);

    ck_assert_msg(err != NULL, "%s accepted", body);
    ck_assert_int_eq(err->status, 400);
    ck_assert_str_eq(err->scim_type, scim_type);
    ck_assert_str_eq(err->detail, detail);
}

/* ---- query strings ------------------------------------------------------ */

START_TEST(query_decodes_escapes_and_plus)
{
    apr_table_t *q = query("filter=userName%20eq%20%22b%C3%A9a%22"
                           "&attributes=name.givenName,emails"
                           "&sortBy=name.familyName+x&x%2By=a%26b%3Dc");

    ck_assert_str_eq(apr_table_get(q, "filter"),
                     "userName eq \"b\xc3\xa9" "a\"");
    ck_assert_str_eq(apr_table_get(q, "attributes"),
                     "name.givenName,emails");
    ck_assert_str_eq(apr_table_get(q, "sortBy"), "name.familyName x");
    /* an escaped '+', '&' or '=' is data, not syntax */
    ck_assert_str_eq(apr_table_get(q, "x+y"), "a&b=c");
    /* hex digits in either case */
    ck_assert_str_eq(apr_table_get(query("a=%4a%4A"), "a"), "JJ");
}
END_TEST

START_TEST(query_keeps_percent_that_escapes_nothing)
{
    apr_table_t *q = query("a=100%&b=%zz&c=%4&d=%%41&e=%4g");

    ck_assert_str_eq(apr_table_get(q, "a"), "100%");
    ck_assert_str_eq(apr_table_get(q, "b"), "%zz");
    /* the two digits must belong to the value, not to what follows */
    ck_assert_str_eq(apr_table_get(q, "c"), "%4");
    ck_assert_str_eq(apr_table_get(q, "d"), "%A");
    ck_assert_str_eq(apr_table_get(q, "e"), "%4g");
    ck_assert_str_eq(apr_table_get(query("%4=1"), "%4"), "1");
}
END_TEST

START_TEST(query_refuses_nul_bytes)
{
    const char *const refused[] = {
        "filter=a%00b", "%00=1", "a=1&b=%00", "a=%zz%00", NULL
    };
    const char *const *text;

    for (text = refused; *text; text++) {
        apr_table_t *q = NULL;
        scim_error_t *err = scim_request_parse_query(pool, *text, &q);

        ck_assert_msg(err != NULL, "%s accepted", *text);
        ck_assert_int_eq(err->status, 400);
        ck_assert_str_eq(err->scim_type, SCIM_TYPE_INVALID_VALUE);
        ck_assert_str_eq(err->detail, "Invalid query string encoding");
    }
}
END_TEST

START_TEST(query_repeated_empty_and_case)
{
    apr_table_t *q = query("&&count=1&COUNT=2&flag&empty=&=anon&");

    /* names are case-insensitive, the last of a repeated name counts */
    ck_assert_str_eq(apr_table_get(q, "count"), "2");
    ck_assert_int_eq(apr_table_elts(q)->nelts, 4);
    ck_assert_str_eq(apr_table_get(q, "flag"), "");
    ck_assert_str_eq(apr_table_get(q, "empty"), "");
    ck_assert_str_eq(apr_table_get(q, ""), "anon");
    ck_assert_int_eq(apr_table_elts(query(NULL))->nelts, 0);
    ck_assert_int_eq(apr_table_elts(query(""))->nelts, 0);
    ck_assert_int_eq(apr_table_elts(query("&"))->nelts, 0);
}
END_TEST

/* ---- list parameters from the query ------------------------------------ */

START_TEST(list_params_defaults)
{
    scim_list_params_t lp = list_params(NULL);

    ck_assert_int_eq(lp.start_index, 1);
    ck_assert_int_eq(lp.count, MAX_RESULTS);
    ck_assert_ptr_null(lp.filter);
    ck_assert_ptr_null(lp.sort_by);
    ck_assert_int_eq(lp.descending, 0);
    ck_assert_ptr_null(lp.attributes);
    ck_assert_ptr_null(lp.excluded);
}
END_TEST

START_TEST(list_params_named_ignoring_case)
{
    scim_list_params_t lp = list_params(
        "FILTER=active+eq+true&sortby=userName&SortOrder=DESCENDING"
        "&startindex=3&Count=7&Attributes=userName"
        "&excludedattributes=groups");

    ck_assert_str_eq(lp.filter, "active eq true");
    ck_assert_str_eq(lp.sort_by, "userName");
    ck_assert_int_eq(lp.descending, 1);
    ck_assert_int_eq(lp.start_index, 3);
    ck_assert_int_eq(lp.count, 7);
    ck_assert_str_eq(lp.attributes, "userName");
    ck_assert_str_eq(lp.excluded, "groups");
    ck_assert_int_eq(list_params("sortOrder=Ascending").descending, 0);
}
END_TEST

START_TEST(list_params_page_is_clamped)
{
    /* RFC 7644 3.4.2.4: below 1 is 1, a negative count is 0 */
    ck_assert_int_eq(list_params("startIndex=0").start_index, 1);
    ck_assert_int_eq(list_params("startIndex=-5").start_index, 1);
    ck_assert_int_eq(list_params("count=-1").count, 0);
    ck_assert_int_eq(list_params("count=0").count, 0);
    /* never more than the configured maximum */
    ck_assert_int_eq(list_params("count=101").count, MAX_RESULTS);
    ck_assert_int_eq(list_params("count=100").count, MAX_RESULTS);
}
END_TEST

START_TEST(list_params_huge_numbers)
{
    /* 2^63 and beyond: as large as an int is allowed to get here */
    ck_assert_int_eq(list_params("startIndex=9223372036854775808").start_index,
                     SCIM_REQUEST_INT_LIMIT);
    ck_assert_int_eq(list_params("startIndex=99999999999999999999999")
                     .start_index, SCIM_REQUEST_INT_LIMIT);
    ck_assert_int_eq(list_params("startIndex=2147483648").start_index,
                     SCIM_REQUEST_INT_LIMIT);
    ck_assert_int_eq(list_params("startIndex=-9223372036854775809")
                     .start_index, 1);
    ck_assert_int_eq(list_params("count=9223372036854775807").count,
                     MAX_RESULTS);
    ck_assert_int_eq(list_params("count=-9223372036854775808").count, 0);
}
END_TEST

START_TEST(list_params_integer_syntax)
{
    /* strtol's syntax: a sign and leading white space ('+' is a space) */
    ck_assert_int_eq(list_params("count=%2B5").count, 5);
    ck_assert_int_eq(list_params("count=+5").count, 5);
    ck_assert_int_eq(list_params("startIndex=007").start_index, 7);
    list_params_refused("startIndex=", "startIndex must be an integer");
    list_params_refused("startIndex", "startIndex must be an integer");
    list_params_refused("startIndex=abc", "startIndex must be an integer");
    list_params_refused("startIndex=5x", "startIndex must be an integer");
    list_params_refused("startIndex=5+", "startIndex must be an integer");
    list_params_refused("count=1.5", "count must be an integer");
    list_params_refused("count=0x10", "count must be an integer");
    list_params_refused("count=1e3", "count must be an integer");
}
END_TEST

START_TEST(list_params_bad_sort_order)
{
    list_params_refused("sortOrder=up",
                        "sortOrder must be \"ascending\" or \"descending\"");
    list_params_refused("sortOrder=",
                        "sortOrder must be \"ascending\" or \"descending\"");
    /* sortOrder is checked before the page */
    list_params_refused("count=x&sortOrder=down",
                        "sortOrder must be \"ascending\" or \"descending\"");
}
END_TEST

/* ---- SearchRequest bodies ----------------------------------------------- */

START_TEST(search_params_all_members)
{
    scim_list_params_t lp;

    ck_assert_ptr_null(search(
        "{\"schemas\": [\"urn:ietf:params:scim:api:messages:2.0:"
        "SearchRequest\"], \"FILTER\": \"userName sw \\\"j\\\"\","
        " \"sortBy\": \"userName\", \"sortorder\": \"descending\","
        " \"startIndex\": 2, \"count\": 10,"
        " \"attributes\": [\"userName\", \"emails.value\"],"
        " \"excludedAttributes\": \"groups\"}", &lp));
    ck_assert_str_eq(lp.filter, "userName sw \"j\"");
    ck_assert_str_eq(lp.sort_by, "userName");
    ck_assert_int_eq(lp.descending, 1);
    ck_assert_int_eq(lp.start_index, 2);
    ck_assert_int_eq(lp.count, 10);
    ck_assert_str_eq(lp.attributes, "userName,emails.value");
    ck_assert_str_eq(lp.excluded, "groups");
}
END_TEST

START_TEST(search_params_defaults_and_nulls)
{
    scim_list_params_t lp;

    ck_assert_ptr_null(search("{}", &lp));
    ck_assert_int_eq(lp.start_index, 1);
    ck_assert_int_eq(lp.count, MAX_RESULTS);
    ck_assert_ptr_null(lp.filter);
    ck_assert_ptr_null(search("{\"filter\": null, \"count\": null,"
                              " \"attributes\": null, \"sortOrder\": null}",
                              &lp));
    ck_assert_ptr_null(lp.filter);
    ck_assert_int_eq(lp.count, MAX_RESULTS);
    ck_assert_ptr_null(lp.attributes);
    /* an empty array names nothing */
    ck_assert_ptr_null(search("{\"attributes\": []}", &lp));
    ck_assert_ptr_null(lp.attributes);
}
END_TEST

START_TEST(search_params_page_is_clamped)
{
    scim_list_params_t lp;

    ck_assert_ptr_null(search("{\"startIndex\": -3, \"count\": 1000}", &lp));
    ck_assert_int_eq(lp.start_index, 1);
    ck_assert_int_eq(lp.count, MAX_RESULTS);
    ck_assert_ptr_null(search("{\"startIndex\": 9223372036854775807,"
                              " \"count\": -9223372036854775808}", &lp));
    ck_assert_int_eq(lp.start_index, SCIM_REQUEST_INT_LIMIT);
    ck_assert_int_eq(lp.count, 0);
}
END_TEST

START_TEST(search_params_wrong_types)
{
    search_refused("{\"filter\": 5}", SCIM_TYPE_INVALID_VALUE,
                   "filter must be a string");
    search_refused("{\"sortBy\": [\"userName\"]}", SCIM_TYPE_INVALID_VALUE,
                   "sortBy must be a string");
    search_refused("{\"sortOrder\": true}", SCIM_TYPE_INVALID_VALUE,
                   "sortOrder must be a string");
    search_refused("{\"startIndex\": \"1\"}", SCIM_TYPE_INVALID_VALUE,
                   "startIndex must be an integer");
    search_refused("{\"count\": 1.5}", SCIM_TYPE_INVALID_VALUE,
                   "count must be an integer");
    search_refused("{\"attributes\": [\"a\", 1]}", SCIM_TYPE_INVALID_VALUE,
                   "attributes must be an array of strings");
    search_refused("{\"excludedAttributes\": {}}", SCIM_TYPE_INVALID_VALUE,
                   "excludedAttributes must be an array of strings");
    search_refused("{\"sortOrder\": \"up\"}", SCIM_TYPE_INVALID_VALUE,
                   "sortOrder must be \"ascending\" or \"descending\"");
    /* members are checked in order, the sortOrder value last */
    search_refused("{\"sortOrder\": \"up\", \"count\": \"x\"}",
                   SCIM_TYPE_INVALID_VALUE, "count must be an integer");
}
END_TEST

START_TEST(search_params_schemas)
{
    scim_list_params_t lp;

    ck_assert_ptr_null(search("{\"schemas\": [\"urn:x\", \"URN:IETF:PARAMS:"
                              "SCIM:API:MESSAGES:2.0:SEARCHREQUEST\"]}",
                              &lp));
    search_refused("{\"schemas\": [\"urn:ietf:params:scim:api:messages:2.0:"
                   "ListResponse\"]}", SCIM_TYPE_INVALID_SYNTAX,
                   "schemas must list " SCIM_SCHEMA_SEARCH);
    search_refused("{\"schemas\": []}", SCIM_TYPE_INVALID_SYNTAX,
                   "schemas must list " SCIM_SCHEMA_SEARCH);
    search_refused("{\"schemas\": \"urn:ietf:params:scim:api:messages:2.0:"
                   "SearchRequest\"}", SCIM_TYPE_INVALID_SYNTAX,
                   "schemas must list " SCIM_SCHEMA_SEARCH);
    search_refused("{\"schemas\": [5]}", SCIM_TYPE_INVALID_SYNTAX,
                   "schemas must list " SCIM_SCHEMA_SEARCH);
}
END_TEST

/* ---- bodies ------------------------------------------------------------- */

static void body_refused(const char *body, apr_size_t len,
                         const char *detail_start)
{
    json_t *doc = (json_t *)1;
    scim_error_t *err = scim_request_parse_body(pool, body, len, &doc);

    ck_assert_msg(err != NULL, "%s accepted", body ? body : "(null)");
    ck_assert_int_eq(err->status, 400);
    ck_assert_str_eq(err->scim_type, SCIM_TYPE_INVALID_SYNTAX);
    ck_assert_msg(strncmp(err->detail, detail_start,
                          strlen(detail_start)) == 0,
                  "detail: %s", err->detail);
    ck_assert_ptr_null(doc);
}

START_TEST(body_must_be_one_object)
{
    const char *text = "{\"userName\": \"bjensen\"} trailing";
    json_t *doc = NULL;

    /* only len bytes are read */
    ck_assert_ptr_null(scim_request_parse_body(pool, text, 23, &doc));
    ck_assert(json_is_object(doc));
    ck_assert_str_eq(json_string_value(json_object_get(doc, "userName")),
                     "bjensen");
    ck_assert_int_eq(doc->refcount, 1);
    json_decref(doc);

    body_refused(NULL, 0, "The request body is empty");
    body_refused("{}", 0, "The request body is empty");
    body_refused("[{}]", 4, "The request body must be a JSON object");
    /* jansson itself wants an object or array at the top */
    body_refused("\"x\"", 3, "Malformed JSON at line 1, column 3");
    body_refused(text, strlen(text), "Malformed JSON at line 1, column");
    body_refused("{\"a\": 1,", 8, "Malformed JSON at line 1, column");
    body_refused("{\"a\": 1, \"a\": 2}", 16, "Malformed JSON");
    body_refused("{\"a\": 9223372036854775808}", 26, "Malformed JSON");
}
END_TEST

/* ---- entity tags -------------------------------------------------------- */

START_TEST(etag_lists)
{
    const char *etag = "W/\"3\"";

    ck_assert(scim_request_etag_listed(pool, "W/\"3\"", etag));
    /* weak comparison: W/ is ignored on either side */
    ck_assert(scim_request_etag_listed(pool, "\"3\"", etag));
    ck_assert(scim_request_etag_listed(pool, "W/\"3\"", "\"3\""));
    ck_assert(scim_request_etag_listed(pool, "W/\"1\", W/\"3\"", etag));
    ck_assert(scim_request_etag_listed(pool, "\"1\",\t \"3\" ,", etag));
    ck_assert(scim_request_etag_listed(pool, "*", etag));
    ck_assert(scim_request_etag_listed(pool, "\"1\", *", etag));
    ck_assert(!scim_request_etag_listed(pool, "W/\"30\"", etag));
    ck_assert(!scim_request_etag_listed(pool, "W/\"1\", \"2\"", etag));
    ck_assert(!scim_request_etag_listed(pool, "3", etag));
    ck_assert(!scim_request_etag_listed(pool, "w/\"3\"", etag));
    ck_assert(!scim_request_etag_listed(pool, "**", etag));
    ck_assert(!scim_request_etag_listed(pool, "", etag));
    ck_assert(!scim_request_etag_listed(pool, " , ", etag));
}
END_TEST

Suite *request_suite(void)
{
    Suite *s = suite_create("request");
    TCase *tc = tcase_create("decoding");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, query_decodes_escapes_and_plus);
    tcase_add_test(tc, query_keeps_percent_that_escapes_nothing);
    tcase_add_test(tc, query_refuses_nul_bytes);
    tcase_add_test(tc, query_repeated_empty_and_case);
    tcase_add_test(tc, list_params_defaults);
    tcase_add_test(tc, list_params_named_ignoring_case);
    tcase_add_test(tc, list_params_page_is_clamped);
    tcase_add_test(tc, list_params_huge_numbers);
    tcase_add_test(tc, list_params_integer_syntax);
    tcase_add_test(tc, list_params_bad_sort_order);
    tcase_add_test(tc, search_params_all_members);
    tcase_add_test(tc, search_params_defaults_and_nulls);
    tcase_add_test(tc, search_params_page_is_clamped);
    tcase_add_test(tc, search_params_wrong_types);
    tcase_add_test(tc, search_params_schemas);
    tcase_add_test(tc, body_must_be_one_object);
    tcase_add_test(tc, etag_lists);
    suite_add_tcase(s, tc);
    return s;
}
