"""Configuration errors are caught by `apache2 -t`; a server without its
database answers 503 instead of failing obscurely."""

import pytest
import requests

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


@pytest.mark.expect_log(r"SCIM3002: bearer token authentication failure")
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


@pytest.mark.expect_log(r"SCIM3002: bearer token authentication failure")
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


# ---- mistakes `apache2 -t` refuses (DESIGN: configuration contract) ------

def line_of(server, text, whole_line=False, below=0):
    """"httpd.conf:N" of the first configuration line that contains text
    (or is text), or of the line that many lines below it."""
    for n, line in enumerate(server.conf.read_text().splitlines(), 1):
        if line == text if whole_line else text in line:
            return f"{server.conf}:{n + below}"
    raise AssertionError(f"{text!r} is not in {server.conf}")


def edit_config(server, drop=(), add=""):
    """Rewrites httpd.conf without the lines that start with one of drop
    (stripped), and with add appended."""
    kept = [l for l in server.conf.read_text().splitlines()
            if not l.strip().startswith(tuple(drop))]
    server.conf.write_text("\n".join(kept) + "\n" + add)


def assert_refused(server, *needles):
    res = server.configtest()
    out = configtest_output(res)
    assert res.returncode != 0, f"apache2 -t accepted the configuration:\n{out}"
    for needle in needles:
        assert needle in out, f"the message must contain {needle!r}:\n{out}"
    return out


def assert_accepted(server):
    res = server.configtest()
    assert res.returncode == 0, configtest_output(res)


def test_raw_token_in_scimtoken_names_the_token_tool(make_server):
    server = make_server("conf-rawtoken", start=False,
                         orgs=[Org("acme", [], raw_token_lines=[new_token()])])
    assert_refused(server, "ScimToken", "scim-token -s",
                   line_of(server, "ScimToken").rsplit(":", 1)[1])


def test_without_mod_dbd_configtest_fails(make_server):
    server = make_server("conf-nodbd", start=False)
    edit_config(server, drop=("LoadModule dbd_module", "DBDriver", "DBDParams"))
    assert_refused(server, "mod_dbd", "LoadModule dbd_module")


@pytest.mark.parametrize("missing", [("DBDriver",), ("DBDParams",),
                                     ("DBDriver", "DBDParams")])
def test_scim_location_without_database_fails_configtest(make_server, missing):
    server = make_server("conf-nodb", start=False)
    edit_config(server, drop=missing)
    out = assert_refused(server, "<Location /scim/v2/acme>",
                         line_of(server, "<Location /scim/v2/acme>"),
                         "DBDriver sqlite3", "DBDParams", *missing)
    if len(missing) == 1:
        present = ({"DBDriver", "DBDParams"} - set(missing)).pop()
        assert f"no {present}" not in out, out


def test_database_of_the_main_server_serves_its_virtual_hosts(make_server):
    server = make_server("conf-vhost", start=False)
    edit_config(server, add=(
        f"<VirtualHost 127.0.0.1:{server.port}>\n"
        "    ServerName vhost.example\n"
        "    <Location /scim/v2/vhosted>\n"
        "        SetHandler scim\n"
        "        ScimOrganization vhosted\n"
        "    </Location>\n"
        "</VirtualHost>\n"))
    assert_accepted(server)


def test_virtual_host_without_database_fails_configtest(make_server):
    server = make_server("conf-vhost-nodb", start=False, orgs=[])
    edit_config(server, drop=("DBDriver", "DBDParams"), add=(
        f"<VirtualHost 127.0.0.1:{server.port}>\n"
        "    ServerName other.example\n"
        "    DBDriver sqlite3\n"
        f"    DBDParams {server.db}\n"
        "</VirtualHost>\n"
        f"<VirtualHost 127.0.0.1:{server.port}>\n"
        "    ServerName vhost.example\n"
        "    <Location /scim/v2/vhosted>\n"
        "        SetHandler scim\n"
        "        ScimOrganization vhosted\n"
        "    </Location>\n"
        "</VirtualHost>\n"))
    assert_refused(server, "<Location /scim/v2/vhosted>", "no DBDriver or DBDParams",
                   "<VirtualHost 127.0.0.1:",
                   line_of(server, "ServerName vhost").rsplit(":", 1)[0])


def test_database_inside_ifmodule_is_seen(make_server):
    server = make_server("conf-ifmodule", start=False)
    text = server.conf.read_text()
    edit_config(server, drop=("DBDriver", "DBDParams"), add=(
        "<IfModule dbd_module>\n"
        + "".join(l + "\n" for l in text.splitlines()
                  if l.startswith(("DBDriver", "DBDParams")))
        + "</IfModule>\n"))
    assert_accepted(server)


def test_one_organization_on_two_scim_locations_fails(make_server):
    server = make_server("conf-duporg", start=False, extra_conf=(
        "<Location /scim/v2/acme-again>\n"
        "    SetHandler scim\n"
        "    ScimOrganization acme\n"
        "</Location>"))
    out = assert_refused(server, "ScimOrganization acme",
                         "<Location /scim/v2/acme>", "<Location /scim/v2/acme-again>",
                         line_of(server, "<Location /scim/v2/acme>"),
                         line_of(server, "<Location /scim/v2/acme-again>"),
                         "remove one")
    # the server does not start either
    with pytest.raises(RuntimeError) as started:
        server.start()
    assert "ScimOrganization acme" in str(started.value)


def test_one_organization_on_many_protected_locations_is_fine(make_server):
    # Locations that name the organization without being its SCIM endpoint
    # (access control for applications) may be many.
    server = make_server("conf-apps", start=False, extra_conf=(
        "<Location /app1>\n    ScimOrganization acme\n</Location>\n"
        "<Location /app2>\n    ScimOrganization acme\n</Location>\n"
        "<LocationMatch ^/app[3-9]>\n    ScimOrganization acme\n</LocationMatch>"))
    assert_accepted(server)


def test_sethandler_scim_without_organization_fails(make_server):
    server = make_server("conf-noorg", start=False, extra_conf=(
        "<Location /scim/v2/orphan>\n    SetHandler scim\n</Location>"))
    assert_refused(server, "SetHandler scim", "<Location /scim/v2/orphan>",
                   line_of(server, "<Location /scim/v2/orphan>"),
                   "add ScimOrganization")


def test_sethandler_scim_for_a_whole_server_fails(make_server):
    server = make_server("conf-serverwide", start=False, extra_conf="SetHandler scim")
    assert_refused(server, "SetHandler scim", "applies to a whole server",
                   line_of(server, "SetHandler scim", whole_line=True),
                   "<Location /path>")


@pytest.mark.parametrize("opening, closing", [
    ("<LocationMatch ^/scim/v2/rx>", "</LocationMatch>"),
    ('<Location ~ "^/scim/v2/rx">', "</Location>"),
])
def test_scim_endpoint_in_a_regex_section_fails(make_server, opening, closing):
    server = make_server("conf-regex", start=False, extra_conf=(
        f"{opening}\n    SetHandler scim\n    ScimOrganization rx\n{closing}"))
    assert_refused(server, "ScimOrganization", "regular expression",
                   "<Location /scim/v2/rx>", opening.split()[0],
                   line_of(server, "ScimOrganization rx").rsplit(":", 1)[1])


def test_sethandler_scim_in_a_regex_section_fails(make_server):
    server = make_server("conf-regex-noorg", start=False, extra_conf=(
        "<LocationMatch ^/scim/v2/rx>\n    SetHandler scim\n</LocationMatch>"))
    assert_refused(server, "SetHandler scim", "<LocationMatch>",
                   "<Location /path>",
                   line_of(server, "<LocationMatch", below=1))


def test_every_mistake_is_reported_at_once(make_server):
    server = make_server("conf-many", start=False, extra_conf=(
        "<Location /scim/v2/orphan>\n    SetHandler scim\n</Location>\n"
        "<Location /scim/v2/again>\n    SetHandler scim\n"
        "    ScimOrganization acme\n</Location>"))
    edit_config(server, drop=("DBDParams",))
    out = assert_refused(server, "/scim/v2/orphan", "/scim/v2/again",
                         "ScimOrganization acme is the SCIM endpoint")
    assert out.count("no DBDParams") == 2, out


@pytest.mark.parametrize("args", [
    "label=okta",                                       # no hash before it
    "sha256:{h} label=",                                # empty label
    "sha256:{h} label=okta:prod",                       # ':' is for fingerprints
    "sha256:{h} label=" + "x" * 65,
    "sha256:{h} label=a label=b",
])
def test_malformed_token_label_fails_configtest(make_server, args):
    h = token_hash(new_token())
    server = make_server("conf-label", start=False,
                         orgs=[Org("acme", [], raw_token_lines=[args.format(h=h)])])
    assert_refused(server, "ScimToken", "label=")


def test_token_labels_pass_configtest(make_server):
    h1, h2 = token_hash(new_token()), token_hash(new_token())
    server = make_server("conf-label-ok", start=False, orgs=[Org("acme", [], raw_token_lines=[
        f"sha256:{h1} label=okta-prod",
        f"sha256:{h2.upper()} LABEL=entra.test_2@acme",
        f"sha256:{h1} sha256:{h2} label=rotation"])])
    assert_accepted(server)


@pytest.mark.expect_log(r"Invalid command 'NotADirective'")
def test_endpoint_requests_skip_the_document_roots_directory_walk(make_server):
    """An endpoint's URLs name no file: its requests never look for
    .htaccess files (core's walk of the DocumentRoot costs a stat and an
    open for every segment of the path), while a file of the same server
    still gets them."""
    tok = new_token()
    server = make_server("nowalk", start=False, orgs=[Org("acme", [tok])],
                         extra_conf="<Directory />\n    AllowOverride All\n"
                                    "</Directory>")
    htdocs = server.root / "htdocs"
    (htdocs / ".htaccess").write_text("NotADirective on\n")
    (htdocs / "page.txt").write_text("a file\n")
    server.start()
    # the .htaccess is read for the file (and breaks it) ...
    page = requests.get(f"http://127.0.0.1:{server.port}/page.txt", timeout=10)
    assert page.status_code == 500, (page.status_code, page.text[:200])
    # ... but never for the endpoint's requests
    c = server.client()
    listed = c.get("/Users", params={"count": 0})
    assert listed.status_code == 200, describe(listed)
    created = c.post("/Users", user_body())
    assert created.status_code == 201, describe(created)
