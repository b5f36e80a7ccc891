"""Bearer-token authentication per organization (ScimToken, README)."""

import re
import time

import pytest

from harness import (Org, assert_error, assert_list, new_token, scim_json,
                     token_hash, user_body)

# Every test here sends refused tokens: each may log the failure line
# (repeated ones are held back, so whether a test logs it depends on the
# tests before it).
AUTH_FAILURE = r"SCIM3002: bearer token authentication failure"
pytestmark = pytest.mark.expect_log(AUTH_FAILURE)


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


# ---- who the bearer is: labels, fingerprints, %u -------------------------

def scim_log_lines(path, count, timeout=5):
    """The lines of the log file about SCIM requests (not the harness's
    start-up probes of "/"), once there are count of them: the log phase
    runs after the response is sent."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text() if path.exists() else ""
        lines = [l for l in text.splitlines() if "/scim/" in l]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_access_log_shows_token_label_or_fingerprint(make_server):
    labelled, plain = new_token(), new_token()
    server = make_server("bearer-user", orgs=[Org(
        "acme", [plain],
        raw_token_lines=[f"sha256:{token_hash(labelled)} label=okta-prod"])],
        # relative to the ServerRoot; LogLevel shows SCIM3001
        extra_conf='LogFormat "%u %>s %U" bearer\nCustomLog users.log bearer\n'
                   "LogLevel warn scim:debug")
    c = server.client()
    assert_list(c.get("/Users", params={"count": 0}, token=labelled))
    assert_list(c.get("/Users", params={"count": 0}, token=plain))
    assert_401(c.get("/Users", token=plain + "x"))
    assert_401(c.get("/Users", token=None))

    path = "/scim/v2/acme/Users"
    lines = scim_log_lines(server.root / "users.log", 4)
    assert lines == [f"okta-prod 200 {path}",
                     f"sha256:{token_hash(plain)[:12]} 200 {path}",
                     f"- 401 {path}", f"- 401 {path}"], lines

    # neither a token nor its whole hash is written anywhere
    logs = "".join(p.read_text() for p in server.root.glob("*.log"))
    assert "bearer token of okta-prod accepted for acme" in logs
    for secret in (labelled, plain):
        assert secret not in logs
        assert token_hash(secret) not in logs


def test_fingerprint_is_stable_and_names_the_configured_line(make_server):
    tok = new_token()
    server = make_server("bearer-stable", orgs=[Org("acme", [tok])],
                         extra_conf='LogFormat "%u %U" bearer\n'
                                    "CustomLog users.log bearer")
    c = server.client()
    for _ in range(2):
        assert_list(c.get("/Users", params={"count": 0}))
    server.restart()
    assert_list(c.get("/Users", params={"count": 0}))
    lines = scim_log_lines(server.root / "users.log", 3)
    fingerprint = f"sha256:{token_hash(tok)[:12]}"
    assert lines == [f"{fingerprint} /scim/v2/acme/Users"] * 3, lines
    # the fingerprint is the start of the ScimToken value in the configuration
    assert f"ScimToken {fingerprint}" in server.conf.read_text()


# ---- tokens and nested locations (DESIGN: ScimToken) --------------------

def test_inner_location_of_another_organization_has_no_outer_token(make_server):
    outer, inner2 = new_token(), new_token()
    server = make_server("token-merge", orgs=[
        Org("outer", [outer], path="/scim/v2/outer"),
        # inside the outer location: names another organization, no token
        Org("inner", [], path="/scim/v2/outer/inner"),
        # another organization with a token of its own
        Org("inner2", [inner2], path="/scim/v2/outer/inner2"),
    ], extra_conf=(
        # inside the outer location, naming no organization: inherits all
        "<Location /scim/v2/outer/Groups>\n    ScimMaxResults 2\n</Location>"))

    assert_list(server.client("outer").get("/Users", params={"count": 0}))
    assert_list(server.client("outer").get("/Groups", params={"count": 0}))
    assert_401(server.client("inner", token=outer).get("/Users"))
    assert_401(server.client("inner", token=None).get("/Users"))
    assert_401(server.client("inner2", token=outer).get("/Users"))
    assert_list(server.client("inner2").get("/Users", params={"count": 0}))
    assert_401(server.client("outer", token=inner2).get("/Users"))

    # the inner organization is a store of its own, not the outer one's
    created = server.client("outer").create_user()
    assert_401(server.client("inner2").get(f"/Users/{created['id']}",
                                           token=outer))
    assert_error(server.client("inner2").get(f"/Users/{created['id']}"), 404)


def failure_lines(server, offset):
    return [l for l in server.log_since(offset)
            if "SCIM3002: bearer token authentication failure" in l]


def test_refusals_are_logged_with_reason_and_address_never_the_token(make_server):
    good, wrong = new_token(), new_token()
    server = make_server("authlog", orgs=[Org("acme", [good])])
    c = server.client()
    offset = server.log_size()
    assert_401(c.get("/Users", token=None))
    assert_401(c.get("/Users", token=wrong))
    assert_401(c.get("/Users", token=None, headers={"Authorization": f"Token {wrong}"}))
    assert_401(c.get("/Users", token=None, headers={"Authorization": wrong}))
    assert_401(c.get("/Users", token=None, headers={"Authorization": "Bearer "}))
    lines = failure_lines(server, offset)
    text = "\n".join(lines)
    for reason in ("no Authorization header",
                   "a bearer token that no ScimToken of this location accepts",
                   "Authorization scheme Token, not Bearer",
                   "without the Bearer scheme",
                   "an empty bearer token"):
        assert reason in text, text
    # mod_auth_basic's level for a wrong password, and the client address
    assert all("[scim:error]" in l and "from 127.0.0.1" in l
               and "organization acme" in l for l in lines), text
    assert wrong not in text and good not in text
    assert token_hash(wrong)[:12] not in text


def test_repeated_refusals_log_one_line_per_process(make_server):
    server = make_server("authburst", orgs=[Org("acme", [new_token()])])
    c = server.client(token=new_token())
    offset = server.log_size()
    for _ in range(20):
        assert_401(c.get("/Users"))
    lines = failure_lines(server, offset)
    pids = [re.search(r"\[pid (\d+)", l).group(1) for l in lines]
    assert lines and len(pids) == len(set(pids)), "\n".join(lines)
