"""Hostile requests a probe sends: each gets a clear 4xx (or, where the
request is valid SCIM, an empty answer), never a 5xx or a crash, and the
store is the same afterwards, compared resource by resource."""

import http.client
import json

import pytest

from harness import assert_error, assert_list, describe, user_body

# Refused tokens are logged (SCIM3002), as mod_auth_basic logs refusals.
pytestmark = pytest.mark.expect_log(r"SCIM3002")

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
PATCHOP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def snapshot(client):
    """Every user and group of the organization, as served."""
    out = {}
    for kind in ("/Users", "/Groups"):
        start = 1
        while True:
            page = assert_list(client.get(kind, params={"startIndex": start,
                                                        "count": 200}))
            for r in page["Resources"]:
                out[kind + "/" + r["id"]] = r
            if not page["Resources"]:
                break
            start += len(page["Resources"])
    return out


@pytest.fixture
def unchanged(acme, globex):
    """Fails the test if acme's or globex's store changed during it."""
    acme.create_user(user_body())      # something that could be damaged
    before = (snapshot(acme), snapshot(globex))
    yield
    assert (snapshot(acme), snapshot(globex)) == before, \
        "a hostile request changed the store"


def raw_request(httpd, method, target, headers=None, body=b""):
    conn = http.client.HTTPConnection("127.0.0.1", httpd.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_host=True,
                        skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def nested(depth):
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("where", ["create", "patch", "search"])
def test_ten_thousand_levels_of_nesting(acme, unchanged, where):
    deep = nested(10000)
    if where == "create":
        raw = ('{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], '
               '"userName": "deep", "x": ' + deep + "}")
        resp = acme.post("/Users", raw=raw.encode())
    elif where == "patch":
        uid = acme.list_users(count=1)["Resources"][0]["id"]
        raw = ('{"schemas": ["' + PATCHOP + '"], "Operations": [{"op": "add",'
               ' "path": "title", "value": ' + deep + "}]}")
        resp = acme.patch("/Users/" + uid, raw=raw.encode())
    else:
        raw = '{"schemas": ["' + SEARCH + '"], "filter": ' + deep + "}"
        resp = acme.post("/Users/.search", raw=raw.encode())
    assert_error(resp, 400, "invalidSyntax")


def test_one_megabyte_filters(acme, unchanged):
    # a long chain of conditions, a long garbage filter
    for expr in (" or ".join(['userName eq "x"'] * 40000)[:1000000],
                 "(" * 1000000, "userName eq " * 80000):
        resp = acme.post("/Users/.search",
                         {"schemas": [SEARCH], "filter": expr})
        assert_error(resp, 400, "invalidFilter")
    # a long value is a valid filter that matches nothing
    for attr in ("userName", "displayName", "emails.value"):
        resp = acme.post("/Users/.search", {
            "schemas": [SEARCH], "filter": f'{attr} eq "{"a" * 1000000}"'})
        assert assert_list(resp)["totalResults"] == 0
    # in the query string httpd's own line limit answers first
    resp = acme.get("/Users", params={"filter": "(" * 1000000})
    assert 400 <= resp.status_code < 500, describe(resp)


INJECTIONS = ["x' OR '1'='1", "x\" OR \"1\"=\"1", "'; DROP TABLE scim_resources;--",
              "\\'; DELETE FROM scim_members; --", "x%' OR 1=1 --",
              "1 UNION SELECT * FROM scim_resources"]


@pytest.mark.parametrize("text", INJECTIONS)
def test_sql_injection_in_filters(acme, unchanged, text):
    for expr in (f'userName eq {json.dumps(text)}',
                 f'externalId eq {json.dumps(text)}',
                 f'id eq {json.dumps(text)}',
                 f'displayName co {json.dumps(text)}',
                 f'emails[value sw {json.dumps(text)}]'):
        resp = acme.get("/Users", params={"filter": expr})
        assert assert_list(resp)["totalResults"] == 0, describe(resp)
    # unquoted: not a filter at all
    assert_error(acme.get("/Users", params={"filter": "userName eq " + text}),
                 400, "invalidFilter")


@pytest.mark.parametrize("text", INJECTIONS)
def test_sql_injection_in_ids(acme, unchanged, text):
    from urllib.parse import quote
    path = "/Users/" + quote(text, safe="")
    assert_error(acme.get(path), 404)
    assert_error(acme.delete(path), 404)
    assert_error(acme.put(path, user_body()), 404)
    assert_error(acme.patch(path, {"schemas": [PATCHOP], "Operations": [
        {"op": "replace", "path": "title", "value": "x"}]}), 404)
    assert_error(acme.patch("/Groups/" + quote(text, safe=""), {
        "schemas": [PATCHOP], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": text}]}]}),
        404)


@pytest.mark.parametrize("target", [
    "/scim/v2/acme/%2e%2e/globex/Users",
    "/scim/v2/acme/Users/%2e%2e/%2e%2e/globex/Users",
    "/scim/v2/acme/%2E%2E%2Fglobex/Users",
    "/scim/v2/acme/Users/..%2f..%2fglobex%2fUsers",
    "/scim/v2/acme/..;/globex/Users",
])
def test_dot_dot_paths_do_not_leave_the_organization(httpd, tokens, unchanged,
                                                     target):
    status, body = raw_request(httpd, "GET", target, {
        "Host": "127.0.0.1", "Authorization": f"Bearer {tokens['A']}"})
    assert 400 <= status < 500, (status, body[:300])
    assert b'"Resources"' not in body and b'"userName"' not in body


@pytest.mark.parametrize("params", [
    {"startIndex": str(2**63), "count": str(2**63)},
    {"startIndex": str(2**63 - 1), "count": str(2**63 - 1)},
    {"startIndex": str(-2**63), "count": str(-2**63)},
    {"startIndex": "9" * 100, "count": "9" * 100},
])
def test_huge_start_index_and_count(acme, unchanged, params):
    resp = acme.get("/Users", params=dict(params, sortBy="userName"))
    body = assert_list(resp)
    assert body["itemsPerPage"] <= 200
    resp = acme.get("/Users", params=params)
    assert_list(resp)


def test_huge_integers_in_a_search_request(acme, unchanged):
    raw = ('{"schemas": ["' + SEARCH + '"], "startIndex": ' + str(2**63)
           + ', "count": ' + str(2**64) + "}")
    resp = acme.post("/Users/.search", raw=raw.encode())
    assert 400 <= resp.status_code < 500, describe(resp)


def test_one_megabyte_token(httpd, acme, unchanged):
    resp = acme.with_token("t" * (1 << 20)).get("/Users")
    assert 400 <= resp.status_code < 500, describe(resp)
    resp = acme.with_token("t" * 8000).post("/Users", user_body())
    assert resp.status_code in (400, 401), describe(resp)


def test_tokens_elsewhere_than_the_bearer_header(acme, tokens, unchanged):
    token = tokens["A"]
    for params in ({"access_token": token}, {"token": token},
                   {"Authorization": f"Bearer {token}"}):
        assert_error(acme.get("/Users", params=params, token=None), 401)
        assert_error(acme.post("/Users", user_body(), params=params,
                               token=None), 401)
    import base64
    for user, password in ((token, ""), (token, token), ("acme", token)):
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        assert_error(acme.post("/Users", user_body(), token=None,
                               headers={"Authorization": f"Basic {basic}"}),
                     401)
    assert_error(acme.post("/Users", user_body(), token=None,
                           headers={"Authorization": f"Bearer {token}x"}), 401)
    assert_error(acme.post("/Users", user_body(), token=None,
                           headers={"Authorization": f"Bearer  {token} extra"}),
                 401)


def test_another_organizations_token(acme, globex, tokens, unchanged):
    other = acme.with_token(tokens["G"])
    victim = acme.list_users(count=1)["Resources"][0]["id"]
    assert_error(other.get("/Users"), 401)
    assert_error(other.post("/Users", user_body()), 401)
    assert_error(other.delete("/Users/" + victim), 401)
    assert_error(other.put("/Users/" + victim, user_body()), 401)
    assert_error(other.patch("/Users/" + victim, {"schemas": [PATCHOP],
        "Operations": [{"op": "replace", "path": "active", "value": False}]}),
        401)
    assert_error(other.post("/.search", {"schemas": [SEARCH]}), 401)


def test_trace_is_refused(httpd, tokens):
    status, body = raw_request(httpd, "TRACE", "/scim/v2/acme/Users", {
        "Host": "127.0.0.1", "Authorization": f"Bearer {tokens['A']}"})
    assert status == 405, (status, body[:300])
    assert tokens["A"].encode() not in body
