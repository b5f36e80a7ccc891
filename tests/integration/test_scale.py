"""An organization with more users than one page or one store scan: filters
that cannot use an index, paging and sorting must see every user (Okta
imports, Entra's initial cycle)."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import CORE_USER, ScimClient, scim_json, assert_error

N = 1100
NEEDLES = (0, 1, 498, 499, 500, 501, 999, 1000, 1001, N - 1)


@pytest.fixture(scope="module")
def crowd(httpd):
    """N users in the otherwise empty 'bulk' organization, created by 8
    parallel clients.  Users at NEEDLES have familyName "Needle"."""
    base = httpd.client("bulk")
    assert base.total_users() == 0
    # one client (one keep-alive connection) per thread, as an IdP's
    # workers have: a client shared by two threads opens a second
    # connection that may idle past KeepAliveTimeout and be reused just as
    # the server closes it
    local = threading.local()

    def create(i):
        if not hasattr(local, "client"):
            local.client = ScimClient(base.base, base.token)
        c = local.client
        body = {"schemas": [CORE_USER], "userName": f"bulk-{i:05d}@example.com",
                "name": {"givenName": f"G{i}",
                         "familyName": "Needle" if i in NEEDLES else f"F{i:05d}"},
                "active": i % 3 != 0}
        return scim_json(c.post("/Users", body), 201)

    with ThreadPoolExecutor(8) as pool:
        users = list(pool.map(create, range(N)))
    return users


def test_total_and_default_page_size(bulk, crowd):
    body = bulk.list_users()
    assert body["totalResults"] == N
    # no count: ScimMaxResults (default 200) resources
    assert 0 < len(body["Resources"]) <= 200
    body = bulk.list_users(count=0)
    assert body["totalResults"] == N and body["Resources"] == []


def test_unindexed_filter_finds_matches_in_every_scan_chunk(bulk, crowd):
    body = bulk.filter_users('name.familyName eq "Needle"', count=100)
    assert body["totalResults"] == len(NEEDLES)
    assert sorted(r["userName"] for r in body["Resources"]) == \
        sorted(f"bulk-{i:05d}@example.com" for i in NEEDLES)


def test_unindexed_filter_paging_across_chunks(bulk, crowd):
    seen = []
    start = 1
    while True:
        page = bulk.filter_users('name.familyName eq "Needle"', startIndex=start, count=3)
        assert page["totalResults"] == len(NEEDLES)
        if not page["Resources"]:
            break
        seen += [r["id"] for r in page["Resources"]]
        start += len(page["Resources"])
    assert len(seen) == len(set(seen)) == len(NEEDLES)


def test_unindexed_count_of_a_large_match(bulk, crowd):
    expected = sum(1 for i in range(N) if i % 3 == 0)
    body = bulk.filter_users("active eq false", count=0)
    assert body["totalResults"] == expected
    body = bulk.filter_users("active eq false", startIndex=expected - 1, count=10)
    assert len(body["Resources"]) == 2


def test_paging_through_everyone(bulk, crowd):
    seen = []
    start = 1
    while start <= N:
        page = bulk.list_users(startIndex=start, count=200)
        assert page["totalResults"] == N
        assert page["Resources"]
        seen += [r["id"] for r in page["Resources"]]
        start += len(page["Resources"])
    assert len(seen) == len(set(seen)) == N
    assert set(seen) == {u["id"] for u in crowd}


def test_sorting_spans_all_users(bulk, crowd):
    body = bulk.list_users(sortBy="userName", sortOrder="descending", count=3)
    assert [r["userName"] for r in body["Resources"]] == \
        [f"bulk-{i:05d}@example.com" for i in (N - 1, N - 2, N - 3)]
    body = bulk.list_users(sortBy="name.familyName", startIndex=N - 1, count=5)
    # "Needle" sorts after every "F....."
    assert [r["name"]["familyName"] for r in body["Resources"]] == ["Needle", "Needle"]


@pytest.mark.parametrize("params", [
    {"count": "abc"}, {"startIndex": "abc"}, {"count": "99999999999999999999"},
    {"startIndex": "99999999999999999999"}, {"count": "-1"}, {"count": "1e3"},
    {"startIndex": "-99999999999999999999"},
])
def test_odd_paging_parameters_never_break_the_server(bulk, crowd, params):
    resp = bulk.get("/Users", params=params)
    if resp.status_code == 400:
        assert_error(resp, 400)
    else:
        body = scim_json(resp, 200)
        assert body["totalResults"] == N
        assert len(body["Resources"]) <= 200


def test_a_new_postgresql_database_gets_statistics_in_its_first_sync(
        pg, make_server):
    """PostgreSQL plans the store's lookups from statistics that a new
    database lacks until autovacuum's first pass (a minute or more); the
    planner then read every user for each lookup by name or id.  The
    module analyzes a table that has grown past 1,000 rows without them,
    and a lookup by userName is planned on its unique index."""
    server = make_server("stats")
    c = server.client()
    local = threading.local()

    def create(i):
        if not hasattr(local, "client"):
            local.client = ScimClient(c.base, c.token)
        return scim_json(local.client.post("/Users", {
            "schemas": [CORE_USER], "userName": f"first-sync-{i:05d}"}), 201)

    with ThreadPoolExecutor(8) as pool:
        users = list(pool.map(create, range(1200)))

    def analyzed():
        # last_analyze is ANALYZE's own; autovacuum's is last_autoanalyze
        return server.sql("SELECT last_analyze IS NOT NULL FROM"
                          " pg_stat_user_tables WHERE relname = ?",
                          "scim_resources") == [("t",)]

    # the module looks at most every 5 s, after a write, and the server's
    # counters reach the statistics views within about a second
    deadline = time.monotonic() + 30
    while not analyzed() and time.monotonic() < deadline:
        scim_json(c.patch_ops(users[0]["id"], {
            "op": "replace", "path": "displayName", "value": "x"}), 200)
        time.sleep(0.5)
    assert analyzed(), "scim_resources was not analyzed by the module"

    plan = pg.psql("SET plan_cache_mode = force_generic_plan;"
                   " PREPARE owner (varchar, varchar, varchar) AS SELECT id"
                   " FROM scim_resources WHERE org = $1 AND rtype = $2"
                   " AND name_ci = $3;"
                   " EXPLAIN EXECUTE owner ('acme', 'User', 'x');",
                   server.database)
    assert "scim_resources_name" in plan[0][0], plan
