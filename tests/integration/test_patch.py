"""PATCH /Users/{id} (RFC 7644 3.5.2) and the dialects Entra ID and Okta send
(Entra's documented PATCH requests and quirks, Okta's flow)."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import (CORE_USER, ENTERPRISE, MEMBERSHIP, PATCH_OP, ScimClient,
                     assert_error, describe, scim_json, strip_meta, unique)


def entra_user(c, **extra):
    un = unique("patch")
    body = {
        "schemas": [CORE_USER, ENTERPRISE],
        "externalId": "ext-" + un,
        "userName": un,
        "active": True,
        "displayName": "Original Display",
        "emails": [{"primary": True, "type": "work", "value": un},
                   {"type": "home", "value": "home-" + un}],
        "name": {"formatted": "givenName familyName", "familyName": "familyName",
                 "givenName": "givenName"},
        ENTERPRISE: {"employeeNumber": "1000", "department": "Ops"},
    }
    body.update(extra)
    return c.create_user(body)


def patched(resp):
    """PATCH of a user answers 200 with the resource."""
    body = scim_json(resp, 200)
    assert body.get("id"), describe(resp)
    return body


def work_email(u):
    return [e["value"] for e in u.get("emails", []) if e.get("type") == "work"]


def test_entra_replace_multi_valued(acme):
    u = entra_user(acme)
    resp = acme.patch(f"/Users/{u['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "Replace", "path": "emails[type eq \"work\"].value",
             "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        ]})
    p = patched(resp)
    assert work_email(p) == ["updatedEmail@microsoft.com"]
    assert [e["value"] for e in p["emails"] if e.get("type") == "home"] == \
        ["home-" + u["userName"]], "the other email must be untouched"
    assert p["name"]["familyName"] == "updatedFamilyName"
    assert p["name"]["givenName"] == "givenName"
    assert p["meta"]["version"] != u["meta"]["version"]
    assert resp.headers.get("ETag") == p["meta"]["version"]
    got = acme.get_user(u["id"])
    assert work_email(got) == ["updatedEmail@microsoft.com"]
    assert got["name"]["familyName"] == "updatedFamilyName"


def test_entra_replace_username(acme):
    u = entra_user(acme)
    new = unique("renamed")
    p = patched(acme.patch(f"/Users/{u['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": "userName", "value": new}]}))
    assert p["userName"] == new
    assert acme.filter_users(f'userName eq "{new}"')["totalResults"] == 1
    assert acme.filter_users(f'userName eq "{u["userName"]}"')["totalResults"] == 0


@pytest.mark.parametrize("false_value,true_value", [
    ("False", "True"),        # Entra default
    (False, True),            # aadOptscim062020
    ("false", "true"),
])
def test_disable_and_enable(acme, false_value, true_value):
    u = entra_user(acme)
    p = patched(acme.patch(f"/Users/{u['id']}", {
        "Operations": [{"op": "Replace", "path": "active", "value": false_value}],
        "schemas": [PATCH_OP]}))
    assert p["active"] is False
    got = acme.get_user(u["id"])
    assert got["active"] is False, "active must be stored as a JSON boolean"
    p = patched(acme.patch_ops(u["id"], {"op": "Replace", "path": "active",
                                         "value": true_value}))
    assert p["active"] is True
    assert acme.get_user(u["id"])["active"] is True


def test_entra_default_replace_several_attributes(acme):
    u = entra_user(acme)
    p = patched(acme.patch_ops(
        u["id"],
        {"op": "Replace", "path": "displayName", "value": "New Display"},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "w@new.example"},
        {"op": "Replace", "path": "name.givenName", "value": "NewGiven"},
        {"op": "Replace", "path": "name.familyName", "value": "NewFamily"},
        {"op": "Replace", "path": "externalId", "value": "new-external"},
        {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "2000"},
    ))
    assert p["displayName"] == "New Display"
    assert work_email(p) == ["w@new.example"]
    assert p["name"]["givenName"] == "NewGiven"
    assert p["name"]["familyName"] == "NewFamily"
    assert p["externalId"] == "new-external"
    assert p[ENTERPRISE]["employeeNumber"] == "2000"
    assert p[ENTERPRISE]["department"] == "Ops"


def test_entra_no_path_replace_with_dotted_and_urn_keys(acme):
    # aadOptscim062020: one no-path replace whose value uses dotted and URN keys
    u = entra_user(acme)
    p = patched(acme.patch_ops(
        u["id"],
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x@new.example"},
        {"op": "replace", "value": {
            "displayName": "Flag Display",
            "name.givenName": "FlagGiven",
            "name.familyName": "FlagFamily",
            f"{ENTERPRISE}:employeeNumber": "3000",
        }}))
    assert p["displayName"] == "Flag Display"
    assert p["name"]["givenName"] == "FlagGiven"
    assert p["name"]["familyName"] == "FlagFamily"
    assert p[ENTERPRISE]["employeeNumber"] == "3000"
    assert p[ENTERPRISE]["department"] == "Ops", "other extension attributes stay"
    assert work_email(p) == ["x@new.example"]
    for key in ("name.givenName", f"{ENTERPRISE}:employeeNumber"):
        assert key not in p, f"dotted key {key!r} stored literally"
    got = acme.get_user(u["id"])
    assert got["name"]["givenName"] == "FlagGiven"
    assert got[ENTERPRISE]["employeeNumber"] == "3000"


def test_validator_no_path_replace_username(acme):
    u = entra_user(acme)
    new = unique("np")
    p = patched(acme.patch_ops(u["id"], {"op": "replace", "value": {"userName": new}}))
    assert p["userName"] == new
    assert p["displayName"] == "Original Display"


def test_okta_deactivate_without_path(acme):
    u = entra_user(acme)
    p = patched(acme.patch(f"/Users/{u['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": False}}]}))
    assert p["active"] is False
    assert p["userName"] == u["userName"]
    assert p["emails"] == u["emails"], "a no-path replace must not clear other attributes"
    assert acme.get_user(u["id"])["active"] is False
    p = patched(acme.patch_ops(u["id"], {"op": "replace", "value": {"active": True}}))
    assert p["active"] is True


def test_okta_no_path_replace_with_read_only_id_is_accepted(acme):
    # Okta puts "id" in no-path values (group rename); it must be ignored.
    u = entra_user(acme)
    p = patched(acme.patch_ops(u["id"], {"op": "replace",
                                         "value": {"id": u["id"], "displayName": "Okta"}}))
    assert p["id"] == u["id"] and p["displayName"] == "Okta"


@pytest.mark.parametrize("path", ["manager", f"{ENTERPRISE}:manager"])
def test_entra_manager_add_as_array(acme, path):
    u = entra_user(acme)
    p = patched(acme.patch_ops(u["id"], {
        "op": "Add", "path": path,
        "value": [{"$ref": "http://example.com/Users/00aa1111",
                   "value": "00aa1111"}]}))
    assert p[ENTERPRISE]["manager"]["value"] == "00aa1111"
    assert not isinstance(p[ENTERPRISE]["manager"], list)
    assert p[ENTERPRISE]["employeeNumber"] == "1000"
    assert acme.get_user(u["id"])[ENTERPRISE]["manager"]["value"] == "00aa1111"


def test_entra_manager_add_as_bare_string(acme):
    u = entra_user(acme)
    p = patched(acme.patch_ops(u["id"], {"op": "Add", "path": f"{ENTERPRISE}:manager",
                                         "value": "271"}))
    assert p[ENTERPRISE]["manager"]["value"] == "271"
    p = patched(acme.patch_ops(u["id"], {"op": "Replace", "path": f"{ENTERPRISE}:manager",
                                         "value": {"value": "272"}}))
    assert p[ENTERPRISE]["manager"]["value"] == "272"
    p = patched(acme.patch_ops(u["id"], {"op": "Remove", "path": f"{ENTERPRISE}:manager"}))
    assert "manager" not in p.get(ENTERPRISE, {})
    assert "manager" not in acme.get_user(u["id"]).get(ENTERPRISE, {})


def test_entra_add_single_value_string(acme):
    u = entra_user(acme)
    p = patched(acme.patch_ops(u["id"], {"op": "Add", "path": "nickName", "value": "Babs"}))
    assert p["nickName"] == "Babs"
    p = patched(acme.patch_ops(u["id"], {"op": "Remove", "path": "nickName"}))
    assert "nickName" not in p


def test_add_value_path_creates_missing_element(acme):
    # Entra validator: add emails[type eq "work"].value on a user without a
    # work email creates {type: work, value: ...}.
    un = unique("vp")
    u = acme.create_user({"schemas": [CORE_USER], "userName": un})
    p = patched(acme.patch_ops(u["id"], {"op": "add",
                                         "path": "emails[type eq \"work\"].value",
                                         "value": "created@work.example"}))
    assert work_email(p) == ["created@work.example"]


def test_remove_value_path_removes_only_matching_element(acme):
    u = entra_user(acme)
    p = patched(acme.patch_ops(u["id"], {"op": "remove",
                                         "path": "emails[type eq \"home\"]"}))
    assert [e["type"] for e in p["emails"]] == ["work"]


def test_add_to_multi_valued_appends(acme):
    u = entra_user(acme)
    p = patched(acme.patch_ops(u["id"], {"op": "add", "path": "phoneNumbers",
                                         "value": [{"type": "mobile", "value": "+1 555 0199"}]}))
    assert p["phoneNumbers"] == [{"type": "mobile", "value": "+1 555 0199"}]
    p = patched(acme.patch_ops(u["id"], {"op": "add", "path": "emails",
                                         "value": [{"type": "other", "value": "o@x.example"}]}))
    assert len(p["emails"]) == 3


def test_replace_of_a_complex_attribute_merges_sub_attributes(acme):
    # RFC 7644 3.5.2.3: sub-attributes not in the value are left unchanged
    u = entra_user(acme)
    p = patched(acme.patch_ops(u["id"], {"op": "replace", "path": "name",
                                         "value": {"givenName": "Merged"}}))
    assert p["name"]["givenName"] == "Merged"
    assert p["name"]["familyName"] == "familyName"
    p = patched(acme.patch_ops(u["id"], {"op": "add", "path": "name",
                                         "value": {"middleName": "M"}}))
    assert p["name"]["middleName"] == "M" and p["name"]["givenName"] == "Merged"


def test_replace_of_a_multi_valued_attribute_replaces_all_values(acme):
    u = entra_user(acme)
    p = patched(acme.patch_ops(u["id"], {"op": "replace", "path": "emails",
                                         "value": [{"type": "work", "value": "only@x.example",
                                                    "primary": True}]}))
    assert [e["value"] for e in p["emails"]] == ["only@x.example"]


def test_boolean_strings_inside_multi_valued_attributes(acme):
    # Entra validator: boolean serialisation of roles[].primary
    un = unique("roles")
    u = acme.create_user({"schemas": [CORE_USER], "userName": un, "roles": [
        {"primary": "True", "type": "WindowsAzureActiveDirectoryRole",
         "display": "Admin", "value": "admin"}]})
    assert u["roles"][0]["primary"] is True
    p = patched(acme.patch_ops(u["id"], {"op": "Add", "path": "roles", "value": [
        {"primary": "False", "value": "reader", "display": "Reader"}]}))
    reader = [r for r in p["roles"] if r["value"] == "reader"]
    assert reader and reader[0]["primary"] is False
    assert acme.get_user(u["id"])["roles"][0]["primary"] is True


# ---- errors: 400 with the right scimType, resource unchanged ---------------

def unchanged(acme, before, resp, status, scim_type):
    """Asserts the error, then that the stored resource equals `before`."""
    assert_error(resp, status, scim_type)
    after = acme.get_user(before["id"])
    assert after["meta"]["version"] == before["meta"]["version"], \
        "a rejected PATCH must not change the resource"
    assert strip_meta(after) == strip_meta(before)


@pytest.mark.parametrize("ops,scim_type", [
    ([{"op": "remove"}], "noTarget"),
    ([{"op": "Remove"}], "noTarget"),
    ([{"op": "replace", "path": "bogusAttribute", "value": "x"}], "invalidPath"),
    ([{"op": "replace", "path": "emails[type eq \"work\"", "value": "x"}], "invalidPath"),
    ([{"op": "replace", "path": "name..givenName", "value": "x"}], "invalidPath"),
    ([{"op": "replace", "path": "id", "value": "new-id"}], "mutability"),
    ([{"op": "replace", "path": "meta.created", "value": "2000-01-01T00:00:00Z"}],
     "mutability"),
    ([{"op": "replace", "path": "active", "value": "maybe"}], "invalidValue"),
    ([{"op": "replace", "path": "userName", "value": 5}], "invalidValue"),
    ([{"op": "replace", "value": {"active": "maybe"}}], "invalidValue"),
    ([{"op": "replace", "path": "emails", "value": 42}], "invalidValue"),
    # the first op is valid: a rejected request applies none of its ops
    ([{"op": "replace", "path": "displayName", "value": "half"},
      {"op": "replace", "path": "active", "value": "maybe"}], "invalidValue"),
])
def test_patch_errors_leave_resource_unchanged(acme, ops, scim_type):
    u = entra_user(acme)
    u = acme.get_user(u["id"])
    resp = acme.patch(f"/Users/{u['id']}", {"schemas": [PATCH_OP], "Operations": ops})
    unchanged(acme, u, resp, 400, scim_type)


@pytest.mark.parametrize("body", [
    {"schemas": [PATCH_OP]},                                       # no Operations
    {"schemas": [PATCH_OP], "Operations": {"op": "add"}},          # not an array
    {"schemas": [PATCH_OP], "Operations": [{"op": "frobnicate", "path": "title",
                                            "value": "x"}]},
    {"schemas": [PATCH_OP], "Operations": [{"path": "title", "value": "x"}]},
    {"schemas": [PATCH_OP], "Operations": ["add"]},
    {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Bogus"],
     "Operations": [{"op": "add", "path": "title", "value": "x"}]},
])
def test_malformed_patch_documents_are_400(acme, body):
    u = acme.get_user(entra_user(acme)["id"])
    resp = acme.patch(f"/Users/{u['id']}", body)
    unchanged(acme, u, resp, 400, None)


def test_remove_required_username_is_rejected(acme):
    u = acme.get_user(entra_user(acme)["id"])
    resp = acme.patch_ops(u["id"], {"op": "remove", "path": "userName"})
    unchanged(acme, u, resp, 400, None)


def test_patch_cannot_touch_membership_state(acme):
    u = acme.get_user(entra_user(acme)["id"])
    resp = acme.patch_ops(u["id"], {"op": "replace", "path": f"{MEMBERSHIP}:state",
                                    "value": "linked"})
    assert resp.status_code in (200, 400), describe(resp)
    if resp.status_code == 400:
        assert_error(resp, 400, "mutability")
    resp = acme.patch_ops(u["id"], {"op": "replace", "value": {
        f"{MEMBERSHIP}:seat": True}})
    assert resp.status_code in (200, 400), describe(resp)
    got = acme.get_user(u["id"])
    assert got[MEMBERSHIP]["state"] == "provisioned"
    assert got[MEMBERSHIP]["seat"] is False


def test_patch_with_stale_if_match_is_412(acme):
    u = entra_user(acme)
    v1 = u["meta"]["version"]
    patched(acme.patch_ops(u["id"], {"op": "replace", "path": "title", "value": "one"}))
    resp = acme.patch_ops(u["id"], {"op": "replace", "path": "title", "value": "two"},
                          headers={"If-Match": v1})
    assert_error(resp, 412)
    assert acme.get_user(u["id"])["title"] == "one"


def test_patch_unknown_id_is_404(acme):
    resp = acme.patch_ops("0000000000000000000000",
                          {"op": "replace", "path": "active", "value": False})
    assert_error(resp, 404)


def test_removing_the_value_of_an_element_removes_the_element(acme):
    """Entra clears a user's work mail with remove emails[type eq "work"].value:
    no {"type": "work"} stub may stay behind for readers of emails[].value."""
    u = entra_user(acme)
    p = patched(acme.patch_ops(u["id"], {"op": "Remove",
                                         "path": "emails[type eq \"work\"].value"}))
    assert all("value" in e for e in p.get("emails", [])), p.get("emails")
    assert work_email(p) == []


def test_concurrent_patches_of_one_user_all_land(acme):
    """An IdP's parallel PATCHes of one user (each adding an entitlement)
    are each applied to what the others left: none is lost, refused or
    answered 412 without If-Match (on SQLite the read is part of the
    write's transaction; on PostgreSQL a PATCH that lost the race is read
    and applied again)."""
    u = entra_user(acme)

    def add(i):
        c = ScimClient(acme.base, acme.token)
        resp = c.patch_ops(u["id"], {"op": "add", "path": "entitlements",
                                     "value": [{"value": f"e{i}"}]})
        return resp.status_code, resp.text[:300]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(add, range(24)))
    assert [r for r in results if r[0] != 200] == []
    got = patched(acme.get(f"/Users/{u['id']}"))
    assert {e["value"] for e in got["entitlements"]} == \
        {f"e{i}" for i in range(24)}
    assert got["meta"]["version"] == f'W/"{1 + 24}"'


def test_concurrent_identical_patches_all_answer_200(acme):
    """Entra retries and resends: the same deactivation sent in parallel.
    The PATCHes that find it already applied answer 200 with the user, not
    412 or 503, and only one new version is made.  (The store's unit test
    modify_changes_the_version_it_read forces the race this may not meet:
    on PostgreSQL a PATCH that lost it and finds nothing left to change.)"""
    u = entra_user(acme)

    def deactivate(_):
        c = ScimClient(acme.base, acme.token)
        resp = c.patch_ops(u["id"], {"op": "replace", "path": "active",
                                     "value": "False"})
        return resp.status_code, resp.json().get("active"), resp.text[:300]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(deactivate, range(16)))
    assert [r for r in results if r[:2] != (200, False)] == []
    got = patched(acme.get(f"/Users/{u['id']}"))
    assert got["active"] is False
    assert got["meta"]["version"] == 'W/"2"'
