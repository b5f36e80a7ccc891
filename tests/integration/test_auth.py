"""Bearer-token authentication per organization (ScimToken, README)."""

import pytest

from harness import assert_error, scim_json, token_hash, user_body, assert_list


def assert_401(resp):
    body = assert_error(resp, 401)
    www = resp.headers.get("WWW-Authenticate", "")
    assert www.startswith("Bearer"), f"WWW-Authenticate={www!r}"
    return body


@pytest.mark.parametrize("path", ["/Users", "/ServiceProviderConfig",
                                  "/Schemas", "/ResourceTypes"])
def test_missing_token_is_401(acme, path):
    assert_401(acme.get(path, token=None))


def test_wrong_token_is_401(acme, tokens):
    assert_401(acme.get("/Users", token=tokens["A"] + "x"))
    assert_401(acme.get("/Users", token=tokens["A"][:-1]))
    assert_401(acme.get("/Users", token="x" * 43))


def test_configured_hash_is_not_a_token(acme, tokens):
    # The configuration holds sha256(token); presenting the hash must fail.
    assert_401(acme.get("/Users", token=token_hash(tokens["A"])))
    assert_401(acme.get("/Users", token="sha256:" + token_hash(tokens["A"])))


@pytest.mark.parametrize("authorization", [
    "non-token",                        # Okta SPEC test step 11
    "Basic dXNlcjpwYXNzd29yZA==",
    "Bearer",
    "Bearer ",
])
def test_malformed_authorization_is_401(acme, authorization):
    resp = acme.get("/Users", token=None, headers={"Authorization": authorization})
    assert_401(resp)


def test_basic_with_the_token_as_password_is_401(acme, tokens):
    import base64
    cred = base64.b64encode(f"acme:{tokens['A']}".encode()).decode()
    assert_401(acme.get("/Users", token=None,
                        headers={"Authorization": f"Basic {cred}"}))


def test_both_rotation_tokens_work(acme, acme2):
    created = acme.create_user()
    # created with token A, read with A2 and the other way round
    got = scim_json(acme2.get(f"/Users/{created['id']}"), 200)
    assert got["id"] == created["id"]
    created2 = acme2.create_user()
    assert scim_json(acme.get(f"/Users/{created2['id']}"), 200)["id"] == created2["id"]


def test_bearer_scheme_is_case_insensitive(acme, tokens):
    # RFC 7235 2.1: the auth-scheme is case-insensitive.
    resp = acme.get("/Users", token=None, params={"count": 0},
                    headers={"Authorization": f"bearer {tokens['A']}"})
    assert_list(resp)


def test_token_of_other_org_is_401(acme, globex, tokens):
    assert_401(globex.get("/Users", token=tokens["A"]))
    assert_401(globex.get("/Users", token=tokens["A2"]))
    assert_401(acme.get("/Users", token=tokens["G"]))
    assert_401(acme.get("/ServiceProviderConfig", token=tokens["G"]))


def test_unauthenticated_writes_change_nothing(acme, globex, tokens):
    victim = acme.create_user()
    vid = victim["id"]
    body = user_body()

    assert_401(acme.post("/Users", body, token=None))
    assert_401(acme.post("/Users", body, token=tokens["G"]))
    assert acme.filter_users(f'userName eq "{body["userName"]}"')["totalResults"] == 0

    assert_401(acme.put(f"/Users/{vid}", user_body(victim["userName"], active=False),
                        token="wrong"))
    assert_401(acme.patch_ops(vid, {"op": "replace", "path": "active", "value": False},
                              token=tokens["G"]))
    assert_401(acme.delete(f"/Users/{vid}", token=None))
    assert_401(acme.delete(f"/Users/{vid}", token=tokens["G"]))

    after = acme.get_user(vid)
    assert after["active"] is True
    assert after["meta"]["version"] == victim["meta"]["version"]


def test_unknown_paths_need_the_token_too(acme):
    # Routing must not tell an anonymous caller what exists.
    assert_401(acme.get("/Foo", token=None))
    assert_401(acme.get("/Users/does-not-exist", token=None))
