"""/Groups (RFC 7643 4.2, RFC 7644 3): create, read, lists and filters,
replace, PATCH of members, delete, the users' computed "groups", discovery
and isolation between organizations (README)."""

import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import (CORE_GROUP, CORE_USER, PATCH_OP, SEARCH_REQUEST,
                     ScimClient, assert_error, assert_list, describe, scim_json,
                     unique, user_body)


# ---- helpers ---------------------------------------------------------------

def gname(tag="grp"):
    """A displayName no other test uses."""
    return unique(tag).split("@")[0]


def group_body(name=None, members=None, **extra):
    body = {"schemas": [CORE_GROUP], "displayName": name or gname()}
    if members is not None:
        body["members"] = [m if isinstance(m, dict) else {"value": m}
                           for m in members]
    body.update(extra)
    return body


def create_group(c, name=None, members=None, **extra):
    """POST /Groups (members, when given, in the POST body)."""
    resp = c.post("/Groups", group_body(name, members, **extra))
    return scim_json(resp, 201)


def make_group(c, name=None, members=(), **extra):
    """Setup for tests about something else: POSTs the group without
    members, then adds them with one PATCH.  Returns the group as read
    back."""
    g = create_group(c, name, **extra)
    if members:
        no_content(patch_group(c, g["id"], {
            "op": "add", "path": "members",
            "value": [{"value": m} for m in members]}))
    return get_group(c, g["id"])


def get_group(c, gid, **params):
    return scim_json(c.get(f"/Groups/{gid}", params=params or None), 200)


def patch_group(c, gid, *ops, params=None):
    return c.patch(f"/Groups/{gid}", {"schemas": [PATCH_OP],
                                      "Operations": list(ops)}, params=params)


def no_content(resp):
    """A group PATCH answers 204 with the new ETag and no body."""
    assert resp.status_code == 204, f"expected 204, got {resp.status_code}" \
        + describe(resp)
    assert resp.content == b"", "204 must have no body" + describe(resp)
    etag = resp.headers.get("ETag")
    assert etag and re.match(r'^W/"[^"]+"$', etag), \
        "a 204 PATCH answer needs the new ETag" + describe(resp)
    return etag


def member_ids(group):
    return {m["value"] for m in group.get("members") or []}


def members_of(c, gid):
    return member_ids(get_group(c, gid))


def filter_groups(c, expr, **params):
    params["filter"] = expr
    return assert_list(c.get("/Groups", params=params))


def group_ids(listing):
    return {r["id"] for r in listing["Resources"]}


def users(c, n):
    return [c.create_user() for _ in range(n)]


# ---- create and read -------------------------------------------------------

def test_create_answers_201_with_location_meta_and_etag(acme):
    name = gname()
    resp = acme.post("/Groups", group_body(name, externalId="ext-" + name))
    g = scim_json(resp, 201)
    assert g.get("id") and g["displayName"] == name
    assert g["externalId"] == "ext-" + name
    assert CORE_GROUP in g["schemas"]
    meta = g["meta"]
    assert meta["resourceType"] == "Group"
    assert meta["location"] == acme.base + "/Groups/" + g["id"]
    assert resp.headers.get("Location") == meta["location"]
    assert resp.headers.get("ETag") == meta["version"]
    assert meta["created"] and meta["lastModified"]
    assert not g.get("members"), "a group created without members has none"


def test_get_by_id_and_unknown_id(acme):
    g = create_group(acme, externalId="e1")
    got = get_group(acme, g["id"])
    assert got["id"] == g["id"]
    assert got["displayName"] == g["displayName"]
    assert got["externalId"] == "e1"
    assert got["meta"]["version"] == g["meta"]["version"]
    assert_error(acme.get("/Groups/00000000-0000-4000-8000-000000000000"), 404)
    # a user id is not a group id
    u = acme.create_user()
    assert_error(acme.get(f"/Groups/{u['id']}"), 404)


def test_id_sent_by_the_client_is_ignored(acme):
    g = create_group(acme, id="client-chosen-id")
    assert g["id"] != "client-chosen-id"
    assert_error(acme.get("/Groups/client-chosen-id"), 404)


def test_display_name_is_required(acme):
    assert_error(acme.post("/Groups", {"schemas": [CORE_GROUP]}), 400)
    assert_error(acme.post("/Groups", {"schemas": [CORE_GROUP],
                                       "displayName": 7}), 400)


def test_create_with_members_fills_display_ref_and_type(acme):
    u1, u2 = users(acme, 2)
    # whatever the client says about display, $ref and type is replaced
    g = create_group(acme, members=[
        {"value": u1["id"], "display": "not the userName",
         "$ref": "https://evil.example/Users/x", "type": "Group"},
        {"value": u2["id"]}])
    for got in (g, get_group(acme, g["id"])):
        by_id = {m["value"]: m for m in got["members"]}
        assert set(by_id) == {u1["id"], u2["id"]}
        for u in (u1, u2):
            m = by_id[u["id"]]
            assert m["display"] == u["userName"]
            assert m["$ref"] == acme.base + "/Users/" + u["id"]
            assert m["type"] == "User"


def test_group_as_member(acme):
    inner = create_group(acme)
    outer = make_group(acme, members=[inner["id"]])
    (m,) = get_group(acme, outer["id"])["members"]
    assert m == {"value": inner["id"], "display": inner["displayName"],
                 "$ref": acme.base + "/Groups/" + inner["id"], "type": "Group"}


def test_a_group_cannot_be_its_own_member(acme):
    g = create_group(acme)
    resp = patch_group(acme, g["id"], {"op": "add", "path": "members",
                                       "value": [{"value": g["id"]}]})
    assert_error(resp, 400, "invalidValue")
    assert members_of(acme, g["id"]) == set()


def test_create_with_unknown_member_creates_nothing(acme):
    u = acme.create_user()
    name = gname()
    resp = acme.post("/Groups", group_body(name, members=[
        u["id"], "00000000-0000-4000-8000-00000000dead"]))
    assert_error(resp, 400, "invalidValue")
    assert filter_groups(acme, f'displayName eq "{name}"')["totalResults"] == 0
    assert not acme.get_user(u["id"]).get("groups"), \
        "the valid member must not have been added to a group"
    # the name is still free
    create_group(acme, name)


@pytest.mark.parametrize("member", [{"display": "x"}, {"type": "User"},
                                    {"value": ""}, {"value": 42}])
def test_member_without_value_is_rejected(acme, member):
    # a member the server cannot identify must not be dropped silently:
    # the IdP would believe it was added
    name = gname()
    assert_error(acme.post("/Groups", group_body(name, members=[member])),
                 400, "invalidValue")
    assert filter_groups(acme, f'displayName eq "{name}"')["totalResults"] == 0


# ---- uniqueness --------------------------------------------------------------

def test_display_name_unique_ignoring_case(acme):
    name = gname("Team")
    create_group(acme, name)
    for dup in (name, name.upper(), name.lower()):
        resp = acme.post("/Groups", group_body(dup))
        assert_error(resp, 409, "uniqueness")
    assert filter_groups(acme, f'displayName eq "{name}"')["totalResults"] == 1


def test_rename_onto_another_group_is_409(acme):
    a, b = create_group(acme), create_group(acme)
    target = a["displayName"].upper()
    assert_error(acme.put(f"/Groups/{b['id']}", group_body(target)),
                 409, "uniqueness")
    assert_error(patch_group(acme, b["id"], {"op": "replace", "path": "displayName",
                                             "value": target}), 409, "uniqueness")
    assert_error(patch_group(acme, b["id"], {"op": "replace",
                                             "value": {"displayName": target}}),
                 409, "uniqueness")
    got = get_group(acme, b["id"])
    assert got["displayName"] == b["displayName"]
    assert got["meta"]["version"] == b["meta"]["version"]


def test_rename_to_own_name_in_other_case_is_allowed(acme):
    g = create_group(acme, gname("Case"))
    no_content(patch_group(acme, g["id"], {"op": "replace", "path": "displayName",
                                           "value": g["displayName"].upper()}))
    assert get_group(acme, g["id"])["displayName"] == g["displayName"].upper()


def test_user_and_group_names_do_not_collide(acme):
    name = gname()
    acme.create_user(user_body(name))
    create_group(acme, name)


# ---- PUT -------------------------------------------------------------------------

def test_put_replaces_attributes_and_members(acme):
    u1, u2, u3 = users(acme, 3)
    g = make_group(acme, members=[u1["id"], u2["id"]], externalId="old")
    new_name = gname()
    resp = acme.put(f"/Groups/{g['id']}",
                    group_body(new_name, members=[u2["id"], u3["id"]]))
    body = scim_json(resp, 200)
    assert body["id"] == g["id"] and body["displayName"] == new_name
    assert "externalId" not in body, "PUT replaces: externalId was not sent"
    assert member_ids(body) == {u2["id"], u3["id"]}
    assert body["meta"]["version"] != g["meta"]["version"]
    assert resp.headers.get("ETag") == body["meta"]["version"]
    got = get_group(acme, g["id"])
    assert member_ids(got) == {u2["id"], u3["id"]}
    assert got["displayName"] == new_name
    assert not acme.get_user(u1["id"]).get("groups")


def test_put_without_members_empties_the_group(acme):
    (u,) = users(acme, 1)
    g = make_group(acme, members=[u["id"]])
    scim_json(acme.put(f"/Groups/{g['id']}", group_body(g["displayName"])), 200)
    assert members_of(acme, g["id"]) == set()


def test_put_with_unknown_member_changes_nothing(acme):
    u1, u2 = users(acme, 2)
    g = make_group(acme, members=[u1["id"]])
    resp = acme.put(f"/Groups/{g['id']}", group_body(gname(), members=[
        u2["id"], "00000000-0000-4000-8000-00000000dead"]))
    assert_error(resp, 400, "invalidValue")
    got = get_group(acme, g["id"])
    assert member_ids(got) == {u1["id"]}
    assert got["displayName"] == g["displayName"]
    assert got["meta"]["version"] == g["meta"]["version"]


def test_put_unknown_group_is_404(acme):
    assert_error(acme.put("/Groups/00000000-0000-4000-8000-000000000000",
                          group_body()), 404)


# ---- PATCH ------------------------------------------------------------------------

def test_patch_add_one_member_answers_204_with_etag(acme):
    (u,) = users(acme, 1)
    g = create_group(acme)
    etag = no_content(patch_group(acme, g["id"], {"op": "add", "path": "members",
                                                  "value": [{"value": u["id"]}]}))
    got = get_group(acme, g["id"])
    assert member_ids(got) == {u["id"]}
    assert got["meta"]["version"] == etag
    assert etag != g["meta"]["version"]
    (m,) = got["members"]
    assert m["display"] == u["userName"] and m["type"] == "User"
    assert m["$ref"] == acme.base + "/Users/" + u["id"]


def test_patch_add_many_and_single_object_value(acme):
    us = users(acme, 4)
    g = create_group(acme)
    no_content(patch_group(acme, g["id"], {"op": "add", "path": "members",
                                           "value": [{"value": u["id"]} for u in us[:3]]}))
    # a single object instead of an array
    no_content(patch_group(acme, g["id"], {"op": "add", "path": "members",
                                           "value": {"value": us[3]["id"]}}))
    assert members_of(acme, g["id"]) == {u["id"] for u in us}


def test_patch_add_existing_member_does_not_duplicate(acme):
    (u,) = users(acme, 1)
    g = make_group(acme, members=[u["id"]])
    resp = patch_group(acme, g["id"], {"op": "add", "path": "members",
                                       "value": [{"value": u["id"]}]})
    assert resp.status_code in (200, 204), describe(resp)
    got = get_group(acme, g["id"])
    assert [m["value"] for m in got["members"]] == [u["id"]]


def test_patch_remove_by_value_filter(acme):
    u1, u2, u3 = users(acme, 3)
    g = make_group(acme, members=[u1["id"], u2["id"], u3["id"]])
    no_content(patch_group(acme, g["id"], {
        "op": "remove", "path": f'members[value eq "{u2["id"]}"]'}))
    assert members_of(acme, g["id"]) == {u1["id"], u3["id"]}


def test_patch_remove_by_other_member_filter(acme):
    u1, u2 = users(acme, 2)
    g = make_group(acme, members=[u1["id"], u2["id"]])
    no_content(patch_group(acme, g["id"], {
        "op": "remove", "path": f'members[display eq "{u1["userName"]}"]'}))
    assert members_of(acme, g["id"]) == {u2["id"]}
    no_content(patch_group(acme, g["id"], {
        "op": "remove",
        "path": f'members[value eq "{u2["id"]}" or value eq "nope"]'}))
    assert members_of(acme, g["id"]) == set()


def test_patch_remove_with_value_list_removes_exactly_those(acme):
    us = users(acme, 4)
    g = make_group(acme, members=[u["id"] for u in us])
    no_content(patch_group(acme, g["id"], {
        "op": "remove", "path": "members",
        "value": [{"value": us[0]["id"]}, {"value": us[2]["id"]}]}))
    assert members_of(acme, g["id"]) == {us[1]["id"], us[3]["id"]}


def test_patch_remove_members_without_value_removes_all(acme):
    us = users(acme, 3)
    g = make_group(acme, members=[u["id"] for u in us])
    no_content(patch_group(acme, g["id"], {"op": "remove", "path": "members"}))
    got = get_group(acme, g["id"])
    assert member_ids(got) == set()
    for u in us:
        acme.get_user(u["id"])          # the users stay
        assert not acme.get_user(u["id"]).get("groups")


def test_patch_replace_members(acme):
    us = users(acme, 4)
    g = make_group(acme, members=[us[0]["id"], us[1]["id"]])
    no_content(patch_group(acme, g["id"], {
        "op": "replace", "path": "members",
        "value": [{"value": us[1]["id"]}, {"value": us[2]["id"]},
                  {"value": us[3]["id"]}]}))
    assert members_of(acme, g["id"]) == {us[1]["id"], us[2]["id"], us[3]["id"]}
    no_content(patch_group(acme, g["id"], {"op": "replace", "path": "members",
                                           "value": []}))
    assert members_of(acme, g["id"]) == set()


def test_patch_no_path_replace_keeps_members(acme):
    (u,) = users(acme, 1)
    g = make_group(acme, members=[u["id"]], externalId="before")
    new_name = gname()
    no_content(patch_group(acme, g["id"], {
        "op": "replace", "value": {"id": "ignored-id", "displayName": new_name,
                                   "externalId": "after"}}))
    got = get_group(acme, g["id"])
    assert got["id"] == g["id"]
    assert got["displayName"] == new_name and got["externalId"] == "after"
    assert member_ids(got) == {u["id"]}
    assert_error(acme.get("/Groups/ignored-id"), 404)


def test_patch_replace_and_remove_external_id_by_path(acme):
    g = create_group(acme, externalId="x1")
    no_content(patch_group(acme, g["id"], {"op": "replace", "path": "externalId",
                                           "value": "x2"}))
    assert get_group(acme, g["id"])["externalId"] == "x2"
    no_content(patch_group(acme, g["id"], {"op": "remove", "path": "externalId"}))
    assert "externalId" not in get_group(acme, g["id"])


@pytest.mark.parametrize("add,remove", [("ADD", "REMOVE"), ("Add", "Remove"),
                                        ("aDd", "rEmOvE")])
def test_patch_op_names_in_any_case(acme, add, remove):
    u1, u2 = users(acme, 2)
    g = create_group(acme)
    no_content(patch_group(acme, g["id"], {"op": add, "path": "members",
                                           "value": [{"value": u1["id"]},
                                                     {"value": u2["id"]}]}))
    no_content(patch_group(acme, g["id"], {"op": remove,
                                           "path": f'members[value eq "{u1["id"]}"]'}))
    no_content(patch_group(acme, g["id"], {"op": "REPLACE", "path": "displayName",
                                           "value": g["displayName"] + "-x"}))
    got = get_group(acme, g["id"])
    assert member_ids(got) == {u2["id"]}
    assert got["displayName"] == g["displayName"] + "-x"


def test_patch_several_membership_changes_in_one_request(acme):
    us = users(acme, 5)
    g = make_group(acme, members=[us[0]["id"], us[1]["id"]])
    no_content(patch_group(
        acme, g["id"],
        {"op": "Add", "path": "members", "value": [{"value": us[2]["id"]},
                                                   {"value": us[3]["id"]}]},
        {"op": "Remove", "path": "members", "value": [{"value": us[0]["id"]}]},
        {"op": "remove", "path": f'members[value eq "{us[2]["id"]}"]'},
        {"op": "add", "path": "members", "value": [{"value": us[4]["id"]}]},
        {"op": "replace", "path": "displayName", "value": g["displayName"] + "-2"}))
    got = get_group(acme, g["id"])
    assert member_ids(got) == {us[1]["id"], us[3]["id"], us[4]["id"]}
    assert got["displayName"] == g["displayName"] + "-2"


def test_patch_changes_apply_in_order(acme):
    (u,) = users(acme, 1)
    g = create_group(acme)
    # remove-all after add: empty; add after remove-all: the member
    no_content(patch_group(acme, g["id"],
                           {"op": "add", "path": "members", "value": [{"value": u["id"]}]},
                           {"op": "remove", "path": "members"}))
    assert members_of(acme, g["id"]) == set()
    no_content(patch_group(acme, g["id"],
                           {"op": "remove", "path": "members"},
                           {"op": "add", "path": "members", "value": [{"value": u["id"]}]}))
    assert members_of(acme, g["id"]) == {u["id"]}


def test_patch_with_attributes_answers_200_with_the_body(acme):
    (u,) = users(acme, 1)
    g = create_group(acme)
    resp = patch_group(acme, g["id"], {"op": "add", "path": "members",
                                       "value": [{"value": u["id"]}]},
                       params={"attributes": "members,displayName"})
    body = scim_json(resp, 200)
    assert body["id"] == g["id"]
    assert body["displayName"] == g["displayName"]
    assert member_ids(body) == {u["id"]}
    assert resp.headers.get("ETag")


def test_patch_with_unknown_member_changes_nothing(acme):
    u0, u1 = users(acme, 2)
    g = make_group(acme, members=[u0["id"]])
    resp = patch_group(acme, g["id"],
                       {"op": "replace", "path": "displayName", "value": gname()},
                       {"op": "add", "path": "members",
                        "value": [{"value": u1["id"]},
                                  {"value": "00000000-0000-4000-8000-00000000dead"}]})
    assert_error(resp, 400, "invalidValue")
    got = get_group(acme, g["id"])
    assert member_ids(got) == {u0["id"]}, "no member of the failed PATCH may stay"
    assert got["displayName"] == g["displayName"]
    assert got["meta"]["version"] == g["meta"]["version"]
    assert not acme.get_user(u1["id"]).get("groups")
    # the same with a remove before the bad add
    resp = patch_group(acme, g["id"],
                       {"op": "remove", "path": "members"},
                       {"op": "add", "path": "members", "value": [{"value": "nope"}]})
    assert_error(resp, 400, "invalidValue")
    assert members_of(acme, g["id"]) == {u0["id"]}


@pytest.mark.parametrize("op", [
    {"op": "add", "path": "members", "value": [{"display": "no value"}]},
    {"op": "add", "path": "members", "value": [{"value": ""}]},
    {"op": "add", "path": "members", "value": "just-a-string"},
    {"op": "explode", "path": "members", "value": []},
    {"op": "replace", "path": "members[value eq \"x\"].display", "value": "y"},
])
def test_patch_bad_member_operations_are_400(acme, op):
    (u,) = users(acme, 1)
    g = make_group(acme, members=[u["id"]])
    resp = patch_group(acme, g["id"], op)
    assert_error(resp, 400)
    got = get_group(acme, g["id"])
    assert member_ids(got) == {u["id"]}
    assert got["meta"]["version"] == g["meta"]["version"]


def test_patch_unknown_group_is_404(acme):
    (u,) = users(acme, 1)
    resp = patch_group(acme, "00000000-0000-4000-8000-000000000000",
                       {"op": "add", "path": "members", "value": [{"value": u["id"]}]})
    assert_error(resp, 404)


def test_patch_if_match(acme):
    (u,) = users(acme, 1)
    g = create_group(acme)
    body = {"schemas": [PATCH_OP], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": u["id"]}]}]}
    resp = acme.patch(f"/Groups/{g['id']}", body, headers={"If-Match": 'W/"999"'})
    assert_error(resp, 412)
    assert members_of(acme, g["id"]) == set()
    no_content(acme.patch(f"/Groups/{g['id']}", body,
                          headers={"If-Match": g["meta"]["version"]}))
    assert members_of(acme, g["id"]) == {u["id"]}


def test_concurrent_member_adds_to_one_group_all_land(acme):
    """An IdP pushes memberships in parallel (Entra: 25 requests/s per
    tenant); without If-Match none may be lost or refused."""
    us = users(acme, 24)
    g = create_group(acme)

    def add(u):
        c = ScimClient(acme.base, acme.token)
        resp = patch_group(c, g["id"], {"op": "add", "path": "members",
                                        "value": [{"value": u["id"]}]})
        return resp.status_code, resp.text[:300]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(add, us))
    assert Counter(r[0] for r in results) == {204: len(us)}, \
        [r for r in results if r[0] != 204][:3]
    assert members_of(acme, g["id"]) == {u["id"] for u in us}


def test_concurrent_creates_of_one_name_give_one_group(acme):
    name = gname("race")

    def create(i):
        c = ScimClient(acme.base, acme.token)
        return c.post("/Groups", group_body(name if i % 2 else name.upper()))

    with ThreadPoolExecutor(8) as pool:
        resps = list(pool.map(create, range(8)))
    codes = Counter(r.status_code for r in resps)
    assert codes == {201: 1, 409: 7}, codes
    for r in resps:
        if r.status_code == 409:
            assert_error(r, 409, "uniqueness")
    assert filter_groups(acme, f'displayName eq "{name}"')["totalResults"] == 1


# ---- attributes / excludedAttributes ---------------------------------------

def test_excluded_members_and_attribute_selection(acme):
    (u,) = users(acme, 1)
    g = make_group(acme, members=[u["id"]], externalId="sel")
    got = get_group(acme, g["id"], excludedAttributes="members")
    assert "members" not in got
    assert got["displayName"] == g["displayName"] and got["id"] == g["id"]
    got = get_group(acme, g["id"], attributes="displayName")
    assert got["id"] == g["id"] and got["displayName"] == g["displayName"]
    assert "members" not in got and "externalId" not in got
    got = get_group(acme, g["id"], attributes="members")
    assert member_ids(got) == {u["id"]} and got["id"] == g["id"]
    got = get_group(acme, g["id"], attributes="members.value")
    assert got["members"] == [{"value": u["id"]}]
    got = get_group(acme, g["id"],
                    attributes="urn:ietf:params:scim:schemas:core:2.0:Group:displayName")
    assert "members" not in got and got["displayName"] == g["displayName"]
    listing = filter_groups(acme, f'displayName eq "{g["displayName"]}"',
                            excludedAttributes="members")
    (r,) = listing["Resources"]
    assert r["id"] == g["id"] and "members" not in r
    listing = filter_groups(acme, f'displayName eq "{g["displayName"]}"')
    (r,) = listing["Resources"]
    assert member_ids(r) == {u["id"]}


# ---- lists and filters --------------------------------------------------------

@pytest.fixture
def trio(acme):
    """Three groups with a common unique prefix; u1 in A and B, u2 in B."""
    prefix = gname("flt")
    u1, u2, u3 = users(acme, 3)
    a = make_group(acme, f"{prefix}-Alpha", members=[u1["id"]], externalId=f"{prefix}-ea")
    b = make_group(acme, f"{prefix}-Beta", members=[u1["id"], u2["id"]])
    c = create_group(acme, f"{prefix}-Gamma", externalId=f"{prefix}-ec")
    return dict(prefix=prefix, a=a, b=b, c=c, u1=u1, u2=u2, u3=u3)


def ids(*groups):
    return {g["id"] for g in groups}


def test_filter_display_name_eq_ignores_case(acme, trio):
    for expr in (f'displayName eq "{trio["prefix"]}-Alpha"',
                 f'displayName eq "{trio["prefix"].upper()}-ALPHA"',
                 f'DISPLAYNAME eq "{trio["prefix"]}-alpha"'):
        assert group_ids(filter_groups(acme, expr)) == ids(trio["a"]), expr


def test_filter_external_id_is_case_exact(acme, trio):
    assert group_ids(filter_groups(acme, f'externalId eq "{trio["prefix"]}-ea"')) == \
        ids(trio["a"])
    assert filter_groups(acme, f'externalId eq "{trio["prefix"].upper()}-EA"')[
        "totalResults"] == 0


def test_filter_id_eq(acme, trio):
    assert group_ids(filter_groups(acme, f'id eq "{trio["b"]["id"]}"')) == ids(trio["b"])
    assert filter_groups(acme, f'id eq "{trio["u1"]["id"]}"')["totalResults"] == 0


def test_filter_members_value(acme, trio):
    p = trio["prefix"]
    for expr in (f'members[value eq "{trio["u1"]["id"]}"]',
                 f'members.value eq "{trio["u1"]["id"]}"'):
        got = filter_groups(acme, expr)
        assert group_ids(got) == ids(trio["a"], trio["b"]), expr
        assert got["totalResults"] == 2
    assert group_ids(filter_groups(acme, f'members[value eq "{trio["u2"]["id"]}"]')) == \
        ids(trio["b"])
    assert filter_groups(acme, f'members[value eq "{trio["u3"]["id"]}"]')[
        "totalResults"] == 0
    got = filter_groups(acme, f'members[value eq "{trio["u1"]["id"]}"] and '
                              f'displayName ew "Beta"')
    assert group_ids(got) == ids(trio["b"])
    got = filter_groups(acme, f'displayName sw "{p}" and members[type eq "User" and '
                              f'value eq "{trio["u2"]["id"]}"]')
    assert group_ids(got) == ids(trio["b"])
    got = filter_groups(acme, f'displayName sw "{p}" and members pr')
    assert group_ids(got) == ids(trio["a"], trio["b"])
    got = filter_groups(acme, f'displayName sw "{p}" and not (members pr)')
    assert group_ids(got) == ids(trio["c"])
    got = filter_groups(acme, f'members[value eq "{trio["u1"]["id"]}"]',
                        excludedAttributes="members")
    assert group_ids(got) == ids(trio["a"], trio["b"])
    assert all("members" not in r for r in got["Resources"])


def test_filter_grammar_on_groups(acme, trio):
    p, a, b, c = trio["prefix"], trio["a"], trio["b"], trio["c"]
    cases = {
        f'displayName sw "{p}"': ids(a, b, c),
        f'displayName sw "{p.upper()}"': ids(a, b, c),
        f'displayName sw "{p}" and displayName co "et"': ids(b),
        f'displayName sw "{p}" and displayName ew "MMA"': ids(c),
        f'displayName sw "{p}" and displayName ne "{p}-Beta"': ids(a, c),
        f'displayName sw "{p}" and not (displayName eq "{p}-Beta")': ids(a, c),
        f'displayName eq "{p}-Alpha" or displayName eq "{p}-Gamma"': ids(a, c),
        f'(displayName eq "{p}-Alpha" or displayName eq "{p}-Beta") and externalId pr':
            ids(a),
        f'displayName sw "{p}" and externalId pr': ids(a, c),
        f'displayName sw "{p}" and not (externalId pr)': ids(b),
        f'displayName sw "{p}" and displayName gt "{p}-Alpha"': ids(b, c),
        f'displayName sw "{p}" and displayName le "{p}-Beta"': ids(a, b),
        f'displayName sw "{p}" and meta.created ge "{a["meta"]["created"]}"':
            ids(a, b, c),
        f'displayName sw "{p}" and meta.created lt "{a["meta"]["created"]}"': set(),
        f'displayName sw "{p}" and meta.resourceType eq "Group"': ids(a, b, c),
        f'displayName sw "{p}" and members.display eq "{trio["u2"]["userName"]}"':
            ids(b),
    }
    for expr, want in cases.items():
        got = filter_groups(acme, expr)
        assert group_ids(got) == want, expr
        assert got["totalResults"] == len(want), expr


@pytest.mark.parametrize("expr", [
    'displayName eq', 'displayName xx "a"', 'members[value eq "x"',
    '(displayName eq "a"', 'displayName eq "a" and', 'eq "a"',
])
def test_invalid_group_filter_is_400(acme, expr):
    assert_error(acme.get("/Groups", params={"filter": expr}), 400, "invalidFilter")


def test_unknown_attribute_filter_never_lists_everything(acme, trio):
    resp = acme.get("/Groups", params={"filter": 'noSuchAttribute eq "x"'})
    if resp.status_code == 400:
        assert_error(resp, 400, "invalidFilter")
    else:
        assert assert_list(resp)["totalResults"] == 0


def test_paging_and_sorting(acme):
    prefix = gname("page")
    made = [create_group(acme, f"{prefix}-{i:02d}") for i in range(7)]
    seen = []
    for start in (1, 4, 7):
        page = filter_groups(acme, f'displayName sw "{prefix}"', startIndex=start,
                             count=3, excludedAttributes="members")
        assert page["totalResults"] == 7 and page["startIndex"] == start
        seen += [r["id"] for r in page["Resources"]]
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == {g["id"] for g in made}
    page = filter_groups(acme, f'displayName sw "{prefix}"', sortBy="displayName",
                         sortOrder="descending", count=2)
    assert [r["displayName"] for r in page["Resources"]] == \
        [f"{prefix}-06", f"{prefix}-05"]
    page = filter_groups(acme, f'displayName sw "{prefix}"', count=0)
    assert page["totalResults"] == 7 and page["Resources"] == []


def test_unfiltered_list_contains_groups_not_users(acme):
    g = create_group(acme)
    u = acme.create_user()
    total = assert_list(acme.get("/Groups", params={"count": 0}))["totalResults"]
    found = False
    start = 1
    while start <= total and not found:
        page = assert_list(acme.get("/Groups", params={
            "startIndex": start, "count": 200, "excludedAttributes": "members"}))
        assert page["Resources"], "a page before totalResults must not be empty"
        for r in page["Resources"]:
            assert r["meta"]["resourceType"] == "Group", r
            assert r["id"] != u["id"]
            found |= r["id"] == g["id"]
        start += len(page["Resources"])
    assert found


def test_groups_search(acme, trio):
    body = {"schemas": [SEARCH_REQUEST],
            "filter": f'displayName sw "{trio["prefix"]}"',
            "excludedAttributes": ["members"], "sortBy": "displayName",
            "startIndex": 1, "count": 2}
    got = assert_list(acme.post("/Groups/.search", body))
    assert got["totalResults"] == 3
    assert [r["id"] for r in got["Resources"]] == [trio["a"]["id"], trio["b"]["id"]]
    assert all("members" not in r for r in got["Resources"])
    body = {"schemas": [SEARCH_REQUEST],
            "filter": f'members[value eq "{trio["u2"]["id"]}"]',
            "attributes": ["displayName", "members"]}
    got = assert_list(acme.post("/Groups/.search", body))
    (r,) = got["Resources"]
    assert r["id"] == trio["b"]["id"]
    assert member_ids(r) == {trio["u1"]["id"], trio["u2"]["id"]}
    assert_error(acme.get("/Groups/.search"), 405)
    assert_error(acme.post("/Groups/.search", {"schemas": [SEARCH_REQUEST],
                                               "filter": "displayName eq"}),
                 400, "invalidFilter")


def test_root_search_finds_groups(acme, trio):
    body = {"schemas": [SEARCH_REQUEST],
            "filter": f'displayName eq "{trio["prefix"]}-Gamma"'}
    got = assert_list(acme.post("/.search", body))
    assert trio["c"]["id"] in {r["id"] for r in got["Resources"]}


# ---- delete -------------------------------------------------------------------

def test_delete_group_keeps_users(acme):
    u1, u2 = users(acme, 2)
    keep = make_group(acme, members=[u1["id"]])
    g = make_group(acme, members=[u1["id"], u2["id"]])
    resp = acme.delete(f"/Groups/{g['id']}")
    assert resp.status_code == 204, describe(resp)
    assert_error(acme.get(f"/Groups/{g['id']}"), 404)
    assert_error(acme.delete(f"/Groups/{g['id']}"), 404)
    assert filter_groups(acme, f'displayName eq "{g["displayName"]}"')["totalResults"] == 0
    assert filter_groups(acme, f'members[value eq "{u2["id"]}"]')["totalResults"] == 0
    assert [x["value"] for x in acme.get_user(u1["id"])["groups"]] == [keep["id"]]
    assert not acme.get_user(u2["id"]).get("groups")
    assert members_of(acme, keep["id"]) == {u1["id"]}
    # the name is free again; the old memberships do not come back
    again = create_group(acme, g["displayName"])
    assert again["id"] != g["id"]
    assert members_of(acme, again["id"]) == set()


def test_deleted_member_group_leaves_the_outer_group(acme):
    inner = create_group(acme)
    outer = make_group(acme, members=[inner["id"]])
    assert acme.delete(f"/Groups/{inner['id']}").status_code == 204
    assert members_of(acme, outer["id"]) == set()


def test_delete_user_removes_its_memberships(acme):
    u1, u2 = users(acme, 2)
    g = make_group(acme, members=[u1["id"], u2["id"]])
    assert acme.delete(f"/Users/{u1['id']}").status_code == 204
    assert members_of(acme, g["id"]) == {u2["id"]}
    assert group_ids(filter_groups(acme, f'members[value eq "{u1["id"]}"]')) == set()
    got = acme.filter_users(f'groups.value eq "{g["id"]}"')
    assert {r["id"] for r in got["Resources"]} == {u2["id"]}
    assert got["totalResults"] == 1


# ---- the users' computed groups ------------------------------------------------

def test_user_groups_attribute(acme):
    u, other = users(acme, 2)
    g1 = make_group(acme, gname("b-second"), members=[u["id"]])
    g2 = create_group(acme, gname("a-first"))
    no_content(patch_group(acme, g2["id"], {"op": "add", "path": "members",
                                            "value": [{"value": u["id"]}]}))
    got = acme.get_user(u["id"])
    by_id = {x["value"]: x for x in got["groups"]}
    assert set(by_id) == {g1["id"], g2["id"]}
    for g in (g1, g2):
        assert by_id[g["id"]] == {"value": g["id"], "display": g["displayName"],
                                  "$ref": acme.base + "/Groups/" + g["id"],
                                  "type": "direct"}
    assert not acme.get_user(other["id"]).get("groups")
    # listed users carry it too
    listed = acme.filter_users(f'id eq "{u["id"]}"')["Resources"][0]
    assert {x["value"] for x in listed["groups"]} == {g1["id"], g2["id"]}
    # and it can be excluded
    got = scim_json(acme.get(f"/Users/{u['id']}",
                             params={"excludedAttributes": "groups"}), 200)
    assert "groups" not in got


def test_lookups_show_each_users_groups_as_get_does(acme):
    """An IdP's lookups before a create (userName, externalId, e-mail) read
    the users and their groups together: each user found shows the groups
    its GET shows, in the same order; two users sharing an externalId each
    show their own."""
    shared = unique("ext")
    ann = acme.create_user(user_body(externalId=shared, emails=[
        {"value": unique("ann"), "type": "work"}]))
    bob = acme.create_user(user_body(externalId=shared))
    loner = acme.create_user(user_body())
    both = make_group(acme, gname("b-both"), members=[ann["id"], bob["id"]])
    make_group(acme, gname("a-ann"), members=[ann["id"]])
    make_group(acme, gname("c-ann"), members=[ann["id"]])
    make_group(acme, gname("bob"), members=[bob["id"]])
    gets = {u["id"]: acme.get_user(u["id"]) for u in (ann, bob, loner)}
    assert [g["value"] for g in gets[bob["id"]]["groups"]][0] == both["id"]
    assert len(gets[ann["id"]]["groups"]) == 3

    lookups = {
        f'userName eq "{ann["userName"].upper()}"': [ann],
        f'externalId eq "{shared}"': [ann, bob],
        f'emails[type eq "work" and value eq "{ann["emails"][0]["value"]}"]': [ann],
        f'emails.value eq "{ann["emails"][0]["value"]}"': [ann],
        f'id eq "{bob["id"]}"': [bob],
        f'userName eq "{loner["userName"]}"': [loner],
    }
    def in_default_order(users):
        """created, then id: two users created in one millisecond go by id"""
        return [u["id"] for u in sorted(users, key=lambda u: (
            u["meta"]["created"], u["id"]))]

    for expr, want in lookups.items():
        got = acme.filter_users(expr)
        assert [r["id"] for r in got["Resources"]] == in_default_order(want), expr
        for r in got["Resources"]:
            assert r.get("groups") == gets[r["id"]].get("groups"), expr
    # attributes that leave groups out still leave them out
    got = acme.filter_users(f'externalId eq "{shared}"',
                            excludedAttributes="groups")
    assert [r["id"] for r in got["Resources"]] == in_default_order([ann, bob])
    assert all("groups" not in r for r in got["Resources"])


def test_user_groups_follow_renames(acme):
    (u,) = users(acme, 1)
    g = make_group(acme, members=[u["id"]])
    new_name = gname("renamed")
    no_content(patch_group(acme, g["id"], {"op": "replace", "path": "displayName",
                                           "value": new_name}))
    assert acme.get_user(u["id"])["groups"][0]["display"] == new_name
    new_user_name = unique("renamed")
    resp = acme.patch_ops(u["id"], {"op": "replace", "path": "userName",
                                    "value": new_user_name})
    scim_json(resp, 200)
    (m,) = get_group(acme, g["id"])["members"]
    assert m["display"] == new_user_name


def test_filter_users_by_group(acme):
    u1, u2, u3 = users(acme, 3)
    g = make_group(acme, members=[u1["id"], u2["id"]])
    other = make_group(acme, members=[u3["id"]])
    got = acme.filter_users(f'groups.value eq "{g["id"]}"')
    assert {r["id"] for r in got["Resources"]} == {u1["id"], u2["id"]}
    assert got["totalResults"] == 2
    got = acme.filter_users(f'groups[value eq "{g["id"]}"]')
    assert {r["id"] for r in got["Resources"]} == {u1["id"], u2["id"]}
    got = acme.filter_users(f'groups.value eq "{g["id"]}" and id eq "{u2["id"]}"')
    assert [r["id"] for r in got["Resources"]] == [u2["id"]]
    got = acme.filter_users(f'groups.value eq "{g["id"]}" and id eq "{u3["id"]}"')
    assert got["totalResults"] == 0
    got = acme.filter_users(f'groups.value eq "{g["id"]}" and '
                            f'userName eq "{u1["userName"]}"')
    assert [r["id"] for r in got["Resources"]] == [u1["id"]]
    got = acme.filter_users(f'groups.display eq "{other["displayName"]}"')
    assert [r["id"] for r in got["Resources"]] == [u3["id"]]
    got = acme.filter_users(f'groups.value eq "{g["id"]}" or '
                            f'groups.value eq "{other["id"]}"')
    assert {r["id"] for r in got["Resources"]} == {u1["id"], u2["id"], u3["id"]}
    got = acme.filter_users('groups.value eq "00000000-0000-4000-8000-000000000000"')
    assert got["totalResults"] == 0 and got["Resources"] == []


def test_groups_sent_on_user_post_and_put_are_ignored(acme):
    g = create_group(acme)
    body = user_body(groups=[{"value": g["id"], "display": g["displayName"]}])
    u = acme.create_user(body)
    assert not u.get("groups")
    assert members_of(acme, g["id"]) == set()
    # PUT with groups neither adds nor (when the user is a member) removes
    no_content(patch_group(acme, g["id"], {"op": "add", "path": "members",
                                           "value": [{"value": u["id"]}]}))
    other = create_group(acme)
    put = user_body(u["userName"], groups=[{"value": other["id"]}])
    scim_json(acme.put(f"/Users/{u['id']}", put), 200)
    assert [x["value"] for x in acme.get_user(u["id"])["groups"]] == [g["id"]]
    put = user_body(u["userName"])
    scim_json(acme.put(f"/Users/{u['id']}", put), 200)
    assert [x["value"] for x in acme.get_user(u["id"])["groups"]] == [g["id"]]
    assert members_of(acme, other["id"]) == set()


# ---- discovery -------------------------------------------------------------------

def test_discovery_lists_group_type_and_schema(acme):
    rts = {r["name"]: r for r in assert_list(acme.get("/ResourceTypes"))["Resources"]}
    assert rts["Group"]["endpoint"] == "/Groups"
    assert rts["Group"]["schema"] == CORE_GROUP
    one = scim_json(acme.get("/ResourceTypes/Group"), 200)
    assert one["endpoint"] == "/Groups" and one["schema"] == CORE_GROUP
    schemas = {s["id"]: s for s in assert_list(acme.get("/Schemas"))["Resources"]}
    assert CORE_GROUP in schemas
    s = scim_json(acme.get(f"/Schemas/{CORE_GROUP}"), 200)
    attrs = {a["name"]: a for a in s["attributes"]}
    assert attrs["displayName"]["uniqueness"] == "server"
    assert attrs["displayName"]["required"] is True
    members = attrs["members"]
    assert members["multiValued"] is True and members["type"] == "complex"
    assert {a["name"] for a in members["subAttributes"]} >= \
        {"value", "$ref", "display", "type"}
    user = scim_json(acme.get(f"/Schemas/{CORE_USER}"), 200)
    groups = {a["name"]: a for a in user["attributes"]}["groups"]
    assert groups["mutability"] == "readOnly" and groups["multiValued"] is True


# ---- organizations ----------------------------------------------------------------

def test_other_organization_never_sees_or_changes_groups(acme, globex):
    (u,) = users(acme, 1)
    g = make_group(acme, members=[u["id"]], externalId="iso-ext")
    gid = g["id"]
    assert_error(globex.get(f"/Groups/{gid}"), 404)
    assert_error(patch_group(globex, gid, {"op": "remove", "path": "members"}), 404)
    assert_error(patch_group(globex, gid, {"op": "replace", "path": "displayName",
                                           "value": gname()}), 404)
    assert_error(globex.put(f"/Groups/{gid}", group_body()), 404)
    assert_error(globex.delete(f"/Groups/{gid}"), 404)
    assert filter_groups(globex, f'displayName eq "{g["displayName"]}"')["totalResults"] == 0
    assert filter_groups(globex, 'externalId eq "iso-ext"')["totalResults"] == 0
    assert filter_groups(globex, f'id eq "{gid}"')["totalResults"] == 0
    assert filter_groups(globex, f'members[value eq "{u["id"]}"]')["totalResults"] == 0
    assert globex.filter_users(f'groups.value eq "{gid}"')["totalResults"] == 0
    search = assert_list(globex.post("/Groups/.search", {
        "schemas": [SEARCH_REQUEST], "filter": f'displayName eq "{g["displayName"]}"'}))
    assert search["totalResults"] == 0
    # unchanged for acme
    got = get_group(acme, gid)
    assert member_ids(got) == {u["id"]}
    assert got["displayName"] == g["displayName"]
    assert got["meta"]["version"] == g["meta"]["version"]
    # the same name is free in another organization
    twin = create_group(globex, g["displayName"])
    assert twin["id"] != gid
    assert get_group(acme, gid)["displayName"] == g["displayName"]


def test_post_with_member_of_another_organization_is_invalid(acme, globex):
    gu = globex.create_user()
    au = acme.create_user()
    name = gname()
    assert_error(acme.post("/Groups", group_body(name, members=[au["id"], gu["id"]])),
                 400, "invalidValue")
    assert filter_groups(acme, f'displayName eq "{name}"')["totalResults"] == 0
    assert not acme.get_user(au["id"]).get("groups")


def test_patch_put_with_member_of_another_organization_is_invalid(acme, globex):
    gu = globex.create_user()
    ggroup = create_group(globex)
    au = acme.create_user()
    g = make_group(acme, members=[au["id"]])
    for value in (gu["id"], ggroup["id"]):
        assert_error(patch_group(acme, g["id"], {"op": "add", "path": "members",
                                                 "value": [{"value": value}]}),
                     400, "invalidValue")
        assert_error(patch_group(acme, g["id"], {"op": "replace", "path": "members",
                                                 "value": [{"value": value}]}),
                     400, "invalidValue")
        assert_error(acme.put(f"/Groups/{g['id']}",
                              group_body(g["displayName"], members=[value])),
                     400, "invalidValue")
    got = get_group(acme, g["id"])
    assert member_ids(got) == {au["id"]}
    assert got["meta"]["version"] == g["meta"]["version"]
    assert not globex.get_user(gu["id"]).get("groups")
    assert acme.filter_users(f'groups.value eq "{ggroup["id"]}"')["totalResults"] == 0


def test_user_etag_follows_its_group_memberships(acme):
    """groups is part of the user: a conditional GET after the IdP changed
    the user's memberships must not answer 304 with the old groups."""
    (u,) = users(acme, 1)
    etag = acme.get(f"/Users/{u['id']}").headers["ETag"]
    g = create_group(acme)
    no_content(patch_group(acme, g["id"], {"op": "add", "path": "members",
                                           "value": [{"value": u["id"]}]}))
    resp = acme.get(f"/Users/{u['id']}", headers={"If-None-Match": etag})
    assert resp.status_code == 200, describe(resp)
    assert [x["value"] for x in resp.json()["groups"]] == [g["id"]]
    etag = resp.headers["ETag"]
    # the group going away changes the user too
    assert acme.delete(f"/Groups/{g['id']}").status_code == 204
    resp = acme.get(f"/Users/{u['id']}", headers={"If-None-Match": etag})
    assert resp.status_code == 200, describe(resp)
    assert "groups" not in resp.json()
