/* The SCIM operations end to end below the glue: scim_service_handle on a
 * real SQLite store. */

#include <string.h>

#include <apr_strings.h>

#include "scim_schema.h"
#include "scim_service.h"
#include "store_fixture.h"
#include "suites.h"

#define BASE_URL "https://scim.example.com/scim/v2/acme"
#define USER_SCHEMAS "\"schemas\": [\"" SCIM_SCHEMA_USER "\"]"
#define GROUP_SCHEMAS "\"schemas\": [\"" SCIM_SCHEMA_GROUP "\"]"
#define PATCH_SCHEMAS "\"schemas\": [\"" SCIM_SCHEMA_PATCHOP "\"]"

static apr_pool_t *pool;
static scim_store_t *store;

static void open_store(void)
{
    store = store_fixture_open(&pool);
}

static scim_request_t request(const char *method, const char *path,
                              const char *query, const char *body)
{
    scim_request_t req = {
        .pool = pool,
        .store = store,
        .org = "acme",
        .base_url = BASE_URL,
        .method = method,
        .path = path,
        .query = query,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .max_results = 100,
    };
    return req;
}

static scim_response_t handle(const scim_request_t *req)
{
    scim_response_t resp;

    scim_service_handle(req, &resp);
    return resp;
}

static scim_response_t call(const char *method, const char *path,
                            const char *query, const char *body)
{
    scim_request_t req = request(method, path, query, body);

    return handle(&req);
}

static const char *string_at(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static int int_at(const json_t *obj, const char *key)
{
    return (int)json_integer_value(json_object_get(obj, key));
}

static void assert_error(const scim_response_t *resp, int status,
                         const char *scim_type)
{
    ck_assert_int_eq(resp->status, status);
    ck_assert_ptr_nonnull(resp->error);
    ck_assert_str_eq(string_at(resp->body, "status"),
                     apr_itoa(pool, status));
    if (scim_type) {
        ck_assert_str_eq(string_at(resp->body, "scimType"), scim_type);
    }
}

/* POST /Users; the new user's id. */
static const char *create_user(const char *user_name)
{
    scim_response_t resp = call("POST", "/Users", NULL,
        apr_psprintf(pool, "{" USER_SCHEMAS ", \"userName\": \"%s\"}",
                     user_name));

    ck_assert_int_eq(resp.status, 201);
    return string_at(resp.body, "id");
}

/* The ids a list response holds, comma-separated. */
static const char *listed_ids(const scim_response_t *resp)
{
    json_t *resources = json_object_get(resp->body, "Resources"), *r;
    const char *ids = "";
    size_t i;

    ck_assert_int_eq(resp->status, 200);
    json_array_foreach(resources, i, r) {
        ids = apr_pstrcat(pool, ids, i ? "," : "", string_at(r, "id"), NULL);
    }
    return ids;
}

START_TEST(user_lifecycle)
{
    scim_response_t resp;
    scim_request_t req;
    const char *id, *location;
    json_t *meta;

    resp = call("POST", "/Users", NULL,
                "{" USER_SCHEMAS ", \"userName\": \"bjensen\","
                " \"name\": {\"givenName\": \"Barbara\"}}");
    ck_assert_int_eq(resp.status, 201);
    id = string_at(resp.body, "id");
    ck_assert_ptr_nonnull(id);
    location = apr_pstrcat(pool, BASE_URL "/Users/", id, NULL);
    ck_assert_str_eq(resp.location, location);
    ck_assert_str_eq(resp.etag, "W/\"1\"");
    ck_assert_str_eq(string_at(resp.body, "userName"), "bjensen");
    /* created without "active": active */
    ck_assert(json_is_true(json_object_get(resp.body, "active")));
    meta = json_object_get(resp.body, "meta");
    ck_assert_str_eq(string_at(meta, "resourceType"), "User");
    ck_assert_str_eq(string_at(meta, "location"), location);
    ck_assert_str_eq(string_at(meta, "version"), "W/\"1\"");
    ck_assert_str_eq(string_at(json_object_get(resp.body,
                                               SCIM_SCHEMA_MEMBERSHIP),
                               "state"), "provisioned");

    resp = call("GET", apr_pstrcat(pool, "/Users/", id, NULL), NULL, NULL);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_str_eq(resp.etag, "W/\"1\"");
    ck_assert_ptr_null(resp.location);
    ck_assert_str_eq(string_at(resp.body, "id"), id);
    ck_assert_str_eq(string_at(json_object_get(resp.body, "name"),
                               "givenName"), "Barbara");

    /* a trailing '/' is the same resource; attributes shape the body */
    resp = call("GET", apr_pstrcat(pool, "/Users/", id, "/", NULL),
                "attributes=userName", NULL);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_str_eq(string_at(resp.body, "userName"), "bjensen");
    ck_assert_ptr_null(json_object_get(resp.body, "name"));

    req = request("GET", apr_pstrcat(pool, "/Users/", id, NULL), NULL, NULL);
    req.if_none_match = "W/\"1\"";
    resp = handle(&req);
    ck_assert_int_eq(resp.status, 304);
    ck_assert_ptr_null(resp.body);
    ck_assert_str_eq(resp.etag, "W/\"1\"");

    resp = call("PATCH", apr_pstrcat(pool, "/Users/", id, NULL), NULL,
                "{" PATCH_SCHEMAS ", \"Operations\": [{\"op\": \"replace\","
                " \"path\": \"displayName\", \"value\": \"Babs\"}]}");
    ck_assert_int_eq(resp.status, 200);
    ck_assert_str_eq(resp.etag, "W/\"2\"");
    ck_assert_str_eq(string_at(resp.body, "displayName"), "Babs");
    ck_assert_str_eq(string_at(resp.body, "userName"), "bjensen");

    /* a write naming the old version is refused */
    req = request("PATCH", apr_pstrcat(pool, "/Users/", id, NULL), NULL,
                  "{" PATCH_SCHEMAS ", \"Operations\": [{\"op\": \"replace\","
                  " \"path\": \"displayName\", \"value\": \"B\"}]}");
    req.if_match = "W/\"1\"";
    resp = handle(&req);
    assert_error(&resp, 412, NULL);

    resp = call("DELETE", apr_pstrcat(pool, "/Users/", id, NULL), NULL,
                NULL);
    ck_assert_int_eq(resp.status, 204);
    ck_assert_ptr_null(resp.body);
    resp = call("GET", apr_pstrcat(pool, "/Users/", id, NULL), NULL, NULL);
    assert_error(&resp, 404, NULL);
    resp = call("DELETE", apr_pstrcat(pool, "/Users/", id, NULL), NULL,
                NULL);
    assert_error(&resp, 404, NULL);
}
END_TEST

START_TEST(list_with_filter)
{
    const char *alice = create_user("alice"), *bob = create_user("bob");
    const char *second;
    scim_response_t resp;

    create_user("carol");
    resp = call("GET", "/Users", "filter=userName+eq+%22BOB%22", NULL);
    ck_assert_str_eq(listed_ids(&resp), bob);
    ck_assert_int_eq(int_at(resp.body, "totalResults"), 1);
    ck_assert_int_eq(int_at(resp.body, "startIndex"), 1);
    ck_assert_int_eq(int_at(resp.body, "itemsPerPage"), 1);

    resp = call("GET", "/Users", "filter=userName%20sw%20%22a%22", NULL);
    ck_assert_str_eq(listed_ids(&resp), alice);

    resp = call("GET", "/Users", "filter=userName+eq+%22nobody%22", NULL);
    ck_assert_str_eq(listed_ids(&resp), "");
    ck_assert_int_eq(int_at(resp.body, "totalResults"), 0);

    /* a page of the whole list, and the same through POST .search (users
     * created within one millisecond are ordered by id) */
    resp = call("GET", "/Users", NULL, NULL);
    second = string_at(json_array_get(json_object_get(resp.body,
                                                      "Resources"), 1), "id");
    resp = call("GET", "/Users", "startIndex=2&count=1", NULL);
    ck_assert_str_eq(listed_ids(&resp), second);
    ck_assert_int_eq(int_at(resp.body, "totalResults"), 3);
    resp = call("POST", "/Users/.search", NULL,
                "{\"startIndex\": 2, \"count\": 1}");
    ck_assert_str_eq(listed_ids(&resp), second);

    resp = call("GET", "/Users", "filter=nosuch+eq+1", NULL);
    assert_error(&resp, 400, SCIM_TYPE_INVALID_FILTER);
    resp = call("GET", "/Users", "count=many", NULL);
    assert_error(&resp, 400, SCIM_TYPE_INVALID_VALUE);
}
END_TEST

START_TEST(duplicate_user_name_conflicts)
{
    scim_response_t resp;

    create_user("carol");
    resp = call("POST", "/Users", NULL,
                "{" USER_SCHEMAS ", \"userName\": \"CAROL\"}");
    assert_error(&resp, 409, SCIM_TYPE_UNIQUENESS);
    resp = call("GET", "/Users", NULL, NULL);
    ck_assert_int_eq(int_at(resp.body, "totalResults"), 1);
}
END_TEST

START_TEST(group_members_and_user_groups)
{
    const char *user = create_user("dave");
    scim_response_t resp;
    const char *group;
    json_t *members, *groups;

    resp = call("POST", "/Groups", NULL, apr_psprintf(pool,
                "{" GROUP_SCHEMAS ", \"displayName\": \"Ops\","
                " \"members\": [{\"value\": \"%s\"}]}", user));
    ck_assert_int_eq(resp.status, 201);
    group = string_at(resp.body, "id");
    members = json_object_get(resp.body, "members");
    ck_assert_int_eq(json_array_size(members), 1);
    ck_assert_str_eq(string_at(json_array_get(members, 0), "value"), user);
    ck_assert_str_eq(string_at(json_array_get(members, 0), "$ref"),
                     apr_pstrcat(pool, BASE_URL "/Users/", user, NULL));

    resp = call("GET", apr_pstrcat(pool, "/Users/", user, NULL), NULL, NULL);
    groups = json_object_get(resp.body, "groups");
    ck_assert_int_eq(json_array_size(groups), 1);
    ck_assert_str_eq(string_at(json_array_get(groups, 0), "value"), group);
    ck_assert_str_eq(string_at(json_array_get(groups, 0), "type"), "direct");

    resp = call("GET", "/Users", apr_psprintf(pool,
                "filter=groups.value+eq+%%22%s%%22", group), NULL);
    ck_assert_str_eq(listed_ids(&resp), user);

    /* a member PATCH of a group answers 204 */
    resp = call("PATCH", apr_pstrcat(pool, "/Groups/", group, NULL), NULL,
                apr_psprintf(pool, "{" PATCH_SCHEMAS ", \"Operations\":"
                             " [{\"op\": \"remove\", \"path\":"
                             " \"members[value eq \\\"%s\\\"]\"}]}", user));
    ck_assert_int_eq(resp.status, 204);
    ck_assert_str_eq(resp.etag, "W/\"2\"");
    resp = call("GET", apr_pstrcat(pool, "/Groups/", group, NULL), NULL,
                NULL);
    ck_assert_int_eq(json_array_size(json_object_get(resp.body, "members")),
                     0);
}
END_TEST

START_TEST(routing_and_discovery)
{
    scim_response_t resp;

    resp = call("PUT", "/Users", NULL, NULL);
    assert_error(&resp, 405, NULL);
    ck_assert_str_eq(resp.allow, "GET, POST");
    resp = call("GET", "/Users/.search", NULL, NULL);
    assert_error(&resp, 405, NULL);
    ck_assert_str_eq(resp.allow, "POST");
    resp = call("GET", "/Nowhere", NULL, NULL);
    assert_error(&resp, 404, NULL);
    resp = call("GET", "/Users/a/b", NULL, NULL);
    assert_error(&resp, 404, NULL);
    resp = call("POST", "/Bulk", NULL, "{}");
    assert_error(&resp, 501, NULL);
    resp = call("GET", "/Users", "filter=%00", NULL);
    assert_error(&resp, 400, SCIM_TYPE_INVALID_VALUE);
    resp = call("POST", "/Users", NULL, "[]");
    assert_error(&resp, 400, SCIM_TYPE_INVALID_SYNTAX);

    resp = call("GET", "/ServiceProviderConfig", NULL, NULL);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_int_eq(int_at(json_object_get(resp.body, "filter"),
                            "maxResults"), 100);
    resp = call("GET", "/Schemas/" SCIM_SCHEMA_GROUP, NULL, NULL);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_str_eq(string_at(resp.body, "id"), SCIM_SCHEMA_GROUP);
    resp = call("GET", "/Schemas/urn:nothing", NULL, NULL);
    assert_error(&resp, 404, NULL);
    resp = call("GET", "/ResourceTypes", NULL, NULL);
    ck_assert_int_eq(int_at(resp.body, "totalResults"), 2);
    resp = call("GET", "/ResourceTypes/Group", NULL, NULL);
    ck_assert_str_eq(string_at(resp.body, "name"), "Group");
}
END_TEST

/* Endpoint names ignore case; the base URL itself says where the
 * resources are. */
START_TEST(routing_ignores_endpoint_case)
{
    scim_response_t resp;
    const char *detail;

    resp = call("GET", "/users", "count=0", NULL);
    ck_assert_int_eq(resp.status, 200);
    resp = call("GET", "/GROUPS", "count=0", NULL);
    ck_assert_int_eq(resp.status, 200);
    resp = call("GET", "/serviceProviderConfig", NULL, NULL);
    ck_assert_int_eq(resp.status, 200);
    resp = call("POST", "/bulk", NULL, "{}");
    assert_error(&resp, 501, NULL);

    resp = call("GET", "", NULL, NULL);
    assert_error(&resp, 404, NULL);
    detail = string_at(resp.body, "detail");
    ck_assert_ptr_nonnull(strstr(detail, BASE_URL "/Users"));
    ck_assert_ptr_nonnull(strstr(detail, "organization acme"));
}
END_TEST

START_TEST(root_search_lists_every_type)
{
    const char *user = create_user("erin");
    scim_response_t resp;

    resp = call("POST", "/Groups", NULL,
                "{" GROUP_SCHEMAS ", \"displayName\": \"erin's team\"}");
    ck_assert_int_eq(resp.status, 201);
    resp = call("POST", "/.search", NULL,
                "{\"filter\": \"userName eq \\\"erin\\\"\"}");
    /* displayName is no User attribute: only users are searched */
    ck_assert_str_eq(listed_ids(&resp), user);
    resp = call("POST", "/.search", NULL, "{}");
    ck_assert_int_eq(int_at(resp.body, "totalResults"), 2);
    resp = call("POST", "/.search", NULL, "{\"sortBy\": \"id\"}");
    assert_error(&resp, 400, SCIM_TYPE_INVALID_VALUE);
}
END_TEST

Suite *service_suite(void)
{
    Suite *s = suite_create("service");
    TCase *tc = tcase_create("sqlite3");

    tcase_add_checked_fixture(tc, open_store, store_fixture_close);
    tcase_add_test(tc, user_lifecycle);
    tcase_add_test(tc, list_with_filter);
    tcase_add_test(tc, duplicate_user_name_conflicts);
    tcase_add_test(tc, group_members_and_user_groups);
    tcase_add_test(tc, routing_and_discovery);
    tcase_add_test(tc, routing_ignores_endpoint_case);
    tcase_add_test(tc, root_search_lists_every_type);
    suite_add_tcase(s, tc);
    return s;
}
