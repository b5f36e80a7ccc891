"""Filters (RFC 7644 3.4.2.2), paging, sorting, attribute projection and
POST .search.  Every query is scoped to this module's users with
`userName sw "<prefix>"` so users of other tests do not interfere."""

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from harness import (CORE_USER, ENTERPRISE, SEARCH_REQUEST, assert_error,
                     assert_list, scim_json, describe)


@pytest.fixture(scope="module")
def people(httpd):
    """Six users with known attributes; returns (prefix, {key: user})."""
    c = httpd.client("acme")
    p = f"flt{uuid.uuid4().hex[:8]}-"

    def mk(key, family, given, active=True, emails=None, ext=None, emp=None,
           title=None):
        body = {"schemas": [CORE_USER], "userName": f"{p}{key}@example.com",
                "externalId": f"Ext-{p}{key}",
                "name": {"familyName": family, "givenName": given},
                "active": active}
        if emails is not None:
            body["emails"] = emails
        if emp is not None:
            body["schemas"].append(ENTERPRISE)
            body[ENTERPRISE] = {"employeeNumber": emp, "department": ext or "Eng"}
        if title:
            body["title"] = title
        return c.create_user(body)

    users = {
        "alice": mk("alice", "Anderson", "Alice",
                    emails=[{"type": "work", "value": f"alice@{p}work.example",
                             "primary": True},
                            {"type": "home", "value": f"alice@{p}home.example"}],
                    emp=f"E{p}1", title="Engineer"),
        "bob": mk("bob", "Baker", "Bob", active=False,
                  emails=[{"type": "home", "value": f"bob@{p}work.example"}],
                  emp=f"E{p}2", ext="Sales"),
        "carol": mk("carol", "Carter", "Carol"),
        "dave": mk("dave", "Anders", "Dave",
                   emails=[{"type": "work", "value": f"dave@{p}work.example"}],
                   title="Manager"),
        "erin": mk("erin", "Evans", "Erin", active=False),
        "frank": mk("frank", "Fischer", "Frank",
                    emails=[{"type": "work", "value": f"frank@{p}other.example"}],
                    emp=f"E{p}6", ext="Eng"),
    }
    return p, users


def names(body, prefix):
    return sorted(r["userName"][len(prefix):].split("@")[0] for r in body["Resources"])


def q(acme, prefix, expr, **params):
    """Filter restricted to this module's users; returns sorted short names."""
    body = acme.filter_users(f'userName sw "{prefix}" and ({expr})', count=100,
                             **params)
    assert body["totalResults"] == len(body["Resources"])
    return names(body, prefix)


# ---- filters --------------------------------------------------------------

def test_username_eq_is_case_insensitive(acme, people):
    p, users = people
    un = users["alice"]["userName"]
    for variant in (un, un.upper(), un.title()):
        body = acme.filter_users(f'userName eq "{variant}"')
        assert body["totalResults"] == 1, variant
        assert body["Resources"][0]["id"] == users["alice"]["id"]
        assert body["startIndex"] == 1


def test_attribute_names_are_case_insensitive(acme, people):
    p, users = people
    body = acme.filter_users(f'USERNAME eq "{users["carol"]["userName"]}"')
    assert [r["id"] for r in body["Resources"]] == [users["carol"]["id"]]
    assert q(acme, p, 'NAME.FAMILYNAME eq "carter"') == ["carol"]


def test_operators_are_case_insensitive(acme, people):
    p, users = people
    body = acme.filter_users(f'userName EQ "{users["carol"]["userName"]}"')
    assert body["totalResults"] == 1
    assert q(acme, p, 'name.familyName SW "Ander" AND active Eq true') == \
        ["alice", "dave"]


def test_external_id_eq_is_case_exact(acme, people):
    p, users = people
    ext = users["dave"]["externalId"]
    body = acme.filter_users(f'externalId eq "{ext}"')
    assert [r["id"] for r in body["Resources"]] == [users["dave"]["id"]]
    # externalId is caseExact (RFC 7643 3.1)
    assert acme.filter_users(f'externalId eq "{ext.upper()}"')["totalResults"] == 0


def test_id_eq(acme, people):
    p, users = people
    body = acme.filter_users(f'id eq "{users["bob"]["id"]}"')
    assert [r["userName"] for r in body["Resources"]] == [users["bob"]["userName"]]


def test_value_path_filter_as_entra_sends_it(acme, people):
    p, users = people
    body = acme.filter_users(f'emails[type eq "work"].value eq "alice@{p}work.example"')
    assert [r["id"] for r in body["Resources"]] == [users["alice"]["id"]]
    # bob's address is of type home: not a work email
    assert acme.filter_users(
        f'emails[type eq "work"].value eq "bob@{p}work.example"')["totalResults"] == 0
    assert q(acme, p, 'emails[type eq "work" and value ew "work.example"]') == \
        ["alice", "dave"]
    assert q(acme, p, f'emails.value eq "bob@{p}work.example"') == ["bob"]
    assert q(acme, p, 'emails co "work.example"') == ["alice", "bob", "dave"]


def test_indexed_lookups_combined_with_or_and_not(acme, people):
    # userName/externalId/id lookups use an index; combined with "or" or
    # "not" the index alone must not decide.
    p, users = people
    a, b = users["alice"], users["bob"]
    body = acme.filter_users(f'userName eq "{a["userName"]}" or userName eq "{b["userName"]}"')
    assert sorted(r["id"] for r in body["Resources"]) == sorted([a["id"], b["id"]])
    body = acme.filter_users(f'userName eq "{a["userName"]}" and userName eq "{b["userName"]}"')
    assert body["totalResults"] == 0
    body = acme.filter_users(f'externalId eq "{a["externalId"]}" or id eq "{b["id"]}"')
    assert sorted(r["id"] for r in body["Resources"]) == sorted([a["id"], b["id"]])
    body = acme.filter_users(f'id eq "{a["id"]}" and active eq false')
    assert body["totalResults"] == 0
    assert q(acme, p, f'not (userName eq "{a["userName"]}")') == \
        ["bob", "carol", "dave", "erin", "frank"]
    assert q(acme, p, f'userName ne "{a["userName"].upper()}"') == \
        ["bob", "carol", "dave", "erin", "frank"]


def test_sw_co_ew(acme, people):
    p, _ = people
    assert q(acme, p, 'name.familyName sw "Ander"') == ["alice", "dave"]
    assert q(acme, p, 'name.familyName sw "ander"') == ["alice", "dave"]
    assert q(acme, p, 'name.givenName co "r"') == ["carol", "erin", "frank"]
    assert q(acme, p, 'name.familyName ew "er"') == ["bob", "carol", "frank"]
    assert q(acme, p, 'userName ew "e@example.com"') == ["alice", "dave"]


def test_pr(acme, people):
    p, _ = people
    assert q(acme, p, "emails pr") == ["alice", "bob", "dave", "frank"]
    assert q(acme, p, "title pr") == ["alice", "dave"]
    assert q(acme, p, "not (emails pr)") == ["carol", "erin"]


def test_and_or_not_and_parentheses(acme, people):
    p, _ = people
    assert q(acme, p, 'name.givenName eq "Alice" or name.givenName eq "Bob"') == \
        ["alice", "bob"]
    assert q(acme, p, 'active eq true and name.familyName sw "A"') == ["alice", "dave"]
    assert q(acme, p, 'not (active eq true)') == ["bob", "erin"]
    assert q(acme, p, '(name.givenName eq "Alice" or name.givenName eq "Erin") '
                      'and active eq false') == ["erin"]
    assert q(acme, p, 'name.givenName eq "Alice" or name.givenName eq "Erin" '
                      'and active eq false') == ["alice", "erin"]   # and binds tighter
    assert q(acme, p, 'not (name.familyName sw "A" or active eq false)') == \
        ["carol", "frank"]
    assert q(acme, p, 'name.givenName ne "Alice" and active eq true') == \
        ["carol", "dave", "frank"]


def test_ordering_operators_on_strings(acme, people):
    p, _ = people
    assert q(acme, p, f'userName gt "{p}c"') == ["carol", "dave", "erin", "frank"]
    assert q(acme, p, f'userName le "{p.upper()}BOB@EXAMPLE.COM"') == ["alice", "bob"]
    assert q(acme, p, 'name.familyName ge "evans"') == ["erin", "frank"]
    assert q(acme, p, 'name.familyName lt "B"') == ["alice", "dave"]


def test_ordering_operators_on_booleans_are_invalid(acme, people):
    # RFC 7644 3.4.2.2: gt/ge/lt/le on a boolean is 400 invalidFilter
    resp = acme.get("/Users", params={"filter": "active gt false"})
    assert_error(resp, 400, "invalidFilter")


def test_projection_of_a_sub_attribute_of_a_multi_valued_attribute(acme, people):
    p, users = people
    one = scim_json(acme.get(f"/Users/{users['alice']['id']}",
                             params={"attributes": "emails.value"}), 200)
    assert [set(e) for e in one["emails"]] == [{"value"}, {"value"}]


def test_active_eq_false(acme, people):
    p, _ = people
    assert q(acme, p, "active eq false") == ["bob", "erin"]
    body = acme.filter_users(f'userName sw "{p}" and active eq false')
    assert all(r["active"] is False for r in body["Resources"])


def test_meta_created_comparisons(acme, people):
    p, _ = people
    now = datetime.now(timezone.utc)
    past = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    future = (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    everyone = ["alice", "bob", "carol", "dave", "erin", "frank"]
    assert q(acme, p, f'meta.created gt "{past}"') == everyone
    assert q(acme, p, f'meta.created gt "{future}"') == []
    assert q(acme, p, f'meta.created lt "{future}"') == everyone
    assert q(acme, p, f'meta.lastModified ge "{past}"') == everyone
    assert q(acme, p, 'meta.created le "2000-01-01T00:00:00Z"') == []


def test_enterprise_extension_filter(acme, people):
    p, users = people
    body = acme.filter_users(f'{ENTERPRISE}:employeeNumber eq "E{p}2"')
    assert [r["id"] for r in body["Resources"]] == [users["bob"]["id"]]
    assert q(acme, p, f'{ENTERPRISE}:department eq "eng"') == ["alice", "frank"]


def test_zero_matches_is_an_empty_list(acme):
    body = acme.filter_users('userName eq "non-existent user"')
    assert body["totalResults"] == 0
    assert body["Resources"] == []
    assert body["startIndex"] == 1


def test_entra_random_guid_probe(acme):
    body = acme.filter_users(f'userName eq "{uuid.uuid4()}"')
    assert body["totalResults"] == 0 and body["Resources"] == []


@pytest.mark.parametrize("expr", [
    'userName eq',
    'userName xx "a"',
    'userName eq "unterminated',
    '(userName eq "a"',
    'userName eq "a")',
    'userName eq "a" and',
    'and userName eq "a"',
    'emails[type eq "work"',
    'emails[type eq "work"]].value eq "a"',
    'userName eq a b',
    'userName pr "x"',
    '"userName" eq "a"',
    'name..familyName eq "a"',
    'userName eq "a" userName eq "b"',
    '(' * 200 + 'userName eq "a"' + ')' * 200,
])
def test_invalid_filter_is_400(acme, people, expr):
    total = acme.total_users()
    resp = acme.get("/Users", params={"filter": expr})
    assert_error(resp, 400, "invalidFilter")
    assert acme.total_users() == total


def test_unknown_attribute_never_returns_everyone(acme, people):
    resp = acme.get("/Users", params={"filter": 'noSuchAttribute eq "x"'})
    if resp.status_code == 400:
        assert_error(resp, 400, "invalidFilter")
    else:
        assert assert_list(resp)["totalResults"] == 0, describe(resp)


def test_filter_with_spaces_and_escapes_in_value(acme):
    # audriga/scim-server-php#1: values with spaces; RFC 7159 escapes
    c = acme
    u = c.create_user(userName=f'EDU All personal {uuid.uuid4().hex[:6]}',
                      displayName='Say "hi" \\ bye')
    body = c.filter_users(f'userName eq "{u["userName"]}"')
    assert [r["id"] for r in body["Resources"]] == [u["id"]]
    body = c.filter_users(f'id eq "{u["id"]}" and displayName eq "Say \\"hi\\" \\\\ bye"')
    assert body["totalResults"] == 1


# ---- lists: paging, sorting, projection --------------------------------

def test_count_zero_gives_only_total(acme, people):
    p, _ = people
    body = acme.filter_users(f'userName sw "{p}"', count=0)
    assert body["totalResults"] == 6
    assert body["Resources"] == []
    assert body["itemsPerPage"] == 0


def test_start_index_and_count(acme, people):
    p, _ = people
    full = acme.filter_users(f'userName sw "{p}"', count=100)
    ids = [r["id"] for r in full["Resources"]]
    assert len(ids) == 6

    page = acme.filter_users(f'userName sw "{p}"', startIndex=2, count=2)
    assert page["totalResults"] == 6
    assert page["startIndex"] == 2
    assert [r["id"] for r in page["Resources"]] == ids[1:3]

    last = acme.filter_users(f'userName sw "{p}"', startIndex=5, count=10)
    assert [r["id"] for r in last["Resources"]] == ids[4:]

    beyond = acme.filter_users(f'userName sw "{p}"', startIndex=50, count=10)
    assert beyond["totalResults"] == 6 and beyond["Resources"] == []


@pytest.mark.parametrize("start", [0, -5])
def test_start_index_below_one_means_one(acme, people, start):
    p, _ = people
    first = acme.filter_users(f'userName sw "{p}"', startIndex=1, count=3)
    body = acme.filter_users(f'userName sw "{p}"', startIndex=start, count=3)
    assert body["startIndex"] == 1
    assert [r["id"] for r in body["Resources"]] == [r["id"] for r in first["Resources"]]


def test_default_order_is_stable_across_pages(acme, people):
    p, _ = people
    whole = [r["id"] for r in acme.filter_users(f'userName sw "{p}"', count=100)["Resources"]]
    paged = []
    for start in (1, 3, 5):
        paged += [r["id"] for r in
                  acme.filter_users(f'userName sw "{p}"', startIndex=start, count=2)["Resources"]]
    assert paged == whole


def test_okta_import_paging_covers_everyone_once(acme, people):
    # Okta import: GET /Users?startIndex=1&count=N, then startIndex+N ...
    # until totalResults; the union must be every user, without duplicates.
    first = acme.list_users(startIndex=1, count=25)
    total = first["totalResults"]
    seen = [r["id"] for r in first["Resources"]]
    start = 1 + 25
    while start <= total:
        page = acme.list_users(startIndex=start, count=25)
        assert page["totalResults"] == total
        seen += [r["id"] for r in page["Resources"]]
        start += 25
    assert len(seen) == len(set(seen)), "a user appeared on two pages"
    assert len(seen) == total
    assert {u["id"] for u in people[1].values()} <= set(seen)


def test_sort_by_username(acme, people):
    p, _ = people
    desc = acme.filter_users(f'userName sw "{p}"', sortBy="userName",
                             sortOrder="descending")
    assert names(desc, p) == ["alice", "bob", "carol", "dave", "erin", "frank"]
    got = [r["userName"] for r in desc["Resources"]]
    assert got == sorted(got, reverse=True)
    asc = acme.filter_users(f'userName sw "{p}"', sortBy="userName")
    assert [r["userName"] for r in asc["Resources"]] == sorted(got)
    # sorted paging
    page = acme.filter_users(f'userName sw "{p}"', sortBy="userName",
                             sortOrder="descending", startIndex=2, count=2)
    assert [r["userName"] for r in page["Resources"]] == got[1:3]


def test_sort_by_family_name(acme, people):
    p, _ = people
    body = acme.filter_users(f'userName sw "{p}"', sortBy="name.familyName",
                             sortOrder="ascending")
    assert [r["name"]["familyName"] for r in body["Resources"]] == \
        ["Anders", "Anderson", "Baker", "Carter", "Evans", "Fischer"]


def test_attributes_projection(acme, people):
    p, users = people
    body = acme.filter_users(f'userName sw "{p}"', attributes="userName")
    assert len(body["Resources"]) == 6
    for r in body["Resources"]:
        assert r["id"] and r["userName"].startswith(p)
        for absent in ("name", "emails", "active", "externalId", ENTERPRISE):
            assert absent not in r, f"{absent} returned though not requested"

    one = scim_json(acme.get(f"/Users/{users['alice']['id']}",
                             params={"attributes": "name.familyName,emails"}), 200)
    assert one["id"] == users["alice"]["id"]
    assert one["name"] == {"familyName": "Anderson"}
    assert len(one["emails"]) == 2
    assert "userName" not in one and "active" not in one

    ext = scim_json(acme.get(f"/Users/{users['alice']['id']}",
                             params={"attributes": f"{ENTERPRISE}:employeeNumber"}), 200)
    assert ext[ENTERPRISE] == {"employeeNumber": f"E{p}1"}
    assert "name" not in ext


def test_excluded_attributes(acme, people):
    p, users = people
    body = acme.filter_users(f'userName sw "{p}"', excludedAttributes="emails")
    for r in body["Resources"]:
        assert "emails" not in r
        assert r["id"] and r["userName"] and "name" in r
    one = scim_json(acme.get(f"/Users/{users['alice']['id']}",
                             params={"excludedAttributes": "emails,name.givenName"}), 200)
    assert "emails" not in one
    assert one["name"] == {"familyName": "Anderson"}
    assert one["id"] == users["alice"]["id"]
    # id can never be excluded (returned "always")
    one = scim_json(acme.get(f"/Users/{users['alice']['id']}",
                             params={"excludedAttributes": "id"}), 200)
    assert one["id"] == users["alice"]["id"]


def test_count_is_capped_at_max_results(tiny):
    made = [tiny.create_user() for _ in range(7)]
    body = tiny.list_users(count=100)
    assert body["totalResults"] >= 7
    assert len(body["Resources"]) == 5
    assert body["itemsPerPage"] == 5
    body = tiny.list_users()
    assert len(body["Resources"]) <= 5
    # paging by the returned page size still reaches everyone
    seen, start = [], 1
    while start <= body["totalResults"]:
        page = tiny.list_users(startIndex=start, count=100)
        assert page["Resources"], "empty page before totalResults was reached"
        seen += [r["id"] for r in page["Resources"]]
        start += len(page["Resources"])
    assert {u["id"] for u in made} <= set(seen)
    assert len(seen) == len(set(seen))
    body = assert_list(tiny.post("/Users/.search", {"schemas": [SEARCH_REQUEST],
                                                    "count": 100}))
    assert len(body["Resources"]) == 5


# ---- POST .search ----------------------------------------------------------

def test_post_users_search(acme, people):
    p, users = people
    req = {"schemas": [SEARCH_REQUEST],
           "filter": f'userName sw "{p}" and active eq true',
           "startIndex": 1, "count": 10,
           "sortBy": "userName", "sortOrder": "ascending",
           "attributes": ["userName", "name.familyName"]}
    body = assert_list(acme.post("/Users/.search", req))
    assert body["totalResults"] == 4
    assert names(body, p) == ["alice", "carol", "dave", "frank"]
    assert [r["userName"] for r in body["Resources"]] == \
        sorted(r["userName"] for r in body["Resources"])
    for r in body["Resources"]:
        assert r["id"]
        assert "emails" not in r and "active" not in r
        assert set(r["name"]) == {"familyName"}

    req = {"schemas": [SEARCH_REQUEST], "filter": f'userName sw "{p}"',
           "startIndex": 3, "count": 2, "excludedAttributes": ["emails"]}
    body = assert_list(acme.post("/Users/.search", req))
    assert body["totalResults"] == 6 and len(body["Resources"]) == 2
    assert body["startIndex"] == 3
    assert all("emails" not in r for r in body["Resources"])


def test_post_root_search(acme, people):
    p, users = people
    req = {"schemas": [SEARCH_REQUEST],
           "filter": f'userName eq "{users["dave"]["userName"]}"'}
    body = assert_list(acme.post("/.search", req))
    assert body["totalResults"] == 1
    r = body["Resources"][0]
    assert r["id"] == users["dave"]["id"]
    assert CORE_USER in r["schemas"]


def test_search_with_invalid_filter_is_400(acme):
    req = {"schemas": [SEARCH_REQUEST], "filter": 'userName eq'}
    assert_error(acme.post("/Users/.search", req), 400, "invalidFilter")


def test_filter_on_schemas_as_in_rfc_7644(acme):
    """RFC 7644 3.4.2.2's own example filters on the schemas URNs."""
    with_ext = scim_json(acme.post("/Users", {
        "schemas": [CORE_USER, ENTERPRISE], "userName": f"schemas-{id(acme)}-x",
        ENTERPRISE: {"employeeNumber": "1"}}), 201)
    plain = acme.create_user()
    got = assert_list(acme.get("/Users", params={
        "filter": f'schemas eq "{ENTERPRISE}"', "count": 1000}))
    ids = {r["id"] for r in got["Resources"]}
    assert with_ext["id"] in ids and plain["id"] not in ids
