"""Filters no index answers, and sortBy, are evaluated in the database
first (scim_sqlfilter.h): the answers are those of the filter itself (the
C evaluator judges every row the database hands over), the order is the
sortBy order with absent values last, and the database hands over only
candidates, which the rows a request reads show."""

import uuid

import pytest

from harness import CORE_USER, Org, new_token
from test_groups_scale import measured

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

FAMILIES = ["Smith", "SMITH", "smithson", "Jones", "O'Brien", "Émond", None]
TITLES = ["Engineer", "senior ENGINEER", "50% off_sale", "Manager", "", None]


def user_body(i, tag):
    body = {"schemas": [CORE_USER, ENTERPRISE],
            "userName": f"{tag}-{i:02d}{'ABC'[i % 3]}",
            "active": i % 4 != 0,
            "emails": [{"value": f"u{i}@{tag}.work.example", "type": "work"},
                       {"value": f"u{i}@{tag}.home.example", "type": "home"}],
            ENTERPRISE: {"department": f"Dept {i % 3}"}}
    family = FAMILIES[i % len(FAMILIES)]
    if family is not None:
        body["name"] = {"familyName": family, "givenName": f"G{i}"}
    title = TITLES[i % len(TITLES)]
    if title is not None:
        body["title"] = title
    if i % 5 == 0:
        body["displayName"] = f"D{30 - i}"
    return body


@pytest.fixture(scope="module")
def seeded(request):
    from harness import HttpdServer
    server = HttpdServer(f"sql-filters-{uuid.uuid4().hex[:6]}",
                         [Org("acme", [new_token()])],
                         extra_conf="LogLevel warn scim:debug")
    server.write_config()
    server.start()
    c = server.client("acme")
    tag = uuid.uuid4().hex[:6]
    users = [c.create_user(user_body(i, tag)) for i in range(30)]
    yield server, c, users, tag
    server.stop()


def family(u):
    return (u.get("name") or {}).get("familyName")


def fold(s):
    return None if s is None else "".join(
        ch.lower() if "A" <= ch <= "Z" else ch for ch in s)


# filter -> what it means, in Python
FILTERS = {
    'name.familyName eq "smith"': lambda u: fold(family(u)) == "smith",
    'name.familyName sw "SMITH"': lambda u: (fold(family(u)) or "").startswith("smith"),
    'name.familyName eq "O\'Brien"': lambda u: family(u) == "O'Brien",
    'name.familyName ne "smith"': lambda u: fold(family(u)) != "smith",
    'not (name.familyName pr)': lambda u: family(u) is None,
    'title co "eng"': lambda u: "eng" in (fold(u.get("title")) or "-"),
    'title co "%"': lambda u: "%" in (u.get("title") or ""),
    'title co "_s"': lambda u: "_s" in (u.get("title") or ""),
    'title eq ""': lambda u: u.get("title") == "",
    'title pr': lambda u: bool(u.get("title")),
    'active eq false': lambda u: u["active"] is False,
    'active eq true and title co "eng"':
        lambda u: u["active"] and "eng" in (fold(u.get("title")) or "-"),
    'emails[type eq "work" and value co "u1@"]':
        lambda u: any(e["type"] == "work" and "u1@" in e["value"] for e in u["emails"]),
    'emails[type eq "home"].value ew "7@{tag}.home.example"':
        lambda u: u["emails"][1]["value"].startswith("u7@")
        or u["emails"][1]["value"].startswith("u17@")
        or u["emails"][1]["value"].startswith("u27@"),
    ENTERPRISE + ':department eq "dept 1"':
        lambda u: u[ENTERPRISE]["department"] == "Dept 1",
    'displayName lt "D2"': lambda u: u.get("displayName") is not None
        and u["displayName"] < "D2",
    'title co "eng" or name.familyName eq "jones"':
        lambda u: "eng" in (fold(u.get("title")) or "-") or fold(family(u)) == "jones",
}


@pytest.mark.parametrize("expr", sorted(FILTERS))
def test_answers_are_the_filters(seeded, expr):
    server, c, users, tag = seeded
    expr = expr.replace("{tag}", tag)
    key = next(k for k in FILTERS if k.replace("{tag}", tag) == expr)
    expected = sorted(u["id"] for u in users if FILTERS[key](u))
    body = c.filter_users(expr, count=100)
    assert body["totalResults"] == len(expected), (expr, body["totalResults"])
    assert sorted(r["id"] for r in body["Resources"]) == expected, expr
    # a page of two from the second: the same matches, in the same order
    page = c.filter_users(expr, startIndex=2, count=2)
    assert page["totalResults"] == len(expected)
    assert [r["id"] for r in page["Resources"]] == \
        [r["id"] for r in body["Resources"]][1:3]


def sort_order(users, value, descending):
    """The sortBy order: absent values last (first descending), ties in
    the default order (created, then id)."""
    users = sorted(users, key=lambda u: (u["meta"]["created"], u["id"]))
    present = [u for u in users if value(u) is not None]
    absent = [u for u in users if value(u) is None]
    present.sort(key=lambda u: value(u).encode(), reverse=descending)
    if descending:
        # ties keep creation order in both directions
        groups = {}
        for u in present:
            groups.setdefault(value(u).encode(), []).append(u)
        present = [u for k in sorted(groups, reverse=True)
                   for u in sorted(groups[k], key=users.index)]
        return [u["id"] for u in absent + present]
    return [u["id"] for u in present + absent]


SORTS = {
    "userName": lambda u: fold(u["userName"]),
    "name.familyName": lambda u: fold(family(u)),
    "title": lambda u: fold(u.get("title")),
    "displayName": lambda u: fold(u.get("displayName")),
    "meta.created": lambda u: u["meta"]["created"],
}


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("sort_by", sorted(SORTS))
def test_sort_by_orders_as_documented(seeded, sort_by, descending):
    server, c, users, tag = seeded
    mine = [u for u in users]
    expected = sort_order(mine, SORTS[sort_by], descending)
    params = {"sortBy": sort_by, "count": 100,
              "sortOrder": "descending" if descending else "ascending"}
    body = c.filter_users(f'userName sw "{tag}-"', **params)
    assert [r["id"] for r in body["Resources"]] == expected
    # one page further on, with a filter the database evaluates
    page = c.filter_users(f'userName sw "{tag}-" and title pr',
                          **dict(params, startIndex=3, count=4))
    titled = [i for i in expected
              if next(u for u in users if u["id"] == i).get("title")]
    assert page["totalResults"] == len(titled)
    assert [r["id"] for r in page["Resources"]] == titled[2:6]


def test_database_hands_over_only_candidates(seeded):
    server, c, users, tag = seeded
    # 2 of the 30 users (plus the other tests' none): the page and a count,
    # not every user of the organization
    resp, work = measured(server, lambda: c.get("/Users", params={
        "filter": f'name.familyName eq "O\'Brien" and userName sw "{tag}"'}))
    body = resp.json()
    assert body["totalResults"] == len([u for u in users
                                        if family(u) == "O'Brien"])
    assert work.read <= body["totalResults"] + 4, work
    # a filter the database cannot judge alone (the membership extension
    # is computed) still reads only the candidates of the rest
    resp, work = measured(server, lambda: c.get("/Users", params={
        "filter": f'title eq "Manager" and urn:modscim:schemas:extension:'
                  f'membership:2.0:User:state eq "provisioned"'}))
    managers = [u for u in users if u.get("title") == "Manager"]
    assert resp.json()["totalResults"] == len(managers)
    assert work.read <= len(managers) + 4, work


def listed(server, c, **params):
    """GET /Users with params, and the store's work for it."""
    return measured(server, lambda: c.get("/Users", params=params))


def test_a_short_page_gives_the_total_without_a_count(seeded):
    """A page that came back short ends the matches: totalResults without
    a count, which would read every row of the organization again."""
    server, c, users, tag = seeded
    expr = f'name.familyName eq "O\'Brien" and userName sw "{tag}"'
    n = len([u for u in users if family(u) == "O'Brien"])
    assert n >= 2

    whole, whole_work = listed(server, c, filter=expr)
    full, full_work = listed(server, c, filter=expr, count=1)
    rest, _ = listed(server, c, filter=expr, startIndex=2, count=50)
    beyond, _ = listed(server, c, filter=expr, startIndex=n + 5, count=50)
    assert [b.json()["totalResults"] for b in (whole, full, rest, beyond)] \
        == [n] * 4
    assert len(whole.json()["Resources"]) == n
    assert len(rest.json()["Resources"]) == n - 1
    assert beyond.json()["Resources"] == []
    # the full page of one had to count; the page of all did not
    assert whole_work.statements == full_work.statements - 1, \
        (whole_work, full_work)


@pytest.mark.parametrize("matching", ["Manager", "all"])
def test_matches_sorted_by_the_resource_are_counted_in_one_pass(seeded,
                                                                matching):
    """Matches of a filter read from the resource, sorted by an attribute
    of the resource, few or all of them: on SQLite the page's own statement
    counts them as it orders them, so a full page needs no count statement
    (which would read every row again)."""
    server, c, users, tag = seeded
    if matching == "Manager":
        expr = f'title eq "Manager" and userName sw "{tag}"'
        mine = [u for u in users if u.get("title") == "Manager"]
        assert 3 <= len(mine) < len(users) / 3
    else:
        expr = f'(title pr or not (title pr)) and userName sw "{tag}"'
        mine = users
    expected = sort_order(mine, SORTS["name.familyName"], False)
    params = {"filter": expr, "sortBy": "name.familyName"}

    whole, whole_work = listed(server, c, **params)
    first, first_work = listed(server, c, **params, count=1)
    second, _ = listed(server, c, **params, startIndex=2, count=1)
    pages = [whole.json(), first.json(), second.json()]
    assert [p["totalResults"] for p in pages] == [len(expected)] * 3
    assert [[r["id"] for r in p["Resources"]] for p in pages] == \
        [expected, expected[:1], expected[1:2]]
    count_statements = 0 if server.db_driver == "sqlite3" else 1
    assert first_work.statements == whole_work.statements + count_statements, \
        (whole_work, first_work)


def test_sorted_first_page_reads_the_page(seeded):
    server, c, users, tag = seeded
    resp, work = measured(server, lambda: c.get("/Users", params={
        "sortBy": "userName", "count": 3}))
    assert len(resp.json()["Resources"]) == 3
    # a count and three rows, not the 30 users sorted in C
    assert work.read <= 3 + 4, work
