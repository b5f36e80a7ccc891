"""Details the public IdP test suites check (Microsoft's SCIM reference
tests, RFC 7643/7644) beyond the request sequences of test_idp_sequences."""

from harness import CORE_GROUP, assert_list, scim_json, user_body


def test_attributes_with_a_value_filter_returns_the_attribute(acme):
    body = user_body(emails=[{"value": "w@example.com", "type": "work"},
                             {"value": "h@example.com", "type": "home"}])
    user = scim_json(acme.post("/Users", body), 201)
    got = scim_json(acme.get(f"/Users/{user['id']}",
                             params={"attributes": 'emails[type eq "work"]'}), 200)
    # the filter selects the attribute; its values are not filtered
    assert {e["value"] for e in got["emails"]} == {"w@example.com", "h@example.com"}
    assert "userName" not in got and got["id"] == user["id"]
    listed = assert_list(acme.get("/Users", params={
        "filter": f'id eq "{user["id"]}"',
        "attributes": 'emails[type eq "work"].value,userName'}))
    r = listed["Resources"][0]
    assert r["userName"] == user["userName"]
    assert all(set(e) == {"value"} for e in r["emails"])


def test_patch_of_a_user_answers_200_with_the_resource(acme):
    user = acme.create_user()
    resp = acme.patch_ops(user["id"], {"op": "replace", "path": "displayName",
                                       "value": "Babs"})
    assert scim_json(resp, 200)["displayName"] == "Babs"


def test_group_member_display_is_the_users_display_name(acme):
    """RFC 7643 8.4: a member's display is "Babs Jensen", the user's
    displayName; a user without one shows its userName."""
    babs = acme.create_user(user_body(displayName="Babs Jensen"))
    plain = acme.create_user(user_body())
    group = scim_json(acme.post("/Groups", {
        "schemas": [CORE_GROUP], "displayName": f"g-{plain['id'][:8]}",
        "members": [{"value": babs["id"]}, {"value": plain["id"]}]}), 201)
    members = {m["value"]: m.get("display") for m in
               scim_json(acme.get(f"/Groups/{group['id']}"), 200)["members"]}
    assert members == {babs["id"]: "Babs Jensen",
                       plain["id"]: plain["userName"]}
    # a rename shows on the next read
    acme.patch_ops(babs["id"], {"op": "replace", "path": "displayName",
                                "value": "Barbara Jensen"})
    got = scim_json(acme.get(f"/Groups/{group['id']}"), 200)["members"]
    assert {m["value"]: m.get("display") for m in got}[babs["id"]] \
        == "Barbara Jensen"
