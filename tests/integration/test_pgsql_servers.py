"""Several Apache servers on one PostgreSQL database, driven in parallel:
uniqueness, reads and writes across servers, concurrent membership changes
and version races end as they would on one server; a PostgreSQL restart
under load gives 503s only, never a crashed child or a lost write.

Runs in the PostgreSQL pass of the suite (SCIM_TEST_DB=pgsql)."""

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import (ANY_EXCEPT_CRASH, CORE_GROUP, PATCH_OP, Org, ScimClient,
                     assert_error, describe, new_token, retry_after_ok,
                     scim_json, unique, user_body)


@pytest.fixture
def two_servers(pg, make_server):
    """Servers a and b, one organization, one token, one database."""
    token = new_token()
    shared = f"scim_shared_{uuid.uuid4().hex[:12]}"
    servers = [make_server(name, orgs=[Org("acme", [token])], database=shared)
               for name in ("a", "b")]
    return servers


def clients(servers, n):
    """n clients, alternating between the servers (one session each)."""
    return [ScimClient(servers[i % len(servers)].base_url(),
                       servers[i % len(servers)].orgs["acme"].tokens[0],
                       headers={"Connection": "close"})
            for i in range(n)]


def in_parallel(fn, args, workers=16):
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, args))


def test_identical_creates_through_both_give_one_201(two_servers):
    cs = clients(two_servers, 16)
    for _ in range(3):
        body = user_body(unique("same"))
        statuses = in_parallel(lambda c: c.post("/Users", body).status_code, cs)
        assert statuses.count(201) == 1, statuses
        assert set(statuses) <= {201, 409}, statuses


def test_user_made_on_one_is_read_patched_deleted_on_the_other(two_servers):
    a, b = (s.client() for s in two_servers)
    user = a.create_user()
    got = b.get_user(user["id"])
    assert got["userName"] == user["userName"]
    patched = scim_json(b.patch_ops(user["id"], {
        "op": "replace", "path": "displayName", "value": "from b"}), 200)
    assert a.get_user(user["id"])["displayName"] == "from b"
    assert a.get_user(user["id"])["meta"]["version"] == patched["meta"]["version"]
    # If-Match with b's version works on a
    resp = a.patch_ops(user["id"], {"op": "replace", "path": "title",
                                    "value": "x"},
                       headers={"If-Match": patched["meta"]["version"]})
    scim_json(resp, 200)
    assert b.delete(f"/Users/{user['id']}").status_code == 204
    assert_error(a.get(f"/Users/{user['id']}"), 404)


def test_concurrent_membership_changes_end_in_the_union(two_servers):
    a = two_servers[0].client()
    users = [a.create_user()["id"] for _ in range(24)]
    groups = [scim_json(a.post("/Groups", {"schemas": [CORE_GROUP],
                                           "displayName": unique("g")}), 201)["id"]
              for _ in range(2)]
    cs = clients(two_servers, 16)

    # each job adds a pair of users to a group, in either order: writers
    # that lock the same rows in opposite orders would deadlock
    jobs = []
    for i in range(0, len(users), 2):
        for g in groups:
            pair = [users[i], users[i + 1]]
            if (i // 2) % 2:
                pair.reverse()
            jobs.append((g, pair))

    def add(job_index):
        g, pair = jobs[job_index]
        c = cs[job_index % len(cs)]
        resp = c.patch(f"/Groups/{g}", {"schemas": [PATCH_OP], "Operations": [
            {"op": "add", "path": "members",
             "value": [{"value": u} for u in pair]}]})
        return resp.status_code, g, pair, resp

    results = in_parallel(add, range(len(jobs)))
    bad = [describe(r) for status, _, _, r in results if status not in (200, 204)]
    assert not bad, "\n".join(bad[:3])
    for g in groups:
        got = a.get(f"/Groups/{g}")
        members = {m["value"] for m in scim_json(got, 200).get("members", [])}
        assert members == set(users)


def member_patch(c, group, op, user):
    return c.patch(f"/Groups/{group}", {"schemas": [PATCH_OP], "Operations": [
        {"op": op, "path": "members", "value": [{"value": user}]}]})


def test_concurrent_adds_and_removes_of_the_same_members_agree(two_servers):
    """An add takes the group's row last, a removal first: an add and a
    removal of one member at once both succeed, and the group's members
    and the users' groups end the same way."""
    a = two_servers[0].client()
    users = [a.create_user()["id"] for _ in range(8)]
    group = scim_json(a.post("/Groups", {"schemas": [CORE_GROUP],
                                         "displayName": unique("g")}), 201)["id"]
    cs = clients(two_servers, 16)
    for rnd in range(4):
        jobs = [(op, u) for u in users for op in ("add", "remove")]
        results = in_parallel(
            lambda i: member_patch(cs[i], group, *jobs[i]), range(len(jobs)))
        bad = [describe(r) for r in results if r.status_code not in (200, 204)]
        assert not bad, "\n".join(bad[:3])
        members = {m["value"] for m in scim_json(a.get(f"/Groups/{group}"),
                                                 200).get("members", [])}
        for u in users:
            groups = {g["value"] for g in a.get_user(u).get("groups", [])}
            assert (group in groups) == (u in members), (rnd, u)


def test_an_add_racing_the_members_deletion_leaves_no_membership(
        two_servers):
    """A user deleted while being added to a group: the add answers 400
    (or ran first, and the deletion took the membership with it); no
    membership row outlives the user."""
    a = two_servers[0].client()
    group = scim_json(a.post("/Groups", {"schemas": [CORE_GROUP],
                                         "displayName": unique("g")}), 201)["id"]
    cs = clients(two_servers, 16)
    users = [a.create_user()["id"] for _ in range(40)]

    def job(i):
        u = users[i // 2]
        if i % 2:
            return cs[i % 16].delete(f"/Users/{u}")
        return member_patch(cs[i % 16], group, "add", u)

    results = in_parallel(job, range(2 * len(users)))
    for i, r in enumerate(results):
        assert r.status_code in ((204,) if i % 2 else (200, 204, 400)), \
            describe(r)
    left = two_servers[0].sql(
        "SELECT COUNT(*) FROM scim_members m WHERE m.group_id = ? AND NOT"
        " EXISTS (SELECT 1 FROM scim_resources r WHERE r.org = m.org"
        " AND r.id = m.member_id)", group)
    assert left == [("0",)], left
    assert not scim_json(a.get(f"/Groups/{group}"), 200).get("members")


def test_concurrent_patches_without_if_match_never_412(two_servers):
    a = two_servers[0].client()
    user = a.create_user()
    cs = clients(two_servers, 16)

    def patch(i):
        return cs[i].patch_ops(user["id"], {"op": "replace",
                                            "path": "displayName",
                                            "value": f"writer {i}"})

    responses = in_parallel(patch, range(16))
    statuses = [r.status_code for r in responses]
    assert 412 not in statuses, statuses
    assert all(s == 200 for s in statuses), \
        "\n".join(describe(r) for r in responses if r.status_code != 200)[:3000]


@pytest.mark.scim_timeout(240)
@pytest.mark.expect_log(ANY_EXCEPT_CRASH)
def test_postgresql_restart_under_load_gives_503s_only(pg, two_servers):
    cs = clients(two_servers, 8)
    for c in cs:                    # every connection in use before
        c.create_user()
    acknowledged = []
    statuses = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(c):
        while not stop.is_set():
            body = user_body()
            try:
                resp = c.post("/Users", body, timeout=60)
            except Exception as e:          # an empty reply: a crashed child
                with lock:
                    statuses.append(repr(e))
                continue
            with lock:
                statuses.append(resp.status_code)
                if resp.status_code == 201:
                    acknowledged.append(resp.json()["id"])
                elif resp.status_code == 503:
                    assert retry_after_ok(resp), describe(resp)
                    time.sleep(0.05)

    threads = [threading.Thread(target=writer, args=(c,)) for c in cs]
    for t in threads:
        t.start()
    time.sleep(1.5)
    pg.restart("fast")
    time.sleep(1.5)
    pg.restart("immediate")
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join(90)
    # the other servers of the session lost their connections too: they
    # start afresh rather than answer 503 in the tests that follow
    import harness
    for s in harness.ALL_SERVERS:
        if s.running and s not in two_servers:
            s.restart()
    assert set(statuses) <= {201, 503}, sorted(set(map(str, statuses)))
    assert statuses.count(201) > 0
    # the servers recovered by themselves, and nothing acknowledged is lost
    deadline = time.monotonic() + 30
    a, b = (s.client() for s in two_servers)
    while a.get("/Users", params={"count": 0}).status_code != 200:
        assert time.monotonic() < deadline, "server a did not recover"
        time.sleep(0.5)
    for uid in acknowledged:
        scim_json(b.get(f"/Users/{uid}"), 200)
    a.create_user()
    b.create_user()
    for s in two_servers:
        assert not [l for l in s.log_since(0) if "exit signal" in l]


# ---- seats across servers ---------------------------------------------------

@pytest.mark.expect_log(r"AH01631|AH01630", r"\[scim:warn\].*no free seat")
def test_seat_limit_holds_across_both_servers(pg):
    """8 first sign-ins at once, alternating between two servers on one
    database, with 2 seats: exactly 2 admitted."""
    from appserver import AppServer, Guard
    token = new_token()
    shared = f"scim_seats_{uuid.uuid4().hex[:12]}"
    servers = [AppServer(f"seats-{name}-{uuid.uuid4().hex[:6]}",
                         [Org("acme", [token])],
                         [Guard("/app", "acme", directives=["ScimSeatLimit 2"])],
                         database=shared,
                         allow_log=[r"AH01631|AH01630",
                                    r"\[scim:warn\].*no free seat"])
               for name in ("a", "b")]
    try:
        for s in servers:
            s.write_config()
            s.start()
        logins = []
        for i in range(8):
            user = servers[0].client().create_user()
            login = user["userName"]
            for s in servers:
                s.add_login(login)
            logins.append((servers[i % 2], login, user["id"]))
        codes = in_parallel(lambda t: t[0].visit("/app", t[1]).status_code,
                            logins, workers=8)
        assert sorted(codes) == [200] * 2 + [403] * 6, codes
        seats = [servers[1].client().get_user(uid)[
            "urn:modscim:schemas:extension:membership:2.0:User"]["seat"]
            for _, _, uid in logins]
        assert seats.count(True) == 2, seats
    finally:
        for s in servers:
            s.stop()
