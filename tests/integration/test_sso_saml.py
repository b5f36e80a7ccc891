"""A real SAML sign-in in front of an application of the harness httpd.

SimpleSAMLphp (php -S on loopback) is the identity provider and
mod_auth_mellon the service provider protecting /app, where a CGI prints
what the application sees (REMOTE_USER).  Nothing is mocked: the browser
(sso.sso_login) walks the redirects and forms a real one would.
"""

import pytest
import requests

import harness
from sso import (SamlIdP, SamlLoginError, is_saml_request_to,
                 redirect_off_site, sso_login, whoami, whoami_app)

ALICE = ("alice@example.com", "alice-secret")
BOB = ("bob", "bob-secret")


@pytest.fixture(scope="module")
def idp():
    idp = SamlIdP(harness.ITEST / "saml-idp")
    idp.add_user(*ALICE)
    idp.add_user(*BOB, email="bob@example.org")
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
