"""Very large groups: a member add or remove touches only that membership,
excludedAttributes=members / attributes=displayName never load members,
GET /Groups/{id} shows at most 10,000 members, and the full member list is
read page by page with GET /Users?filter=groups.value eq "<group id>"
(identity providers push groups of tens of thousands of members and page
through them; slow or unpaginated member lists are a known failure of SCIM
servers at that size).

The work is measured, not timed: with "LogLevel scim:debug" the handler
logs one line per request,
  SCIM2004: <METHOD> <uri>: <status>; store: <n> statements, <r> rows read,
  <w> rows written
and the tests compare those counters between a group of N members and a
group of one.  The N members are written straight into the server's SQLite
database (one transaction, WAL, the server keeps running) instead of N
HTTP requests."""

import json
import os
import re
import subprocess
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from harness import (CORE_GROUP, CORE_USER, PATCH_OP, PYTHON, REPO, RUN_AS_ROOT,
                     RUN_USER, Org, assert_error, assert_list, describe,
                     new_token, scim_json, unique, user_body)

N = int(os.environ.get("SCIM_TEST_LARGE_GROUP", "50000"))
SHOWN = 10000               # members listed by GET /Groups/{id} (README)
PAGE = 1000                 # the scale server's ScimMaxResults
# A request that touches one membership, or one group row, reads and
# writes a handful of rows whatever the group's size.
SMALL = 10

WORK_LINE = re.compile(
    r"SCIM2004: (?P<method>\S+) (?P<uri>\S+): (?P<status>\d+); store: "
    r"(?P<statements>\d+) statements, (?P<read>\d+) rows read, "
    r"(?P<written>\d+) rows written")


@dataclass(frozen=True)
class Work:
    statements: int
    read: int
    written: int


# ---- the server and the large group -----------------------------------------

FILLER = r"""
import json, sqlite3, sys
job = json.load(sys.stdin)
db = sqlite3.connect(job["db"], timeout=30, isolation_level=None)
mode = db.execute("PRAGMA journal_mode").fetchone()[0]
db.execute("BEGIN IMMEDIATE")
db.executemany(
    "INSERT INTO scim_resources (org, rtype, id, name, name_ci, external_id,"
    " created, last_modified, version, state, linked, resource)"
    " VALUES (?, 'User', ?, ?, ?, NULL, ?, ?, 1, 'provisioned', NULL, ?)",
    ((job["org"], uid, name, name.lower(), ts, ts,
      json.dumps({"schemas": [job["schema"]], "userName": name,
                  "active": True}, separators=(",", ":")))
     for uid, name, ts in job["users"]))
db.executemany(
    "INSERT INTO scim_members (org, group_id, member_type, member_id)"
    " VALUES (?, ?, 'User', ?)",
    ((job["org"], job["group"], uid) for uid, _, _ in job["users"]))
db.execute("COMMIT")
db.close()
print(mode)
"""


def fill_group(server, org, group_id, n):
    """Inserts n users, all members of group_id, in one transaction as the
    server's user; returns their ids."""
    base = datetime(2020, 1, 1, tzinfo=timezone.utc)
    tag = uuid.uuid4().hex[:8]
    users = []
    for i in range(n):
        ts = (base + timedelta(milliseconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        users.append([str(uuid.uuid4()), f"big-{tag}-{i:06d}@example.com", ts])
    job = {"db": str(server.db), "org": org, "group": group_id,
           "schema": CORE_USER, "users": users}
    kw = {"user": RUN_USER, "group": RUN_USER} if RUN_AS_ROOT else {}
    res = subprocess.run([PYTHON, "-c", FILLER], input=json.dumps(job),
                         capture_output=True, text=True, timeout=120, **kw)
    assert res.returncode == 0, f"filling the database failed:\n{res.stderr}"
    assert res.stdout.strip() == "wal", \
        f"the module's database should be in WAL mode, is {res.stdout.strip()!r}"
    return [u[0] for u in users]


def scale_server(make_server, name):
    server = make_server(name, orgs=[Org("acme", [new_token()],
                                         directives=[f"ScimMaxResults {PAGE}"])],
                         extra_conf="LogLevel warn scim:debug",
                         db="sqlite")   # filled through the sqlite3 module
    c = server.client("acme")
    c.total_users()             # any authenticated request creates the schema
    assert server.db.exists()
    return server, c


def measured(server, call):
    """Runs call() (one HTTP request); returns (response, Work) from the
    request's SCIM2004 line."""
    offset = server.log_size()
    resp = call()
    lines = [m for m in (WORK_LINE.search(l) for l in server.log_since(offset)) if m]
    assert len(lines) == 1, (
        f"expected one SCIM2004 work line for the request in {server.error_log}, "
        f"got {len(lines)} (none: is {server.module} older than the handler's "
        f"work log? ./build.sh build)" + describe(resp))
    m = lines[0]
    assert m["method"] == resp.request.method, describe(resp)
    assert int(m["status"]) == resp.status_code, describe(resp)
    return resp, Work(int(m["statements"]), int(m["read"]), int(m["written"]))


def patch_body(*ops):
    return {"schemas": [PATCH_OP], "Operations": list(ops)}


def new_group(c, name=None):
    return scim_json(c.post("/Groups", {"schemas": [CORE_GROUP],
                                        "displayName": name or unique("grp")}), 201)


def member_total(c, gid):
    return c.filter_users(f'groups.value eq "{gid}"', count=0)["totalResults"]


def is_member(c, gid, uid):
    got = c.filter_users(f'groups.value eq "{gid}" and id eq "{uid}"')
    return got["totalResults"] == 1


@pytest.fixture
def large(make_server):
    """A scale server with a group of N members and a group of none."""
    server, c = scale_server(make_server, "groups-scale")
    big = new_group(c, unique("big"))
    small = new_group(c, unique("small"))
    members = fill_group(server, "acme", big["id"], N)
    assert member_total(c, big["id"]) == N
    return server, c, big, small, members


def both_equal_and_small(what, w_big, w_small):
    assert w_big == w_small, \
        f"{what}: the group of {N} did other work than the group of one: " \
        f"{w_big} vs {w_small}"
    assert w_big.read < SMALL and w_big.written < SMALL and \
        w_big.statements < SMALL, f"{what}: not a constant small amount: {w_big}"


# ---- membership writes -------------------------------------------------------

def test_member_add_and_remove_touch_one_membership(large):
    server, c, big, small, members = large
    x, y = c.create_user(), c.create_user()
    b, s = big["id"], small["id"]

    def patch(gid, *ops):
        return measured(server, lambda: c.patch(f"/Groups/{gid}", patch_body(*ops)))

    # RFC add of one member
    add = {"op": "add", "path": "members", "value": [{"value": x["id"]}]}
    r_big, w_big = patch(b, add)
    r_small, w_small = patch(s, add)
    assert r_big.status_code == 204, describe(r_big)
    assert r_small.status_code == 204, describe(r_small)
    print(f"\nadd one member:    group of {N}: {w_big}  group of 1: {w_small}")
    both_equal_and_small("add", w_big, w_small)
    assert is_member(c, b, x["id"]) and is_member(c, s, x["id"])
    assert {g["value"] for g in c.get_user(x["id"])["groups"]} == {b, s}
    assert member_total(c, b) == N + 1

    # Entra add ($ref null) of another
    add = {"op": "Add", "path": "members", "value": [{"$ref": None, "value": y["id"]}]}
    (r_big, w_big), (r_small, w_small) = patch(b, add), patch(s, add)
    assert r_big.status_code == r_small.status_code == 204, describe(r_big)
    both_equal_and_small("Entra add", w_big, w_small)

    # remove by value filter (Okta, aadOptscim062020)
    rm = {"op": "remove", "path": f'members[value eq "{x["id"]}"]'}
    (r_big, w_big), (r_small, w_small) = patch(b, rm), patch(s, rm)
    assert r_big.status_code == r_small.status_code == 204, describe(r_big)
    print(f"remove one member: group of {N}: {w_big}  group of 1: {w_small}")
    both_equal_and_small("remove by filter", w_big, w_small)
    assert not is_member(c, b, x["id"]) and not is_member(c, s, x["id"])

    # Entra's remove with a value list
    rm = {"op": "Remove", "path": "members", "value": [{"value": y["id"]}]}
    (r_big, w_big), (r_small, w_small) = patch(b, rm), patch(s, rm)
    assert r_big.status_code == r_small.status_code == 204, describe(r_big)
    both_equal_and_small("Entra remove", w_big, w_small)
    assert not is_member(c, b, y["id"])
    assert member_total(c, b) == N

    # Okta's rename with the id in the value, as sent with every
    # membership update: the member rows are not rewritten
    r_big, w_big = patch(b, {"op": "replace", "value": {"id": b, "displayName":
                                                         big["displayName"] + "-r"}})
    r_small, w_small = patch(s, {"op": "replace", "value": {"id": s, "displayName":
                                                             small["displayName"] + "-r"}})
    assert r_big.status_code == r_small.status_code == 204, describe(r_big)
    both_equal_and_small("rename", w_big, w_small)

    # a bad member: 400, nothing changed, and still constant work
    bad = {"op": "add", "path": "members",
           "value": [{"value": x["id"]}, {"value": "00000000-0000-4000-8000-00000000dead"}]}
    r_big, w_big = patch(b, bad)
    assert_error(r_big, 400, "invalidValue")
    assert w_big.read < SMALL and w_big.statements < SMALL, w_big
    assert not is_member(c, b, x["id"])
    assert member_total(c, b) == N

    # removing one of the N directly inserted members
    victim = members[N // 2]
    r_big, w_big = patch(b, {"op": "remove", "path": f'members[value eq "{victim}"]'})
    assert r_big.status_code == 204, describe(r_big)
    assert w_big.read < SMALL and w_big.written < SMALL, w_big
    assert not is_member(c, b, victim)
    assert member_total(c, b) == N - 1

    # deleting one user touches its memberships only, not the group's
    uid = members[-1]
    resp, work = measured(server, lambda: c.delete(f"/Users/{uid}"))
    assert resp.status_code == 204, describe(resp)
    print(f"DELETE a member of the group of {N}: {work}")
    assert work.read < SMALL and work.written < SMALL, work
    assert member_total(c, big["id"]) == N - 2
    assert not is_member(c, big["id"], uid)
    # deleting the group keeps its users
    users_before = c.total_users()
    resp = c.delete(f"/Groups/{big['id']}")
    assert resp.status_code == 204, describe(resp)
    assert_error(c.get(f"/Groups/{big['id']}"), 404)
    assert c.total_users() == users_before
    assert member_total(c, big["id"]) == 0
    assert not c.get_user(members[0]).get("groups")


# ---- reads -------------------------------------------------------------------

def test_reads_of_a_large_group(large):
    server, c, big, small, members = large
    b, s = big["id"], small["id"]

    def get(path, **params):
        return measured(server, lambda: c.get(path, params=params or None))

    # members excluded or not asked for: the group row only
    for params in ({"excludedAttributes": "members"}, {"attributes": "displayName"},
                   {"attributes": "displayName,externalId"}):
        (r_big, w_big), (r_small, w_small) = get(f"/Groups/{b}", **params), \
            get(f"/Groups/{s}", **params)
        body = scim_json(r_big, 200)
        assert body["id"] == b and body["displayName"] == big["displayName"]
        assert "members" not in body, describe(r_big)
        print(f"\nGET ?{params}: group of {N}: {w_big}  group of 0: {w_small}")
        both_equal_and_small(f"GET /Groups/{{id}}?{params}", w_big, w_small)

    params = {"excludedAttributes": "members"}
    r_big, w_big = get("/Groups", filter=f'displayName eq "{big["displayName"]}"', **params)
    r_small, w_small = get("/Groups", filter=f'displayName eq "{small["displayName"]}"',
                           **params)
    (res,) = assert_list(r_big)["Resources"]
    assert res["id"] == b and "members" not in res
    both_equal_and_small("filter displayName eq, members excluded", w_big, w_small)

    r_all, w_all = get("/Groups", **params)
    assert {g["id"] for g in assert_list(r_all)["Resources"]} == {b, s}
    assert w_all.read < SMALL, f"listing two groups without members: {w_all}"

    # with members: at most 10,000 of them, and no more rows read
    resp, work = get(f"/Groups/{b}")
    body = scim_json(resp, 200)
    got = [m["value"] for m in body["members"]]
    print(f"GET /Groups/{{id}} with {N} members: {work}, {len(resp.content)} bytes")
    assert len(got) == min(N, SHOWN)
    assert len(set(got)) == len(got)
    assert set(got) <= set(members)
    assert all(m["type"] == "User" and m["display"].startswith("big-")
               for m in body["members"])
    assert work.read <= SHOWN + SMALL, f"reading more members than shown: {work}"

    # a member's own view
    uid = members[-1]
    resp, work = get(f"/Users/{uid}")
    u = scim_json(resp, 200)
    assert [g["value"] for g in u["groups"]] == [b]
    assert u["groups"][0]["display"] == big["displayName"]
    assert work.read < SMALL, work
    got = c.filter_users(f'groups.value eq "{b}" and id eq "{uid}"')
    assert [r["id"] for r in got["Resources"]] == [uid]


def test_members_filter_on_a_large_group(large):
    """GET /Groups?filter=members[value eq "U"]&excludedAttributes=members
    (which groups is U in?) must find the group whichever of its N members U
    is -- also one the 10,000-member listing does not show -- and, with
    members excluded, not read the members."""
    server, c, big, small, members = large
    shown = {m["value"] for m in scim_json(c.get(f"/Groups/{big['id']}"), 200)["members"]}
    hidden = [m for m in members if m not in shown]
    probes = {"a member listed by GET /Groups/{id}": min(shown)}
    if hidden:
        probes["a member beyond the first 10,000"] = max(hidden)
    problems = []
    for what, uid in probes.items():
        for expr in (f'members[value eq "{uid}"]', f'members.value eq "{uid}"'):
            resp, work = measured(server, lambda: c.get("/Groups", params={
                "filter": expr, "excludedAttributes": "members"}))
            body = assert_list(resp)
            print(f"\n{expr} ({what}): {work}, {body['totalResults']} found")
            if [g["id"] for g in body["Resources"]] != [big["id"]]:
                problems.append(f"{what}: {expr} found {body['totalResults']} "
                                f"groups, expected the large group")
            elif "members" in body["Resources"][0]:
                problems.append(f"{what}: members not excluded")
            if work.read >= SMALL:
                problems.append(f"{what}: {expr} with members excluded did {work}")
    assert not problems, "\n".join(problems)


# ---- paging the members --------------------------------------------------------

def test_members_paged_through_users_filter(large):
    server, c, big, small, members = large
    expr = f'groups.value eq "{big["id"]}"'
    all_members = set(members)

    def page(start, **extra):
        resp, work = measured(server, lambda: c.get("/Users", params=dict(
            filter=expr, startIndex=start, count=PAGE, **extra)))
        body = assert_list(resp)
        assert body["totalResults"] == N, describe(resp)
        assert body["startIndex"] == start
        return body, work

    pages = {}
    for start in (1, PAGE + 1, N // 2 + 1, N - PAGE + 1):
        body, work = page(start)
        ids = [r["id"] for r in body["Resources"]]
        assert len(ids) == PAGE, f"page at {start}: {len(ids)} users"
        assert set(ids) <= all_members
        for r in body["Resources"][:5]:
            assert big["id"] in {g["value"] for g in r["groups"]}
        pages[start] = ids
        print(f"\nusers page startIndex={start} count={PAGE}: {work}")
        # the page (and each user's own groups), never the whole group
        assert work.read <= 2 * PAGE + SMALL, \
            f"page at {start} read {work.read} rows for {PAGE} users of {N}"
        # the users' groups are read in batches of 50, not one query each
        assert work.statements <= 2 + PAGE // 50 + 2, work
        body, work = page(start, attributes="id")
        assert [r["id"] for r in body["Resources"]] == ids, \
            "the same page must list the same users"
        print(f"users page startIndex={start} count={PAGE} attributes=id: {work}")
        assert work.read <= PAGE + SMALL, work
    seen = [i for ids in pages.values() for i in ids]
    assert len(seen) == len(set(seen)), "pages overlap"

    # past the end; the last page is short
    body = c.filter_users(expr, startIndex=N + 1, count=PAGE)
    assert body["totalResults"] == N and body["Resources"] == []
    body = c.filter_users(expr, startIndex=N - 9, count=PAGE)
    assert len(body["Resources"]) == 10

    # the first pages one after another, as an importer reads them: no
    # overlap, and the pages already read are not listed again
    walked, start = [], 1
    while start <= 4 * PAGE:
        body = c.filter_users(expr, startIndex=start, count=PAGE, attributes="id")
        assert body["totalResults"] == N
        walked += [r["id"] for r in body["Resources"]]
        start += len(body["Resources"])
    assert len(walked) == len(set(walked)) == 4 * PAGE
    assert set(walked) <= all_members
    assert set(walked[:PAGE]) == set(pages[1])
    assert set(walked[PAGE:2 * PAGE]) == set(pages[PAGE + 1])


# ---- documentation -----------------------------------------------------------

def test_write_answers_show_groups_read_with_the_user(make_server):
    """The answers to POST and PATCH /Users show the user's groups without
    a read after the commit: none for a user just created (a new id is in
    no group), and for a PATCH or PUT those read with the user before the
    write, in the statement that reads the user (a membership change moves
    the user's version, so the write's version check covers them); a GET
    reads them with the user too."""
    server = make_server("write-answers", orgs=[Org("acme", [new_token()])],
                         extra_conf="LogLevel warn scim:debug")
    c = server.client("acme")
    scim_json(c.post("/Users", user_body()), 201)   # the first write's set-up
    created, post_work = measured(server, lambda: c.post("/Users", user_body()))
    user = scim_json(created, 201)
    assert "groups" not in user
    _, narrow_post = measured(server, lambda: c.post(
        "/Users?attributes=userName", user_body()))
    # a new user's groups are not read: the statements of an answer
    # without them
    assert post_work.statements == narrow_post.statements, \
        (post_work, narrow_post)

    g = new_group(c)
    members = {"op": "add", "path": "members", "value": [{"value": user["id"]}]}
    assert c.patch(f"/Groups/{g['id']}", patch_body(members)).status_code == 204
    title = {"op": "replace", "path": "title", "value": "Engineer"}
    resp, patch_work = measured(server, lambda: c.patch(
        f"/Users/{user['id']}", patch_body(title)))
    patched = scim_json(resp, 200)
    assert [x["value"] for x in patched["groups"]] == [g["id"]]
    assert patched == c.get_user(user["id"])     # the user as stored
    _, narrow_patch = measured(server, lambda: c.patch(
        f"/Users/{user['id']}?attributes=userName",
        patch_body(dict(title, value="Manager"))))
    # the groups come with the user: no statement of their own
    assert patch_work.statements == narrow_patch.statements, \
        (patch_work, narrow_patch)
    got, get_work = measured(server, lambda: c.get(f"/Users/{user['id']}"))
    assert [x["value"] for x in scim_json(got, 200)["groups"]] == [g["id"]]
    _, narrow_get = measured(server, lambda: c.get(
        f"/Users/{user['id']}?attributes=userName"))
    assert get_work.statements == narrow_get.statements == 1, \
        (get_work, narrow_get)

    replaced = scim_json(c.put(f"/Users/{user['id']}", dict(
        user_body(user["userName"]), title="Chef")), 200)
    assert [x["value"] for x in replaced["groups"]] == [g["id"]]
    assert replaced == c.get_user(user["id"])
    members["op"] = "remove"
    assert c.patch(f"/Groups/{g['id']}", patch_body(members)).status_code == 204
    again = scim_json(c.patch(f"/Users/{user['id']}", patch_body(
        dict(title, value="Director"))), 200)
    assert "groups" not in again
    assert again == c.get_user(user["id"])


def test_readme_documents_groups_and_the_member_cap():
    """The administrator reads the limits in the README: /Groups is served,
    a group response lists at most 10,000 members, and the full list is
    read with the users filter."""
    text = (REPO / "README.md").read_text()
    assert "/Groups" in text, "README does not mention the /Groups endpoint"
    assert re.search(r"10[,.\u202f ]?000", text), \
        "README does not document the 10,000-member limit of GET /Groups/{id}"
    assert "groups.value eq" in text, \
        "README does not say how to read a large group's members"


def test_a_page_of_large_groups_stays_bounded(large):
    """A list page shows at most 100,000 members in all: with more than ten
    groups on the page, each shows its share (README)."""
    server, c, big, small, members = large
    others = [new_group(c, unique("pad")) for _ in range(18)]
    n_groups = 2 + len(others)
    resp, work = measured(server, lambda: c.get("/Groups",
                                                params={"count": n_groups}))
    body = assert_list(resp)
    assert body["totalResults"] == n_groups
    shown = {g["id"]: len(g.get("members", [])) for g in body["Resources"]}
    assert shown[big["id"]] == 100000 // n_groups, describe(resp)
    assert work.read <= 100000 // n_groups + n_groups + SMALL, work
    # one group alone still shows up to 10,000
    resp = c.get("/Groups", params={"filter": f'id eq "{big["id"]}"'})
    (alone,) = assert_list(resp)["Resources"]
    assert len(alone["members"]) == SHOWN
