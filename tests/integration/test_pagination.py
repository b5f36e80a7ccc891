"""Paging long lists as Okta and Entra walk them (startIndex) and by cursor
(RFC 9865): every resource once, in the stable default order, the same
pages OFFSET would give, and cursors that are checked, not trusted."""

import uuid

import pytest

from harness import (CORE_GROUP, LIST_RESPONSE, HttpdServer, Org,
                     assert_error, assert_list, describe, new_token,
                     scim_json)

USERS = 30


def cursor_page(resp):
    """A ListResponse of cursor pagination (RFC 9865 2): no startIndex;
    totalResults when the list knows it."""
    body = scim_json(resp, 200)
    assert LIST_RESPONSE in body.get("schemas", []), describe(resp)
    assert "startIndex" not in body, describe(resp)
    assert body["itemsPerPage"] == len(body["Resources"]), describe(resp)
    return body


@pytest.fixture(scope="module")
def walked():
    """A server of its own (no other test's users), USERS users and a
    group of the first 20 of them."""
    server = HttpdServer(f"pagination-{uuid.uuid4().hex[:6]}",
                         [Org("acme", [new_token()]),
                          Org("globex", [new_token()])])
    server.write_config()
    server.start()
    c = server.client("acme")
    users = [c.create_user(userName=f"walk-{i:02d}-{uuid.uuid4().hex[:4]}")
             for i in range(USERS)]
    group = scim_json(c.post("/Groups", {
        "schemas": [CORE_GROUP], "displayName": "walkers",
        "members": [{"value": u["id"]} for u in users[:20]]}), 201)
    yield server, c, users, group
    server.stop()


def cursor_walk(c, path="/Users", count=4, **params):
    """Every page of a cursor walk; returns (pages, ids in order)."""
    pages, ids, cursor = [], [], ""
    while cursor is not None:
        body = cursor_page(c.get(path, params=dict(params, cursor=cursor,
                                                    count=count)))
        assert len(body["Resources"]) <= count
        pages.append(body)
        ids += [r["id"] for r in body["Resources"]]
        cursor = body.get("nextCursor")
        if cursor is not None:
            assert len(body["Resources"]) == count, body
        assert len(pages) <= USERS + 1, "the walk does not end"
    return pages, ids


def default_order(server, org="acme", rtype="User"):
    return [r[0] for r in server.sql(
        "SELECT id FROM scim_resources WHERE org = ? AND rtype = ?"
        " ORDER BY created, id", org, rtype)]


def test_service_provider_config_announces_both_ways(walked):
    server, c, _, _ = walked
    spc = scim_json(c.get("/ServiceProviderConfig"), 200)
    p = spc["pagination"]
    assert p["cursor"] is True and p["index"] is True
    # IdPs that send neither get index pages, as before (RFC 9865 3)
    assert p["defaultPaginationMethod"] == "index"
    assert p["maxPageSize"] == spc["filter"]["maxResults"]
    assert p["defaultPageSize"] == p["maxPageSize"]


def test_cursor_walk_lists_every_user_once_in_order(walked):
    server, c, users, _ = walked
    pages, ids = cursor_walk(c)
    assert ids == default_order(server)
    assert len(pages) == (USERS + 3) // 4
    assert all(p["totalResults"] == USERS for p in pages)
    assert "nextCursor" not in pages[-1]
    # POST .search carries the cursor in its body
    body = cursor_page(c.post("/Users/.search", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "cursor": pages[0]["nextCursor"], "count": 4}))
    assert [r["id"] for r in body["Resources"]] == ids[4:8]


def test_startindex_walk_gives_the_offset_pages(walked):
    server, c, _, _ = walked
    order = default_order(server)
    for count in (7, 10):
        walked_ids = []
        for start in range(1, USERS + 1, count):
            body = assert_list(c.get("/Users", params={
                "startIndex": start, "count": count}))
            assert body["startIndex"] == start
            assert body["totalResults"] == USERS
            assert "nextCursor" not in body
            got = [r["id"] for r in body["Resources"]]
            assert got == order[start - 1:start - 1 + count], start
            walked_ids += got
        assert walked_ids == order


def test_group_member_walks(walked):
    server, c, users, group = walked
    f = f'groups.value eq "{group["id"]}"'
    members = sorted(u["id"] for u in users[:20])
    pages, ids = cursor_walk(c, filter=f, count=6)
    assert ids == members
    assert all(p["totalResults"] == 20 for p in pages)
    by_index = []
    for start in range(1, 21, 6):
        body = assert_list(c.get("/Users", params={
            "filter": f, "startIndex": start, "count": 6}))
        by_index += [r["id"] for r in body["Resources"]]
    assert by_index == members


def test_cursor_walk_of_groups_and_of_a_filter(walked):
    server, c, users, group = walked
    _, ids = cursor_walk(c, "/Groups", count=1)
    assert ids == [group["id"]]
    # a filter no index answers: matches once each, no totalResults
    pages, ids = cursor_walk(c, filter='userName sw "walk-1"', count=3)
    # in the default order (created, then id), which is not always the
    # order of creation: two users created in one millisecond go by id
    matching = {u["id"] for u in users[10:20]}
    assert ids == [i for i in default_order(server) if i in matching]
    assert all("totalResults" not in p for p in pages)


def test_users_created_and_deleted_during_a_cursor_walk(walked):
    server, _, _, _ = walked
    c = server.client("globex")
    users = [c.create_user(userName=f"churn-{i:02d}") for i in range(15)]
    seen, cursor, step = [], "", 0
    gone = {users[1]["id"], users[12]["id"]}
    while cursor is not None:
        body = cursor_page(c.get("/Users", params={"cursor": cursor,
                                                    "count": 4}))
        seen += [r["id"] for r in body["Resources"]]
        cursor = body.get("nextCursor")
        step += 1
        if step == 2:
            for uid in gone:
                assert c.delete(f"/Users/{uid}").status_code == 204
            c.create_user(userName="churn-new")
    for u in users:
        if u["id"] not in gone:
            assert seen.count(u["id"]) == 1, u["userName"]
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("cursor", [
    "garbage", "AAAA", "x" * 5000, "%00", "../../etc", "==", " ",
])
def test_hostile_cursors_are_invalid(walked, cursor):
    server, c, _, _ = walked
    assert_error(c.get("/Users", params={"cursor": cursor}), 400,
                 "invalidCursor")


def test_altered_and_foreign_cursors_are_invalid(walked):
    server, c, _, group = walked
    cursor = cursor_page(c.get("/Users", params={"cursor": "",
                                                 "count": 2}))["nextCursor"]
    for i in (0, len(cursor) // 2, len(cursor) - 1):
        bad = cursor[:i] + ("B" if cursor[i] != "B" else "C") + cursor[i + 1:]
        assert_error(c.get("/Users", params={"cursor": bad}), 400,
                     "invalidCursor")
    assert_error(c.get("/Users", params={"cursor": cursor[:-2]}), 400,
                 "invalidCursor")
    # another list, another filter, another organization
    assert_error(c.get("/Groups", params={"cursor": cursor}), 400,
                 "invalidCursor")
    assert_error(c.get("/Users", params={
        "cursor": cursor, "filter": f'groups.value eq "{group["id"]}"'}),
        400, "invalidCursor")
    assert_error(server.client("globex").get("/Users", params={
        "cursor": cursor}), 400, "invalidCursor")


def test_cursor_refused_with_startindex_sortby_or_at_the_root(walked):
    server, c, _, _ = walked
    assert_error(c.get("/Users", params={"cursor": "", "startIndex": 1}),
                 400, "invalidValue")
    assert_error(c.get("/Users", params={"cursor": "", "sortBy": "userName"}),
                 400, "invalidValue")
    assert_error(c.post("/.search", {"cursor": ""}), 400, "invalidValue")
