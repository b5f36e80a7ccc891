"""Configuration errors are caught by `apache2 -t`; a server without its
database answers 503 instead of failing obscurely."""

import pytest

from harness import (ANY_EXCEPT_CRASH, ITEST, Org, assert_error, new_token,
                     retry_after_ok, token_hash, user_body, describe)


def configtest_output(res):
    return (res.stdout + res.stderr).strip()


def test_valid_configuration_passes_configtest(make_server):
    server = make_server("conf-ok", start=False, orgs=[
        Org("acme", [new_token(), new_token()],
            directives=["ScimMaxBodySize 4096", "ScimMaxResults 50"])])
    res = server.configtest()
    assert res.returncode == 0, configtest_output(res)
    assert "Syntax OK" in configtest_output(res)


@pytest.mark.parametrize("arg", [
    "not-a-hash",
    "sha256:",
    "sha256:" + "0" * 63,
    "sha256:" + "0" * 65,
    "sha256:" + "g" * 64,
    "sha256: " + "0" * 64,
    "md5:" + "0" * 32,
])
def test_malformed_scimtoken_fails_configtest(make_server, arg):
    server = make_server("conf-token", start=False,
                         orgs=[Org("acme", [], raw_token_lines=[f'"{arg}"'])])
    res = server.configtest()
    out = configtest_output(res)
    assert res.returncode != 0, f"apache2 -t accepted ScimToken {arg!r}:\n{out}"
    assert "ScimToken" in out, f"the message must name ScimToken:\n{out}"


def test_scimtoken_line_from_the_token_tool_format_is_accepted(make_server):
    tok = new_token()
    server = make_server("conf-token-ok", start=False,
                         orgs=[Org("acme", [], raw_token_lines=[f"sha256:{token_hash(tok)}"])])
    res = server.configtest()
    assert res.returncode == 0, configtest_output(res)


@pytest.mark.parametrize("directive", ["ScimMaxBodySize abc", "ScimMaxResults abc"])
def test_malformed_limits_fail_configtest(make_server, directive):
    server = make_server("conf-limit", start=False,
                         orgs=[Org("acme", [new_token()], directives=[directive])])
    res = server.configtest()
    out = configtest_output(res)
    assert res.returncode != 0, f"apache2 -t accepted {directive!r}:\n{out}"
    assert directive.split()[0] in out, out


def test_organization_without_tokens_is_closed(make_server):
    # Either the configuration is refused, or every request is 401: an
    # organization without ScimToken must never be open.
    server = make_server("conf-notoken", start=False, orgs=[Org("acme", [])])
    res = server.configtest()
    if res.returncode != 0:
        assert "ScimToken" in configtest_output(res), configtest_output(res)
        return
    server.start()
    c = server.client(token=None)
    resp = c.get("/Users")
    assert_error(resp, 401)
    assert_error(c.post("/Users", user_body()), 401)
    assert_error(c.get("/Users", token="anything"), 401)
    assert_error(c.get("/Users", token=""), 401)


def test_missing_database_directory_gives_503(make_server):
    missing = ITEST / "no-such-directory" / "scim.db"
    assert not missing.parent.exists()
    server = make_server("nodb", orgs=[Org("acme", [new_token()])],
                         dbd_params=str(missing),
                         allow_log=[ANY_EXCEPT_CRASH])
    c = server.client()
    for resp in (c.get("/Users"),
                 c.get("/Users", params={"filter": 'userName eq "x"'}),
                 c.post("/Users", user_body()),
                 c.get("/Users/some-id"),
                 c.delete("/Users/some-id")):
        assert_error(resp, 503)
        assert retry_after_ok(resp), "503 needs Retry-After" + describe(resp)


def test_scim_at_the_root_of_a_virtual_host(make_server):
    """<Location /> makes the host itself the SCIM root: /Users works and
    meta.location has no doubled slash."""
    server = make_server("root-location", orgs=[
        Org("rooted", [new_token()], path="/")])
    c = server.client("rooted")
    resp = c.post("/Users", user_body())
    assert resp.status_code == 201, describe(resp)
    location = resp.json()["meta"]["location"]
    assert location == f"http://127.0.0.1:{server.port}/Users/{resp.json()['id']}"
    assert c.get(f"/Users/{resp.json()['id']}").status_code == 200
