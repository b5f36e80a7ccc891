"""A real SAML sign-in in front of an application of the harness httpd.

SimpleSAMLphp (php -S on loopback) is the identity provider and
mod_auth_mellon the service provider protecting /app, where a CGI prints
what the application sees (REMOTE_USER).  Nothing is mocked: the browser
(sso.sso_login) walks the redirects and forms a real one would.
"""

import pytest
import requests

import harness
from harness import CORE_USER, MEMBERSHIP, scim_json
from sso import (SamlIdP, SamlLoginError, is_saml_request_to,
                 redirect_off_site, sso_login, whoami, whoami_app)

ALICE = ("alice@example.com", "alice-secret")
BOB = ("bob", "bob-secret")
CAROL = ("carol@example.com", "carol-secret")
DAVE = ("dave@example.com", "dave-secret")


@pytest.fixture(scope="module")
def idp():
    idp = SamlIdP(harness.ITEST / "saml-idp")
    idp.add_user(*ALICE)
    idp.add_user(*BOB, email="bob@example.org")
    idp.add_user(*CAROL)
    idp.add_user(*DAVE)
    try:
        idp.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield idp
    idp.stop()


@pytest.fixture
def app_server(idp, make_server):
    """A harness httpd whose /app is behind mellon (Require valid-user)."""
    server = make_server("sso", start=False)     # the port is chosen now
    server.extra_conf = (idp.sp_config("/app", server)
                         + whoami_app(idp.dir / "app"))
    server.write_config()
    server.start()
    return server


def app_url(server):
    return f"http://127.0.0.1:{server.port}/app/whoami"


def test_sign_in_reaches_the_application_as_the_user(idp, app_server):
    with idp.explain():
        served = idp.requests_served()
        session = requests.Session()
        resp = sso_login(session, app_url(app_server), *ALICE)
        assert resp.status_code == 200, harness.describe(resp)
        assert resp.url == app_url(app_server)
        seen = whoami(resp)
        assert seen["REMOTE_USER"] == ALICE[0], resp.text
        assert seen["AUTH_TYPE"] == "Mellon", resp.text
        # the redirect to SSOService, the login form and its POST
        assert idp.requests_served() >= served + 3, "the IdP signed alice in"


def test_session_cookie_serves_next_request_without_the_idp(idp, app_server):
    with idp.explain():
        session = requests.Session()
        resp = sso_login(session, app_url(app_server), *BOB)
        assert resp.status_code == 200, harness.describe(resp)
        assert whoami(resp)["REMOTE_USER"] == BOB[0]
        assert whoami(resp)["MELLON_mail"] == "bob@example.org"
        served = idp.requests_served()
        again = session.get(app_url(app_server), allow_redirects=False,
                            timeout=15)
        assert again.status_code == 200, harness.describe(again)
        assert whoami(again)["REMOTE_USER"] == BOB[0]
        assert idp.requests_served() == served, "the IdP was not asked again"


def test_fresh_browser_is_sent_to_the_idp(idp, app_server):
    with idp.explain():
        resp = redirect_off_site(requests.Session(), app_url(app_server))
        assert is_saml_request_to(resp, idp), harness.describe(resp)


def test_wrong_password_gets_no_session(idp, app_server):
    with idp.explain():
        session = requests.Session()
        with pytest.raises(SamlLoginError, match="refused"):
            sso_login(session, app_url(app_server), ALICE[0], "not-the-password")
        resp = redirect_off_site(session, app_url(app_server))
        assert is_saml_request_to(resp, idp), harness.describe(resp)


# ---- membership decides access behind real SAML ---------------------------

@pytest.fixture
def member_app(idp, make_server):
    """/app behind mellon with Require scim-member for organization acme."""
    server = make_server("sso-scim", start=False,
                         allow_log=[r"AH01631|AH01630"])
    server.extra_conf = (idp.sp_config(
        "/app", server, require="scim-member",
        directives=["ScimOrganization acme",
                    "AuthzSendForbiddenOnFailure On"])
        + whoami_app(idp.dir / "member-app"))
    server.write_config()
    server.start()
    return server


def test_provisioned_member_signs_in_links_and_loses_access_on_delete(
        idp, member_app):
    scim = member_app.client("acme")
    user = scim.create_user({"schemas": [CORE_USER], "userName": CAROL[0],
                             "active": True})
    assert user[MEMBERSHIP]["state"] == "provisioned"
    with idp.explain():
        session = requests.Session()
        resp = sso_login(session, app_url(member_app), *CAROL)
        assert resp.status_code == 200, harness.describe(resp)
        seen = whoami(resp)
        assert seen["REMOTE_USER"] == CAROL[0]
        assert seen["SCIM_ID"] == user["id"]
        assert seen["SCIM_ORGANIZATION"] == "acme"
        m = scim.get_user(user["id"])[MEMBERSHIP]
        assert m["state"] == "linked" and m["seat"] is True
        # the IdP deletes the user: the next request is refused, although
        # the SAML session is still valid (the IdP is not asked again)
        assert scim.delete(f"/Users/{user['id']}").status_code == 204
        served = idp.requests_served()
        again = session.get(app_url(member_app), allow_redirects=False,
                            timeout=15)
        assert again.status_code == 403, harness.describe(again)
        assert "not an active member" in again.text
        assert idp.requests_served() == served


def test_signed_in_but_not_provisioned_is_refused(idp, member_app):
    with idp.explain():
        session = requests.Session()
        resp = sso_login(session, app_url(member_app), *DAVE)
        assert resp.status_code == 403, harness.describe(resp)
        assert "not an active member" in resp.text
