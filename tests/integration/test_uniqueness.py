"""userName is unique per organization, case-insensitively, also under
concurrent requests (duplicate users that differ only in case, and
concurrent duplicate POSTs, are common faults of SCIM servers)."""

import threading
import uuid

from harness import (PATCH_OP, ScimClient, assert_error, scim_json, unique,
                     user_body, describe)


def test_duplicate_username_in_other_case_is_409(acme):
    u = acme.create_user()
    for variant in (u["userName"], u["userName"].upper(), u["userName"].title()):
        resp = acme.post("/Users", user_body(variant))
        assert_error(resp, 409, "uniqueness")
    assert acme.filter_users(f'userName eq "{u["userName"]}"')["totalResults"] == 1


def test_put_rename_onto_existing_is_409(acme):
    a = acme.create_user()
    b = acme.create_user()
    resp = acme.put(f"/Users/{b['id']}", user_body(a["userName"].upper()))
    assert_error(resp, 409, "uniqueness")
    assert acme.get_user(b["id"])["userName"] == b["userName"]
    assert acme.get_user(b["id"])["meta"]["version"] == b["meta"]["version"]


def test_patch_rename_onto_existing_is_409(acme):
    a = acme.create_user()
    b = acme.create_user()
    resp = acme.patch(f"/Users/{b['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": "userName",
                        "value": a["userName"].upper()}]})
    assert_error(resp, 409, "uniqueness")
    resp = acme.patch(f"/Users/{b['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"userName": a["userName"]}}]})
    assert_error(resp, 409, "uniqueness")
    assert acme.get_user(b["id"])["userName"] == b["userName"]


def test_changing_the_case_of_ones_own_username_is_fine(acme):
    u = acme.create_user()
    put = scim_json(acme.put(f"/Users/{u['id']}", user_body(u["userName"].upper())), 200)
    assert put["userName"] == u["userName"].upper()
    p = scim_json(acme.patch(f"/Users/{u['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "userName", "value": u["userName"]}]}), 200)
    assert p["userName"] == u["userName"]


def test_inactive_user_still_holds_its_username(acme):
    u = acme.create_user(active=False)
    assert_error(acme.post("/Users", user_body(u["userName"])), 409, "uniqueness")


def _race(acme, bodies):
    """POSTs every body at once from its own thread; returns the responses."""
    barrier = threading.Barrier(len(bodies))
    results = [None] * len(bodies)

    def worker(i):
        c = ScimClient(acme.base, acme.token, timeout=30)
        barrier.wait(timeout=10)
        try:
            results[i] = c.post("/Users", bodies[i])
        except Exception as e:   # reported below
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for r in results:
        assert not isinstance(r, Exception) and r is not None, f"request failed: {r!r}"
    return results


def test_concurrent_identical_creates_make_exactly_one_user(acme):
    name = unique("race")
    results = _race(acme, [user_body(name) for _ in range(20)])
    codes = sorted(r.status_code for r in results)
    assert codes.count(201) == 1 and codes.count(409) == 19, \
        f"status codes {codes}" + "".join(describe(r) for r in results
                                          if r.status_code not in (201, 409))[:3000]
    for r in results:
        if r.status_code == 409:
            assert_error(r, 409, "uniqueness")
    assert acme.filter_users(f'userName eq "{name}"')["totalResults"] == 1


def test_concurrent_case_variants_make_exactly_one_user(acme):
    base = f"Race-{uuid.uuid4().hex[:10]}@Example.com"
    variants = [base, base.upper(), base.lower(), base.swapcase(),
                base.title(), base.casefold(), base.capitalize(), base.upper().lower()]
    results = _race(acme, [user_body(v) for v in variants])
    codes = sorted(r.status_code for r in results)
    assert codes.count(201) == 1 and codes.count(409) == len(variants) - 1, codes
    assert acme.filter_users(f'userName eq "{base}"')["totalResults"] == 1


def test_concurrent_distinct_creates_all_succeed(acme):
    # An IdP's initial cycle creates many users in parallel: writers must
    # wait for each other, not fail.
    tag = uuid.uuid4().hex[:8]
    bodies = [user_body(f"par-{tag}-{i}@example.com") for i in range(20)]
    results = _race(acme, bodies)
    codes = [r.status_code for r in results]
    assert codes == [201] * 20, codes
    ids = {r.json()["id"] for r in results}
    assert len(ids) == 20
    assert acme.filter_users(f'userName sw "par-{tag}-"', count=100)["totalResults"] == 20


def test_renamed_username_is_free_again(acme):
    u = acme.create_user()
    old = u["userName"]
    scim_json(acme.patch(f"/Users/{u['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "userName", "value": unique("new")}]}),
        200)
    other = acme.create_user(user_body(old.upper()))
    assert acme.filter_users(f'userName eq "{old}"')["Resources"][0]["id"] == other["id"]


def test_external_id_lookup_follows_updates(acme):
    u = acme.create_user(externalId="before-" + unique("x"))
    new_ext = "after-" + unique("x")
    scim_json(acme.put(f"/Users/{u['id']}",
                       user_body(u["userName"], externalId=new_ext)), 200)
    assert acme.filter_users(f'externalId eq "{u["externalId"]}"')["totalResults"] == 0
    assert [r["id"] for r in acme.filter_users(f'externalId eq "{new_ext}"')["Resources"]] \
        == [u["id"]]
