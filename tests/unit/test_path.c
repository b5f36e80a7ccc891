/* Attribute path resolution and the case-insensitive JSON helpers. */

#include <apr_pools.h>

#include "scim_path.h"
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

static scim_attr_path_t resolve_ok(const char *text)
{
    scim_attr_path_t path;
    scim_error_t *err = scim_attr_path_resolve(pool, &scim_resource_type_user,
                                               text, 0, &path);

    ck_assert_msg(err == NULL, "%s: %s", text, err ? err->detail : "");
    return path;
}

START_TEST(core_attribute_any_case)
{
    scim_attr_path_t path = resolve_ok("USERNAME");

    ck_assert_ptr_null(path.schema_urn);
    ck_assert_str_eq(path.attr_name, "userName");
    ck_assert_ptr_nonnull(path.attr);
    ck_assert_int_eq(path.attr->case_exact, 0);
    ck_assert_ptr_null(path.sub_name);
}
END_TEST

START_TEST(sub_attribute)
{
    scim_attr_path_t path = resolve_ok("name.GivenName");

    ck_assert_str_eq(path.attr_name, "name");
    ck_assert_str_eq(path.sub_name, "givenName");
    ck_assert_ptr_eq(scim_attr_path_leaf(&path), path.sub);
}
END_TEST

START_TEST(common_attributes)
{
    scim_attr_path_t path = resolve_ok("meta.lastModified");

    ck_assert_str_eq(path.attr_name, "meta");
    ck_assert_int_eq(path.sub->type, SCIM_ATTR_DATETIME);
    path = resolve_ok("id");
    ck_assert_int_eq(path.attr->mutability, SCIM_MUT_READONLY);
}
END_TEST

START_TEST(extension_urn_paths)
{
    scim_attr_path_t path = resolve_ok(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"
        "manager.value");

    ck_assert_str_eq(path.schema_urn, SCIM_SCHEMA_ENTERPRISE);
    ck_assert_str_eq(path.attr_name, "manager");
    ck_assert_str_eq(path.sub_name, "value");

    /* the whole extension */
    path = resolve_ok(SCIM_SCHEMA_ENTERPRISE);
    ck_assert_str_eq(path.schema_urn, SCIM_SCHEMA_ENTERPRISE);
    ck_assert_ptr_null(path.attr_name);

    /* the core URN as a prefix names a core attribute */
    path = resolve_ok("urn:ietf:params:scim:schemas:core:2.0:User:userName");
    ck_assert_ptr_null(path.schema_urn);
    ck_assert_str_eq(path.attr_name, "userName");

    /* a bare extension attribute name, declared by one extension only */
    path = resolve_ok("employeeNumber");
    ck_assert_str_eq(path.schema_urn, SCIM_SCHEMA_ENTERPRISE);
}
END_TEST

START_TEST(custom_extension_is_undeclared)
{
    scim_attr_path_t path = resolve_ok(
        "urn:example:params:scim:schemas:extension:acme:2.0:User:badge.code");

    ck_assert_str_eq(path.schema_urn,
                     "urn:example:params:scim:schemas:extension:acme:2.0:User");
    ck_assert_str_eq(path.attr_name, "badge");
    ck_assert_str_eq(path.sub_name, "code");
    ck_assert_ptr_null(path.attr);
    ck_assert_ptr_null(scim_attr_path_leaf(&path));
}
END_TEST

START_TEST(errors_name_the_problem)
{
    scim_attr_path_t path;
    scim_error_t *err;

    err = scim_attr_path_resolve(pool, &scim_resource_type_user, "nosuch", 0,
                                 &path);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(err->status, 400);
    ck_assert_str_eq(err->scim_type, "invalidPath");
    err = scim_attr_path_resolve(pool, &scim_resource_type_user, "nosuch", 1,
                                 &path);
    ck_assert_str_eq(err->scim_type, "invalidFilter");
    ck_assert_ptr_nonnull(scim_attr_path_resolve(pool,
        &scim_resource_type_user, "userName.sub", 0, &path));
    ck_assert_ptr_nonnull(scim_attr_path_resolve(pool,
        &scim_resource_type_user, "name.nosuch", 0, &path));
    ck_assert_ptr_nonnull(scim_attr_path_resolve(pool,
        &scim_resource_type_user, "", 0, &path));
    ck_assert_ptr_nonnull(scim_attr_path_resolve(pool,
        &scim_resource_type_user, "1abc", 0, &path));
    ck_assert_ptr_nonnull(scim_attr_path_resolve(pool,
        &scim_resource_type_user, "name.", 0, &path));
    ck_assert_ptr_nonnull(scim_attr_path_resolve(pool,
        &scim_resource_type_user, SCIM_SCHEMA_USER, 0, &path));
}
END_TEST

START_TEST(json_lookup_ignores_case)
{
    json_t *obj = json_pack("{s:i,s:i}", "userName", 1, "Active", 2);
    const char *key = NULL;

    ck_assert_int_eq(json_integer_value(scim_json_get_ci(obj, "USERNAME",
                                                         &key)), 1);
    ck_assert_str_eq(key, "userName");
    ck_assert_int_eq(json_integer_value(scim_json_get_ci(obj, "active",
                                                         NULL)), 2);
    ck_assert_ptr_null(scim_json_get_ci(obj, "missing", NULL));
    scim_json_del_ci(obj, "ACTIVE");
    ck_assert_int_eq((int)json_object_size(obj), 1);
    ck_assert(scim_streq_ci("Replace", "replace"));
    ck_assert(!scim_streq_ci("Replace", NULL));
    json_decref(obj);
}
END_TEST

Suite *path_suite(void)
{
    Suite *s = suite_create("path");
    TCase *tc = tcase_create("resolve");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, core_attribute_any_case);
    tcase_add_test(tc, sub_attribute);
    tcase_add_test(tc, common_attributes);
    tcase_add_test(tc, extension_urn_paths);
    tcase_add_test(tc, custom_extension_is_undeclared);
    tcase_add_test(tc, errors_name_the_problem);
    tcase_add_test(tc, json_lookup_ignores_case);
    suite_add_tcase(s, tc);
    return s;
}
