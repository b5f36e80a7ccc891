/* Memory per request stays a small multiple of its body plus the page it
 * answers: measured, for inputs of growing size, as the bytes malloc holds
 * while the request's pool is alive (APR pools and jansson alike), and as
 * the bytes jansson holds at the end of a sorted list.
 *
 * malloc's figures (mallinfo2) read zero under valgrind, whose allocator
 * replaces glibc's: those checks then only run natively (./build.sh unit);
 * jansson's are counted here and run everywhere. */

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_allocator.h>
#include <apr_strings.h>

#include "scim_request.h"
#include "scim_schema.h"
#include "scim_service.h"
#include "store_fixture.h"
#include "suites.h"

#define USER_SCHEMAS "\"schemas\": [\"" SCIM_SCHEMA_USER "\"]"
#define SEARCH_SCHEMAS "\"schemas\": [\"" SCIM_SCHEMA_SEARCH "\"]"

/* ---- counting ----------------------------------------------------------- */

/* Bytes jansson holds now.  The core frees the text of json_dumps() with
 * free(), as jansson's default allows: blocks are plain malloc ones,
 * weighed by malloc_usable_size(), and the count is read only around
 * requests that dump nothing. */
static size_t json_bytes_live;

static void *counting_malloc(size_t size)
{
    void *block = malloc(size);

    json_bytes_live += block ? malloc_usable_size(block) : 0;
    return block;
}

static void counting_free(void *block)
{
    json_bytes_live -= block ? malloc_usable_size(block) : 0;
    free(block);
}

void bounds_count_json_allocations(void)
{
    json_set_alloc_funcs(counting_malloc, counting_free);
}

/* Bytes the process holds now for its data: what malloc hands out, plus
 * what it mapped beside malloc (APR's allocator maps its blocks itself
 * where it is built to use mmap, as on Debian); 0 when malloc cannot tell
 * (valgrind). */
static size_t malloc_bytes_live(void)
{
    struct mallinfo2 mi = mallinfo2();
    size_t pages = 0;
    FILE *statm = fopen("/proc/self/statm", "r");

    if (statm) {
        if (fscanf(statm, "%zu", &pages) != 1) {
            pages = 0;
        }
        fclose(statm);
    }
    if (mi.uordblks == 0) {
        return 0;
    }
    /* mapped size, less what malloc itself got from the system, plus what
     * malloc has handed out of that */
    return pages * (size_t)sysconf(_SC_PAGESIZE) - mi.arena - mi.hblkhd
           + mi.uordblks + mi.hblkhd;
}

static int malloc_is_measurable(void)
{
    size_t before = malloc_bytes_live();
    void *probe = malloc(1 << 20);
    int measurable = malloc_bytes_live() >= before + (1 << 20);

    free(probe);
    return measurable;
}

/* A pool on an allocator of its own, so that what it holds is its own
 * doing rather than blocks another pool freed before. */
static apr_pool_t *measured_pool(void)
{
    apr_allocator_t *allocator;
    apr_pool_t *p;

    ck_assert_int_eq(apr_allocator_create(&allocator), APR_SUCCESS);
    ck_assert_int_eq(apr_pool_create_ex(&p, NULL, NULL, allocator),
                     APR_SUCCESS);
    apr_allocator_owner_set(allocator, p);
    return p;
}

/* ---- request decoding --------------------------------------------------- */

/* A SearchRequest naming n attributes in both lists: real ones, repeated,
 * and unknown ones "a0", "a1", ... */
static const char *search_body(apr_pool_t *p, int n)
{
    static const char *const known[] = {
        "\"userName\"", "\"emails.value\"", "\"name.givenName\"",
        "\"displayName\"", "\"" SCIM_SCHEMA_ENTERPRISE ":employeeNumber\""
    };
    apr_array_header_t *names = apr_array_make(p, n, sizeof(const char *));
    const char *list;
    int i;

    for (i = 0; i < n; i++) {
        APR_ARRAY_PUSH(names, const char *) =
            i % 2 ? apr_psprintf(p, "\"a%d\"", i) : known[i / 2 % 5];
    }
    list = apr_array_pstrcat(p, names, ',');
    return apr_psprintf(p, "{" SEARCH_SCHEMAS ", \"attributes\": [%s], "
                        "\"excludedAttributes\": [%s]}", list, list);
}

/* Bytes held while decoding one SearchRequest of n names, per byte of
 * its body. */
static double search_params_cost(int n)
{
    apr_pool_t *scratch, *p;
    const char *body;
    json_t *doc = NULL;
    scim_list_params_t lp;
    size_t before, used;

    apr_pool_create(&scratch, NULL);
    body = search_body(scratch, n);
    before = malloc_bytes_live();
    p = measured_pool();
    ck_assert_ptr_null(scim_request_parse_body(p, body, strlen(body), &doc));
    ck_assert_ptr_null(scim_request_search_params(p, doc, 100, &lp));
    ck_assert_uint_eq(strlen(lp.attributes), strlen(lp.excluded));
    used = malloc_bytes_live() - before;
    json_decref(doc);
    apr_pool_destroy(p);
    apr_pool_destroy(scratch);
    return (double)used / (double)strlen(body);
}

START_TEST(search_attribute_lists_cost_linear_memory)
{
    int n;

    if (!malloc_is_measurable()) {
        return;
    }
    /* Joined in a loop, 40,000 names took more than a gigabyte. */
    for (n = 1000; n <= 64000; n *= 4) {
        double cost = search_params_cost(n);

        ck_assert_msg(cost < 40, "%d names: %.1f bytes per body byte", n,
                      cost);
    }
}
END_TEST

START_TEST(query_string_costs_linear_memory)
{
    int n;

    if (!malloc_is_measurable()) {
        return;
    }
    for (n = 1000; n <= 64000; n *= 4) {
        apr_pool_t *scratch, *p;
        apr_array_header_t *parts;
        apr_table_t *params;
        const char *query;
        size_t before, used;
        int i;

        apr_pool_create(&scratch, NULL);
        parts = apr_array_make(scratch, n, sizeof(const char *));
        for (i = 0; i < n; i++) {
            /* distinct names, each also repeated once */
            APR_ARRAY_PUSH(parts, const char *) =
                apr_psprintf(scratch, "p%d=1&P%d=2", i, i);
        }
        query = apr_array_pstrcat(scratch, parts, '&');
        before = malloc_bytes_live();
        p = measured_pool();
        ck_assert_ptr_null(scim_request_parse_query(p, query, &params));
        used = malloc_bytes_live() - before;
        ck_assert_int_eq(apr_table_elts(params)->nelts, n);
        ck_assert_str_eq(apr_table_get(params, "p7"), "2");
        ck_assert_msg(used < 40 * strlen(query) + 65536,
                      "%d parameters: %zu bytes for %zu", n, used,
                      strlen(query));
        apr_pool_destroy(p);
        apr_pool_destroy(scratch);
    }
}
END_TEST

/* ---- lists on a real store ---------------------------------------------- */

static apr_pool_t *fixture_pool;
static apr_hash_t *prepared;

static void open_store(void)
{
    store_fixture_open(&fixture_pool);
    prepared = apr_hash_make(fixture_pool);
}

/* The response as the service gives it (a list's body as text). */
static scim_response_t call_raw(apr_pool_t *p, const char *method,
                                const char *path, const char *query,
                                const char *body)
{
    scim_store_t *store = NULL;
    scim_request_t req = {
        .pool = p,
        .org = "acme",
        .base_url = "https://scim.example.com/scim/v2/acme",
        .method = method,
        .path = path,
        .query = query,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .max_results = 100,
    };
    scim_response_t resp;

    /* a store of the request, as the handler opens one */
    ck_assert_ptr_null(scim_store_open(p, store_fixture_driver(),
                                       store_fixture_handle(), prepared,
                                       fixture_pool, &store));
    req.store = store;
    scim_service_handle(&req, &resp);
    return resp;
}

/* The body of a response given as text, parsed into resp->body. */
static void parse_body(apr_pool_t *p, scim_response_t *resp)
{
    if (resp->body_text) {
        resp->body = scim_json_pool_own(p, json_loadb(resp->body_text,
                                                      resp->body_len, 0,
                                                      NULL));
        ck_assert_ptr_nonnull(resp->body);
    }
}

static scim_response_t call(apr_pool_t *p, const char *method,
                            const char *path, const char *query,
                            const char *body)
{
    scim_response_t resp = call_raw(p, method, path, query, body);

    parse_body(p, &resp);
    return resp;
}

/* Users "user-<first>" ... "user-<first + n - 1>", each with a few
 * e-mails, so that a user's served form weighs what a real one does. */
static void create_users(int first, int n)
{
    int i;

    for (i = first; i < first + n; i++) {
        apr_pool_t *p;
        scim_response_t resp;

        apr_pool_create(&p, fixture_pool);
        resp = call(p, "POST", "/Users", NULL, apr_psprintf(p,
            "{" USER_SCHEMAS ", \"userName\": \"user-%05d\", "
            "\"displayName\": \"User number %d of the bounds test\", "
            "\"emails\": [{\"value\": \"u%d@example.com\", \"type\": "
            "\"work\"}, {\"value\": \"u%d@example.org\", \"type\": "
            "\"home\"}]}", i, i, i, i));
        ck_assert_int_eq(resp.status, 201);
        apr_pool_destroy(p);
    }
}

/* Bytes jansson holds at the end of a list request (its page and
 * whatever else the request kept), and checks they are all given back
 * when the request's pool goes. */
static size_t list_json_bytes(const char *method, const char *path,
                              const char *query, const char *body,
                              int expect_items)
{
    size_t before = json_bytes_live, held;
    apr_pool_t *p;
    scim_response_t resp;

    apr_pool_create(&p, fixture_pool);
    resp = call_raw(p, method, path, query, body);
    ck_assert_int_eq(resp.status, 200);
    held = json_bytes_live - before;
    parse_body(p, &resp);
    ck_assert_int_eq(json_array_size(json_object_get(resp.body, "Resources")),
                     expect_items);
    apr_pool_destroy(p);
    ck_assert_uint_eq(json_bytes_live, before);
    return held;
}

START_TEST(sorted_and_filtered_lists_hold_the_page_only)
{
    const char *sorted = "sortBy=userName&sortOrder=descending&count=5";
    const char *filtered = "filter=displayName%20co%20%22number%22&count=5";
    size_t sorted_small, sorted_large, filtered_small, filtered_large;

    create_users(0, 60);
    sorted_small = list_json_bytes("GET", "/Users", sorted, NULL, 5);
    filtered_small = list_json_bytes("GET", "/Users", filtered, NULL, 5);
    create_users(60, 540);
    sorted_large = list_json_bytes("GET", "/Users", sorted, NULL, 5);
    filtered_large = list_json_bytes("GET", "/Users", filtered, NULL, 5);

    /* Ten times the users, the same page: about the same memory (every
     * match kept for sorting made it grow tenfold). */
    ck_assert_msg(sorted_large < sorted_small * 3 / 2,
                  "sorted: %zu bytes for 60 users, %zu for 600",
                  sorted_small, sorted_large);
    ck_assert_msg(filtered_large < filtered_small * 3 / 2,
                  "filtered: %zu bytes for 60 users, %zu for 600",
                  filtered_small, filtered_large);
}
END_TEST

START_TEST(sorted_pages_are_right)
{
    apr_pool_t *p;
    scim_response_t resp;
    json_t *resources;

    create_users(0, 30);
    apr_pool_create(&p, fixture_pool);
    resp = call(p, "GET", "/Users", "sortBy=userName&sortOrder=descending"
                "&startIndex=4&count=3", NULL);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(resp.body,
                                                        "totalResults")), 30);
    resources = json_object_get(resp.body, "Resources");
    ck_assert_int_eq(json_array_size(resources), 3);
    ck_assert_str_eq(json_string_value(json_object_get(
        json_array_get(resources, 0), "userName")), "user-00026");
    ck_assert_str_eq(json_string_value(json_object_get(
        json_array_get(resources, 2), "userName")), "user-00024");
    /* past the end: nothing, the total still counted */
    resp = call(p, "GET", "/Users", "sortBy=userName&startIndex=31", NULL);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_int_eq(json_array_size(json_object_get(resp.body,
                                                     "Resources")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(resp.body,
                                                        "totalResults")), 30);
    apr_pool_destroy(p);
}
END_TEST

/* A page of 20 users shaped by 20,000 attribute names: the names are
 * parsed once for the page, not once per user (nor scanned per value). */
START_TEST(projection_of_a_page_costs_its_names_once)
{
    apr_pool_t *scratch, *p;
    const char *body;
    size_t before, used;
    scim_response_t resp;

    create_users(0, 20);
    if (!malloc_is_measurable()) {
        return;
    }
    apr_pool_create(&scratch, NULL);
    body = search_body(scratch, 20000);
    before = malloc_bytes_live();
    p = measured_pool();
    resp = call(p, "POST", "/Users/.search", NULL, body);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_int_eq(json_array_size(json_object_get(resp.body,
                                                     "Resources")), 20);
    used = malloc_bytes_live() - before;
    ck_assert_msg(used < 40 * strlen(body) + (1 << 20),
                  "%zu bytes for a body of %zu", used, strlen(body));
    apr_pool_destroy(p);
    apr_pool_destroy(scratch);
}
END_TEST

Suite *bounds_suite(void)
{
    Suite *s = suite_create("bounds");
    TCase *tc = tcase_create("decoding");
    TCase *lists = tcase_create("lists");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, search_attribute_lists_cost_linear_memory);
    tcase_add_test(tc, query_string_costs_linear_memory);
    suite_add_tcase(s, tc);

    tcase_set_timeout(lists, 120);
    tcase_add_checked_fixture(lists, open_store, store_fixture_close);
    tcase_add_test(lists, sorted_and_filtered_lists_hold_the_page_only);
    tcase_add_test(lists, sorted_pages_are_right);
    tcase_add_test(lists, projection_of_a_page_costs_its_names_once);
    suite_add_tcase(s, lists);
    return s;
}
