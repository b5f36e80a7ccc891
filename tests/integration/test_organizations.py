"""Two organizations on one server share nothing but the database file."""

from harness import PATCH_OP, assert_error, scim_json, unique, user_body


def test_users_of_one_org_are_invisible_to_another(acme, globex):
    a = acme.create_user(externalId="iso-ext-" + unique("x"))
    aid = a["id"]

    assert globex.filter_users(f'userName eq "{a["userName"]}"')["totalResults"] == 0
    assert globex.filter_users(f'id eq "{aid}"')["totalResults"] == 0
    assert globex.filter_users(f'externalId eq "{a["externalId"]}"')["totalResults"] == 0

    ids = set()
    start, total = 1, globex.total_users()
    while start <= total:
        page = globex.list_users(startIndex=start, count=100)
        if not page["Resources"]:
            break
        ids.update(r["id"] for r in page["Resources"])
        start += len(page["Resources"])
    assert aid not in ids

    assert_error(globex.get(f"/Users/{aid}"), 404)
    assert_error(globex.put(f"/Users/{aid}", user_body(a["userName"], active=False)), 404)
    assert_error(globex.patch(f"/Users/{aid}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "active", "value": False}]}), 404)
    assert_error(globex.delete(f"/Users/{aid}"), 404)

    search = scim_json(globex.post("/Users/.search", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": f'userName eq "{a["userName"]}"'}), 200)
    assert search["totalResults"] == 0

    after = acme.get_user(aid)
    assert after["active"] is True
    assert after["meta"]["version"] == a["meta"]["version"]


def test_same_username_in_two_orgs(acme, globex):
    name = unique("both")
    a = acme.create_user(user_body(name))
    g = globex.create_user(user_body(name.upper()))
    assert a["id"] != g["id"]
    assert globex.filter_users(f'userName eq "{name}"')["totalResults"] == 1
    assert acme.filter_users(f'userName eq "{name}"')["totalResults"] == 1
    # deleting in one org leaves the other alone
    assert globex.delete(f"/Users/{g['id']}").status_code == 204
    assert acme.get_user(a["id"])["userName"] == name


def test_location_urls_name_the_right_org(acme, globex, httpd):
    g = globex.create_user()
    assert g["meta"]["location"] == f"{httpd.base_url('globex')}/Users/{g['id']}"
