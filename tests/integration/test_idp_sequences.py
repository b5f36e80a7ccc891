"""The request sequences Microsoft Entra ID and Okta send, replayed in order:
Entra's documented user requests and known quirks, Okta's provisioning flow
and the steps of its SCIM 2.0 SPEC test."""

import time
import uuid

import pytest

from harness import (CORE_USER, ENTERPRISE, LIST_RESPONSE, ERROR, PATCH_OP,
                     assert_error, assert_list, scim_json, describe)

ENTRA_HEADERS = {"User-Agent": "Azure AD SCIM Provisioning", "ADSCIMVersion": "5.0"}


def test_entra_user_lifecycle(acme):
    c = acme
    c.headers.update(ENTRA_HEADERS)
    guid = uuid.uuid4().hex[:20]
    user_name = f"Test_User_{guid}"
    email = f"Test_User_{uuid.uuid4().hex[:20]}@testuser.com"
    external_id = str(uuid.uuid4())

    # Test Connection / start of cycle: random-GUID probe -> 200 empty list
    probe = c.filter_users(f'userName eq "{uuid.uuid4()}"')
    assert probe["totalResults"] == 0 and probe["Resources"] == []

    # matching query before create finds nothing
    assert c.filter_users(f'userName eq "{user_name}"')["totalResults"] == 0

    # Create (2.2), with the old example's nulls and Entra's "True" string
    resp = c.post("/Users", {
        "schemas": [CORE_USER, ENTERPRISE],
        "externalId": external_id,
        "userName": user_name,
        "active": "True",
        "addresses": None,
        "phoneNumbers": None,
        "title": None,
        "emails": [{"primary": True, "type": "work", "value": email}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName",
                 "givenName": "givenName"},
        "roles": [],
        ENTERPRISE: {"manager": None, "department": None},
    })
    u = scim_json(resp, 201)
    uid = u["id"]
    assert u["userName"] == user_name
    assert u["externalId"] == external_id
    assert u["active"] is True, "\"True\" must become the JSON boolean true"
    assert u["meta"]["created"] and u["meta"]["lastModified"]
    assert u["emails"][0]["value"] == email
    for unassigned in ("addresses", "phoneNumbers", "title"):
        assert u.get(unassigned) in (None, []), unassigned
    assert u.get("roles") in (None, [])

    # Get
    got = c.get_user(uid)
    assert got["userName"] == user_name and got["active"] is True

    # Get by query (default matching: userName, then externalId)
    found = c.filter_users(f'userName eq "{user_name}"')
    assert found["totalResults"] == 1 and found["startIndex"] == 1
    assert found["Resources"][0]["id"] == uid
    found = c.filter_users(f'externalId eq "{external_id}"')
    assert [r["id"] for r in found["Resources"]] == [uid]
    found = c.filter_users(f'emails[type eq "work"].value eq "{email}"')
    assert [r["id"] for r in found["Resources"]] == [uid]

    # Query, zero results
    zero = c.filter_users('userName eq "non-existent user"')
    assert zero["totalResults"] == 0 and zero["Resources"] == []

    # Update, multi-valued
    p = scim_json(c.patch(f"/Users/{uid}", {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "Replace", "path": "emails[type eq \"work\"].value",
             "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}]}),
        200)
    assert [e["value"] for e in p["emails"] if e.get("type") == "work"] == \
        ["updatedEmail@microsoft.com"]
    assert p["name"]["familyName"] == "updatedFamilyName"

    # Update, single-valued
    new_name = f"{uuid.uuid4()}@testuser.com"
    p = scim_json(c.patch(f"/Users/{uid}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": "userName", "value": new_name}]}), 200)
    assert p["userName"] == new_name

    # Disable (default dialect: "False" string)
    p = scim_json(c.patch(f"/Users/{uid}", {
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
        "schemas": [PATCH_OP]}), 200)
    assert p["active"] is False

    # the validator checks disable with a later GET; soft-deleted users stay
    got = c.get_user(uid)
    assert got["active"] is False
    assert got["userName"] == new_name
    found = c.filter_users(f'userName eq "{new_name}"')
    assert found["totalResults"] == 1 and found["Resources"][0]["active"] is False

    # restore
    p = scim_json(c.patch(f"/Users/{uid}", {
        "Operations": [{"op": "Replace", "path": "active", "value": "True"}],
        "schemas": [PATCH_OP]}), 200)
    assert p["active"] is True

    # Delete (30 days after soft delete)
    resp = c.delete(f"/Users/{uid}")
    assert resp.status_code == 204, describe(resp)
    assert_error(c.get(f"/Users/{uid}"), 404)
    assert c.filter_users(f'userName eq "{new_name}"')["totalResults"] == 0


def test_entra_manager_update_and_check_query(acme):
    # 2.2, older "Example" section: manager sent as a one-element array on
    # the bare path "manager", then the manager check query.
    acme.headers.update(ENTRA_HEADERS)
    u = acme.create_user()
    mgr = acme.create_user()
    p = scim_json(acme.patch(f"/Users/{u['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Add", "path": "manager",
                        "value": [{"$ref": mgr["meta"]["location"],
                                   "value": mgr["id"]}]}]}), 200)
    assert p[ENTERPRISE]["manager"]["value"] == mgr["id"]
    check = acme.filter_users(f'id eq "{u["id"]}" and manager eq "{mgr["id"]}"')
    assert [r["id"] for r in check["Resources"]] == [u["id"]]
    check = acme.filter_users(f'id eq "{u["id"]}" and manager eq "someone-else"')
    assert check["totalResults"] == 0


def test_entra_unquoted_external_id_query(acme):
    # 2.2 "Other documented user traffic": GET /Users?filter=externalId eq jyoung
    # (not RFC grammar; README accepts an unquoted word as a string).
    ext = "jyoung" + uuid.uuid4().hex[:8]
    u = acme.create_user(externalId=ext)
    body = acme.filter_users(f"externalId eq {ext}")
    assert [r["id"] for r in body["Resources"]] == [u["id"]]


def test_entra_create_after_failed_match_finds_existing_user(acme):
    # GitLab #263846: the matching query must find the user whatever the
    # case, so Entra links instead of POSTing into a 409.
    u = acme.create_user(userName=f"Mixed.Case.{uuid.uuid4().hex[:8]}@Contoso.com")
    found = acme.filter_users(f'userName eq "{u["userName"].lower()}"')
    assert [r["id"] for r in found["Resources"]] == [u["id"]]


# ---- Okta ------------------------------------------------------------------

OKTA_HEADERS = {"User-Agent": "OKTA SCIM Integration", "Accept": "application/scim+json"}
OKTA_CT = "application/scim+json; charset=utf-8"


def okta_user(user_name, **extra):
    body = {
        "schemas": [CORE_USER],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00u" + uuid.uuid4().hex[:17],
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }
    body.update(extra)
    return body


@pytest.mark.expect_log(r"SCIM3002: bearer token authentication failure")
def test_okta_spec_test_sequence(okta, tokens):
    c = okta
    c.headers.update(OKTA_HEADERS)
    c.content_type = OKTA_CT
    rnd = uuid.uuid4().hex[:10]
    # "at least one user must pre-exist"
    if c.total_users() == 0:
        c.create_user(okta_user(f"pre.existing.{rnd}@okta.local"))

    # 1. GET /Users?count=1&startIndex=1
    body = assert_list(c.get("/Users", params={"count": 1, "startIndex": 1}))
    assert LIST_RESPONSE in body["schemas"]
    assert body["Resources"], "Resources must not be empty"
    first = body["Resources"][0]
    for key in ("id", "userName", "active"):
        assert key in first, key
    assert first["name"]["familyName"] and first["name"]["givenName"]
    assert first["emails"][0]["value"]

    # 2. GET /Users/{that id}
    got = c.get_user(first["id"])
    assert got["id"] == first["id"]
    assert got["userName"] == first["userName"]
    assert got["name"]["familyName"] == first["name"]["familyName"]
    assert got["emails"][0]["value"] == first["emails"][0]["value"]

    # 3. filter on an invalid email -> 200, 0 results
    body = c.filter_users(f'userName eq "{rnd}@@example..com"')
    assert body["totalResults"] == 0

    # 4. GET a non-existent id -> 404 with detail
    err = assert_error(c.get(f"/Users/{uuid.uuid4()}"), 404)
    assert err["detail"]

    # 5. filter on a random userName -> 200, 0 results
    user_name = f"okta.spec.{rnd}@example.com"
    assert c.filter_users(f'userName eq "{user_name}"')["totalResults"] == 0

    # 6. POST /Users, sent as application/json
    resp = c.post("/Users", okta_user(user_name), content_type="application/json")
    new = scim_json(resp, 201)
    assert new["active"] is True
    assert new["id"]
    assert new["userName"] == user_name
    assert new["name"]["givenName"] == "Test" and new["name"]["familyName"] == "User"
    assert CORE_USER in new["schemas"]
    assert "password" not in new

    # 7. GET /Users/{new id}
    got = c.get_user(new["id"])
    assert got["userName"] == user_name
    assert got["name"] == new["name"]
    assert got["active"] is True

    # 8. POST the same user again -> 409
    assert_error(c.post("/Users", okta_user(user_name), content_type="application/json"),
                 409, "uniqueness")

    # 9. username case sensitivity check
    body = c.filter_users(f'userName eq "{user_name.upper()}"')
    assert body["totalResults"] == 1 and body["Resources"][0]["id"] == new["id"]

    # 10. (optional step: GET /Groups; see test_okta_spec_groups_step)

    # 11. a non-token Authorization -> 401
    resp = c.get("/Users", params={"filter": f'userName eq "{user_name}"'}, token=None,
                 headers={"Authorization": "non-token"})
    err = assert_error(resp, 401)
    assert err["status"] == "401" and ERROR in err["schemas"]

    # 12. GET /Users/00919288221112222 -> 404
    err = assert_error(c.get("/Users/00919288221112222"), 404)
    assert err["status"] == "404" and err["detail"]


def test_okta_spec_groups_step(okta):
    # SPEC test step 10 (optional in Okta's suite, but mod_scim serves
    # /Groups): GET /Groups -> 200 ListResponse in < 600 ms.
    okta.headers.update(OKTA_HEADERS)
    t0 = time.monotonic()
    resp = okta.get("/Groups")
    elapsed = time.monotonic() - t0
    assert_list(resp)
    assert elapsed < 0.6, f"GET /Groups took {elapsed:.3f}s"


def test_okta_provisioning_flow(okta):
    c = okta
    c.headers.update({"User-Agent": "Okta SCIM Client 1.0.0"})
    c.content_type = OKTA_CT
    user_name = f"test.user.{uuid.uuid4().hex[:8]}@okta.local"

    # create: lookup first (startIndex=1&count=100), then POST
    body = c.filter_users(f'userName eq "{user_name}"', startIndex=1, count=100)
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"],
            body["Resources"]) == (0, 1, 0, [])
    u = c.create_user(okta_user(user_name))
    assert u["displayName"] == "Test User" and u["locale"] == "en-US"

    # the next lookup links to it
    body = c.filter_users(f'userName eq "{user_name}"', startIndex=1, count=100)
    assert [r["id"] for r in body["Resources"]] == [u["id"]]

    # update: GET, change, PUT the whole object
    got = c.get_user(u["id"])
    got["name"]["givenName"] = "Changed"
    got["password"] = "n3wPassw0rd"
    put = scim_json(c.put(f"/Users/{u['id']}", got), 200)
    assert put["name"]["givenName"] == "Changed"
    assert "password" not in put
    assert put["externalId"] == u["externalId"]

    # deactivate (OIN: PATCH without path)
    p = scim_json(c.patch(f"/Users/{u['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": False}}]}), 200)
    assert p["active"] is False
    assert c.get_user(u["id"])["active"] is False

    # reactivate
    p = scim_json(c.patch(f"/Users/{u['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": True}}]}), 200)
    assert p["active"] is True

    # AIW integrations deactivate with PUT
    got = c.get_user(u["id"])
    got["active"] = False
    assert scim_json(c.put(f"/Users/{u['id']}", got), 200)["active"] is False
    assert c.get_user(u["id"])["name"]["givenName"] == "Changed"

    # import: page through everyone; the user is there, once
    total = c.total_users()
    seen = []
    start = 1
    while start <= total:
        page = c.list_users(startIndex=start, count=100)
        assert page["totalResults"] == total
        seen += [r["id"] for r in page["Resources"]]
        start += 100
    assert len(seen) == total == len(set(seen))
    assert u["id"] in seen
