"""Discovery endpoints (RFC 7644 4, RFC 7643 5-7): what an IdP reads when the
admin saves the provisioning configuration (Entra schema discovery)."""

import pytest

from harness import (CORE_USER, ENTERPRISE, MEMBERSHIP, SPC_SCHEMA,
                     TINY_MAX_RESULTS, assert_error, assert_list, scim_json)


def attr(schema, name):
    for a in schema.get("attributes", []):
        if a["name"].lower() == name.lower():
            return a
    raise AssertionError(f"attribute {name} missing from {schema.get('id')}")


def test_service_provider_config(acme):
    spc = scim_json(acme.get("/ServiceProviderConfig"), 200)
    assert SPC_SCHEMA in spc["schemas"]
    assert spc["patch"]["supported"] is True
    assert spc["filter"]["supported"] is True
    assert type(spc["filter"]["maxResults"]) is int and spc["filter"]["maxResults"] > 0
    assert spc["sort"]["supported"] is True
    assert spc["etag"]["supported"] is True
    assert spc["bulk"]["supported"] is False
    assert spc["changePassword"]["supported"] is False
    schemes = spc["authenticationSchemes"]
    assert schemes and any(s.get("type") == "oauthbearertoken" for s in schemes)
    for s in schemes:
        assert s.get("name") and s.get("description")


def test_max_results_follows_the_configuration(tiny):
    spc = scim_json(tiny.get("/ServiceProviderConfig"), 200)
    assert spc["filter"]["maxResults"] == TINY_MAX_RESULTS


def test_resource_types(acme):
    body = assert_list(acme.get("/ResourceTypes"))
    by_name = {r["name"]: r for r in body["Resources"]}
    user = by_name["User"]
    assert user["endpoint"] == "/Users"
    assert user["schema"] == CORE_USER
    exts = {e["schema"]: e for e in user.get("schemaExtensions", [])}
    assert ENTERPRISE in exts and exts[ENTERPRISE]["required"] is False

    one = scim_json(acme.get("/ResourceTypes/User"), 200)
    assert one["name"] == "User" and one["endpoint"] == "/Users"
    assert_error(acme.get("/ResourceTypes/Nope"), 404)


def test_schemas_list(acme):
    body = assert_list(acme.get("/Schemas"))
    by_id = {s["id"]: s for s in body["Resources"]}
    for urn in (CORE_USER, ENTERPRISE, MEMBERSHIP):
        assert urn in by_id, f"{urn} missing from /Schemas"
        assert by_id[urn]["attributes"], f"{urn} has no attributes"
    membership = by_id[MEMBERSHIP]
    for name in ("state", "linked", "seat"):
        assert attr(membership, name)["mutability"] == "readOnly"
    assert attr(membership, "seat")["type"] == "boolean"
    assert attr(membership, "linked")["type"] == "dateTime"


def test_core_user_schema(acme):
    s = scim_json(acme.get(f"/Schemas/{CORE_USER}"), 200)
    assert s["id"] == CORE_USER
    un = attr(s, "userName")
    assert un["uniqueness"] == "server"
    assert un["caseExact"] is False
    assert un["required"] is True
    assert un["type"] == "string"
    pw = attr(s, "password")
    assert pw["mutability"] == "writeOnly" and pw["returned"] == "never"
    emails = attr(s, "emails")
    assert emails["multiValued"] is True and emails["type"] == "complex"
    assert {a["name"] for a in emails["subAttributes"]} >= {"value", "type", "primary"}
    assert attr(s, "active")["type"] == "boolean"


def test_enterprise_schema(acme):
    s = scim_json(acme.get(f"/Schemas/{ENTERPRISE}"), 200)
    assert s["id"] == ENTERPRISE
    manager = attr(s, "manager")
    assert manager["type"] == "complex"
    assert "value" in {a["name"] for a in manager["subAttributes"]}
    attr(s, "employeeNumber")


def test_unknown_schema_is_404(acme):
    assert_error(acme.get("/Schemas/urn:example:nope"), 404)


@pytest.mark.parametrize("path", ["/ServiceProviderConfig", "/ResourceTypes",
                                  "/ResourceTypes/User", "/Schemas",
                                  f"/Schemas/{CORE_USER}"])
@pytest.mark.expect_log(r"SCIM3002: bearer token authentication failure")
def test_discovery_needs_the_token(acme, path):
    resp = acme.get(path, token=None)
    assert_error(resp, 401)
    assert resp.headers.get("WWW-Authenticate", "").startswith("Bearer")


def test_core_schema_descriptions_are_rfc_7643s(acme):
    # RFC 7643 8.7.1; IdP test suites compare them
    assert scim_json(acme.get(f"/Schemas/{CORE_USER}"), 200)["description"] \
        == "User Account"
    group = "urn:ietf:params:scim:schemas:core:2.0:Group"
    assert scim_json(acme.get(f"/Schemas/{group}"), 200)["description"] == "Group"
    types = {t["name"]: t for t in assert_list(acme.get("/ResourceTypes"))["Resources"]}
    assert types["User"]["description"] == "User Account"
    assert types["Group"]["description"] == "Group"


@pytest.mark.parametrize("path", ["/users", "/USERS", "/groups",
                                  "/serviceproviderconfig", "/schemas",
                                  "/resourcetypes", "/resourceTypes/User"])
def test_endpoint_names_ignore_case(acme, path):
    # Microsoft's reference tests: /users reaches /Users
    assert acme.get(path, params={"count": 0}).status_code == 200


def test_user_paths_ignore_case_in_the_endpoint_only(acme):
    user = acme.create_user()
    got = scim_json(acme.get(f"/users/{user['id']}"), 200)
    assert got["id"] == user["id"]
    assert got["meta"]["location"].endswith(f"/Users/{user['id']}")
    resp = acme.post("/users/.search", {"filter": f'id eq "{user["id"]}"'})
    assert assert_list(resp)["totalResults"] == 1


def test_bare_base_url_says_where_the_resources_are(acme, httpd):
    for path in ("", "/"):
        body = assert_error(acme.get(path), 404)
        base = httpd.base_url("acme")
        assert f"{base}/Users" in body["detail"], body
        assert f"{base}/ServiceProviderConfig" in body["detail"], body


def test_unknown_endpoint_lists_the_known_ones(acme):
    body = assert_error(acme.get("/Accounts"), 404)
    assert "/Accounts" in body["detail"] and "/Users" in body["detail"], body
