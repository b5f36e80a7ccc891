/* Filters as SQL conditions (scim_sqlfilter.h): the text and parameters
 * of each translation, and, on a real database (SQLite, and PostgreSQL
 * when SCIM_TEST_PGSQL_PARAMS names a server), that every filter of a
 * table of IdP-realistic ones hands the C evaluator every match (exactly
 * the matches where the translation says it is exact), and that SQL sort
 * keys order as the C comparator does. */

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "scim_db.h"
#include "scim_filter.h"
#include "scim_sqlfilter.h"
#include "scim_store.h"
#include "store_fixture.h"
#include "suites.h"

static apr_pool_t *pool;
static scim_store_t *store;

static void open_pool(void)
{
    apr_pool_create(&pool, NULL);
}

static void close_pool(void)
{
    apr_pool_destroy(pool);
}

static scim_filter_t *parse(const char *text)
{
    scim_filter_t *f = NULL;
    scim_error_t *err = scim_filter_parse(pool, &scim_resource_type_user,
                                          text, &f);

    ck_assert_msg(!err, "%s: %s", text, err ? err->detail : "");
    return f;
}

static scim_sql_cond_t sqlite_of(const char *text)
{
    return scim_sqlfilter_translate(pool, parse(text), SCIM_SQL_SQLITE);
}

static const char *param(const scim_sql_cond_t *c, int i)
{
    ck_assert_int_gt(c->params->nelts, i);
    return APR_ARRAY_IDX(c->params, i, const char *);
}

/* The compared value: the last parameter (a text test may come first). */
static const char *value_param(const scim_sql_cond_t *c)
{
    return param(c, c->params->nelts - 1);
}

/* ---- the translation ------------------------------------------------------ */

START_TEST(values_are_bound_never_written)
{
    scim_sql_cond_t c = sqlite_of("name.familyName eq \"O'Brien\"");

    ck_assert_ptr_nonnull(c.sql);
    ck_assert_ptr_null(strstr(c.sql, "O'Brien"));
    ck_assert_ptr_nonnull(strstr(c.sql, "'$.name.familyName'"));
    /* the text test first, then the value */
    ck_assert_int_eq(c.params->nelts, 2);
    ck_assert_str_eq(param(&c, 0), "%O'Brien%");
    ck_assert_ptr_nonnull(strstr(c.sql, "r.resource LIKE %s"));
    ck_assert_str_eq(param(&c, 1), "O'Brien");
    ck_assert(c.exact);
    c = scim_sqlfilter_translate(pool, parse("title eq \"x\""),
                                 SCIM_SQL_PGSQL);
    ck_assert_ptr_nonnull(strstr(c.sql, "->> 'title'"));
    ck_assert_str_eq(param(&c, 0), "x");
}
END_TEST

START_TEST(like_patterns_escape_wildcards)
{
    scim_sql_cond_t c = sqlite_of("title co \"50%_a\\\\b\"");

    ck_assert_ptr_nonnull(strstr(c.sql, "LIKE %s ESCAPE '\\'"));
    ck_assert_str_eq(param(&c, 0), "%50\\%\\_a\\\\b%");
    c = sqlite_of("title sw \"Eng\"");
    ck_assert_str_eq(value_param(&c), "Eng%");
    c = sqlite_of("title ew \"eer\"");
    ck_assert_str_eq(value_param(&c), "%eer");
    /* caseExact: GLOB, its own wildcards escaped */
    c = sqlite_of("externalId co \"a*b?[c\"");
    ck_assert_ptr_nonnull(strstr(c.sql, "GLOB %s"));
    ck_assert_str_eq(value_param(&c), "*a[*]b[?][[]c*");
    ck_assert_ptr_nonnull(strstr(c.sql, "instr(r.resource, %s) > 0"));
    ck_assert_str_eq(param(&c, 0), "a*b?[c");
    /* PostgreSQL has no patterns: strpos, starts_with */
    c = scim_sqlfilter_translate(pool, parse("title co \"50%\""),
                                 SCIM_SQL_PGSQL);
    ck_assert_ptr_nonnull(strstr(c.sql, "strpos("));
    ck_assert_str_eq(value_param(&c), "50%");
}
END_TEST

START_TEST(case_rules_follow_the_definition)
{
    /* caseExact false: folded in C for ordering, LIKE for equality */
    scim_sql_cond_t c = sqlite_of("userName gt \"Bob\"");

    ck_assert_ptr_nonnull(strstr(c.sql, "lower("));
    ck_assert_str_eq(param(&c, 0), "bob");
    c = scim_sqlfilter_translate(pool, parse("displayName eq \"Ann\""),
                                 SCIM_SQL_PGSQL);
    /* folded in ASCII only under any locale, as the C evaluator folds */
    ck_assert_ptr_nonnull(strstr(c.sql, "lower(("));
    ck_assert_ptr_nonnull(strstr(c.sql, ") COLLATE \"C\")"));
    /* no text test first: the stored jsonb is read for less */
    ck_assert_ptr_null(strstr(c.sql, "ILIKE"));
    ck_assert_str_eq(value_param(&c), "ann");
    /* externalId is caseExact */
    c = sqlite_of("externalId eq \"AbC\"");
    ck_assert_ptr_null(strstr(c.sql, "LIKE"));
    ck_assert_str_eq(value_param(&c), "AbC");
}
END_TEST

START_TEST(multi_valued_attributes_are_exists)
{
    scim_sql_cond_t c =
        sqlite_of("emails[type eq \"work\" and value eq \"a@b\"]");

    ck_assert_ptr_nonnull(strstr(c.sql, "EXISTS (SELECT 1 FROM json_each("
                                        "r.resource, '$.emails') e WHERE"));
    /* the longer of the texts an element needs, tested first */
    ck_assert_int_eq(c.params->nelts, 3);
    ck_assert_str_eq(param(&c, 0), "%work%");
    ck_assert_str_eq(param(&c, 1), "work");
    ck_assert_str_eq(param(&c, 2), "a@b");
    ck_assert(c.exact);
    c = sqlite_of("emails[type eq \"work\"].value ne \"a@b\"");
    ck_assert_ptr_nonnull(strstr(c.sql, "(NOT EXISTS"));
    c = scim_sqlfilter_translate(pool, parse("emails co \"@b\""),
                                 SCIM_SQL_PGSQL);
    ck_assert_ptr_nonnull(strstr(c.sql, "jsonb_array_elements("));
}
END_TEST

START_TEST(untranslatable_parts_widen)
{
    /* the computed membership extension: TRUE; "and" keeps the rest */
    scim_sql_cond_t c = sqlite_of("title eq \"x\" and urn:modscim:schemas:"
                                  "extension:membership:2.0:User:state eq"
                                  " \"linked\"");

    ck_assert_ptr_nonnull(c.sql);
    ck_assert_int_eq(c.params->nelts, 1);
    ck_assert(!c.exact);
    /* "or" with an unknown side, and "not" over an inexact part: nothing */
    c = sqlite_of("title eq \"x\" or groups.value eq \"g\"");
    ck_assert_ptr_null(c.sql);
    c = sqlite_of("not (title eq \"x\" and groups.value eq \"g\")");
    ck_assert_ptr_null(c.sql);
    /* "not" over an exact part stays */
    c = sqlite_of("not (title eq \"x\")");
    ck_assert_ptr_nonnull(strstr(c.sql, "(NOT "));
    ck_assert(c.exact);
}
END_TEST

START_TEST(enterprise_attributes_under_their_urn)
{
    scim_sql_cond_t c = sqlite_of("urn:ietf:params:scim:schemas:extension:"
                                  "enterprise:2.0:User:manager.value eq"
                                  " \"m1\"");

    ck_assert_ptr_nonnull(strstr(c.sql, "'$.\"" SCIM_SCHEMA_ENTERPRISE
                                        "\".manager.value'"));
    ck_assert(c.exact);
    c = scim_sqlfilter_translate(pool, parse(SCIM_SCHEMA_ENTERPRISE
                                             ":department sw \"Sa\""),
                                 SCIM_SQL_PGSQL);
    ck_assert_ptr_nonnull(strstr(c.sql, "(r.resource_jsonb -> '"
                                        SCIM_SCHEMA_ENTERPRISE "')"));
    ck_assert_str_eq(value_param(&c), "sa");
}
END_TEST

START_TEST(meta_times_compare_as_instants)
{
    scim_sql_cond_t c = sqlite_of("meta.lastModified gt "
                                  "\"2026-03-01T10:00:00+02:00\"");

    ck_assert_ptr_nonnull(strstr(c.sql, "r.last_modified > %s"));
    ck_assert_str_eq(param(&c, 0), "2026-03-01T08:00:00.000Z");
    /* a finer literal than the columns' milliseconds */
    c = sqlite_of("meta.created ge \"2024-02-29T23:59:59.1234Z\"");
    ck_assert_ptr_nonnull(strstr(c.sql, "r.created > %s"));
    ck_assert_str_eq(param(&c, 0), "2024-02-29T23:59:59.123Z");
    c = sqlite_of("meta.created eq \"2024-02-29T23:59:59.1234Z\"");
    ck_assert_str_eq(c.sql, "FALSE");
    ck_assert(c.exact);
    c = sqlite_of("meta.created lt \"0001-01-01T00:00:00Z\"");
    ck_assert_str_eq(param(&c, 0), "0001-01-01T00:00:00.000Z");
}
END_TEST

START_TEST(sort_keys_only_where_sql_orders_as_c)
{
    scim_attr_path_t path;
    const char *key;

    ck_assert_ptr_null(scim_attr_path_resolve(pool, &scim_resource_type_user,
                                              "userName", 0, &path));
    ck_assert_str_eq(scim_sqlfilter_sort_key(pool, &path, SCIM_SQL_SQLITE),
                     "r.name_ci");
    ck_assert_ptr_null(scim_attr_path_resolve(pool, &scim_resource_type_user,
                                              "name.familyName", 0, &path));
    key = scim_sqlfilter_sort_key(pool, &path, SCIM_SQL_PGSQL);
    ck_assert_ptr_nonnull(strstr(key, "COLLATE \"C\""));
    ck_assert_ptr_null(scim_attr_path_resolve(pool, &scim_resource_type_user,
                                              "emails", 0, &path));
    ck_assert_ptr_null(scim_sqlfilter_sort_key(pool, &path, SCIM_SQL_SQLITE));
    ck_assert_ptr_null(scim_attr_path_resolve(pool, &scim_resource_type_user,
                                              "active", 0, &path));
    ck_assert_ptr_null(scim_sqlfilter_sort_key(pool, &path, SCIM_SQL_SQLITE));
}
END_TEST

/* ---- on the database: the same answers as C ----------------------------- */

static void open_store(void)
{
    store = store_fixture_open(&pool);
}

static void open_store_pgsql(void)
{
    store = store_fixture_open_driver("pgsql", &pool);
}

/* Users in the stored shape, chosen for the edges: case, wildcards and
 * backslashes in values, absent and empty attributes, several e-mails,
 * non-ASCII letters. */
static const char *const seed[] = {
    "{\"userName\": \"ann\", \"name\": {\"familyName\": \"Smith\"},"
    " \"" SCIM_SCHEMA_ENTERPRISE "\": {\"department\": \"Sales\","
    " \"manager\": {\"value\": \"u3\"}},"
    " \"title\": \"Engineer\", \"active\": true, \"emails\": ["
    "{\"value\": \"ann@Work.example\", \"type\": \"work\", \"primary\": true},"
    "{\"value\": \"ann@home.example\", \"type\": \"home\"}]}",
    "{\"userName\": \"Bob\", \"name\": {\"familyName\": \"SMITH\"},"
    " \"title\": \"senior ENGINEER\", \"active\": false}",
    "{\"userName\": \"carl\", \"name\": {\"givenName\": \"Carl\"},"
    " \"title\": \"\", \"emails\": [{\"value\": \"x@work.example\","
    " \"type\": \"home\"}]}",
    "{\"userName\": \"dora\", \"title\": \"50% off_sale\\\\now\","
    " \"" SCIM_SCHEMA_ENTERPRISE "\": {\"department\": \"sales ops\"},"
    " \"externalId\": \"AbC*1\", \"active\": true}",
    "{\"userName\": \"Émile\", \"name\": {\"familyName\": \"Émond\"},"
    " \"displayName\": \"Émile É\", \"title\": \"chef\"}",
    "{\"userName\": \"fay\", \"displayName\": \"Fay\", \"title\": \"5000 off\","
    " \"externalId\": \"abc*1\", \"active\": true, \"emails\": ["
    "{\"value\": \"fay@work.example\", \"type\": \"work\"}]}",
    "{\"userName\": \"gus_\", \"name\": {\"familyName\": \"smithson\"},"
    " \"displayName\": \"a\", \"emails\": [{\"value\": \"g@x\","
    " \"type\": \"WORK\"}]}",
    "{\"userName\": \"hal%\", \"displayName\": \"B\", \"title\": \"eng\"}",
};

static const char *const created[] = {
    "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z",
    "2026-01-02T10:00:00.500Z", "2026-01-03T00:00:00.000Z",
    "2026-01-03T00:00:00.000Z", "2026-02-01T00:00:00.001Z",
    "2026-02-01T00:00:00.001Z", "2026-03-01T00:00:00.000Z",
};

#define NSEED ((int)(sizeof(seed) / sizeof(seed[0])))

/* The served shape the filter runs on (scim_render_full_resource): id and
 * meta beside the stored JSON. */
static json_t *full(const scim_record_t *rec)
{
    json_t *res = json_deep_copy(rec->resource);

    json_object_set_new(res, "id", json_string(rec->id));
    json_object_set_new(res, "meta", json_pack("{s:s,s:s}",
                        "created", rec->created,
                        "lastModified", rec->last_modified));
    return scim_json_pool_own(pool, res);
}

static void seed_users(void)
{
    int i;

    for (i = 0; i < NSEED; i++) {
        scim_record_t *rec = apr_pcalloc(pool, sizeof(*rec));
        json_error_t jerr;

        rec->rtype = "User";
        rec->id = apr_psprintf(pool, "u%d", i);
        rec->resource = scim_json_pool_own(pool, json_loads(seed[i], 0,
                                                            &jerr));
        ck_assert_msg(rec->resource != NULL, "%s", jerr.text);
        rec->name = json_string_value(json_object_get(rec->resource,
                                                      "userName"));
        rec->external_id = json_string_value(
            json_object_get(rec->resource, "externalId"));
        rec->created = created[i];
        rec->last_modified = created[NSEED - 1 - i];
        rec->version = 1;
        rec->state = "provisioned";
        rec->active = !json_is_false(json_object_get(rec->resource,
                                                     "active"));
        ck_assert_ptr_null(scim_store_create(store, "acme", rec, NULL));
    }
    /* another organization's users are never candidates */
    {
        scim_record_t *rec = apr_pcalloc(pool, sizeof(*rec));

        rec->rtype = "User";
        rec->id = "other";
        rec->name = "ann";
        rec->created = rec->last_modified = created[0];
        rec->version = 1;
        rec->state = "provisioned";
        rec->resource = scim_json_pool_own(pool, json_loads(seed[0], 0,
                                                            NULL));
        ck_assert_ptr_null(scim_store_create(store, "other", rec, NULL));
    }
}

/* Every record of the organization (cond NULL) or the candidates of cond,
 * read in chunks of 3 so that the keyset is crossed. */
static apr_array_header_t *read_all(const scim_sql_cond_t *cond)
{
    apr_array_header_t *all = apr_array_make(pool, 8,
                                             sizeof(scim_record_t *));
    const scim_record_t *last = NULL;

    for (;;) {
        apr_array_header_t *chunk = apr_array_make(pool, 3,
                                                   sizeof(scim_record_t *));
        int i;

        ck_assert_ptr_null(scim_store_scan_where(store, pool, "acme", "User",
                                                 cond, last, 3, chunk));
        for (i = 0; i < chunk->nelts; i++) {
            APR_ARRAY_PUSH(all, scim_record_t *) =
                APR_ARRAY_IDX(chunk, i, scim_record_t *);
        }
        if (chunk->nelts < 3) {
            return all;
        }
        last = APR_ARRAY_IDX(chunk, chunk->nelts - 1, scim_record_t *);
    }
}

/* The ids among recs the filter matches, in order, comma-separated. */
static const char *judged(const scim_filter_t *f,
                          const apr_array_header_t *recs)
{
    const char *ids = "";
    int i;

    for (i = 0; i < recs->nelts; i++) {
        const scim_record_t *rec = APR_ARRAY_IDX(recs, i, scim_record_t *);

        if (scim_filter_match(f, full(rec))) {
            ids = apr_pstrcat(pool, ids, rec->id, ",", NULL);
        }
    }
    return ids;
}

static const char *const filters[] = {
    "name.familyName eq \"smith\"",
    "name.familyName sw \"SMITH\"",
    "name.familyName ne \"Smith\"",
    "name.familyName pr",
    "not (name.familyName pr)",
    "name.familyName eq null",
    "name.familyName ne null",
    "name.familyName gt \"smith\"",
    "name.familyName le \"Smith\"",
    "name.familyName eq \"émond\"",
    "name.familyName eq \"Émond\"",
    "title co \"eng\"",
    "title co \"ENG\" and active eq true",
    "title co \"%\"",
    "title co \"_\"",
    "title co \"\\\\\"",
    "title co \"0% off_\"",
    "title sw \"5\"",
    "title ew \"NEER\"",
    "title co \"\"",
    "title eq \"\"",
    "title pr",
    "title gt \"chef\" and title lt \"eng\"",
    "title ge \"Eng\"",
    "userName sw \"hal%\"",
    "userName ew \"_\"",
    "userName eq \"ÉMILE\"",
    "userName eq \"émile\"",
    "displayName lt \"b\"",
    "displayName ge \"a\"",
    "externalId eq \"abc*1\"",
    "externalId co \"*\"",
    "externalId sw \"AbC\"",
    "externalId ne \"abc*1\"",
    "active eq false",
    "active eq true",
    "active ne true",
    "not (active eq true)",
    "active pr",
    "active eq \"true\"",
    "emails[type eq \"work\" and value eq \"ANN@work.example\"]",
    "emails[type eq \"work\" and value eq \"x@work.example\"]",
    "emails[type eq \"work\"].value co \"work\"",
    "emails[type eq \"work\"].value ne \"ann@work.example\"",
    "emails[type eq \"work\"]",
    "emails[not (type eq \"work\")]",
    "emails.value ew \".example\"",
    "emails co \"@WORK\"",
    "emails.type eq \"work\" and emails.value sw \"x\"",
    "emails.primary eq true",
    "emails.value pr",
    "emails.value eq null",
    "meta.created gt \"2026-01-02T10:00:00.5Z\"",
    "meta.created ge \"2026-01-02T10:00:00.5Z\"",
    "meta.created ge \"2026-01-02T10:00:00.5001Z\"",
    "meta.created lt \"2026-01-03T01:00:00+01:00\"",
    "meta.created eq \"2026-02-01T00:00:00.001Z\"",
    "meta.lastModified le \"2026-01-03T00:00:00Z\"",
    "meta.created pr",
    "title co \"eng\" or name.familyName eq \"smith\"",
    "title co \"eng\" or urn:ietf:params:scim:schemas:extension:"
    "enterprise:2.0:User:department eq \"x\"",
    SCIM_SCHEMA_ENTERPRISE ":department eq \"SALES\"",
    SCIM_SCHEMA_ENTERPRISE ":department sw \"sales\"",
    SCIM_SCHEMA_ENTERPRISE ":department pr",
    SCIM_SCHEMA_ENTERPRISE ":manager.value eq \"u3\"",
    "not (" SCIM_SCHEMA_ENTERPRISE ":manager.value eq \"U3\")",
    "urn:modscim:schemas:extension:membership:2.0:User:state eq"
    " \"provisioned\" and title co \"eng\"",
    "title co \"ngineer\" and emails.value co \"work.example\"",
    "title co \"%\" or title co \"ngi\"",
    "not (title co \"eng\" or emails[type eq \"home\"])",
    "userName pr and not (displayName pr)",
    "id eq \"u3\" or title eq \"chef\"",
    "title eq \"eng\\u0000x\" or title co \"\\u0000\"",
};

#define NFILTERS ((int)(sizeof(filters) / sizeof(filters[0])))

/* Filters per run: a connection keeps SCIM_DB_DYNAMIC_MAX statements (and
 * reads every record beyond them), each filter here prepares up to 3. */
#define FILTERS_PER_RUN 12

START_TEST(database_hands_c_every_match)
{
    scim_sql_dialect_t d = scim_store_dialect(store);
    int i;

    seed_users();
    ck_assert_int_eq(read_all(NULL)->nelts, NSEED);
    for (i = _i * FILTERS_PER_RUN;
         i < NFILTERS && i < (_i + 1) * FILTERS_PER_RUN; i++) {
        scim_filter_t *f = parse(filters[i]);
        scim_sql_cond_t cond = scim_sqlfilter_translate(pool, f, d);
        apr_array_header_t *candidates = read_all(&cond);
        const char *expected = judged(f, read_all(NULL));
        int count = -1, declined = 1;

        ck_assert_msg(strcmp(judged(f, candidates), expected) == 0,
                      "%s: candidates judge to %s, not %s (%s)", filters[i],
                      judged(f, candidates), expected,
                      cond.sql ? cond.sql : "TRUE");
        if (cond.exact) {
            ck_assert_msg(strcmp(judged(NULL, candidates), expected) == 0,
                          "%s claims exact: %s, not %s (%s)", filters[i],
                          judged(NULL, candidates), expected, cond.sql);
            ck_assert_ptr_null(scim_store_count_where(store, "acme", "User",
                                                      &cond, &count,
                                                      &declined));
            ck_assert(!declined);
            ck_assert_int_eq(count, candidates->nelts);
        }
    }
}
END_TEST

START_TEST(translation_used_and_exact_where_claimed)
{
    scim_sql_dialect_t d = scim_store_dialect(store);
    scim_sql_cond_t cond = scim_sqlfilter_translate(pool,
        parse("name.familyName eq \"smith\""), d);
    scim_store_stats_t before, after;
    apr_array_header_t *candidates;

    seed_users();
    before = scim_store_stats(store);
    candidates = read_all(&cond);
    after = scim_store_stats(store);
    /* two rows handed over, not eight */
    ck_assert_int_eq(candidates->nelts, 2);
    ck_assert_int_eq(after.rows_read - before.rows_read, 2);
    ck_assert(cond.exact);
}
END_TEST

/* The C order of sortBy (compare_entries in scim_query.c): the sort value,
 * absent last (first descending), ties in the default order. */
typedef struct keyed {
    const json_t *key;
    const scim_attr_t *def;
    int seq;
    int descending;
    const char *id;
} keyed_t;

static int keyed_cmp(const void *a, const void *b)
{
    const keyed_t *x = a, *y = b;
    int cmp = !x->key || !y->key ? !x->key - !y->key
                                 : scim_value_compare(x->def, x->key, y->key);

    if (x->descending) {
        cmp = -cmp;
    }
    return cmp ? cmp : x->seq - y->seq;
}

/* The ids of the matches of cond (NULL: all) in SQL's order, read in
 * pages of size so that page boundaries fall between ties and absent keys
 * alike; *totals: each page's count ("-1" where the page's statement did
 * not count), "," after each. */
static const char *sql_pages(const scim_sql_cond_t *cond, const char *key,
                             int desc, int size, const char **totals)
{
    const char *order = "";
    int offset;

    *totals = "";
    for (offset = 0;; offset += size) {
        apr_array_header_t *window = apr_array_make(pool, size,
                                                    sizeof(scim_record_t *));
        int declined = 1, total = 0, j;

        ck_assert_ptr_null(scim_store_window(store, pool, "acme", "User",
                                             cond, key, desc, offset, size,
                                             window, &total, &declined));
        ck_assert(!declined);
        if (window->nelts == 0) {
            /* past the end: no row to carry a count */
            ck_assert_int_eq(total, -1);
            return order;
        }
        *totals = apr_psprintf(pool, "%s%d,", *totals, total);
        for (j = 0; j < window->nelts; j++) {
            order = apr_pstrcat(pool, order,
                APR_ARRAY_IDX(window, j, scim_record_t *)->id, ",", NULL);
        }
    }
}

/* Every sort key, both ways, unfiltered and under filters read from the
 * resource that match all users or some (which SQLite counts in the
 * statement that orders them): the C order, page after page. */
START_TEST(sql_order_is_the_c_order)
{
    static const char *const paths[] = {
        "userName", "name.familyName", "title", "displayName", "externalId",
        "meta.created", "meta.lastModified"
    };
    static const char *const filters[] = {
        NULL, "title pr or not (title pr)", "title pr"
    };
    scim_sql_dialect_t d = scim_store_dialect(store);
    apr_array_header_t *all;
    size_t i, f;
    int desc, j;

    seed_users();
    all = read_all(NULL);
    for (f = 0; f < sizeof(filters) / sizeof(filters[0]); f++) {
        scim_filter_t *filter = filters[f] ? parse(filters[f]) : NULL;
        scim_sql_cond_t cond = scim_sqlfilter_translate(pool, filter, d);
        int matches = 0;

        ck_assert(cond.exact);
        for (j = 0; j < all->nelts; j++) {
            matches += !filter || scim_filter_match(filter,
                full(APR_ARRAY_IDX(all, j, scim_record_t *)));
        }
        ck_assert(f == 2 ? matches > 1 && matches < NSEED : matches == NSEED);
        for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
            scim_attr_path_t path;
            const char *key;

            ck_assert_ptr_null(scim_attr_path_resolve(pool,
                &scim_resource_type_user, paths[i], 0, &path));
            key = scim_sqlfilter_sort_key(pool, &path, d);
            ck_assert_msg(key != NULL, "%s", paths[i]);
            for (desc = 0; desc < 2; desc++) {
                keyed_t *k = apr_pcalloc(pool, sizeof(*k) * all->nelts);
                const char *c_order = "", *sql_order, *totals, *expected;
                int n = 0, counted, size;

                for (j = 0; j < all->nelts; j++) {
                    const scim_record_t *rec = APR_ARRAY_IDX(all, j,
                                                             scim_record_t *);

                    if (filter && !scim_filter_match(filter, full(rec))) {
                        continue;
                    }
                    k[n].key = scim_sort_value(&path, full(rec));
                    k[n].def = scim_attr_path_leaf(&path);
                    k[n].seq = j;
                    k[n].descending = desc;
                    k[n].id = rec->id;
                    n++;
                }
                qsort(k, n, sizeof(*k), keyed_cmp);
                for (j = 0; j < n; j++) {
                    c_order = apr_pstrcat(pool, c_order, k[j].id, ",", NULL);
                }
                /* counted by the page's statement only where a count
                 * apart would read every row again */
                counted = scim_db_window_can_count(d, &cond, key);
                ck_assert(!counted || (d == SCIM_SQL_SQLITE && filter
                                       && cond.reads_resource));
                for (size = 1; size <= 3; size++) {
                    sql_order = sql_pages(filter ? &cond : NULL, key, desc,
                                          size, &totals);
                    ck_assert_msg(strcmp(sql_order, c_order) == 0,
                                  "sortBy %s%s, filter %s, pages of %d:"
                                  " SQL %s, C %s", paths[i],
                                  desc ? " descending" : "",
                                  filters[f] ? filters[f] : "none", size,
                                  sql_order, c_order);
                    for (j = 0, expected = ""; j < (n + size - 1) / size;
                         j++) {
                        expected = apr_psprintf(pool, "%s%s,", expected,
                            counted ? apr_itoa(pool, n) : "-1");
                    }
                    ck_assert_msg(strcmp(totals, expected) == 0,
                                  "sortBy %s, filter %s: totals %s",
                                  paths[i], filters[f] ? filters[f] : "none",
                                  totals);
                }
            }
        }
    }
}
END_TEST

START_TEST(window_pages_with_a_condition)
{
    scim_sql_dialect_t d = scim_store_dialect(store);
    scim_sql_cond_t cond = scim_sqlfilter_translate(pool,
        parse("title co \"e\""), d);
    apr_array_header_t *window = apr_array_make(pool, 2,
                                                sizeof(scim_record_t *));
    int declined = 1, total = 0;

    seed_users();
    ck_assert_ptr_null(scim_store_window(store, pool, "acme", "User", &cond,
                                         "r.name_ci", 0, 1, 2, window,
                                         &total, &declined));
    ck_assert(!declined);
    /* ann, Bob, dora, hal%, Émile (after ASCII): the 2nd and 3rd */
    ck_assert_int_eq(window->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(window, 0, scim_record_t *)->name, "Bob");
    ck_assert_str_eq(APR_ARRAY_IDX(window, 1, scim_record_t *)->name, "dora");
    /* walked in the name index's order, which stops at the page's end:
     * the matches are counted apart */
    ck_assert_int_eq(total, -1);
}
END_TEST

/* SQLite's plan for a statement, its parameters bound: the detail
 * column of each EXPLAIN QUERY PLAN row, "; " after each. */
static const char *sqlite_plan(const char *sql, int nargs, const char **args)
{
    const apr_dbd_driver_t *driver = store_fixture_driver();
    apr_dbd_t *handle = store_fixture_handle();
    apr_dbd_prepared_t *stmt = NULL;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *plan = "";

    ck_assert_int_eq(apr_dbd_prepare(driver, pool, handle,
        apr_pstrcat(pool, "EXPLAIN QUERY PLAN ", sql, NULL), NULL, &stmt),
        0);
    ck_assert_int_eq(apr_dbd_pselect(driver, pool, handle, &res, stmt, 0,
                                     nargs, args), 0);
    while (apr_dbd_get_row(driver, pool, res, &row, -1) == 0) {
        plan = apr_pstrcat(pool, plan, apr_dbd_get_entry(driver, row, 3),
                           "; ", NULL);
    }
    return plan;
}

static int occurrences(const char *text, const char *needle)
{
    int n = 0;

    for (; (text = strstr(text, needle)); text += strlen(needle)) {
        n++;
    }
    return n;
}

/* A filtered page sorted by userName walks the name index and stops at
 * the page's end (no sort of every match); one sorted by a key from the
 * resource sorts row ids, not whole rows, and reads the page's rows by
 * id; filtered too, it counts the matches in the same single scan. */
START_TEST(sqlite_windows_walk_the_index_or_sort_row_ids)
{
    scim_sql_cond_t cond = scim_sqlfilter_translate(pool,
        parse("title co \"e\""), SCIM_SQL_SQLITE);
    scim_sql_cond_t none = scim_sqlfilter_translate(pool, NULL,
                                                    SCIM_SQL_SQLITE);
    const char *args[] = { "acme", "User",
                           APR_ARRAY_IDX(cond.params, 0, const char *),
                           "100", "0" };
    const char *unfiltered_args[] = { "acme", "User", "100", "0" };
    const char *counted_args[] = { "acme", "User",
                                   APR_ARRAY_IDX(cond.params, 0,
                                                 const char *),
                                   "100", "0", "99", "100", "0" };
    scim_attr_path_t path;
    const char *plan, *key;

    ck_assert(!scim_db_window_can_count(SCIM_SQL_SQLITE, &cond, "r.name_ci"));
    plan = sqlite_plan(scim_db_sql_window(pool, SCIM_SQL_SQLITE, &cond,
                                          "r.name_ci", 0, 0), 5, args);
    ck_assert_msg(strstr(plan, "USING INDEX scim_resources_name")
                  && !strstr(plan, "TEMP B-TREE"), "%s", plan);

    ck_assert_ptr_null(scim_attr_path_resolve(pool,
        &scim_resource_type_user, "name.familyName", 0, &path));
    key = scim_sqlfilter_sort_key(pool, &path, SCIM_SQL_SQLITE);
    ck_assert(!scim_db_window_can_count(SCIM_SQL_SQLITE, &none, key));
    plan = sqlite_plan(scim_db_sql_window(pool, SCIM_SQL_SQLITE, &none, key,
                                          1, 0), 4, unfiltered_args);
    ck_assert_msg(strstr(plan, "LIST SUBQUERY")
                  && strstr(plan, "USING INTEGER PRIMARY KEY (rowid=?)"),
                  "%s", plan);

    ck_assert(scim_db_window_can_count(SCIM_SQL_SQLITE, &cond, key));
    plan = sqlite_plan(scim_db_sql_window(pool, SCIM_SQL_SQLITE, &cond, key,
                                          1, 1), 8, counted_args);
    /* one pass over the organization's users (a count would be a
     * second), then the page's rows by their row id */
    ck_assert_msg(occurrences(plan, "(org=? AND rtype=?)") == 1
                  && strstr(plan, "MATERIALIZE m")
                  && strstr(plan, "USING INTEGER PRIMARY KEY (rowid=?)"),
                  "%s", plan);
}
END_TEST

/* Hostile shapes: a chain as long as the parser allows, "not" nested as
 * deep as it allows, a literal longer than SQLite's LIKE patterns: valid
 * SQL (or TRUE), the same answers. */
START_TEST(long_and_deep_filters_stay_valid_sql)
{
    scim_sql_dialect_t d = scim_store_dialect(store);
    const char *chain = "title co \"eng\"", *deep = "title co \"eng\"";
    char *big = apr_palloc(pool, 40001);
    const char *texts[3];
    int i;

    seed_users();
    for (i = 0; i < 120; i++) {
        chain = apr_psprintf(pool, "%s %s userName ne \"x%d\"", chain,
                             i % 2 ? "and" : "or", i);
    }
    for (i = 0; i < 30; i++) {
        deep = apr_psprintf(pool, "not (%s or title eq \"q%d\")", deep, i);
    }
    memset(big, 'a', 40000);
    big[40000] = '\0';
    texts[0] = chain;
    texts[1] = deep;
    texts[2] = apr_psprintf(pool, "title co \"%s\" or title sw \"%s\"",
                            big, big);
    for (i = 0; i < 3; i++) {
        scim_filter_t *f = parse(texts[i]);
        scim_sql_cond_t cond = scim_sqlfilter_translate(pool, f, d);

        ck_assert_str_eq(judged(f, read_all(&cond)),
                         judged(f, read_all(NULL)));
    }
}
END_TEST

/* The tests on a database, for one driver. */
static TCase *store_tests(const char *name, void (*open)(void))
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, open, store_fixture_close);
    tcase_add_loop_test(tc, database_hands_c_every_match, 0,
                        (NFILTERS + FILTERS_PER_RUN - 1) / FILTERS_PER_RUN);
    tcase_add_test(tc, translation_used_and_exact_where_claimed);
    tcase_add_test(tc, sql_order_is_the_c_order);
    tcase_add_test(tc, window_pages_with_a_condition);
    tcase_add_test(tc, long_and_deep_filters_stay_valid_sql);
    return tc;
}

Suite *sqlfilter_suite(void)
{
    Suite *s = suite_create("sqlfilter");
    TCase *tc = tcase_create("translation");

    tcase_add_checked_fixture(tc, open_pool, close_pool);
    tcase_add_test(tc, values_are_bound_never_written);
    tcase_add_test(tc, like_patterns_escape_wildcards);
    tcase_add_test(tc, case_rules_follow_the_definition);
    tcase_add_test(tc, multi_valued_attributes_are_exists);
    tcase_add_test(tc, untranslatable_parts_widen);
    tcase_add_test(tc, meta_times_compare_as_instants);
    tcase_add_test(tc, enterprise_attributes_under_their_urn);
    tcase_add_test(tc, sort_keys_only_where_sql_orders_as_c);
    suite_add_tcase(s, tc);

    tc = store_tests("sqlite3", open_store);
    tcase_add_test(tc, sqlite_windows_walk_the_index_or_sort_row_ids);
    suite_add_tcase(s, tc);
    if (store_fixture_pgsql_params()) {
        suite_add_tcase(s, store_tests("pgsql", open_store_pgsql));
    }
    return s;
}
