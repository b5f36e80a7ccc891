/* The SCIM operations end to end below the glue: scim_service_handle on a
 * real SQLite store. */

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <apr_escape.h>
#include <apr_strings.h>

#include "scim_schema.h"
#include "scim_service.h"
#include "scim_walk.h"
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

/* The response, its body parsed when it came as text (a GET that served
 * the stored resource as it is). */
static scim_response_t handle(const scim_request_t *req)
{
    scim_response_t resp;

    scim_service_handle(req, &resp);
    if (resp.body_text) {
        ck_assert_ptr_null(resp.body);
        ck_assert_uint_eq(resp.body_len, strlen(resp.body_text));
        resp.body = scim_json_pool_own(pool,
            json_loadb(resp.body_text, resp.body_len, 0, NULL));
        ck_assert_ptr_nonnull(resp.body);
    }
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

/* GET path answered from the stored text (when served says so) and the
 * full form of the same resource, written out: the full form is what
 * excludedAttributes of an attribute the resource lacks gives. */
static void assert_served_as_full_form(const char *path, int served)
{
    scim_request_t req = request("GET", path, NULL, NULL);
    scim_response_t fast, full;
    char *text, *fast_text;

    scim_service_handle(&req, &fast);
    ck_assert_int_eq(fast.status, 200);
    req = request("GET", path, "excludedAttributes=x509Certificates", NULL);
    scim_service_handle(&req, &full);
    ck_assert_int_eq(full.status, 200);
    ck_assert_ptr_null(full.body_text);
    ck_assert_str_eq(fast.etag, full.etag);
    text = scim_json_dump_compact(full.body, NULL);
    if (served) {
        ck_assert_ptr_nonnull(fast.body_text);
        ck_assert_str_eq(fast.body_text, text);
    }
    else {
        ck_assert_ptr_null(fast.body_text);
        fast_text = scim_json_dump_compact(fast.body, NULL);
        ck_assert_str_eq(fast_text, text);
        free(fast_text);
    }
    free(text);
}

/* A list (query) answered with the stored texts, byte for byte what the
 * full forms give (excludedAttributes of an attribute nobody has). */
static void assert_list_as_full_form(const char *path, const char *query,
                                     int items)
{
    scim_request_t req = request("GET", path, query, NULL);
    scim_response_t fast, full;
    json_t *doc;

    scim_service_handle(&req, &fast);
    ck_assert_int_eq(fast.status, 200);
    req = request("GET", path, apr_pstrcat(pool, query,
                  "&excludedAttributes=x509Certificates", NULL), NULL);
    scim_service_handle(&req, &full);
    ck_assert_int_eq(full.status, 200);
    ck_assert_ptr_nonnull(fast.body_text);
    ck_assert_str_eq(fast.body_text, full.body_text);
    doc = scim_json_pool_own(pool, json_loads(fast.body_text, 0, NULL));
    ck_assert_int_eq(json_array_size(json_object_get(doc, "Resources")),
                     items);
    ck_assert_int_eq(int_at(doc, "itemsPerPage"), items);
}

START_TEST(get_serves_the_stored_text_as_the_full_form)
{
    const char *plain = create_user("plain"), *rich, *hollow, *group, *etag;
    const char *written, *id;
    scim_record_t odd = { 0 };
    scim_response_t raw;
    scim_request_t req;
    scim_response_t resp;

    resp = call("POST", "/Users", NULL,
        "{\"schemas\": [\"" SCIM_SCHEMA_USER "\", \"" SCIM_SCHEMA_ENTERPRISE
        "\"], \"userName\": \"J\\u00e9r\\u00f4me \\\"q\\\" \\\\ \\n\\t"
        "\\u0001\", \"externalId\": \"ext-1\", \"name\": {\"givenName\":"
        " \"J\\u00e9r\\u00f4me\", \"familyName\": \"\\u65e5\\ud83d\\ude00\"},"
        " \"active\": false, \"password\": \"never-shown\", \"emails\":"
        " [{\"value\": \"j@example.com\", \"type\": \"work\", \"primary\":"
        " true}, {\"value\": \"j@home.example\", \"type\": \"home\"}],"
        " \"addresses\": [{\"locality\": \"Paris\", \"country\": \"FR\"}],"
        " \"" SCIM_SCHEMA_ENTERPRISE "\": {\"department\": \"R&D\","
        " \"manager\": {\"value\": \"boss\"}}}");
    ck_assert_int_eq(resp.status, 201);
    rich = string_at(resp.body, "id");
    resp = call("POST", "/Users", NULL, "{" USER_SCHEMAS ", \"userName\":"
                " \"hollow\", \"emails\": [], \"name\": {}}");
    ck_assert_int_eq(resp.status, 201);
    hollow = string_at(resp.body, "id");
    resp = call("POST", "/Groups", NULL, apr_psprintf(pool,
                "{" GROUP_SCHEMAS ", \"displayName\": \"Ops \\\"1\\\"\","
                " \"members\": [{\"value\": \"%s\"}, {\"value\": \"%s\"}]}",
                plain, rich));
    ck_assert_int_eq(resp.status, 201);
    group = string_at(resp.body, "id");

    assert_served_as_full_form(apr_pstrcat(pool, "/Users/", plain, NULL), 1);
    assert_served_as_full_form(apr_pstrcat(pool, "/Users/", rich, NULL), 1);
    assert_served_as_full_form(apr_pstrcat(pool, "/Groups/", group, NULL),
                               1);
    /* a group without members: the default view leaves the list out */
    resp = call("POST", "/Groups", NULL, "{" GROUP_SCHEMAS ", \"displayName\":"
                " \"Nobody\"}");
    ck_assert_int_eq(resp.status, 201);
    ck_assert_ptr_null(json_object_get(resp.body, "members"));
    assert_served_as_full_form(apr_pstrcat(pool, "/Groups/",
                                           string_at(resp.body, "id"), NULL),
                               1);
    /* an IdP's lookups: the same from the stored text */
    assert_list_as_full_form("/Users", "filter=userName+eq+%22plain%22", 1);
    assert_list_as_full_form("/Users", "filter=externalId+eq+%22ext-1%22", 1);
    assert_list_as_full_form("/Users",
                             "filter=emails.value+eq+%22j%40example.com%22",
                             1);
    assert_list_as_full_form("/Users",
                             "filter=emails%5Btype+eq+%22work%22+and+value+eq"
                             "+%22j%40example.com%22%5D", 1);
    assert_list_as_full_form("/Users", "filter=userName+eq+%22nobody%22", 0);
    assert_list_as_full_form("/Groups",
                             "filter=displayName+eq+%22Ops+%5C%221%5C%22%22",
                             1);
    /* pages: read unparsed and served from the stored texts */
    assert_list_as_full_form("/Users", "count=10", 3);
    assert_list_as_full_form("/Users", "startIndex=2&count=2", 2);
    assert_list_as_full_form("/Users", "cursor=&count=2", 2);
    assert_list_as_full_form("/Groups", "count=10", 2);
    /* a sorted page: its full forms were made to be sorted */
    assert_list_as_full_form("/Groups", "count=10&sortBy=displayName", 2);
    resp = call("GET", apr_pstrcat(pool, "/Users/", rich, NULL), NULL, NULL);
    ck_assert_ptr_null(json_object_get(resp.body, "password"));
    ck_assert_int_eq(json_array_size(json_object_get(resp.body, "groups")),
                     1);
    ck_assert_str_eq(string_at(json_object_get(resp.body,
                                               SCIM_SCHEMA_ENTERPRISE),
                               "department"), "R&D");
    /* after a change, the new version is what is served */
    resp = call("PATCH", apr_pstrcat(pool, "/Users/", rich, NULL), NULL,
                "{" PATCH_SCHEMAS ", \"Operations\": [{\"op\": \"replace\","
                " \"path\": \"active\", \"value\": true}]}");
    ck_assert_int_eq(resp.status, 200);
    etag = resp.etag;
    assert_served_as_full_form(apr_pstrcat(pool, "/Users/", rich, NULL), 1);
    resp = call("GET", apr_pstrcat(pool, "/Users/", rich, NULL), NULL, NULL);
    ck_assert(json_is_true(json_object_get(resp.body, "active")));
    ck_assert_str_eq(resp.etag, etag);
    ck_assert_str_eq(string_at(json_object_get(resp.body, "meta"),
                               "version"), etag);
    /* a write's answer is served the same way: what a GET then gives */
    req = request("POST", "/Users", NULL, "{" USER_SCHEMAS ", \"userName\":"
                  " \"writer\", \"name\": {\"givenName\": \"W\\u00e9\"}}");
    scim_service_handle(&req, &raw);
    ck_assert_int_eq(raw.status, 201);
    ck_assert_ptr_nonnull(raw.body_text);
    written = raw.body_text;
    id = string_at(scim_json_pool_own(pool, json_loads(written, 0, NULL)),
                   "id");
    req = request("GET", apr_pstrcat(pool, "/Users/", id, NULL), NULL, NULL);
    scim_service_handle(&req, &raw);
    ck_assert_str_eq(raw.body_text, written);
    req = request("PATCH", apr_pstrcat(pool, "/Users/", id, NULL), NULL,
                  "{" PATCH_SCHEMAS ", \"Operations\": [{\"op\": \"Replace\","
                  " \"path\": \"active\", \"value\": \"False\"}]}");
    scim_service_handle(&req, &raw);
    ck_assert_int_eq(raw.status, 200);
    ck_assert_ptr_nonnull(raw.body_text);
    written = raw.body_text;
    req = request("GET", apr_pstrcat(pool, "/Users/", id, NULL), NULL, NULL);
    scim_service_handle(&req, &raw);
    ck_assert_str_eq(raw.body_text, written);
    assert_served_as_full_form(apr_pstrcat(pool, "/Users/", id, NULL), 1);

    /* what the default view changes (an empty value, a password) or the
     * split does not take (a real) goes the full way */
    odd.rtype = "User";
    odd.id = "odd-one";
    odd.name = "odd";
    odd.created = odd.last_modified = scim_now(pool);
    odd.version = 1;
    odd.state = "provisioned";
    odd.resource = scim_json_pool_own(pool, json_pack(
        "{s:[s],s:s,s:[],s:s}", "schemas", SCIM_SCHEMA_USER, "userName",
        "odd", "emails", "password", "kept-by-an-old-version"));
    ck_assert_ptr_null(scim_store_create(store, "acme", &odd, NULL));
    assert_served_as_full_form("/Users/odd-one", 0);
    resp = call("GET", "/Users/odd-one", NULL, NULL);
    ck_assert_ptr_null(json_object_get(resp.body, "emails"));
    ck_assert_ptr_null(json_object_get(resp.body, "password"));
    ck_assert_str_eq(string_at(resp.body, "userName"), "odd");
    odd.id = "real-one";
    odd.name = "real";
    odd.resource = scim_json_pool_own(pool, json_pack("{s:[s],s:s,s:f}",
        "schemas", SCIM_SCHEMA_USER, "userName", "real", "score", 1.5));
    ck_assert_ptr_null(scim_store_create(store, "acme", &odd, NULL));
    assert_served_as_full_form("/Users/real-one", 0);
    /* empty values sent are not kept */
    resp = call("GET", apr_pstrcat(pool, "/Users/", hollow, NULL), NULL,
                NULL);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_ptr_null(json_object_get(resp.body, "emails"));
    ck_assert_ptr_null(json_object_get(resp.body, "name"));
}
END_TEST

START_TEST(routing_and_discovery)
{
    scim_response_t resp;
    json_t *meta;

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
    /* RFC 9865 4 */
    meta = json_object_get(resp.body, "pagination");
    ck_assert(json_is_true(json_object_get(meta, "cursor")));
    ck_assert(json_is_true(json_object_get(meta, "index")));
    ck_assert_str_eq(string_at(meta, "defaultPaginationMethod"), "index");
    ck_assert_int_eq(int_at(meta, "defaultPageSize"), 100);
    ck_assert_int_eq(int_at(meta, "maxPageSize"), 100);
    ck_assert_ptr_null(json_object_get(meta, "cursorTimeout"));
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


/* ---- page walks (scim_walk.h) ------------------------------------------ */

#define WALK_USERS 150
#define WALK_PAGE 10

static void *walk_table;

static void install_walks(void)
{
    walk_table = calloc(1, scim_walk_table_size());
    scim_walk_install(walk_table, NULL, NULL);
}

static void open_store_with_walks(void)
{
    open_store();
    install_walks();
}

static void close_store_with_walks(void)
{
    scim_walk_install(NULL, NULL, NULL);
    free(walk_table);
    store_fixture_close();
}

/* n users named prefix-i; their ids. */
static const char **create_users(const char *prefix, int n)
{
    const char **ids = apr_pcalloc(pool, sizeof(*ids) * (apr_size_t)n);
    int i;

    for (i = 0; i < n; i++) {
        ids[i] = create_user(apr_psprintf(pool, "%s-%03d", prefix, i));
    }
    return ids;
}

/* VM instructions SQLite ran for the store's connection since the last
 * call: what a statement steps through, rows it returns or not. */
static long sqlite_steps(void)
{
    void *lib = dlopen("libsqlite3.so.0", RTLD_NOW | RTLD_NOLOAD);
    void *(*next_stmt)(void *, void *);
    int (*stmt_status)(void *, int, int);
    void *db = apr_dbd_native_handle(store_fixture_driver(),
                                     store_fixture_handle());
    void *stmt = NULL;
    long steps = 0;

    ck_assert_ptr_nonnull(lib);
    *(void **)&next_stmt = dlsym(lib, "sqlite3_next_stmt");
    *(void **)&stmt_status = dlsym(lib, "sqlite3_stmt_status");
    ck_assert(next_stmt && stmt_status);
    while ((stmt = next_stmt(db, stmt))) {
        steps += stmt_status(stmt, 4 /* SQLITE_STMTSTATUS_VM_STEP */, 1);
    }
    dlclose(lib);
    return steps;
}

/* path and query's VM steps in *steps. */
static scim_response_t measured_get(const char *path, const char *query,
                                    long *steps)
{
    scim_response_t resp;

    sqlite_steps();
    resp = call("GET", path, query, NULL);
    *steps = sqlite_steps();
    ck_assert_int_eq(resp.status, 200);
    return resp;
}

/* A group of the users ids[0..n), named name; its id. */
static const char *create_group_of(const char *name, const char **ids, int n)
{
    json_t *members = json_array(), *doc;
    scim_response_t resp;
    char *body;
    int i;

    for (i = 0; i < n; i++) {
        json_array_append_new(members, json_pack("{s:s}", "value", ids[i]));
    }
    doc = json_pack("{s:[s],s:s,s:o}", "schemas", SCIM_SCHEMA_GROUP,
                    "displayName", name, "members", members);
    body = json_dumps(doc, 0);
    json_decref(doc);
    resp = call("POST", "/Groups", NULL, apr_pstrdup(pool, body));
    free(body);
    ck_assert_int_eq(resp.status, 201);
    return string_at(resp.body, "id");
}

/* Lookups through a side table (a user's groups, shown with the user; the
 * e-mail index, a group's members) read that table's few rows: the same lookup steps about
 * as far among 200 users in a large group as among a handful.  Walking
 * the organization's resources or memberships instead (what SQLite chose
 * for a plain JOIN ordered by the resource, and for a member's groups
 * once another index covered that lookup) steps over every one of them. */
START_TEST(side_table_lookups_do_not_walk_the_organization)
{
    const char *ids[201], *mail =
        "filter=emails.value%20eq%20%22side-0%40example.com%22";
    const char *path, *group_path;
    scim_response_t resp;
    long small_get, small_mail, small_group, large_get, large_mail,
         large_group;
    int i;

    for (i = 0; i < 201; i++) {
        resp = call("POST", "/Users", NULL, apr_psprintf(pool,
            "{" USER_SCHEMAS ", \"userName\": \"side-%d\", \"emails\":"
            " [{\"value\": \"side-%d@example.com\", \"type\": \"work\"}]}",
            i, i));
        ck_assert_int_eq(resp.status, 201);
        ids[i] = string_at(resp.body, "id");
        if (i == 1) {
            group_path = apr_pstrcat(pool, "/Groups/",
                                     create_group_of("first", ids, 1), NULL);
            path = apr_pstrcat(pool, "/Users/", ids[0], NULL);
            measured_get(path, NULL, &small_get);
            measured_get(group_path, NULL, &small_group);
            resp = measured_get("/Users", mail, &small_mail);
            ck_assert_int_eq(int_at(resp.body, "totalResults"), 1);
        }
    }
    create_group_of("everyone", ids + 1, 200);
    for (i = 1; i <= 40; i++) {
        create_group_of(apr_psprintf(pool, "team-%d", i), ids + i, 1);
    }
    resp = measured_get(path, NULL, &large_get);
    ck_assert_int_eq((int)json_array_size(json_object_get(resp.body,
                                                          "groups")), 1);
    resp = measured_get("/Users", mail, &large_mail);
    ck_assert_int_eq(int_at(resp.body, "totalResults"), 1);
    resp = measured_get(group_path, NULL, &large_group);
    ck_assert_int_eq((int)json_array_size(json_object_get(resp.body,
                                                          "members")), 1);
    ck_assert_int_le(large_group, small_group + 40);
    ck_assert_int_le(large_get, small_get + 40);
    ck_assert_int_le(large_mail, small_mail + 40);
}
END_TEST

/* GET /Users with query; its VM steps in *steps. */
static scim_response_t measured_call(const char *query, long *steps)
{
    scim_response_t resp;

    sqlite_steps();
    resp = call("GET", "/Users", query, NULL);
    *steps = sqlite_steps();
    ck_assert_int_eq(resp.status, 200);
    return resp;
}

static const char *page_query(int start_index)
{
    return apr_psprintf(pool, "startIndex=%d&count=%d", start_index,
                        WALK_PAGE);
}

/* A startIndex walk with no change meanwhile pages as OFFSET does. */
START_TEST(startindex_walk_gives_the_offset_pages)
{
    const char *walked[WALK_USERS / WALK_PAGE + 1];
    scim_response_t resp;
    int s, n = 0;

    create_users("walk", 55);
    for (s = 1; s <= 55; s += WALK_PAGE) {
        resp = call("GET", "/Users", page_query(s), NULL);
        walked[n++] = listed_ids(&resp);
        ck_assert_int_eq(int_at(resp.body, "totalResults"), 55);
        ck_assert_int_eq(int_at(resp.body, "startIndex"), s);
        ck_assert_ptr_null(json_object_get(resp.body, "nextCursor"));
    }
    /* the same pages by OFFSET alone, last first */
    scim_walk_install(NULL, NULL, NULL);
    for (s = 1 + (n - 1) * WALK_PAGE; s >= 1; s -= WALK_PAGE) {
        resp = call("GET", "/Users", page_query(s), NULL);
        ck_assert_str_eq(listed_ids(&resp), walked[--n]);
    }
}
END_TEST

/* After a row before the walk's position went away, the next page is the
 * OFFSET page of what is left (the positions moved), as before. */
START_TEST(startindex_walk_after_a_delete_pages_as_offset_does)
{
    const char **ids = create_users("gone", 30);
    const char *after;
    scim_response_t resp;

    resp = call("GET", "/Users", page_query(1), NULL);
    resp = call("DELETE", apr_pstrcat(pool, "/Users/", ids[3], NULL), NULL,
                NULL);
    ck_assert_int_eq(resp.status, 204);
    resp = call("GET", "/Users", page_query(11), NULL);
    after = listed_ids(&resp);
    scim_walk_install(NULL, NULL, NULL);
    resp = call("GET", "/Users", page_query(11), NULL);
    ck_assert_str_eq(after, listed_ids(&resp));
    ck_assert_int_eq(int_at(resp.body, "totalResults"), 29);
}
END_TEST

/* The late page of a walk reads from where the page before ended: it
 * steps through no more rows than an early one.  By OFFSET it would step
 * over every row before it. */
START_TEST(late_page_does_not_step_over_earlier_rows)
{
    const char *gid;
    scim_response_t resp;
    long early, late, offset, first_cursor, late_cursor;
    const char *cursor, *last;
    int s;

    create_users("steps", WALK_USERS);
    /* startIndex: page 2 follows page 1, the last page its predecessor */
    call("GET", "/Users", page_query(1), NULL);
    measured_call(page_query(1 + WALK_PAGE), &early);
    call("GET", "/Users", page_query(WALK_USERS - 2 * WALK_PAGE + 1), NULL);
    resp = measured_call(page_query(WALK_USERS - WALK_PAGE + 1), &late);
    ck_assert_int_eq(int_at(resp.body, "itemsPerPage"), WALK_PAGE);
    ck_assert_int_le(late, early + 20);
    /* the measure sees stepping: the same page by OFFSET */
    last = listed_ids(&resp);
    scim_walk_install(NULL, NULL, NULL);
    resp = measured_call(page_query(WALK_USERS - WALK_PAGE + 1), &offset);
    ck_assert_str_eq(listed_ids(&resp), last);
    ck_assert_int_gt(offset, early + WALK_USERS);
    free(walk_table);
    install_walks();

    /* cursors: the first page after the first, and the last */
    resp = call("GET", "/Users", "cursor=&count=10", NULL);
    cursor = string_at(resp.body, "nextCursor");
    measured_call(apr_pstrcat(pool, "count=10&cursor=", cursor, NULL),
                  &first_cursor);
    for (s = 1; (cursor = string_at(resp.body, "nextCursor")); s++) {
        const char *q = apr_pstrcat(pool, "count=10&cursor=", cursor, NULL);

        resp = measured_call(q, &late_cursor);
    }
    ck_assert_int_eq(s, WALK_USERS / WALK_PAGE);
    ck_assert_int_le(late_cursor, first_cursor + 20);

    /* a group's members by startIndex */
    resp = call("GET", "/Users", "count=100", NULL);
    ck_assert_int_eq(int_at(resp.body, "itemsPerPage"), 100);
    {
        json_t *members = json_array(), *doc, *r;
        size_t i;
        char *body;

        json_array_foreach(json_object_get(resp.body, "Resources"), i, r) {
            json_array_append_new(members, json_pack("{s:s}", "value",
                                                     string_at(r, "id")));
        }
        doc = json_pack("{s:[s],s:s,s:o}", "schemas", SCIM_SCHEMA_GROUP,
                        "displayName", "all", "members", members);
        body = json_dumps(doc, 0);
        json_decref(doc);
        resp = call("POST", "/Groups", NULL, apr_pstrdup(pool, body));
        free(body);
        ck_assert_int_eq(resp.status, 201);
        gid = string_at(resp.body, "id");
    }
    {
        const char *f = apr_pescape_urlencoded(pool,
            apr_pstrcat(pool, "groups.value eq \"", gid, "\"", NULL));
        const char *q1 = apr_pstrcat(pool, "filter=", f, "&", NULL);

        call("GET", "/Users", apr_pstrcat(pool, q1, page_query(1), NULL),
             NULL);
        measured_call(apr_pstrcat(pool, q1, page_query(11), NULL), &early);
        call("GET", "/Users", apr_pstrcat(pool, q1, page_query(81), NULL),
             NULL);
        resp = measured_call(apr_pstrcat(pool, q1, page_query(91), NULL),
                             &late);
        ck_assert_int_eq(int_at(resp.body, "totalResults"), 100);
        ck_assert_int_eq(int_at(resp.body, "itemsPerPage"), WALK_PAGE);
        ck_assert_int_le(late, early + 20);
    }
}
END_TEST

/* Every page of a cursor walk; the ids listed, comma-separated, in *ids. */
static int cursor_walk(const char *filter, int count, const char **ids,
                       void (*between)(int page))
{
    const char *cursor = "", *fq = filter
        ? apr_pstrcat(pool, "&filter=", apr_pescape_urlencoded(pool, filter),
                      NULL)
        : "";
    int pages = 0;

    *ids = "";
    while (cursor) {
        scim_response_t resp = call("GET", "/Users",
            apr_psprintf(pool, "count=%d&cursor=%s%s", count, cursor, fq),
            NULL);
        const char *page = listed_ids(&resp);

        ck_assert_ptr_null(json_object_get(resp.body, "startIndex"));
        ck_assert_int_le(int_at(resp.body, "itemsPerPage"), count);
        cursor = string_at(resp.body, "nextCursor");
        if (cursor) {
            ck_assert_int_eq(int_at(resp.body, "itemsPerPage"), count);
        }
        if (*page) {
            *ids = **ids ? apr_pstrcat(pool, *ids, ",", page, NULL) : page;
        }
        if (between) {
            between(pages);
        }
        pages++;
    }
    return pages;
}

static int listed_times(const char *ids, const char *id)
{
    const char *at = ids;
    int n = 0;

    while ((at = strstr(at, id))) {
        n++;
        at += strlen(id);
    }
    return n;
}

static const char **churn_ids;

/* Between the pages of a walk: a user seen and one not yet seen go, new
 * ones come. */
static void churn(int page)
{
    if (page == 1 || page == 3) {
        scim_response_t resp = call("DELETE", apr_pstrcat(pool, "/Users/",
            churn_ids[page == 1 ? 2 : 35], NULL), NULL, NULL);

        ck_assert_int_eq(resp.status, 204);
        create_user(apr_psprintf(pool, "new-%d", page));
    }
}

START_TEST(cursor_walk_lists_each_user_once)
{
    const char **ids = create_users("cw", 43);
    const char *listed;
    scim_response_t resp;
    int i;

    ck_assert_int_eq(cursor_walk(NULL, 7, &listed, NULL), 7);
    for (i = 0; i < 43; i++) {
        ck_assert_int_eq(listed_times(listed, ids[i]), 1);
    }
    resp = call("GET", "/Users", "cursor=&count=7", NULL);
    ck_assert_int_eq(int_at(resp.body, "totalResults"), 43);
    /* a walk that ends on a full page has no nextCursor after it */
    ck_assert_int_eq(cursor_walk(NULL, 43, &listed, NULL), 1);
    /* count=0: the total alone */
    resp = call("GET", "/Users", "cursor=&count=0", NULL);
    ck_assert_int_eq(int_at(resp.body, "totalResults"), 43);
    ck_assert_ptr_null(json_object_get(resp.body, "nextCursor"));

    /* a filter no index answers: no totalResults, each match once */
    ck_assert_int_eq(cursor_walk("userName sw \"cw-01\"", 3, &listed, NULL),
                     4);
    for (i = 10; i < 20; i++) {
        ck_assert_int_eq(listed_times(listed, ids[i]), 1);
    }
    ck_assert_int_eq(listed_times(listed, ids[9]), 0);
    resp = call("GET", "/Users", "cursor=&count=3&filter=userName+sw+%22cw%22",
                NULL);
    ck_assert_ptr_null(json_object_get(resp.body, "totalResults"));

    /* POST .search pages by cursor too */
    resp = call("POST", "/Users/.search", NULL,
                "{\"cursor\": \"\", \"count\": 40}");
    ck_assert_int_eq(int_at(resp.body, "itemsPerPage"), 40);
    resp = call("POST", "/Users/.search", NULL,
                apr_psprintf(pool, "{\"cursor\": \"%s\", \"count\": 40}",
                             string_at(resp.body, "nextCursor")));
    ck_assert_int_eq(int_at(resp.body, "itemsPerPage"), 3);
    ck_assert_ptr_null(json_object_get(resp.body, "nextCursor"));

    /* users created and deleted during a walk: every user there
     * throughout is listed once */
    churn_ids = ids;
    cursor_walk(NULL, 7, &listed, churn);
    for (i = 0; i < 43; i++) {
        if (i != 2 && i != 35) {
            ck_assert_int_eq(listed_times(listed, ids[i]), 1);
        }
    }
}
END_TEST

START_TEST(cursor_errors)
{
    const char *cursor, *bad;
    scim_response_t resp;

    create_users("ce", 5);
    resp = call("GET", "/Users", "cursor=&count=2", NULL);
    cursor = string_at(resp.body, "nextCursor");
    ck_assert_ptr_nonnull(cursor);
    bad = apr_pstrdup(pool, cursor);
    ((char *)bad)[3] = bad[3] == 'x' ? 'y' : 'x';
    resp = call("GET", "/Users", apr_pstrcat(pool, "cursor=", bad, NULL),
                NULL);
    assert_error(&resp, 400, SCIM_TYPE_INVALID_CURSOR);
    resp = call("GET", "/Users", "cursor=garbage", NULL);
    assert_error(&resp, 400, SCIM_TYPE_INVALID_CURSOR);
    resp = call("POST", "/Users/.search", NULL, "{\"cursor\": \"garbage\"}");
    assert_error(&resp, 400, SCIM_TYPE_INVALID_CURSOR);
    /* a cursor is only good for its own list */
    resp = call("GET", "/Groups", apr_pstrcat(pool, "cursor=", cursor, NULL),
                NULL);
    assert_error(&resp, 400, SCIM_TYPE_INVALID_CURSOR);
    resp = call("GET", "/Users", apr_pstrcat(pool, "cursor=", cursor,
                "&filter=active+eq+true", NULL), NULL);
    assert_error(&resp, 400, SCIM_TYPE_INVALID_CURSOR);
    /* one way to page at a time; cursors follow the default order */
    resp = call("GET", "/Users", "cursor=&startIndex=1", NULL);
    assert_error(&resp, 400, SCIM_TYPE_INVALID_VALUE);
    resp = call("POST", "/Users/.search", NULL,
                "{\"cursor\": \"\", \"startIndex\": 3}");
    assert_error(&resp, 400, SCIM_TYPE_INVALID_VALUE);
    resp = call("GET", "/Users", "cursor=&sortBy=userName", NULL);
    assert_error(&resp, 400, SCIM_TYPE_INVALID_VALUE);
    resp = call("POST", "/.search", NULL, "{\"cursor\": \"\"}");
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
    tcase_add_test(tc, get_serves_the_stored_text_as_the_full_form);
    tcase_add_test(tc, routing_and_discovery);
    tcase_add_test(tc, routing_ignores_endpoint_case);
    tcase_add_test(tc, root_search_lists_every_type);
    tcase_add_test(tc, side_table_lookups_do_not_walk_the_organization);
    suite_add_tcase(s, tc);

    tc = tcase_create("walks");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, open_store_with_walks,
                              close_store_with_walks);
    tcase_add_test(tc, startindex_walk_gives_the_offset_pages);
    tcase_add_test(tc, startindex_walk_after_a_delete_pages_as_offset_does);
    tcase_add_test(tc, late_page_does_not_step_over_earlier_rows);
    tcase_add_test(tc, cursor_walk_lists_each_user_once);
    tcase_add_test(tc, cursor_errors);
    suite_add_tcase(s, tc);
    return s;
}
