/* Filters (RFC 7644 3.4.2.2): grammar, evaluation on realistic resources,
 * the index hint, sorting values and PATCH paths. */

#include <stdlib.h>
#include <string.h>

#include <apr_pools.h>
#include <apr_strings.h>

#include "scim_filter.h"
#include "suites.h"

#define ENTERPRISE SCIM_SCHEMA_ENTERPRISE
#define CUSTOM "urn:example:params:scim:schemas:extension:acme:2.0:User"

/* A user as Entra ID provisions it (core + enterprise extension), in the
 * stored shape, plus the membership extension and an undeclared custom
 * extension.  The primary e-mail is deliberately not the first one. */
static const char *const user_json =
    "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
    "  \"" ENTERPRISE "\", \"" SCIM_SCHEMA_MEMBERSHIP "\", \"" CUSTOM "\"],"
    " \"id\": \"2819c223-7f76-453a-919d-413861904646\","
    " \"externalId\": \"0a21f0f2-8d2a-4f8e-bf98-7f0cd3b9c2c0\","
    " \"userName\": \"Barbara.Jensen@Contoso.com\","
    " \"name\": {\"formatted\": \"Ms. Barbara J Jensen III\","
    "   \"familyName\": \"Jensen\", \"givenName\": \"Barbara\","
    "   \"middleName\": \"\"},"
    " \"displayName\": \"Babs Jensen\","
    " \"nickName\": \"Babs\","
    " \"title\": \"\","
    " \"userType\": \"Employee\","
    " \"preferredLanguage\": \"en-US\","
    " \"locale\": \"en-US\","
    " \"timezone\": \"America/Los_Angeles\","
    " \"active\": true,"
    " \"emails\": ["
    "   {\"value\": \"babs@jensen.org\", \"type\": \"home\"},"
    "   {\"value\": \"bjensen@contoso.com\", \"type\": \"work\","
    "    \"primary\": true}],"
    " \"phoneNumbers\": ["
    "   {\"value\": \"555-555-8377\", \"type\": \"work\"},"
    "   {\"value\": \"555-555-4444\", \"type\": \"mobile\"}],"
    " \"addresses\": [{\"type\": \"work\","
    "   \"streetAddress\": \"100 Universal City Plaza\","
    "   \"locality\": \"Hollywood\", \"region\": \"CA\","
    "   \"postalCode\": \"91608\", \"country\": \"US\", \"primary\": true}],"
    " \"roles\": [],"
    " \"x509Certificates\": [{\"value\": \"MIIDQzCCAqygAwIBAgICEAAwDQYJ\"}],"
    " \"" ENTERPRISE "\": {"
    "   \"employeeNumber\": \"701984\", \"costCenter\": \"4130\","
    "   \"organization\": \"Universal Studios\","
    "   \"department\": \"Tour Operations\","
    "   \"manager\": {\"value\": \"26118915-6090-4610-87e4-49d8ca9f808d\","
    "     \"$ref\": \"../Users/26118915-6090-4610-87e4-49d8ca9f808d\","
    "     \"displayName\": \"John Smith\"}},"
    " \"" SCIM_SCHEMA_MEMBERSHIP "\": {\"state\": \"linked\","
    "   \"linked\": \"2024-03-01T09:30:00Z\", \"seat\": true},"
    " \"" CUSTOM "\": {\"badge\": \"B-17\", \"clearance\": 3,"
    "   \"tags\": [\"Blue\", \"green\"],"
    "   \"devices\": [{\"kind\": \"laptop\", \"serial\": \"X1-C\"},"
    "                 {\"kind\": \"phone\", \"serial\": \"P-9\"}]},"
    " \"meta\": {\"resourceType\": \"User\","
    "   \"created\": \"2011-05-13T04:42:34Z\","
    "   \"lastModified\": \"2011-08-01T18:29:49.793Z\","
    "   \"version\": \"W/\\\"a330bc54f0671c9\\\"\","
    "   \"location\": \"https://example.com/scim/v2/acme/Users/"
    "2819c223-7f76-453a-919d-413861904646\"}}";

/* A group as Okta pushes it. */
static const char *const group_json =
    "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:Group\"],"
    " \"id\": \"e9e30dba-f08f-4109-8486-d5c6a331660a\","
    " \"displayName\": \"Tour Guides\","
    " \"members\": ["
    "   {\"value\": \"2819c223-7f76-453a-919d-413861904646\","
    "    \"display\": \"Babs Jensen\", \"type\": \"User\"},"
    "   {\"value\": \"902c246b-6245-4190-8e05-00816be7344a\","
    "    \"display\": \"Mandy Pepperidge\", \"type\": \"User\"}]}";

/* A resource type with one attribute of every type, for the operator
 * matrix (the standard schemas have no integer or decimal attribute). */
static const scim_attr_t typed_score_sub_attrs[] = {
    { .name = "value", .type = SCIM_ATTR_INTEGER },
    { .name = "label" },
    { .name = NULL }
};

static const scim_attr_t typed_attrs[] = {
    { .name = "text" },
    { .name = "code", .case_exact = 1 },
    { .name = "flag", .type = SCIM_ATTR_BOOLEAN },
    { .name = "count", .type = SCIM_ATTR_INTEGER },
    { .name = "ratio", .type = SCIM_ATTR_DECIMAL },
    { .name = "when", .type = SCIM_ATTR_DATETIME },
    { .name = "blob", .type = SCIM_ATTR_BINARY, .case_exact = 1 },
    { .name = "link", .type = SCIM_ATTR_REFERENCE, .case_exact = 1 },
    { .name = "scores", .type = SCIM_ATTR_COMPLEX, .multi_valued = 1,
      .sub_attrs = typed_score_sub_attrs },
    { .name = "counts", .type = SCIM_ATTR_INTEGER, .multi_valued = 1 },
    { .name = NULL }
};

static const scim_schema_t typed_schema = {
    .id = "urn:example:params:scim:schemas:core:2.0:Typed",
    .name = "Typed",
    .attrs = typed_attrs
};

static const scim_schema_t *const typed_extensions[] = { NULL };

static const scim_resource_type_t typed_rt = {
    .name = "Typed",
    .endpoint = "/Typed",
    .core = &typed_schema,
    .extensions = typed_extensions
};

static const char *const typed_json =
    "{\"text\": \"Hello World\", \"code\": \"AbC-123\", \"flag\": true,"
    " \"count\": 10, \"ratio\": 2.5,"
    " \"when\": \"2024-02-29T23:30:00-01:00\","
    " \"blob\": \"SGVsbG8=\", \"link\": \"https://example.com/a/b\","
    " \"scores\": [{\"value\": 7, \"label\": \"x\"},"
    "              {\"value\": 12, \"label\": \"y\"}],"
    " \"counts\": [1, 5, 9]}";

static apr_pool_t *pool;
static json_t *user, *group, *typed;

static json_t *load(const char *text)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, JSON_ALLOW_NUL, &jerr);

    ck_assert_msg(doc != NULL, "test JSON: %s (line %d)", jerr.text,
                  jerr.line);
    return doc;
}

static void setup(void)
{
    apr_pool_create(&pool, NULL);
    user = load(user_json);
    group = load(group_json);
    typed = load(typed_json);
}

static void teardown(void)
{
    json_decref(user);
    json_decref(group);
    json_decref(typed);
    /* Literals are released by the pool's cleanups. */
    apr_pool_destroy(pool);
}

static scim_filter_t *parse_ok(const scim_resource_type_t *rt,
                               const char *text)
{
    scim_filter_t *f = NULL;
    scim_error_t *err = scim_filter_parse(pool, rt, text, &f);

    ck_assert_msg(err == NULL, "filter '%.200s' refused: %s", text,
                  err ? err->detail : "");
    ck_assert_ptr_nonnull(f);
    return f;
}

static int matches(const scim_resource_type_t *rt, const char *text,
                   const json_t *resource)
{
    return scim_filter_match(parse_ok(rt, text), resource);
}

typedef struct {
    const char *filter;
    int expected;
} case_t;

static void check_cases(const scim_resource_type_t *rt,
                        const json_t *resource, const case_t *cases,
                        size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        ck_assert_msg(matches(rt, cases[i].filter, resource)
                      == cases[i].expected,
                      "filter '%.200s' should %smatch", cases[i].filter,
                      cases[i].expected ? "" : "not ");
    }
}

#define CHECK_USER(cases) \
    check_cases(&scim_resource_type_user, user, cases, \
                sizeof(cases) / sizeof(cases[0]))
#define CHECK_TYPED(cases) \
    check_cases(&typed_rt, typed, cases, sizeof(cases) / sizeof(cases[0]))

/* The filter must be refused with 400 invalidFilter, a detail containing
 * needle and a position, and a detail that still makes a valid SCIM error
 * document (valid UTF-8 whatever the input was). */
static scim_error_t *check_refused(const scim_resource_type_t *rt,
                                   const char *text, const char *needle)
{
    scim_filter_t *f = NULL;
    scim_error_t *err = scim_filter_parse(pool, rt, text, &f);
    json_t *doc;

    ck_assert_msg(err != NULL, "filter '%.200s' was accepted", text);
    ck_assert_int_eq(err->status, 400);
    ck_assert_str_eq(err->scim_type, SCIM_TYPE_INVALID_FILTER);
    ck_assert_msg(strstr(err->detail, needle) != NULL,
                  "detail for '%.200s' is '%s', expected '%s'", text,
                  err->detail, needle);
    ck_assert_msg(strstr(err->detail, "position") != NULL,
                  "detail for '%.200s' has no position: '%s'", text,
                  err->detail);
    ck_assert_ptr_null(f);
    doc = scim_error_to_json(err);
    ck_assert_msg(doc != NULL, "detail for '%.200s' is not valid UTF-8",
                  text);
    json_decref(doc);
    return err;
}

/* ---- Operators on every type -------------------------------------------- */

START_TEST(string_operators)
{
    static const case_t cases[] = {
        /* caseExact false: any case */
        { "text eq \"hello world\"", 1 },
        { "text eq \"Hello\"", 0 },
        { "text ne \"HELLO WORLD\"", 0 },
        { "text ne \"Goodbye\"", 1 },
        { "text co \"O W\"", 1 },
        { "text co \"xyz\"", 0 },
        { "text co \"\"", 1 },
        { "text sw \"hello\"", 1 },
        { "text sw \"world\"", 0 },
        { "text ew \"WORLD\"", 1 },
        { "text ew \"hello\"", 0 },
        { "text ew \"a much longer literal than the value\"", 0 },
        { "text gt \"hello\"", 1 },
        { "text gt \"HELLO WORLD\"", 0 },
        { "text ge \"HELLO WORLD\"", 1 },
        { "text lt \"help\"", 1 },
        { "text lt \"hello\"", 0 },
        { "text le \"hello world\"", 1 },
        { "text pr", 1 },
        /* caseExact true */
        { "code eq \"AbC-123\"", 1 },
        { "code eq \"abc-123\"", 0 },
        { "code ne \"abc-123\"", 1 },
        { "code co \"bC-\"", 1 },
        { "code co \"BC-\"", 0 },
        { "code sw \"Ab\"", 1 },
        { "code sw \"ab\"", 0 },
        { "code ew \"-123\"", 1 },
        { "code gt \"AbC\"", 1 },
        { "code lt \"abc\"", 1 },   /* 'A' < 'a' when case matters */
        { "code pr", 1 },
        /* literal of another type: no match, no error */
        { "text eq 42", 0 },
        { "text eq true", 0 },
        { "text gt 1", 0 },
    };

    CHECK_TYPED(cases);
}
END_TEST

START_TEST(boolean_operators)
{
    static const case_t cases[] = {
        { "flag eq true", 1 },
        { "flag eq false", 0 },
        { "flag ne false", 1 },
        { "flag ne true", 0 },
        { "flag pr", 1 },
        { "flag eq True", 1 },          /* Entra's spelling */
        { "flag eq FALSE", 0 },
        { "flag eq \"true\"", 0 },      /* a string is not a boolean */
        { "flag ne \"true\"", 1 },
    };

    CHECK_TYPED(cases);
    check_refused(&typed_rt, "flag gt false", "does not apply");
    check_refused(&typed_rt, "flag ge true", "boolean");
    check_refused(&typed_rt, "flag lt true", "'lt'");
    check_refused(&typed_rt, "flag le true", "'flag'");
    check_refused(&typed_rt, "flag co \"t\"", "'co'");
    check_refused(&typed_rt, "flag sw \"t\"", "'sw'");
    check_refused(&typed_rt, "flag ew \"e\"", "'ew'");
}
END_TEST

START_TEST(integer_operators)
{
    static const case_t cases[] = {
        { "count eq 10", 1 },
        { "count eq 10.0", 1 },
        { "count eq 1e1", 1 },
        { "count ne 10", 0 },
        { "count ne 11", 1 },
        { "count gt 9", 1 },            /* as text "10" < "9" */
        { "count gt 10", 0 },
        { "count ge 10", 1 },
        { "count lt 100", 1 },
        { "count lt 10", 0 },
        { "count le 10", 1 },
        { "count le 9.99", 0 },
        { "count gt -5", 1 },
        { "count pr", 1 },
        { "count eq \"10\"", 0 },
        /* multi-valued integers: any value */
        { "counts eq 5", 1 },
        { "counts eq 4", 0 },
        { "counts gt 8", 1 },
        { "counts lt 1", 0 },
        { "counts ne 5", 0 },
        { "counts ne 4", 1 },
        /* complex with an integer "value" */
        { "scores gt 10", 1 },
        { "scores.value ge 13", 0 },
        { "scores[label eq \"x\"].value eq 7", 1 },
        { "scores[label eq \"x\"].value gt 7", 0 },
        { "scores[value gt 10 and label eq \"y\"]", 1 },
    };

    CHECK_TYPED(cases);
    check_refused(&typed_rt, "count co 1", "'co'");
    check_refused(&typed_rt, "count sw \"1\"", "integer");
    check_refused(&typed_rt, "scores.value ew 2", "'ew'");
}
END_TEST

START_TEST(decimal_operators)
{
    static const case_t cases[] = {
        { "ratio eq 2.5", 1 },
        { "ratio eq 2.50", 1 },
        { "ratio eq 25e-1", 1 },
        { "ratio ne 2.5", 0 },
        { "ratio gt 2.25", 1 },         /* as text "2.5" < "2.25" is false */
        { "ratio gt 10", 0 },
        { "ratio ge 2.5", 1 },
        { "ratio lt 2.6", 1 },
        { "ratio le 2", 0 },
        { "ratio pr", 1 },
    };

    CHECK_TYPED(cases);
    check_refused(&typed_rt, "ratio co 2", "decimal");
}
END_TEST

START_TEST(datetime_operators)
{
    /* when = 2024-02-29T23:30:00-01:00 = 2024-03-01T00:30:00Z */
    static const case_t cases[] = {
        { "when eq \"2024-03-01T00:30:00Z\"", 1 },
        { "when eq \"2024-03-01T01:30:00+01:00\"", 1 },
        { "when eq \"2024-03-01T00:30:00.000Z\"", 1 },
        { "when eq \"2024-03-01t00:30:00z\"", 1 },
        { "when eq \"2024-02-29T23:30:00Z\"", 0 },
        { "when ne \"2024-02-29T23:30:00Z\"", 1 },
        { "when gt \"2024-03-01T00:29:59.999Z\"", 1 },
        /* later as text, earlier as an instant */
        { "when gt \"2024-03-01T01:00:00+02:00\"", 1 },
        { "when lt \"2024-02-29T23:59:00Z\"", 0 },
        { "when lt \"2024-03-01T00:30:00.001Z\"", 1 },
        { "when ge \"2024-03-01T00:30:00Z\"", 1 },
        { "when le \"2024-02-29T19:30:00-05:00\"", 1 },
        { "when le \"2024-02-29T19:29:59-05:00\"", 0 },
        { "when sw \"2024-02\"", 1 },      /* on the text, as written */
        { "when co \"T23:30\"", 1 },
        { "when ew \"-01:00\"", 1 },
        { "when pr", 1 },
        { "when eq 1709253000", 0 },
    };

    CHECK_TYPED(cases);
    check_refused(&typed_rt, "when gt \"yesterday\"", "not a dateTime");
    check_refused(&typed_rt, "when eq \"2023-02-29T00:00:00Z\"",
                  "not a dateTime");
    check_refused(&typed_rt, "when eq \"2024-13-01T00:00:00Z\"",
                  "not a dateTime");
    check_refused(&typed_rt, "when eq \"2024-01-01T24:00:00Z\"",
                  "not a dateTime");
    check_refused(&typed_rt, "when eq \"2024-01-01T00:00:00+1:00\"",
                  "not a dateTime");
    check_refused(&typed_rt, "when eq \"2024-01-01T00:00:00.Z\"",
                  "not a dateTime");
    check_refused(&typed_rt, "when eq \"2024-01-01\"", "not a dateTime");
    /* no offset: no instant (scim_util.h) */
    check_refused(&typed_rt, "when eq \"2024-03-01T00:30:00\"",
                  "not a dateTime");
}
END_TEST

START_TEST(binary_and_reference_operators)
{
    static const case_t cases[] = {
        { "blob eq \"SGVsbG8=\"", 1 },
        { "blob eq \"sgvsbg8=\"", 0 },      /* base64 is case-exact */
        { "blob ne \"sgvsbg8=\"", 1 },
        { "blob co \"VsbG\"", 1 },
        { "blob sw \"SGV\"", 1 },
        { "blob ew \"8=\"", 1 },
        { "blob pr", 1 },
        { "link eq \"https://example.com/a/b\"", 1 },
        { "link eq \"HTTPS://EXAMPLE.COM/a/b\"", 0 },
        { "link sw \"https://\"", 1 },
        { "link ew \"/a/b\"", 1 },
        { "link co \"example\"", 1 },
        { "link gt \"https://example.com/a/a\"", 1 },
        { "link lt \"https://example.com/a/a\"", 0 },
        { "link pr", 1 },
    };

    CHECK_TYPED(cases);
    check_refused(&typed_rt, "blob gt \"A\"", "binary");
    check_refused(&typed_rt, "blob le \"A\"", "'le'");
    check_refused(&scim_resource_type_user,
                  "x509Certificates.value ge \"M\"", "binary");
}
END_TEST

START_TEST(complex_attributes)
{
    static const case_t cases[] = {
        { "name pr", 1 },
        { "name.familyName eq \"jensen\"", 1 },
        { "name.givenName sw \"Barb\"", 1 },
        { "name.honorificPrefix pr", 0 },
        /* multi-valued complex without sub-attribute: the "value"s */
        { "emails co \"contoso.com\"", 1 },
        { "emails eq \"babs@jensen.org\"", 1 },
        { "emails ew \".net\"", 0 },
        { "phoneNumbers sw \"555-555-4\"", 1 },
        /* single-valued complex with a "value": Entra's manager check */
        { "id eq \"2819c223-7f76-453a-919d-413861904646\" and "
          "manager eq \"26118915-6090-4610-87e4-49d8ca9f808d\"", 1 },
        { "manager eq \"someone-else\"", 0 },
    };

    CHECK_USER(cases);
    check_refused(&scim_resource_type_user, "name eq \"Barbara Jensen\"",
                  "complex attribute");
    check_refused(&scim_resource_type_user, "meta gt \"x\"",
                  "complex attribute");
    check_refused(&scim_resource_type_user, "name co \"x\"",
                  "sub-attributes");
}
END_TEST

/* ---- Grammar ------------------------------------------------------------ */

START_TEST(precedence_and_parentheses)
{
    /* T and F are comparisons known to be true and false on the user. */
#define T "active eq true"
#define F "active eq false"
    static const case_t cases[] = {
        { T " or " F " and " F, 1 },        /* and binds tighter */
        { "(" T " or " F ") and " F, 0 },
        { F " and " F " or " T, 1 },
        { F " and (" F " or " T ")", 0 },
        { F " or " F " or " F " or " T, 1 },
        { T " and " T " and " T " and " F, 0 },
        { "not (" F ") and " F, 0 },        /* not binds to its group */
        { "not (" F ") or " F, 1 },
        { "not (" T " or " T ")", 0 },
        { "not (not (" T "))", 1 },
        { "not(" F ")", 1 },
        { "((((" T "))))", 1 },
        { "(" T ")and(" T ")", 1 },
        { T " and not (" F ") and (" F " or (" T " and " T "))", 1 },
        { "  \t" T "\t\r\n or " F "  ", 1 },
    };
    scim_filter_t *f;

    CHECK_USER(cases);

    /* The tree itself: a or b and c is OR(a, AND(b, c)). */
    f = parse_ok(&scim_resource_type_user,
                 "userName pr or title pr and nickName pr");
    ck_assert_int_eq(f->kind, SCIM_FILTER_OR);
    ck_assert_int_eq(f->left->kind, SCIM_FILTER_COMPARE);
    ck_assert_str_eq(f->left->path.attr_name, "userName");
    ck_assert_int_eq(f->right->kind, SCIM_FILTER_AND);
    ck_assert_str_eq(f->right->left->path.attr_name, "title");
    ck_assert_str_eq(f->right->right->path.attr_name, "nickName");

    f = parse_ok(&scim_resource_type_user, "not (userName pr)");
    ck_assert_int_eq(f->kind, SCIM_FILTER_NOT);
    ck_assert_int_eq(f->left->kind, SCIM_FILTER_COMPARE);
    ck_assert_int_eq(f->left->op, SCIM_OP_PR);
    ck_assert_ptr_null(f->left->value);
#undef T
#undef F
}
END_TEST

START_TEST(case_insensitive_names_and_operators)
{
    static const case_t cases[] = {
        { "USERNAME EQ \"barbara.jensen@contoso.com\"", 1 },
        { "username Eq \"BARBARA.JENSEN@CONTOSO.COM\"", 1 },
        { "Name.FamilyName sW \"JEN\"", 1 },
        { "EMAILS[TYPE eQ \"work\" AND PRIMARY EQ TRUE]", 1 },
        { "emails[Type Eq \"work\"].VALUE Eq \"bjensen@contoso.com\"", 1 },
        { "userName PR And NOT (title PR) Or active Eq false", 1 },
        { "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:"
          "EMPLOYEENUMBER eq \"701984\"", 1 },
        { "META.LASTMODIFIED Gt \"2011-01-01T00:00:00Z\"", 1 },
    };
    scim_filter_t *f;

    CHECK_USER(cases);
    /* Names resolve to their canonical spelling. */
    f = parse_ok(&scim_resource_type_user, "NAME.FAMILYNAME pr");
    ck_assert_str_eq(f->path.attr_name, "name");
    ck_assert_str_eq(f->path.sub_name, "familyName");
}
END_TEST

START_TEST(case_exactness_from_schema)
{
    static const case_t cases[] = {
        /* userName, displayName, e-mails: caseExact false */
        { "userName eq \"barbara.jensen@contoso.com\"", 1 },
        { "userName eq \"BARBARA.JENSEN@CONTOSO.COM\"", 1 },
        { "userName sw \"BARBARA\"", 1 },
        { "displayName eq \"babs jensen\"", 1 },
        { "emails.value eq \"BJensen@Contoso.COM\"", 1 },
        /* id, externalId: caseExact true */
        { "id eq \"2819c223-7f76-453a-919d-413861904646\"", 1 },
        { "id eq \"2819C223-7F76-453A-919D-413861904646\"", 0 },
        { "externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7f0cd3b9c2c0\"", 1 },
        { "externalId eq \"0A21F0F2-8D2A-4F8E-BF98-7F0CD3B9C2C0\"", 0 },
        { "externalId co \"8D2A\"", 0 },
        { "meta.resourceType eq \"user\"", 0 },
        { "meta.resourceType eq \"User\"", 1 },
        /* membership state is caseExact */
        { SCIM_SCHEMA_MEMBERSHIP ":state eq \"linked\"", 1 },
        { SCIM_SCHEMA_MEMBERSHIP ":state eq \"LINKED\"", 0 },
        /* undeclared (custom extension) attributes: caseExact false */
        { CUSTOM ":badge eq \"b-17\"", 1 },
    };

    CHECK_USER(cases);
}
END_TEST

START_TEST(datetime_across_offsets)
{
    static const case_t cases[] = {
        { "meta.created eq \"2011-05-13T04:42:34Z\"", 1 },
        { "meta.created eq \"2011-05-13T06:42:34+02:00\"", 1 },
        { "meta.created eq \"2011-05-12T23:42:34-05:00\"", 1 },
        { "meta.created eq \"2011-05-13T04:42:34.000000000Z\"", 1 },
        { "meta.created eq \"2011-05-13T04:42:34.000000001Z\"", 0 },
        { "meta.created gt \"2011-05-13T04:42:33.999Z\"", 1 },
        { "meta.created lt \"2011-05-13T04:42:34Z\"", 0 },
        { "meta.created le \"2011-05-13T10:12:34+05:30\"", 1 },
        { "meta.lastModified gt \"2011-08-01T18:29:49.792Z\"", 1 },
        { "meta.lastModified ge \"2011-08-01T20:29:49.793+02:00\"", 1 },
        { "meta.lastModified eq \"2011-08-01T20:29:49.793+02:00\"", 1 },
        { "meta.lastModified lt \"2011-08-01T18:29:49.7931Z\"", 1 },
        { "meta.lastModified gt \"2011-08-01T18:29:49.7931Z\"", 0 },
        { "meta.lastModified gt \"2011-05-13T04:42:34Z\" and "
          "meta.lastModified lt \"2012-02-29T00:00:00Z\"", 1 },
        { SCIM_SCHEMA_MEMBERSHIP ":linked eq \"2024-03-01T10:30:00+01:00\"",
          1 },
    };

    CHECK_USER(cases);
}
END_TEST

START_TEST(presence)
{
    static const case_t cases[] = {
        { "userName pr", 1 },
        { "nickName pr", 1 },
        { "title pr", 0 },                  /* empty string */
        { "name.middleName pr", 0 },        /* empty string */
        { "roles pr", 0 },                  /* empty array */
        { "profileUrl pr", 0 },             /* absent */
        { "emails pr", 1 },
        { "emails.display pr", 0 },
        { "emails.primary pr", 1 },
        { "x509Certificates pr", 1 },
        { "active pr", 1 },
        { ENTERPRISE " pr", 1 },            /* the whole extension */
        { ENTERPRISE ":manager pr", 1 },
        { ENTERPRISE ":manager.displayName pr", 1 },
        { ENTERPRISE ":division pr", 0 },
        /* null means unassigned */
        { "profileUrl eq null", 1 },
        { "title eq null", 1 },
        { "nickName eq null", 0 },
        { "nickName ne null", 1 },
        { "profileUrl ne null", 0 },
        { "nickName gt null", 0 },
    };
    json_t *sparse = load("{\"userName\": \"x\", \"nickName\": null,"
                          " \"emails\": [{}], \"name\": {},"
                          " \"" ENTERPRISE "\": {\"manager\": {}},"
                          " \"" CUSTOM "\": {\"tags\": [null, \"\"]}}");

    CHECK_USER(cases);
    ck_assert(!matches(&scim_resource_type_user, "nickName pr", sparse));
    ck_assert(!matches(&scim_resource_type_user, "emails pr", sparse));
    ck_assert(!matches(&scim_resource_type_user, "name pr", sparse));
    ck_assert(!matches(&scim_resource_type_user, ENTERPRISE ":manager pr",
                       sparse));
    ck_assert(matches(&scim_resource_type_user, ENTERPRISE " pr", sparse));
    ck_assert(!matches(&scim_resource_type_user, CUSTOM ":tags pr",
                       sparse));
    ck_assert(matches(&scim_resource_type_user, "userName pr", sparse));
    json_decref(sparse);
}
END_TEST

START_TEST(multi_valued_and_ne)
{
    static const case_t cases[] = {
        { "emails.type eq \"home\"", 1 },
        { "emails.type eq \"other\"", 0 },
        { "emails.value ew \".ORG\"", 1 },
        { "phoneNumbers.value sw \"555\"", 1 },
        { "phoneNumbers.type eq \"mobile\"", 1 },
        { "addresses.postalCode eq \"91608\"", 1 },
        { "emails.primary eq true", 1 },
        /* ne: negation of eq; absent attributes match */
        { "profileUrl ne \"https://example.com\"", 1 },
        { "nickName ne \"babs\"", 0 },
        { "nickName ne \"Barb\"", 1 },
        { "emails.type ne \"work\"", 0 },
        { "emails.type ne \"other\"", 1 },
        { "roles.value ne \"admin\"", 1 },
        /* undeclared multi-valued strings */
        { CUSTOM ":tags eq \"blue\"", 1 },
        { CUSTOM ":tags co \"REE\"", 1 },
        { CUSTOM ":tags eq \"red\"", 0 },
        { CUSTOM ":clearance gt 2", 1 },
        { CUSTOM ":clearance lt 3", 0 },
        { CUSTOM ":clearance eq \"3\"", 0 },
    };

    CHECK_USER(cases);
}
END_TEST

START_TEST(value_paths)
{
    static const case_t cases[] = {
        { "emails[type eq \"work\"]", 1 },
        { "emails[type eq \"other\"]", 0 },
        { "emails[type eq \"work\" and primary eq true]", 1 },
        /* both conditions must hold for the same element */
        { "emails[type eq \"home\" and primary eq true]", 0 },
        { "emails[type eq \"home\"] and emails[primary eq true]", 1 },
        { "emails[type eq \"other\" or value co \"jensen.org\"]", 1 },
        { "emails[not (type eq \"work\")]", 1 },
        { "emails[not (type eq \"work\" or type eq \"home\")]", 0 },
        { "emails[(type eq \"home\") and (value ew \"jensen.org\" or "
          "primary eq true)]", 1 },
        { "emails[type eq \"work\" and value co \"@contoso.com\"] and "
          "userName pr", 1 },
        { "addresses[type eq \"work\" and postalCode sw \"916\"]", 1 },
        { "emails[display pr]", 0 },
        { "roles[value eq \"admin\"]", 0 },
        { "phoneNumbers[type eq \"mobile\" and value eq \"555-555-4444\"]",
          1 },
        { ENTERPRISE ":manager[displayName sw \"John\"]", 1 },
        { "name[givenName eq \"barbara\"]", 1 },
        /* undeclared extension attribute: any sub-attribute name */
        { CUSTOM ":devices[kind eq \"laptop\" and serial sw \"x1\"]", 1 },
        { CUSTOM ":devices[kind eq \"tablet\"]", 0 },
    };
    scim_filter_t *f;

    CHECK_USER(cases);
    f = parse_ok(&scim_resource_type_user,
                 "emails[type eq \"work\" and primary eq true]");
    ck_assert_int_eq(f->kind, SCIM_FILTER_VALUE_PATH);
    ck_assert_int_eq(f->has_tail, 0);
    ck_assert_str_eq(f->path.attr_name, "emails");
    ck_assert_int_eq(f->left->kind, SCIM_FILTER_AND);
    /* inner paths are relative to the element */
    ck_assert_str_eq(f->left->left->path.attr_name, "type");
    ck_assert_ptr_null(f->left->left->path.schema_urn);
    ck_assert_ptr_null(f->left->left->path.sub_name);
    ck_assert_ptr_nonnull(f->left->left->path.attr);
    ck_assert_int_eq(f->left->right->path.attr->type, SCIM_ATTR_BOOLEAN);

    f = parse_ok(&scim_resource_type_user, CUSTOM ":devices[Kind pr]");
    ck_assert_ptr_null(f->left->path.attr);
    ck_assert_str_eq(f->left->path.attr_name, "Kind");
}
END_TEST

START_TEST(entra_value_path_with_sub_attribute)
{
    static const case_t cases[] = {
        { "emails[type eq \"work\"].value eq \"bjensen@contoso.com\"", 1 },
        { "emails[type eq \"work\"].value eq \"BJENSEN@contoso.com\"", 1 },
        { "emails[type eq \"home\"].value eq \"bjensen@contoso.com\"", 0 },
        { "emails[type eq \"work\"].value eq \"babs@jensen.org\"", 0 },
        { "emails[type eq \"work\"].value pr", 1 },
        { "emails[type eq \"work\"].display pr", 0 },
        { "emails[type eq \"work\"].value ne \"bjensen@contoso.com\"", 0 },
        { "emails[type eq \"other\"].value ne \"bjensen@contoso.com\"", 1 },
        { "emails[type eq \"work\"].value ew \"contoso.com\" and "
          "userName eq \"barbara.jensen@contoso.com\"", 1 },
        { "addresses[type eq \"work\"].postalCode eq \"91608\"", 1 },
        { "phoneNumbers[type eq \"mobile\"].value eq \"555-555-8377\"", 0 },
        { CUSTOM ":devices[kind eq \"phone\"].serial eq \"p-9\"", 1 },
    };
    scim_filter_t *f;

    CHECK_USER(cases);
    f = parse_ok(&scim_resource_type_user,
                 "emails[type eq \"work\"].value eq \"x@example.com\"");
    ck_assert_int_eq(f->kind, SCIM_FILTER_VALUE_PATH);
    ck_assert_int_eq(f->has_tail, 1);
    ck_assert_str_eq(f->tail_sub_name, "value");
    ck_assert_ptr_nonnull(f->tail_sub);
    ck_assert_str_eq(f->tail_sub->name, "value");
    ck_assert_int_eq(f->op, SCIM_OP_EQ);
    ck_assert_str_eq(json_string_value(f->value), "x@example.com");
    ck_assert_int_eq(f->left->kind, SCIM_FILTER_COMPARE);

    check_refused(&scim_resource_type_user,
                  "emails[type eq \"work\"].nosuch eq \"x\"",
                  "unknown sub-attribute");
    check_refused(&scim_resource_type_user,
                  "emails[type eq \"work\"].value", "expected an operator");
    check_refused(&scim_resource_type_user,
                  "emails[type eq \"work\"].primary co \"t\"", "boolean");
    check_refused(&scim_resource_type_user,
                  "emails[type eq \"work\"]. value eq \"x\"",
                  "not a sub-attribute name");
}
END_TEST

START_TEST(urn_paths)
{
    static const case_t cases[] = {
        { ENTERPRISE ":employeeNumber eq \"701984\"", 1 },
        { ENTERPRISE ":employeeNumber eq \"701985\"", 0 },
        { "employeeNumber eq \"701984\"", 1 },  /* unqualified extension */
        { ENTERPRISE ":manager.value eq "
          "\"26118915-6090-4610-87e4-49d8ca9f808d\"", 1 },
        { ENTERPRISE ":manager.displayName co \"smith\"", 1 },
        { ENTERPRISE ":department sw \"Tour\" and "
          ENTERPRISE ":costCenter eq \"4130\"", 1 },
        { "urn:ietf:params:scim:schemas:core:2.0:User:userName eq "
          "\"barbara.jensen@contoso.com\"", 1 },
        { "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "
          "\"Barbara\"", 1 },
        { SCIM_SCHEMA_MEMBERSHIP ":seat eq true", 1 },
        { CUSTOM ":badge sw \"B-\"", 1 },
        { CUSTOM ":nothing pr", 0 },
        { "urn:example:other:2.0:User:badge pr", 0 },
    };
    scim_filter_t *f;

    CHECK_USER(cases);
    f = parse_ok(&scim_resource_type_user,
                 ENTERPRISE ":manager.value eq \"x\"");
    ck_assert_str_eq(f->path.schema_urn, ENTERPRISE);
    ck_assert_str_eq(f->path.attr_name, "manager");
    ck_assert_str_eq(f->path.sub_name, "value");
    check_refused(&scim_resource_type_user, ENTERPRISE ":nosuch eq \"x\"",
                  "Unknown");
    check_refused(&scim_resource_type_user, ENTERPRISE ":manager.nosuch pr",
                  "Unknown");
}
END_TEST

START_TEST(literals_and_escapes)
{
    json_t *res = load("{\"userName\": \"q\","
                       " \"displayName\": \"Babs \\\"the\\\" Jensen\","
                       " \"nickName\": \"Ren\\u00e9e \\ud83d\\ude00\","
                       " \"title\": \"a\\\\b/c\\td\","
                       " \"locale\": \"x\\u0000y\"}");
    static const case_t cases[] = {
        { "displayName eq \"Babs Jensen\"", 1 },    /* spaces in a value */
        { "nickName eq \"Babs\" and displayName eq \"Babs Jensen\"", 1 },
        { "userName eq \"Barbara.Jensen@Contoso.com\" or "
          "displayName eq \"EDU All personal\"", 1 },
        { "displayName eq \"Babs ( Jensen\"", 0 },
        { "displayName eq \"Babs ] and or not (\"", 0 },
    };

    CHECK_USER(cases);
    ck_assert(matches(&scim_resource_type_user,
                      "displayName eq \"Babs \\\"the\\\" Jensen\"", res));
    ck_assert(matches(&scim_resource_type_user,
                      "nickName eq \"Ren\\u00E9e \\uD83D\\uDE00\"", res));
    /* the same characters written as raw UTF-8 */
    ck_assert(matches(&scim_resource_type_user,
                      "nickName eq \"Ren\xc3\xa9" "e \xf0\x9f\x98\x80\"",
                      res));
    ck_assert(matches(&scim_resource_type_user,
                      "title eq \"a\\\\b\\/c\\td\"", res));
    ck_assert(matches(&scim_resource_type_user,
                      "locale eq \"x\\u0000y\"", res));
    ck_assert(!matches(&scim_resource_type_user,
                       "locale eq \"x\"", res));
    ck_assert(matches(&scim_resource_type_user,
                      "locale sw \"x\\u0000\"", res));
    ck_assert(matches(&scim_resource_type_user,
                      "title eq \"A\\u005cB/C\\u0009D\"", res));
    json_decref(res);
}
END_TEST

START_TEST(unquoted_values)
{
    static const case_t cases[] = {
        /* Entra's documented "externalId eq jyoung" form */
        { "externalId eq 0a21f0f2-8d2a-4f8e-bf98-7f0cd3b9c2c0", 1 },
        { "nickName eq Babs", 1 },
        { "nickName eq babs and active eq true", 1 },
        { "userName eq Barbara.Jensen@Contoso.com", 1 },
        { "(nickName eq Babs)", 1 },
        { "emails[type eq work].value eq bjensen@contoso.com", 1 },
        { "nickName eq Bob or active eq True", 1 },
        { "active eq TRUE", 1 },
        { CUSTOM ":badge eq b-17", 1 },
    };
    scim_filter_t *f;

    CHECK_USER(cases);
    f = parse_ok(&scim_resource_type_user, "externalId eq jyoung");
    ck_assert(json_is_string(f->value));
    ck_assert_str_eq(json_string_value(f->value), "jyoung");
    f = parse_ok(&scim_resource_type_user, "externalId eq 0123");
    ck_assert_str_eq(json_string_value(f->value), "0123");
    f = parse_ok(&scim_resource_type_user, "externalId eq 123");
    ck_assert(json_is_integer(f->value));
    f = parse_ok(&scim_resource_type_user, "externalId eq -1.5e3");
    ck_assert(json_is_real(f->value));
    f = parse_ok(&scim_resource_type_user, "externalId eq nULL");
    ck_assert(json_is_null(f->value));
    /* and/or are never values */
    check_refused(&scim_resource_type_user, "userName eq and title pr",
                  "missing value");
    check_refused(&scim_resource_type_user, "userName eq or", "'or'");
    check_refused(&scim_resource_type_user, "userName eq AND",
                  "missing value");
    check_refused(&scim_resource_type_user, "userName eq \xff\xfe",
                  "invalid UTF-8");
}
END_TEST

/* ---- Errors ------------------------------------------------------------- */

START_TEST(syntax_errors)
{
    static const struct {
        const char *filter;
        const char *needle;
    } cases[] = {
        { "", "empty filter" },
        { "   ", "empty filter" },
        { "(userName pr", "expected ')'" },
        { "((userName pr)", "expected ')'" },
        { "userName pr)", "unbalanced ')'" },
        { "(userName pr))", "unbalanced ')'" },
        { "()", "expected an attribute" },
        { "userName eq", "missing value" },
        { "userName eq )", "missing value" },
        { "userName", "expected an operator" },
        { "userName \"x\"", "expected an operator" },
        { "userName xx \"a\"", "unknown operator 'xx'" },
        { "userName equals \"a\"", "unknown operator" },
        { "userName = \"a\"", "unknown operator" },
        { "userName eq \"a\" foo", "found 'foo'" },
        { "userName eq \"a\" \"b\"", "found '\"b\"'" },
        { "userName pr garbage", "expected 'and', 'or' or the end" },
        { "userName pr and", "found the end" },
        { "and userName pr", "found 'and'" },
        { "userName pr or or title pr", "found 'or'" },
        { "userName pr and (title pr", "expected ')'" },
        { "not userName pr", "'not' must be followed by '('" },
        { "not", "'not' must be followed by '('" },
        { "userName eq \"abc", "unterminated string" },
        { "userName eq \"abc\\\"", "unterminated string" },
        { "userName eq \"abc\\", "unterminated string" },
        { "userName eq \"a\\qb\"", "invalid escape" },
        { "userName eq \"\\u12\"", "invalid \\u escape" },
        { "userName eq \"\\u12G4\"", "invalid \\u escape" },
        { "userName eq \"\\ud800\"", "unpaired UTF-16 surrogate" },
        { "userName eq \"\\udc00\\ud800\"", "unpaired UTF-16 surrogate" },
        { "userName eq \"\\ud800\\u0041\"", "unpaired UTF-16 surrogate" },
        { "userName eq \"a\tb\"", "control character" },
        { "userName eq \"\xff\"", "invalid UTF-8" },
        { "userName eq \"\xc3\x28\"", "invalid UTF-8" },
        { "userName eq \"\xc0\xaf\"", "invalid UTF-8" },      /* overlong */
        { "userName eq \"\xe0\x80\xaf\"", "invalid UTF-8" },  /* overlong */
        { "userName eq \"\xed\xa0\x80\"", "invalid UTF-8" },  /* surrogate */
        { "userName eq \"\xf4\x90\x80\x80\"", "invalid UTF-8" }, /* >10FFFF */
        { "userName eq \"\xe2\x82\"", "invalid UTF-8" },       /* truncated */
        { "user\xffName eq \"x\"", "invalid character" },
        { "userName eq 1e999", "out of range" },
        { "userName eq 123456789012345678901234567890", "out of range" },
        { "emails[type eq \"work\"", "expected ']'" },
        { "emails[type eq \"work\")", "expected ']'" },
        { "emails[type eq \"work\"]]", "found ']'" },
        { "emails[]", "expected an attribute" },
        { "emails[type eq \"work\"][primary eq true]", "found '['" },
        { "(userName pr]", "expected ')'" },
        { "emails[type[value eq \"x\"] eq \"y\"]", "cannot be nested" },
        { "userName[value eq \"x\"]", "not a complex attribute" },
        { "emails.value[type eq \"x\"]", "not a complex attribute" },
        { ENTERPRISE "[employeeNumber pr]", "not a complex attribute" },
        { "[type eq \"work\"]", "expected an attribute" },
        { "\"userName\" eq \"x\"", "expected an attribute" },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_refused(&scim_resource_type_user, cases[i].filter,
                      cases[i].needle);
    }
}
END_TEST

START_TEST(unknown_attributes)
{
    check_refused(&scim_resource_type_user, "nosuch eq \"a\"", "Unknown");
    check_refused(&scim_resource_type_user, "name.nosuch eq \"a\"",
                  "Unknown");
    check_refused(&scim_resource_type_user, "userName.sub eq \"a\"",
                  "Invalid");
    check_refused(&scim_resource_type_user, "emails[nosuch eq \"a\"]",
                  "unknown sub-attribute 'nosuch' of 'emails'");
    check_refused(&scim_resource_type_user, "emails[type.x eq \"a\"]",
                  "not a sub-attribute name");
    check_refused(&scim_resource_type_user,
                  "emails[" ENTERPRISE ":employeeNumber eq \"a\"]",
                  "not a sub-attribute name");
    check_refused(&scim_resource_type_user, "1userName pr", "Invalid");
    /* A Group has no userName. */
    check_refused(&scim_resource_type_group, "userName eq \"a\"", "Unknown");
    /* "primaryEmail" is one name, not the operator "pr" (pond/scimitar). */
    check_refused(&scim_resource_type_user, "primaryEmail pr",
                  "'primaryEmail'");
}
END_TEST

START_TEST(error_positions)
{
    scim_error_t *err;

    err = check_refused(&scim_resource_type_user, "userName eq \"x\" foo",
                        "foo");
    ck_assert_msg(strstr(err->detail, "position 17") != NULL, "%s",
                  err->detail);
    err = check_refused(&scim_resource_type_user, "nosuch pr", "nosuch");
    ck_assert_msg(strstr(err->detail, "position 1 ") != NULL, "%s",
                  err->detail);
    err = check_refused(&scim_resource_type_user,
                        "userName pr and (title pr", "position 26");
    ck_assert_msg(strstr(err->detail, "'(' at position 17") != NULL, "%s",
                  err->detail);
    err = check_refused(&scim_resource_type_user,
                        "userName eq \"ab\xff\"", "position 16");
    /* long garbage is cut short in the detail */
    err = check_refused(&scim_resource_type_user,
                        "userName pr xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                        "...");
    ck_assert_uint_lt(strlen(err->detail), 140);
}
END_TEST

/* ---- Hostile input ------------------------------------------------------ */

static char *repeat(const char *unit, int times, const char *middle,
                    const char *closing)
{
    apr_size_t unit_len = strlen(unit), close_len = strlen(closing);
    char *s = apr_palloc(pool, (unit_len + close_len) * times
                               + strlen(middle) + 1);
    char *end = s;
    int i;

    for (i = 0; i < times; i++) {
        memcpy(end, unit, unit_len);
        end += unit_len;
    }
    end = stpcpy(end, middle);
    for (i = 0; i < times; i++) {
        memcpy(end, closing, close_len);
        end += close_len;
    }
    *end = '\0';
    return s;
}

START_TEST(deep_nesting)
{
    /* 10,000 levels are refused early, without exhausting the stack. */
    check_refused(&scim_resource_type_user,
                  repeat("(", 10000, "userName pr", ")"), "nesting deeper");
    check_refused(&scim_resource_type_user,
                  repeat("not(", 10000, "userName pr", ")"),
                  "nesting deeper");
    check_refused(&scim_resource_type_user,
                  repeat("not (", 10000, "", ""), "nesting deeper");
    check_refused(&scim_resource_type_user, repeat("(", 10000, "", ""),
                  "nesting deeper");
    check_refused(&scim_resource_type_user,
                  repeat("emails[not(", 1, repeat("(", 63, "type pr", ")"),
                         ")]"), "nesting deeper");

    /* The limit itself is usable: 64 levels parse and evaluate. */
    ck_assert(matches(&scim_resource_type_user,
                      repeat("not(", SCIM_FILTER_MAX_DEPTH, "userName pr",
                             ")"), user));
    ck_assert(!matches(&scim_resource_type_user,
                       repeat("not(", SCIM_FILTER_MAX_DEPTH - 1,
                              "userName pr", ")"), user));
    check_refused(&scim_resource_type_user,
                  repeat("(", SCIM_FILTER_MAX_DEPTH + 1, "userName pr", ")"),
                  "nesting deeper than 64");
}
END_TEST

START_TEST(node_limit)
{
    char *many = repeat("userName pr or ", 300, "title pr", "");
    char *fine = repeat("title pr or ", 200, "userName pr", "");
    char *ands = repeat("userName pr and ", 255, "nickName pr", "");

    check_refused(&scim_resource_type_user, many, "more than 512");
    /* long chains within the limit evaluate iteratively */
    ck_assert(matches(&scim_resource_type_user, fine, user));
    ck_assert(matches(&scim_resource_type_user, ands, user));
    ck_assert(!matches(&scim_resource_type_user,
                       repeat("userName pr and ", 255, "title pr", ""),
                       user));
}
END_TEST

/* Every prefix of valid filters, and every byte replaced by a troublesome
 * one, must give a result or a 400, never a crash or a read past the end
 * (each candidate is its own malloc'd copy, so valgrind sees overruns). */
START_TEST(truncated_and_mutated_input)
{
    static const char *const seeds[] = {
        "emails[type eq \"work\" and primary eq true].value eq \"a\\u00e9\"",
        "not (userName sw \"B\\\"\" or title pr) and meta.created gt "
        "\"2011-05-13T04:42:34.5+02:00\"",
        ENTERPRISE ":manager.value eq \"\\ud83d\\ude00\" or x509Certificates"
        " pr",
        "externalId eq jyoung and active eq True",
    };
    static const char mutations[] = "()[]\"\\. \xff\xc3\x01u0";
    size_t s, i, m, len;
    scim_filter_t *f;
    scim_error_t *err;

    for (s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
        len = strlen(seeds[s]);
        for (i = 0; i <= len; i++) {
            char *text = strndup(seeds[s], i);
            f = NULL;
            err = scim_filter_parse(pool, &scim_resource_type_user, text, &f);
            ck_assert((err == NULL) == (f != NULL));
            if (err) {
                ck_assert_int_eq(err->status, 400);
                ck_assert_str_eq(err->scim_type, SCIM_TYPE_INVALID_FILTER);
            }
            else {
                scim_filter_match(f, user);
            }
            for (m = 0; i < len && m < sizeof(mutations) - 1; m++) {
                char *mutated = strdup(seeds[s]);
                json_t *doc;
                mutated[i] = mutations[m];
                f = NULL;
                err = scim_filter_parse(pool, &scim_resource_type_user,
                                        mutated, &f);
                if (err) {
                    doc = scim_error_to_json(err);
                    ck_assert_ptr_nonnull(doc);
                    json_decref(doc);
                }
                else {
                    scim_filter_match(f, user);
                }
                free(mutated);
            }
            free(text);
        }
    }
}
END_TEST

START_TEST(null_inputs)
{
    scim_filter_t *f = (scim_filter_t *)1;

    ck_assert_ptr_nonnull(scim_filter_parse(pool, &scim_resource_type_user,
                                            NULL, &f));
    ck_assert_ptr_null(f);
    /* no filter selects everything */
    ck_assert(scim_filter_match(NULL, user));
    ck_assert_ptr_null(scim_filter_indexed_eq(NULL, "userName"));
}
END_TEST

/* ---- Index hint --------------------------------------------------------- */

static const char *indexed(const scim_resource_type_t *rt, const char *text,
                           const char *attr)
{
    return scim_filter_indexed_eq(parse_ok(rt, text), attr);
}

START_TEST(indexed_eq)
{
    const scim_resource_type_t *u = &scim_resource_type_user;

    ck_assert_str_eq(indexed(u, "userName eq \"bjensen\"", "userName"),
                     "bjensen");
    ck_assert_str_eq(indexed(u, "USERNAME EQ \"BJensen\"", "userName"),
                     "BJensen");
    ck_assert_ptr_null(indexed(u, "userName eq \"bjensen\"", "externalId"));
    ck_assert_str_eq(indexed(u, "externalId eq \"e1\" and active eq true",
                             "externalId"), "e1");
    ck_assert_str_eq(indexed(u, "active eq true and externalId eq \"e1\"",
                             "externalId"), "e1");
    ck_assert_str_eq(indexed(u, "active eq true and (title pr and "
                                "(userName eq \"u\" and nickName pr))",
                             "userName"), "u");
    ck_assert_str_eq(indexed(u, "id eq \"2819c223\" and manager eq \"m\"",
                             "id"), "2819c223");
    ck_assert_str_eq(indexed(u, "externalId eq jyoung", "externalId"),
                     "jyoung");
    /* never through or / not, never for other operators or literals */
    ck_assert_ptr_null(indexed(u, "userName eq \"a\" or userName eq \"b\"",
                               "userName"));
    ck_assert_ptr_null(indexed(u, "active eq true and (userName eq \"a\" or "
                                  "title pr)", "userName"));
    ck_assert_ptr_null(indexed(u, "not (userName eq \"a\")", "userName"));
    ck_assert_ptr_null(indexed(u, "userName ne \"a\"", "userName"));
    ck_assert_ptr_null(indexed(u, "userName co \"a\"", "userName"));
    ck_assert_ptr_null(indexed(u, "userName sw \"a\"", "userName"));
    ck_assert_ptr_null(indexed(u, "userName pr", "userName"));
    ck_assert_ptr_null(indexed(u, "userName eq 42", "userName"));
    ck_assert_ptr_null(indexed(u, "userName eq null", "userName"));
    ck_assert_ptr_null(indexed(u, "emails[value eq \"a\"]", "value"));
    ck_assert_ptr_null(indexed(u, "emails[type eq \"work\"].value eq \"a\"",
                               "value"));
    ck_assert_ptr_null(indexed(u, "name.givenName eq \"x\"", "name"));
    ck_assert_ptr_null(indexed(u, ENTERPRISE ":employeeNumber eq \"1\"",
                               "employeeNumber"));
    ck_assert_str_eq(indexed(&scim_resource_type_group,
                             "displayName eq \"Tour Guides\"",
                             "displayName"), "Tour Guides");
    ck_assert_str_eq(indexed(u, "displayName eq \"Babs\"", "displayName"),
                     "Babs");
}
END_TEST

/* ---- Groups ------------------------------------------------------------- */

START_TEST(group_filters)
{
    static const case_t cases[] = {
        { "displayName eq \"tour guides\"", 1 },
        { "displayName eq \"Tour\"", 0 },
        { "members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"]", 1 },
        { "members[value eq \"00000000-0000-0000-0000-000000000000\"]", 0 },
        { "members.value eq \"2819c223-7f76-453a-919d-413861904646\"", 1 },
        { "members eq \"2819c223-7f76-453a-919d-413861904646\"", 1 },
        { "members[type eq \"User\" and display sw \"mandy\"]", 1 },
        { "members[$ref pr]", 0 },
        { "id eq \"e9e30dba-f08f-4109-8486-d5c6a331660a\" and "
          "members pr", 1 },
    };

    check_cases(&scim_resource_type_group, group, cases,
                sizeof(cases) / sizeof(cases[0]));
}
END_TEST

START_TEST(match_element)
{
    scim_filter_t *f = parse_ok(&scim_resource_type_user,
                                "emails[type eq \"work\" and primary eq "
                                "true]");
    json_t *emails = json_object_get(user, "emails");
    json_t *odd;

    ck_assert(!scim_filter_match_element(f->left,
                                         json_array_get(emails, 0)));
    ck_assert(scim_filter_match_element(f->left, json_array_get(emails, 1)));
    /* names inside an element are case-insensitive too */
    odd = load("{\"TYPE\": \"Work\", \"Primary\": true}");
    ck_assert(scim_filter_match_element(f->left, odd));
    json_decref(odd);
    /* a non-object element never matches */
    odd = json_string("work");
    ck_assert(!scim_filter_match_element(f->left, odd));
    json_decref(odd);
}
END_TEST

/* ---- Sorting ------------------------------------------------------------ */

static const json_t *sort_value(const char *path_text)
{
    scim_attr_path_t path;
    scim_error_t *err = scim_attr_path_resolve(pool, &scim_resource_type_user,
                                               path_text, 0, &path);

    ck_assert_msg(err == NULL, "%s", path_text);
    return scim_sort_value(&path, user);
}

START_TEST(sort_values)
{
    ck_assert_str_eq(json_string_value(sort_value("userName")),
                     "Barbara.Jensen@Contoso.com");
    ck_assert_str_eq(json_string_value(sort_value("name.familyName")),
                     "Jensen");
    /* multi-valued: the primary element, even when it is not first */
    ck_assert_str_eq(json_string_value(sort_value("emails")),
                     "bjensen@contoso.com");
    ck_assert_str_eq(json_string_value(sort_value("emails.value")),
                     "bjensen@contoso.com");
    ck_assert_str_eq(json_string_value(sort_value("emails.type")), "work");
    /* no primary: the first */
    ck_assert_str_eq(json_string_value(sort_value("phoneNumbers.value")),
                     "555-555-8377");
    ck_assert_str_eq(json_string_value(sort_value(ENTERPRISE ":manager")),
                     "26118915-6090-4610-87e4-49d8ca9f808d");
    ck_assert_str_eq(json_string_value(sort_value("employeeNumber")),
                     "701984");
    ck_assert(json_is_true(sort_value("active")));
    ck_assert_ptr_null(sort_value("profileUrl"));
    ck_assert_ptr_null(sort_value("roles"));
    ck_assert_ptr_null(sort_value("roles.value"));
    ck_assert_ptr_null(sort_value("name"));
    ck_assert_ptr_null(sort_value("emails.display"));
    ck_assert_ptr_null(sort_value(ENTERPRISE));
}
END_TEST

static int compare_strings(const scim_attr_t *def, const char *a,
                           const char *b)
{
    json_t *ja = json_string(a), *jb = json_string(b);
    int r = scim_value_compare(def, ja, jb);

    json_decref(ja);
    json_decref(jb);
    return r;
}

START_TEST(value_compare)
{
    const scim_attr_t *user_name = scim_attr_find(scim_schema_user.attrs,
                                                  "userName");
    const scim_attr_t *id = scim_attr_find(scim_common_attrs, "id");
    const scim_attr_t *meta = scim_attr_find(scim_common_attrs, "meta");
    const scim_attr_t *created = scim_attr_find(meta->sub_attrs, "created");
    json_t *nine = json_integer(9), *ten = json_integer(10);
    json_t *ten_real = json_real(10.0), *half = json_real(0.5);
    json_t *text = json_string("10");

    ck_assert_ptr_nonnull(user_name);
    ck_assert_ptr_nonnull(created);
    /* strings, caseExact or not */
    ck_assert_int_eq(compare_strings(user_name, "BJensen", "bjensen"), 0);
    ck_assert_int_lt(compare_strings(user_name, "alice", "Bob"), 0);
    ck_assert_int_gt(compare_strings(user_name, "Bob", "alice"), 0);
    ck_assert_int_ne(compare_strings(id, "ABC", "abc"), 0);
    ck_assert_int_lt(compare_strings(id, "ABC", "abc"), 0);
    ck_assert_int_eq(compare_strings(NULL, "ABC", "abc"), 0);
    ck_assert_int_lt(compare_strings(NULL, "ab", "abc"), 0);
    /* dateTime as instants, not as text */
    ck_assert_int_eq(compare_strings(created, "2011-05-13T04:42:34Z",
                                     "2011-05-13T06:42:34+02:00"), 0);
    ck_assert_int_lt(compare_strings(created, "2011-05-13T05:00:00+02:00",
                                     "2011-05-13T04:00:00Z"), 0);
    ck_assert_int_gt(compare_strings(NULL, "2011-05-13T05:00:00+02:00",
                                     "2011-05-13T04:00:00Z"), 0);
    ck_assert_int_lt(compare_strings(created, "2011-05-13T04:42:34.1Z",
                                     "2011-05-13T04:42:34.10001Z"), 0);
    ck_assert_int_lt(compare_strings(created, "2011-12-31T23:59:59Z",
                                     "2012-01-01T00:00:00Z"), 0);
    /* numbers numerically */
    ck_assert_int_lt(scim_value_compare(NULL, nine, ten), 0);
    ck_assert_int_gt(scim_value_compare(NULL, ten, nine), 0);
    ck_assert_int_eq(scim_value_compare(NULL, ten, ten_real), 0);
    ck_assert_int_lt(scim_value_compare(NULL, half, nine), 0);
    /* booleans: false < true */
    ck_assert_int_lt(scim_value_compare(NULL, json_false(), json_true()), 0);
    ck_assert_int_eq(scim_value_compare(NULL, json_true(), json_true()), 0);
    /* kinds: total and antisymmetric; absent and null last */
    ck_assert_int_ne(scim_value_compare(NULL, ten, text), 0);
    ck_assert_int_eq(scim_value_compare(NULL, ten, text) > 0,
                     scim_value_compare(NULL, text, ten) < 0);
    ck_assert_int_lt(scim_value_compare(NULL, text, NULL), 0);
    ck_assert_int_lt(scim_value_compare(NULL, json_true(), json_null()), 0);
    ck_assert_int_eq(scim_value_compare(NULL, NULL, json_null()), 0);
    json_decref(nine);
    json_decref(ten);
    json_decref(ten_real);
    json_decref(half);
    json_decref(text);
}
END_TEST

/* ---- PATCH paths -------------------------------------------------------- */

static scim_patch_path_t patch_path_ok(const scim_resource_type_t *rt,
                                       const char *text)
{
    scim_patch_path_t out;
    scim_error_t *err = scim_patch_path_parse(pool, rt, text, &out);

    ck_assert_msg(err == NULL, "path '%s' refused: %s", text,
                  err ? err->detail : "");
    return out;
}

static void check_path_refused(const char *text, const char *needle)
{
    scim_patch_path_t out;
    scim_error_t *err = scim_patch_path_parse(pool, &scim_resource_type_user,
                                              text, &out);

    ck_assert_msg(err != NULL, "path '%s' was accepted", text);
    ck_assert_int_eq(err->status, 400);
    ck_assert_str_eq(err->scim_type, SCIM_TYPE_INVALID_PATH);
    ck_assert_msg(strstr(err->detail, needle) != NULL,
                  "detail for '%.200s' is '%s', expected '%s'", text,
                  err->detail, needle);
}

START_TEST(patch_paths)
{
    scim_patch_path_t pp;
    json_t *member = load("{\"value\": \"2819c223\", \"display\": \"B\"}");

    pp = patch_path_ok(&scim_resource_type_user, "userName");
    ck_assert_str_eq(pp.path.attr_name, "userName");
    ck_assert_ptr_null(pp.value_filter);
    ck_assert_ptr_null(pp.sub_name);

    pp = patch_path_ok(&scim_resource_type_user, "name.givenName");
    ck_assert_str_eq(pp.path.attr_name, "name");
    ck_assert_str_eq(pp.path.sub_name, "givenName");
    ck_assert_ptr_null(pp.sub_name);

    pp = patch_path_ok(&scim_resource_type_group,
                       "members[value eq \"2819c223\"]");
    ck_assert_str_eq(pp.path.attr_name, "members");
    ck_assert_ptr_nonnull(pp.value_filter);
    ck_assert_ptr_null(pp.sub_name);
    ck_assert(scim_filter_match_element(pp.value_filter, member));
    json_object_set_new(member, "value", json_string("other"));
    ck_assert(!scim_filter_match_element(pp.value_filter, member));

    pp = patch_path_ok(&scim_resource_type_user,
                       "emails[type eq \"work\"].value");
    ck_assert_str_eq(pp.path.attr_name, "emails");
    ck_assert_ptr_nonnull(pp.value_filter);
    ck_assert_str_eq(pp.sub_name, "value");
    ck_assert_ptr_nonnull(pp.sub);
    ck_assert_str_eq(pp.sub->name, "value");

    pp = patch_path_ok(&scim_resource_type_user,
                       "EMAILS[TYPE EQ \"work\" and primary eq true].VALUE");
    ck_assert_str_eq(pp.path.attr_name, "emails");
    ck_assert_str_eq(pp.sub_name, "value");
    ck_assert_int_eq(pp.value_filter->kind, SCIM_FILTER_AND);

    pp = patch_path_ok(&scim_resource_type_user,
                       "addresses[type eq \"work\"].postalCode");
    ck_assert_str_eq(pp.sub_name, "postalCode");

    pp = patch_path_ok(&scim_resource_type_user, ENTERPRISE ":manager");
    ck_assert_str_eq(pp.path.schema_urn, ENTERPRISE);
    ck_assert_str_eq(pp.path.attr_name, "manager");

    pp = patch_path_ok(&scim_resource_type_user, ENTERPRISE ":manager.value");
    ck_assert_str_eq(pp.path.sub_name, "value");

    pp = patch_path_ok(&scim_resource_type_user, ENTERPRISE);
    ck_assert_str_eq(pp.path.schema_urn, ENTERPRISE);
    ck_assert_ptr_null(pp.path.attr_name);

    pp = patch_path_ok(&scim_resource_type_user,
                       CUSTOM ":devices[kind eq \"laptop\"].serial");
    ck_assert_ptr_null(pp.path.attr);
    ck_assert_str_eq(pp.sub_name, "serial");
    ck_assert_ptr_null(pp.sub);

    check_path_refused("", "empty path");
    check_path_refused("nosuch", "Unknown");
    check_path_refused("name.nosuch", "Unknown");
    check_path_refused("emails[type eq \"work\"", "expected ']'");
    check_path_refused("emails[type eq \"work\"]x", "unexpected 'x'");
    check_path_refused("emails[type eq \"work\"] ", "unexpected ' '");
    check_path_refused("emails[type eq \"work\"].nosuch", "unknown");
    check_path_refused("emails[type eq \"work\"].value.x",
                       "not a sub-attribute name");
    check_path_refused("emails[type eq \"work\"].", "not a sub-attribute");
    check_path_refused("emails[nosuch eq 1]", "unknown sub-attribute");
    check_path_refused("emails[type eq]", "missing value");
    check_path_refused("emails[type zz \"a\"]", "unknown operator");
    check_path_refused("emails[]", "expected an attribute");
    check_path_refused("userName[value eq \"x\"]", "not a complex");
    check_path_refused("emails[type[value eq 1]]", "cannot be nested");
    check_path_refused("user name", "invalid character");
    check_path_refused("emails[type eq \"\xff\"].value", "invalid UTF-8");
    check_path_refused(repeat("emails[", 1, repeat("(", 100, "", ""), ""),
                       "nesting deeper");
    json_decref(member);
}
END_TEST

Suite *filter_suite(void)
{
    Suite *s = suite_create("filter");
    TCase *ops = tcase_create("operators");
    TCase *grammar = tcase_create("grammar");
    TCase *errors = tcase_create("errors");
    TCase *hostile = tcase_create("hostile");
    TCase *other = tcase_create("index-sort-patch");

    tcase_add_checked_fixture(ops, setup, teardown);
    tcase_add_test(ops, string_operators);
    tcase_add_test(ops, boolean_operators);
    tcase_add_test(ops, integer_operators);
    tcase_add_test(ops, decimal_operators);
    tcase_add_test(ops, datetime_operators);
    tcase_add_test(ops, binary_and_reference_operators);
    tcase_add_test(ops, complex_attributes);
    tcase_add_test(ops, case_exactness_from_schema);
    tcase_add_test(ops, datetime_across_offsets);
    tcase_add_test(ops, presence);
    tcase_add_test(ops, multi_valued_and_ne);
    tcase_add_test(ops, group_filters);
    suite_add_tcase(s, ops);

    tcase_add_checked_fixture(grammar, setup, teardown);
    tcase_add_test(grammar, precedence_and_parentheses);
    tcase_add_test(grammar, case_insensitive_names_and_operators);
    tcase_add_test(grammar, value_paths);
    tcase_add_test(grammar, entra_value_path_with_sub_attribute);
    tcase_add_test(grammar, urn_paths);
    tcase_add_test(grammar, literals_and_escapes);
    tcase_add_test(grammar, unquoted_values);
    suite_add_tcase(s, grammar);

    tcase_add_checked_fixture(errors, setup, teardown);
    tcase_add_test(errors, syntax_errors);
    tcase_add_test(errors, unknown_attributes);
    tcase_add_test(errors, error_positions);
    tcase_add_test(errors, null_inputs);
    suite_add_tcase(s, errors);

    tcase_add_checked_fixture(hostile, setup, teardown);
    tcase_set_timeout(hostile, 60);
    tcase_add_test(hostile, deep_nesting);
    tcase_add_test(hostile, node_limit);
    tcase_add_test(hostile, truncated_and_mutated_input);
    suite_add_tcase(s, hostile);

    tcase_add_checked_fixture(other, setup, teardown);
    tcase_add_test(other, indexed_eq);
    tcase_add_test(other, match_element);
    tcase_add_test(other, sort_values);
    tcase_add_test(other, value_compare);
    tcase_add_test(other, patch_paths);
    suite_add_tcase(s, other);

    return s;
}
