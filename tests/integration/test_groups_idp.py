"""Group traffic exactly as Microsoft Entra ID and Okta send it: Entra's
documented group requests and quirks replayed literally, the Entra
validator's group checks, and Okta's Push Groups."""

import uuid

from harness import (CORE_GROUP, CORE_USER, PATCH_OP, ScimClient, assert_error,
                     assert_list, describe, scim_json, unique)

ADSCIM_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
OKTA_HEADERS = {"User-Agent": "Okta SCIM Client 1.0.0"}


def gname(tag="grp"):
    return unique(tag).split("@")[0]


def patch(c, gid, *ops):
    return c.patch(f"/Groups/{gid}", {"schemas": [PATCH_OP], "Operations": list(ops)})


def no_content(resp):
    assert resp.status_code == 204, f"expected 204, got {resp.status_code}" \
        + describe(resp)
    assert resp.content == b"", describe(resp)
    assert resp.headers.get("ETag"), "204 needs the new ETag" + describe(resp)


def okta_ok(resp):
    """Okta accepts 200 with the group or 204 for a group PATCH (3.1); the
    module documents 204."""
    no_content(resp)


def members_of(c, gid):
    g = scim_json(c.get(f"/Groups/{gid}"), 200)
    return {m["value"] for m in g.get("members") or []}


def by_display_name(c, name, **params):
    params["filter"] = f'displayName eq "{name}"'
    return assert_list(c.get("/Groups", params=params))


def entra_user(c):
    un = unique("entra")
    return c.create_user({
        "schemas": [CORE_USER], "externalId": str(uuid.uuid4()), "userName": un,
        "active": True, "emails": [{"primary": True, "type": "work", "value": un}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "g f", "familyName": "f", "givenName": "g"},
        "roles": []})


# ---- Microsoft Entra ID ------------------------------------------------------

def test_entra_documented_group_sequence(acme):
    """notes 2.3, request by request."""
    u1, u2 = entra_user(acme), entra_user(acme)
    name = gname("Entra Group")
    ext = str(uuid.uuid4())

    # Create
    resp = acme.post("/Groups", {
        "schemas": [CORE_GROUP, ADSCIM_GROUP], "externalId": ext,
        "displayName": name, "meta": {"resourceType": "Group"}})
    g = scim_json(resp, 201)
    gid = g["id"]
    assert gid and g["displayName"] == name and g["externalId"] == ext
    assert not g.get("members")

    # Get, members excluded
    got = scim_json(acme.get(f"/Groups/{gid}",
                             params={"excludedAttributes": "members"}), 200)
    assert got["id"] == gid and got["displayName"] == name
    assert "members" not in got

    # Get by displayName, members excluded (Entra's matching query)
    resp = acme.get("/Groups", params={"excludedAttributes": "members",
                                       "filter": f'displayName eq "{name}"'})
    listing = assert_list(resp)
    assert listing["totalResults"] == 1
    (r,) = listing["Resources"]
    assert r["id"] == gid and "members" not in r

    # Update non-member attributes
    new_name = name + "updatedDisplayName"
    no_content(patch(acme, gid, {"op": "Replace", "path": "displayName",
                                 "value": new_name}))
    assert scim_json(acme.get(f"/Groups/{gid}"), 200)["displayName"] == new_name

    # Add members ($ref null, as Entra sends it), one PATCH per member
    for u in (u1, u2):
        no_content(patch(acme, gid, {"op": "Add", "path": "members",
                                     "value": [{"$ref": None, "value": u["id"]}]}))
    assert members_of(acme, gid) == {u1["id"], u2["id"]}

    # Remove members: non-RFC value array; removes exactly that member
    no_content(patch(acme, gid, {"op": "Remove", "path": "members",
                                 "value": [{"$ref": None, "value": u1["id"]}]}))
    assert members_of(acme, gid) == {u2["id"]}, \
        "Entra's remove with a value list must not remove every member"

    # Delete
    resp = acme.delete(f"/Groups/{gid}")
    assert resp.status_code == 204, describe(resp)
    assert_error(acme.get(f"/Groups/{gid}"), 404)
    assert by_display_name(acme, new_name)["totalResults"] == 0
    # the users were not touched
    for u in (u1, u2):
        assert acme.get_user(u["id"])["userName"] == u["userName"]


def test_entra_aadoptscim062020_member_removal(acme):
    """notes 2.4: with the flag, members are removed by a value filter."""
    u1, u2, u3 = (entra_user(acme) for _ in range(3))
    gid = scim_json(acme.post("/Groups", {"schemas": [CORE_GROUP],
                                          "displayName": gname()}), 201)["id"]
    no_content(patch(acme, gid, {"op": "add", "path": "members",
                                 "value": [{"value": u["id"]} for u in (u1, u2, u3)]}))
    no_content(patch(acme, gid, {"op": "remove",
                                 "path": f'members[value eq "{u2["id"]}"]'}))
    assert members_of(acme, gid) == {u1["id"], u3["id"]}
    # default dialect on the same group
    no_content(patch(acme, gid, {"op": "Remove", "path": "members",
                                 "value": [{"value": u3["id"]}]}))
    assert members_of(acme, gid) == {u1["id"]}


def test_entra_many_memberships_in_one_patch(acme):
    """Gallery requirement: several group memberships in a single PATCH."""
    us = [entra_user(acme) for _ in range(5)]
    gid = scim_json(acme.post("/Groups", {"schemas": [CORE_GROUP, ADSCIM_GROUP],
                                          "displayName": gname()}), 201)["id"]
    no_content(patch(acme, gid,
                     *[{"op": "Add", "path": "members",
                        "value": [{"$ref": None, "value": u["id"]}]} for u in us[:4]]))
    assert members_of(acme, gid) == {u["id"] for u in us[:4]}
    no_content(patch(acme, gid,
                     {"op": "Remove", "path": "members",
                      "value": [{"value": us[0]["id"]}, {"value": us[1]["id"]}]},
                     {"op": "Add", "path": "members",
                      "value": [{"$ref": None, "value": us[4]["id"]}]}))
    assert members_of(acme, gid) == {us[2]["id"], us[3]["id"], us[4]["id"]}


def test_entra_random_group_probe_is_an_empty_list(acme):
    """Entra fetches a random group to validate the endpoint (2.1)."""
    resp = acme.get("/Groups", params={"excludedAttributes": "members",
                                       "filter": f'displayName eq "{uuid.uuid4()}"'})
    listing = assert_list(resp)
    assert listing["totalResults"] == 0 and listing["Resources"] == []
    assert_error(acme.get(f"/Groups/{uuid.uuid4()}"), 404)


def test_entra_validator_group_checks(acme):
    """The group checks the Entra SCIM Validator runs (2.5)."""
    name = gname("Validator Group")
    u = entra_user(acme)
    # Create Group
    g = scim_json(acme.post("/Groups", {"schemas": [CORE_GROUP],
                                        "displayName": name,
                                        "externalId": str(uuid.uuid4())}), 201)
    gid = g["id"]
    # create duplicate group -> 409
    assert_error(acme.post("/Groups", {"schemas": [CORE_GROUP], "displayName": name}),
                 409, "uniqueness")
    # Filter existing group; filter group with different case
    for variant in (name, name.upper(), name.lower(), name.swapcase()):
        listing = by_display_name(acme, variant)
        assert [r["id"] for r in listing["Resources"]] == [gid], variant
    # Get group by id; get/filter with excludedAttributes=members
    assert scim_json(acme.get(f"/Groups/{gid}"), 200)["id"] == gid
    assert "members" not in scim_json(acme.get(
        f"/Groups/{gid}", params={"excludedAttributes": "members"}), 200)
    listing = by_display_name(acme, name.upper(), excludedAttributes="members")
    assert listing["Resources"] and "members" not in listing["Resources"][0]
    # Patch Group no-path replace (externalId)
    new_ext = str(uuid.uuid4())
    no_content(patch(acme, gid, {"op": "replace", "value": {"externalId": new_ext}}))
    assert scim_json(acme.get(f"/Groups/{gid}"), 200)["externalId"] == new_ext
    # update group displayName
    no_content(patch(acme, gid, {"op": "replace", "path": "displayName",
                                 "value": name + " renamed"}))
    # Group add member, Group remove member
    no_content(patch(acme, gid, {"op": "add", "path": "members",
                                 "value": [{"value": u["id"]}]}))
    g = scim_json(acme.get(f"/Groups/{gid}"), 200)
    assert g["displayName"] == name + " renamed"
    assert [m["value"] for m in g["members"]] == [u["id"]]
    no_content(patch(acme, gid, {"op": "remove", "path": "members",
                                 "value": [{"value": u["id"]}]}))
    assert members_of(acme, gid) == set()
    # Delete Group
    assert acme.delete(f"/Groups/{gid}").status_code == 204
    assert_error(acme.get(f"/Groups/{gid}"), 404)


def test_entra_display_name_with_spaces_and_quotes(acme):
    """notes 4.3: 'displayName eq "EDU All personal"' must not be split on
    spaces; escaped quotes too."""
    name = gname("EDU All personal") + ' "quoted"'
    g = scim_json(acme.post("/Groups", {"schemas": [CORE_GROUP],
                                        "displayName": name}), 201)
    escaped = name.replace('"', '\\"')
    listing = assert_list(acme.get("/Groups", params={
        "filter": f'displayName eq "{escaped}"', "excludedAttributes": "members"}))
    assert [r["id"] for r in listing["Resources"]] == [g["id"]]


# ---- Okta --------------------------------------------------------------------------

def okta_client(acme):
    return ScimClient(acme.base, acme.token, headers=OKTA_HEADERS)


def okta_import_groups(c):
    """GET /Groups?startIndex=1&count=100, then +100 until totalResults."""
    seen, start, total = [], 1, None
    while total is None or start <= total:
        page = assert_list(c.get("/Groups", params={"startIndex": start, "count": 100}))
        total = page["totalResults"] if total is None else total
        assert page["startIndex"] == start
        if not page["Resources"]:
            break
        seen += page["Resources"]
        start += len(page["Resources"])
    ids = [r["id"] for r in seen]
    assert len(ids) == len(set(ids)), "pages must not overlap"
    return {r["id"]: r for r in seen}


def test_okta_push_groups_sequence(acme):
    """notes 3.1 Push Groups, request by request."""
    c = okta_client(acme)
    u1, u2, u3 = (c.create_user() for _ in range(3))
    name = gname("Test SCIMv2")

    # create with an empty member list
    resp = c.post("/Groups", {"schemas": [CORE_GROUP], "displayName": name,
                              "members": []})
    g = scim_json(resp, 201)
    gid = g["id"]
    assert g["displayName"] == name and not g.get("members")

    # import: the group is on one of the pages
    imported = okta_import_groups(c)
    assert gid in imported and imported[gid]["displayName"] == name

    # GET by id
    got = scim_json(c.get(f"/Groups/{gid}"), 200)
    assert got["id"] == gid and got["displayName"] == name

    # rename: no-path replace, the group's own id in the value
    new_name = name + " renamed"
    okta_ok(patch(c, gid, {"op": "replace",
                           "value": {"id": gid, "displayName": new_name}}))
    got = scim_json(c.get(f"/Groups/{gid}"), 200)
    assert got["id"] == gid and got["displayName"] == new_name

    # membership: adds with display (Okta sends the userName there)
    okta_ok(patch(c, gid, {"op": "add", "path": "members",
                           "value": [{"value": u1["id"], "display": u1["userName"]},
                                     {"value": u2["id"], "display": u2["userName"]}]}))
    assert members_of(c, gid) == {u1["id"], u2["id"]}

    # rename (sent on every membership update) + remove by filter + add
    okta_ok(patch(c, gid,
                  {"op": "replace", "value": {"id": gid, "displayName": new_name}},
                  {"op": "remove", "path": f'members[value eq "{u1["id"]}"]'},
                  {"op": "add", "path": "members",
                   "value": [{"value": u3["id"], "display": u3["userName"]}]}))
    got = scim_json(c.get(f"/Groups/{gid}"), 200)
    assert {m["value"] for m in got["members"]} == {u2["id"], u3["id"]}
    assert got["displayName"] == new_name
    for m in got["members"]:
        assert m["type"] == "User" and m["$ref"].endswith("/Users/" + m["value"])

    # full replace of the member list
    okta_ok(patch(c, gid, {"op": "replace", "path": "members",
                           "value": [{"value": u1["id"], "display": u1["userName"]}]}))
    assert members_of(c, gid) == {u1["id"]}

    # unlink with "delete in target app"
    resp = c.delete(f"/Groups/{gid}")
    assert resp.status_code == 204, describe(resp)
    assert_error(c.get(f"/Groups/{gid}"), 404)
    assert gid not in okta_import_groups(c)
    for u in (u1, u2, u3):
        got = c.get_user(u["id"])
        assert not got.get("groups")


def test_okta_member_display_is_the_servers(acme):
    """Okta puts whatever its profile says into display; the group lists
    the member's userName."""
    c = okta_client(acme)
    u = c.create_user()
    gid = scim_json(c.post("/Groups", {"schemas": [CORE_GROUP], "displayName": gname(),
                                       "members": []}), 201)["id"]
    okta_ok(patch(c, gid, {"op": "add", "path": "members",
                           "value": [{"value": u["id"], "display": "Someone Else"}]}))
    (m,) = scim_json(c.get(f"/Groups/{gid}"), 200)["members"]
    assert m["display"] == u["userName"]


def test_okta_rename_with_unchanged_name_keeps_the_version(acme):
    """Okta resends the name on every membership update; an unchanged
    name alone is no change."""
    c = okta_client(acme)
    g = scim_json(c.post("/Groups", {"schemas": [CORE_GROUP], "displayName": gname(),
                                     "members": []}), 201)
    resp = patch(c, g["id"], {"op": "replace",
                              "value": {"id": g["id"], "displayName": g["displayName"]}})
    okta_ok(resp)
    assert resp.headers["ETag"] == g["meta"]["version"]
    got = scim_json(c.get(f"/Groups/{g['id']}"), 200)
    assert got["meta"]["version"] == g["meta"]["version"]


def test_okta_aiw_put_group(acme):
    """AIW integrations update groups with PUT (3.1): the whole object,
    including the id and the member list with display."""
    c = okta_client(acme)
    u1, u2 = c.create_user(), c.create_user()
    g = scim_json(c.post("/Groups", {"schemas": [CORE_GROUP], "displayName": gname(),
                                     "members": []}), 201)
    body = {"schemas": [CORE_GROUP], "id": g["id"], "displayName": g["displayName"],
            "members": [{"value": u1["id"], "display": u1["userName"]},
                        {"value": u2["id"], "display": u2["userName"]}]}
    got = scim_json(c.put(f"/Groups/{g['id']}", body), 200)
    assert {m["value"] for m in got["members"]} == {u1["id"], u2["id"]}
    body["members"] = body["members"][1:]
    got = scim_json(c.put(f"/Groups/{g['id']}", body), 200)
    assert {m["value"] for m in got["members"]} == {u2["id"]}
    assert members_of(c, g["id"]) == {u2["id"]}


def test_okta_duplicate_push_is_409(acme):
    """Okta stops the job on a 409 with a SCIM error body (3.1, 4.8)."""
    c = okta_client(acme)
    name = gname("Okta Dup")
    scim_json(c.post("/Groups", {"schemas": [CORE_GROUP], "displayName": name,
                                 "members": []}), 201)
    assert_error(c.post("/Groups", {"schemas": [CORE_GROUP], "displayName": name.upper(),
                                    "members": []}), 409, "uniqueness")
