"""User create / read / replace / delete (RFC 7644 3.3, 3.4.1, 3.5.1, 3.6)."""

import json
import time

from harness import (CORE_USER, CUSTOM_EXT, ENTERPRISE, MEMBERSHIP, RFC3339,
                     assert_error, assert_list, scim_json, unique, user_body,
                     describe)


def full_user(user_name=None):
    user_name = user_name or unique("crud")
    return {
        "schemas": [CORE_USER, ENTERPRISE, CUSTOM_EXT],
        "id": "client-chosen-id",
        "externalId": "ext-" + user_name,
        "userName": user_name,
        "name": {"givenName": "Barbara", "familyName": "Jensen",
                 "formatted": "Barbara Jensen"},
        "displayName": "Babs Jensen",
        "title": "Engineer",
        "emails": [{"value": user_name, "type": "work", "primary": True},
                   {"value": "babs@home.example.com", "type": "home"}],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
        "active": True,
        "password": "t1meMa$heen",
        ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations",
                     "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}},
        CUSTOM_EXT: {"badgeColor": "green", "floor": 7},
    }


def test_create_returns_201_with_location_etag_and_meta(acme, httpd):
    sent = full_user()
    resp = acme.post("/Users", sent)
    u = scim_json(resp, 201)

    assert isinstance(u.get("id"), str) and u["id"]
    assert u["id"] != "client-chosen-id", "id must be assigned by the server"
    meta = u["meta"]
    assert meta["resourceType"] == "User"
    assert meta["location"] == f"{httpd.base_url('acme')}/Users/{u['id']}"
    assert resp.headers.get("Location") == meta["location"], describe(resp)
    assert meta.get("version"), "meta.version is required for ETags"
    assert resp.headers.get("ETag") == meta["version"], describe(resp)
    assert RFC3339.match(meta["created"]), meta
    assert RFC3339.match(meta["lastModified"]), meta


def test_create_echoes_attributes_and_extensions(acme):
    sent = full_user()
    u = scim_json(acme.post("/Users", sent), 201)

    assert u["userName"] == sent["userName"]
    assert u["externalId"] == sent["externalId"]
    assert u["name"]["givenName"] == "Barbara"
    assert u["name"]["familyName"] == "Jensen"
    assert u["displayName"] == "Babs Jensen"
    assert u["title"] == "Engineer"
    assert u["active"] is True
    assert sorted(e["value"] for e in u["emails"]) == \
        sorted(e["value"] for e in sent["emails"])
    assert u["phoneNumbers"][0]["value"] == "+1 555 0100"

    assert CORE_USER in u["schemas"]
    assert ENTERPRISE in u["schemas"]
    ent = u[ENTERPRISE]
    assert ent["employeeNumber"] == "701984"
    assert ent["department"] == "Tour Operations"
    assert ent["manager"]["value"] == "26118915-6090-4610-87e4-49d8ca9f808d"

    assert CUSTOM_EXT in u["schemas"], "a custom extension must be kept"
    assert u[CUSTOM_EXT] == {"badgeColor": "green", "floor": 7}

    # ... and the same from storage
    got = acme.get_user(u["id"])
    assert got[ENTERPRISE]["employeeNumber"] == "701984"
    assert got[CUSTOM_EXT] == {"badgeColor": "green", "floor": 7}
    assert got["emails"] == u["emails"]


def test_password_is_never_returned(acme):
    u = scim_json(acme.post("/Users", full_user()), 201)
    assert "password" not in u
    assert "password" not in acme.get_user(u["id"])
    found = acme.filter_users(f'id eq "{u["id"]}"')
    assert found["totalResults"] == 1 and "password" not in found["Resources"][0]
    asked = acme.filter_users(f'id eq "{u["id"]}"', attributes="password,userName")
    assert "password" not in asked["Resources"][0]
    asked = scim_json(acme.get(f"/Users/{u['id']}", params={"attributes": "password"}), 200)
    assert "password" not in asked
    put = scim_json(acme.put(f"/Users/{u['id']}",
                             user_body(u["userName"], password="n3w-Secret!")), 200)
    assert "password" not in put
    raw = acme.get(f"/Users/{u['id']}").text
    assert "t1meMa$heen" not in raw and "n3w-Secret!" not in raw


def test_new_user_is_provisioned_without_seat(acme):
    u = acme.create_user()
    assert MEMBERSHIP in u["schemas"]
    assert u[MEMBERSHIP]["state"] == "provisioned"
    assert u[MEMBERSHIP]["seat"] is False
    got = acme.get_user(u["id"])
    assert MEMBERSHIP in got["schemas"]
    assert got[MEMBERSHIP]["state"] == "provisioned"
    assert got[MEMBERSHIP]["seat"] is False


def test_client_cannot_grant_itself_a_seat(acme):
    body = user_body(schemas=[CORE_USER, MEMBERSHIP])
    body[MEMBERSHIP] = {"state": "linked", "seat": True,
                        "linked": "2020-01-01T00:00:00Z"}
    u = scim_json(acme.post("/Users", body), 201)
    assert u[MEMBERSHIP]["state"] == "provisioned"
    assert u[MEMBERSHIP]["seat"] is False
    assert "linked" not in u[MEMBERSHIP]

    body = user_body(u["userName"], schemas=[CORE_USER, MEMBERSHIP])
    body[MEMBERSHIP] = {"state": "linked", "seat": True}
    resp = acme.put(f"/Users/{u['id']}", body)
    assert resp.status_code in (200, 400), describe(resp)
    got = acme.get_user(u["id"])
    assert got[MEMBERSHIP]["state"] == "provisioned"
    assert got[MEMBERSHIP]["seat"] is False


def test_get_by_id_has_etag_and_if_none_match_gives_304(acme):
    u = acme.create_user()
    resp = acme.get(f"/Users/{u['id']}")
    got = scim_json(resp, 200)
    assert got["id"] == u["id"]
    etag = resp.headers.get("ETag")
    assert etag and etag == got["meta"]["version"], describe(resp)

    resp = acme.get(f"/Users/{u['id']}", headers={"If-None-Match": etag})
    assert resp.status_code == 304, describe(resp)
    assert resp.content == b""

    # a different ETag does not match
    resp = acme.get(f"/Users/{u['id']}", headers={"If-None-Match": 'W/"nope"'})
    scim_json(resp, 200)


def test_get_unknown_id_is_404(acme):
    assert_error(acme.get("/Users/0000000000000000000000"), 404)


def test_put_replaces_the_resource(acme):
    sent = full_user()
    u = scim_json(acme.post("/Users", sent), 201)
    time.sleep(1.1)  # lastModified has at least second resolution

    replacement = {
        "schemas": [CORE_USER],
        "userName": u["userName"],
        "name": {"givenName": "Barbara", "familyName": "Smith"},
        "active": True,
    }
    resp = acme.put(f"/Users/{u['id']}", replacement)
    put = scim_json(resp, 200)
    assert put["id"] == u["id"]
    assert put["name"]["givenName"] == "Barbara"
    assert put["name"]["familyName"] == "Smith"
    assert put["name"].get("formatted") != "Barbara Jensen"
    for gone in ("emails", "phoneNumbers", "displayName", "title", "externalId",
                 ENTERPRISE, CUSTOM_EXT):
        assert gone not in put, f"{gone} was not sent in the PUT and must be gone"
    assert ENTERPRISE not in put["schemas"]

    assert put["meta"]["version"] != u["meta"]["version"]
    assert resp.headers.get("ETag") == put["meta"]["version"]
    assert put["meta"]["created"] == u["meta"]["created"]
    assert RFC3339.match(put["meta"]["lastModified"])
    assert _ts(put["meta"]["lastModified"]) > _ts(u["meta"]["lastModified"])

    got = acme.get_user(u["id"])
    assert got["name"]["familyName"] == "Smith"
    assert "emails" not in got and ENTERPRISE not in got
    assert got[MEMBERSHIP]["state"] == "provisioned"


def _ts(s):
    from datetime import datetime
    return datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))


def test_put_with_stale_if_match_is_412_and_changes_nothing(acme):
    u = acme.create_user()
    v1 = u["meta"]["version"]
    changed = scim_json(acme.put(f"/Users/{u['id']}",
                                 user_body(u["userName"], displayName="first")), 200)
    v2 = changed["meta"]["version"]
    assert v2 != v1

    resp = acme.put(f"/Users/{u['id']}", user_body(u["userName"], displayName="second"),
                    headers={"If-Match": v1})
    assert_error(resp, 412)
    got = acme.get_user(u["id"])
    assert got["displayName"] == "first"
    assert got["meta"]["version"] == v2

    # the current ETag is accepted
    resp = acme.put(f"/Users/{u['id']}", user_body(u["userName"], displayName="third"),
                    headers={"If-Match": v2})
    assert scim_json(resp, 200)["displayName"] == "third"


def test_put_cannot_change_id(acme):
    u = acme.create_user()
    body = user_body(u["userName"], id="someone-else", displayName="renamed")
    put = scim_json(acme.put(f"/Users/{u['id']}", body), 200)
    assert put["id"] == u["id"]
    assert acme.get_user(u["id"])["displayName"] == "renamed"
    assert_error(acme.get("/Users/someone-else"), 404)


def test_put_of_the_whole_get_body_works(acme):
    # Okta: GET the user, change attributes, PUT the whole object back
    # (with id, meta, schemas and the read-only membership extension).
    u = acme.create_user(full_user())
    got = acme.get_user(u["id"])
    got["name"]["givenName"] = "Barb"
    got["active"] = False
    put = scim_json(acme.put(f"/Users/{u['id']}", got), 200)
    assert put["name"]["givenName"] == "Barb"
    assert put["active"] is False
    assert put[ENTERPRISE]["employeeNumber"] == "701984"
    assert put[MEMBERSHIP]["state"] == "provisioned"


def test_put_unknown_id_is_404(acme):
    assert_error(acme.put("/Users/0000000000000000000000", user_body()), 404)


def test_inactive_user_stays_readable_and_listable(acme):
    u = acme.create_user(active=False)
    assert u["active"] is False
    assert acme.get_user(u["id"])["active"] is False
    found = acme.filter_users(f'userName eq "{u["userName"]}"')
    assert found["totalResults"] == 1
    assert found["Resources"][0]["active"] is False
    assert acme.filter_users(f'id eq "{u["id"]}" and active eq false')["totalResults"] == 1

    # reachable through plain paging as well
    total = acme.total_users()
    ids = set()
    start = 1
    while start <= total:
        page = acme.list_users(startIndex=start, count=100)
        if not page["Resources"]:
            break
        ids.update(r["id"] for r in page["Resources"])
        start += len(page["Resources"])
    assert u["id"] in ids


def test_delete_then_404(acme):
    u = acme.create_user()
    resp = acme.delete(f"/Users/{u['id']}")
    assert resp.status_code == 204, describe(resp)
    assert resp.content == b""
    assert_error(acme.get(f"/Users/{u['id']}"), 404)
    assert_error(acme.delete(f"/Users/{u['id']}"), 404)
    assert acme.filter_users(f'userName eq "{u["userName"]}"')["totalResults"] == 0
    # the userName is free again
    again = acme.create_user(user_body(u["userName"]))
    assert again["id"] != u["id"], "ids are never reused"


def test_request_content_types(acme):
    # Okta sends "application/scim+json; charset=utf-8"; its create test
    # sends "application/json".
    for ct in ("application/scim+json; charset=utf-8", "application/json",
               "application/json; charset=utf-8"):
        resp = acme.post("/Users", user_body(), content_type=ct)
        scim_json(resp, 201)


def test_unicode_is_stored_exactly_as_sent(acme):
    name = unique("uni").replace("@", "+ñ@")
    u = acme.create_user(user_body(name, displayName="Zoë Ångström 日本語 🙂",
                                   name={"givenName": "Zoë", "familyName": "Müller"}))
    got = acme.get_user(u["id"])
    assert got["userName"] == name
    assert got["displayName"] == "Zoë Ångström 日本語 🙂"
    assert got["name"]["familyName"] == "Müller"
    body = acme.filter_users(f'userName eq "{name}"')
    assert [r["id"] for r in body["Resources"]] == [u["id"]]
    body = acme.filter_users(f'id eq "{u["id"]}" and name.familyName eq "Müller"')
    assert body["totalResults"] == 1
    body = acme.filter_users(f'id eq "{u["id"]}" and displayName co "日本"')
    assert body["totalResults"] == 1


def test_quotes_and_backslashes_in_username(acme):
    name = unique('q"uo\\te')
    u = acme.create_user(user_body(name))
    assert acme.get_user(u["id"])["userName"] == name
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    body = acme.filter_users(f'userName eq "{escaped}"')
    assert [r["id"] for r in body["Resources"]] == [u["id"]]
    assert_error(acme.post("/Users", user_body(name.upper())), 409, "uniqueness")


def test_chunked_request_body(acme):
    import json
    raw = json.dumps(user_body()).encode()
    resp = acme.post("/Users", raw=(raw[i:i + 50] for i in range(0, len(raw), 50)))
    scim_json(resp, 201)


def test_other_content_types_are_415(acme):
    body = user_body()
    resp = acme.post("/Users", body, content_type="text/plain")
    assert_error(resp, 415)
    resp = acme.post("/Users", raw=b"userName=x",
                     content_type="application/x-www-form-urlencoded")
    assert_error(resp, 415)
    assert acme.filter_users(f'userName eq "{body["userName"]}"')["totalResults"] == 0


def test_list_response_shape(acme):
    acme.create_user()
    body = assert_list(acme.get("/Users"))
    assert body["startIndex"] == 1
    assert body["totalResults"] >= 1
    for r in body["Resources"]:
        assert r["id"] and r["userName"]
        assert CORE_USER in r["schemas"]
        assert r["meta"]["resourceType"] == "User"
        assert r["meta"]["location"].endswith(f"/scim/v2/acme/Users/{r['id']}")


def test_user_created_without_active_is_active(acme):
    body = user_body()
    body.pop("active", None)
    u = scim_json(acme.post("/Users", body), 201)
    assert u["active"] is True
    assert acme.get_user(u["id"])["active"] is True


def test_blank_user_name_is_400(acme):
    total = acme.total_users()
    assert_error(acme.post("/Users", user_body(user_name="  \t")), 400,
                 "invalidValue")
    assert acme.total_users() == total


def test_trailing_slash_names_the_same_resource(acme):
    u = acme.create_user()
    resp = acme.get(f"/Users/{u['id']}/")
    assert scim_json(resp, 200)["id"] == u["id"]


def test_conditional_headers_follow_rfc_7232(acme):
    u = acme.create_user()
    etag = acme.get(f"/Users/{u['id']}").headers["ETag"]
    # a GET whose If-Match names another version
    assert_error(acme.get(f"/Users/{u['id']}", headers={"If-Match": 'W/"999"'}), 412)
    assert acme.get(f"/Users/{u['id']}", headers={"If-Match": etag}).status_code == 200
    # a write with If-None-Match: * (or the current version) must not happen
    op = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
          "Operations": [{"op": "replace", "path": "title", "value": "x"}]}
    for header in ("*", etag):
        assert_error(acme.patch(f"/Users/{u['id']}", op,
                                headers={"If-None-Match": header}), 412)
        assert_error(acme.delete(f"/Users/{u['id']}",
                                 headers={"If-None-Match": header}), 412)
    assert acme.get(f"/Users/{u['id']}").headers["ETag"] == etag


def test_me_and_bulk_are_not_implemented(acme):
    for path in ("/Me", "/Bulk"):
        assert_error(acme.get(path), 501)


def ordered(resp, status=200):
    """The body's JSON with every object as its ordered list of members:
    equal only for the same members in the same order."""
    scim_json(resp, status)
    return json.loads(resp.content, object_pairs_hook=list)


def test_default_view_is_the_full_form(acme):
    """A response without attributes or excludedAttributes may be written
    from the stored text (mod_scim serves stored members as they are); it
    must carry what the full form shows once projected: the same members
    in the same order, for a create's answer, a GET, a PATCH's answer, an
    IdP's lookups, pages and groups, with or without members."""
    none = {"excludedAttributes": "x509Certificates"}    # nobody has one
    sent = full_user()
    sent["displayName"] = 'Babs "B" \\ Jensen\n\u00e9\u65e5\U0001F600\x7f'
    created = acme.post("/Users", sent)
    user = scim_json(created, 201)
    path = f"/Users/{user['id']}"
    assert ordered(created, 201) == ordered(acme.get(path)), \
        "a create's answer is what a GET then gives"
    assert ordered(acme.get(path)) == ordered(acme.get(path, params=none))
    group = scim_json(acme.post("/Groups", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": unique("full-form"),
        "members": [{"value": user["id"]}]}), 201)
    empty = acme.post("/Groups", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": unique("no-members")})
    assert "members" not in scim_json(empty, 201), \
        "an empty member list is left out, as the default view leaves it"
    for p in (path, f"/Groups/{group['id']}",
              f"/Groups/{scim_json(empty, 201)['id']}"):
        assert ordered(acme.get(p)) == ordered(acme.get(p, params=none)), p
    patched = acme.patch(path, {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
    assert ordered(patched) == ordered(acme.get(path))
    lookups = [f'userName eq "{sent["userName"]}"',
               f'externalId eq "{sent["externalId"]}"',
               f'emails.value eq "{sent["userName"]}"',
               f'emails[type eq "work" and value eq "{sent["userName"]}"]']
    for f in lookups:
        a = ordered(acme.get("/Users", params={"filter": f}))
        b = ordered(acme.get("/Users", params={"filter": f, **none}))
        assert a == b, f
        assert dict(a)["totalResults"] == 1, f
    for params in ({"startIndex": 1, "count": 5}, {"cursor": "", "count": 5}):
        for ep in ("/Users", "/Groups"):
            a = ordered(acme.get(ep, params=params))
            b = ordered(acme.get(ep, params={**params, **none}))
            assert a == b, (ep, params)
