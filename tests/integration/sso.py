"""A real SAML 2.0 sign-in for the integration tests.

The identity provider is Debian's SimpleSAMLphp, served by php's built-in web
server on 127.0.0.1:<free port>; its users live in an exampleauth:UserPass
source.  The service provider is mod_auth_mellon inside a harness httpd:
sp_config() returns the configuration lines to append to the server's
httpd.conf (HttpdServer.extra_conf).  sso_login() is a browser made of
python3-requests: it follows the redirect to the IdP, posts the login form
and carries the auto-posted SAMLResponse back to mellon.

SimpleSAMLphp was chosen over an IdP built on pysaml2 because it is a whole
IdP (login page, session, POST binding) that starts in a fraction of a
second without a line of IdP code of ours; pysaml2 only offers the protocol
objects around which we would write the web part ourselves.

Typical use (nothing here depends on pytest):

    idp = SamlIdP(harness.ITEST / "saml-idp")
    idp.add_user("alice@example.com", "secret")
    idp.start()
    server = make_server("sso", start=False)   # write_config() picks the port
    server.extra_conf = (idp.sp_config("/app", server, require="valid-user")
                         + whoami_app(idp.dir / "app"))
    server.write_config()                      # again: keeps the port
    server.start()
    resp = sso_login(requests.Session(),
                     f"http://127.0.0.1:{server.port}/app/whoami",
                     "alice@example.com", "secret")
    assert whoami(resp)["REMOTE_USER"] == "alice@example.com"
    ...
    idp.stop()

The IdP reads its configuration and the SP metadata on every request, so
users and SPs may also be added while it runs.
"""

import os
import secrets
import shutil
import subprocess
import time
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from harness import MODULES_DIR, RUN_AS_ROOT, RUN_USER, free_port

PHP = os.environ.get("SCIM_TEST_PHP", "/usr/bin/php")
SIMPLESAMLPHP = Path(os.environ.get("SCIM_TEST_SIMPLESAMLPHP",
                                    "/usr/share/simplesamlphp"))
MELLON_MODULE = MODULES_DIR / "mod_auth_mellon.so"

MD_NS = "urn:oasis:names:tc:SAML:2.0:metadata"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
HTTP_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
HTTP_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"


class SamlLoginError(AssertionError):
    """The sign-in did not go as a browser's would (an AssertionError, so
    pytest reports it as a test failure)."""


# ---- keys and PHP configuration ------------------------------------------

def make_key_pair(directory, name, common_name):
    """A self-signed RSA key pair (openssl CLI): returns (key, cert) paths."""
    key = Path(directory) / f"{name}.key"
    cert = Path(directory) / f"{name}.crt"
    res = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-days", "7", "-subj", f"/CN={common_name}",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        raise RuntimeError(f"openssl could not make {name}'s key pair:\n"
                           f"{res.stderr}")
    return key, cert


def cert_base64(cert):
    """The certificate's DER as the base64 text metadata carries."""
    lines = Path(cert).read_text().splitlines()
    return "".join(l for l in lines if l and not l.startswith("-----"))


class PhpCode(str):
    """PHP source that php_literal() copies as it is (a constant)."""


def php_literal(value):
    """A Python value (str, bool, int, None, list, dict, PhpCode) as PHP
    source.  An int key makes a positional entry: {0: "a", "k": 1} is
    PHP's ['a', 'k' => 1]."""
    if isinstance(value, PhpCode):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(php_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "[\n" + "".join(f"    {php_literal(k)} => {php_literal(v)},\n"
                               for k, v in value.items()) + "]"
    raise TypeError(f"no PHP literal for {value!r}")


def php_file(variable, value):
    return f"<?php\n${variable} = {php_literal(value)};\n"


def _key_descriptors(cert):
    b64 = cert_base64(cert)
    return "".join(
        f'    <md:KeyDescriptor use="{use}">\n'
        f'      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{b64}'
        f'</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\n'
        f'    </md:KeyDescriptor>\n' for use in ("signing", "encryption"))


def _chown_for_httpd(*paths):
    """httpd's children (www-data when the tests run as root) read the SP's
    key and metadata when they build mellon's SAML server object."""
    if RUN_AS_ROOT:
        for p in paths:
            shutil.chown(p, RUN_USER, RUN_USER)


# ---- the service provider ------------------------------------------------

class MellonSP:
    """One mod_auth_mellon service provider: its key pair and metadata, for
    one <Location> of one httpd (base_url is what the browser uses)."""

    def __init__(self, directory, base_url, location, endpoint):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.base_url = base_url.rstrip("/")
        self.location = location
        self.endpoint = endpoint
        self.entity_id = f"{self.base_url}{endpoint}/metadata"
        self.acs_url = f"{self.base_url}{endpoint}/postResponse"
        self.logout_url = f"{self.base_url}{endpoint}/logout"
        self.key, self.cert = make_key_pair(self.dir, "sp", urlsplit(base_url).netloc)
        self.metadata = self.dir / "sp-metadata.xml"
        self.metadata.write_text(self.entity_descriptor(standalone=True))
        self.lock_file = self.dir / "mellon.lock"
        _chown_for_httpd(self.dir, self.key, self.cert, self.metadata)

    def entity_descriptor(self, standalone=False):
        ns = f' xmlns:md="{MD_NS}" xmlns:ds="{DS_NS}"' if standalone else ""
        return (
            f'<md:EntityDescriptor{ns} entityID="{self.entity_id}">\n'
            f'  <md:SPSSODescriptor AuthnRequestsSigned="true" '
            f'WantAssertionsSigned="true" protocolSupportEnumeration="{PROTOCOL}">\n'
            f'{_key_descriptors(self.cert)}'
            f'    <md:SingleLogoutService Binding="{HTTP_REDIRECT}" '
            f'Location="{self.logout_url}"/>\n'
            f'    <md:NameIDFormat>{TRANSIENT}</md:NameIDFormat>\n'
            f'    <md:AssertionConsumerService index="0" isDefault="true" '
            f'Binding="{HTTP_POST}" Location="{self.acs_url}"/>\n'
            f'  </md:SPSSODescriptor>\n'
            f'</md:EntityDescriptor>\n')


# ---- the identity provider -----------------------------------------------

class SamlIdP:
    """SimpleSAMLphp under `php -S` on 127.0.0.1, configured in workdir.

    add_user() before or after start(); sp_config() registers a mellon SP
    and returns its httpd configuration; stop() ends the php process.
    log_tail() / explain() show what the IdP logged."""

    AUTH_SOURCE = "test-users"

    def __init__(self, workdir, port=None):
        self.dir = Path(workdir)
        shutil.rmtree(self.dir, ignore_errors=True)
        for sub in ("config", "metadata", "cert", "log", "data", "tmp",
                    "sessions", "sp"):
            (self.dir / sub).mkdir(parents=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.entity_id = f"{self.url}/saml2/idp/metadata.php"
        self.sso_url = f"{self.url}/saml2/idp/SSOService.php"
        self.slo_url = f"{self.url}/saml2/idp/SingleLogoutService.php"
        self.key, self.cert = make_key_pair(self.dir / "cert", "idp", "test-idp")
        self.metadata = self.dir / "idp-metadata.xml"
        self.server_log = self.dir / "log" / "php-server.log"
        self.ssp_log = self.dir / "log" / "simplesamlphp.log"
        self.users = {}    # username -> (password, attributes)
        self.sps = []
        self.proc = None
        self._write_config()
        self._write_users()
        self._write_sp_metadata()
        self._write_idp_metadata()

    # -- configuration ---------------------------------------------------

    def add_user(self, username, password, email=None, **attributes):
        """A user who signs in with username/password.  The assertion
        carries uid=username and mail=email (default: the username), plus
        any further attributes (name=value or name=[values])."""
        if ":" in username:
            raise ValueError("exampleauth:UserPass takes no ':' in a username")
        attrs = {"uid": [username], "mail": [email or username]}
        for name, value in attributes.items():
            attrs[name] = list(value) if isinstance(value, (list, tuple)) else [value]
        self.users[username] = (password, attrs)
        self._write_users()

    def sp_config(self, location, server_or_base_url, *, require="valid-user",
                  user_attribute="uid", endpoint=None, directives=()):
        """Registers a mellon SP for `location` of an httpd and returns the
        configuration lines for its httpd.conf (HttpdServer.extra_conf).

        server_or_base_url: a harness HttpdServer whose port is chosen
        (after write_config()) or the base URL the browser uses, such as
        http://127.0.0.1:8080.  require: the Require line's arguments (None
        for none); user_attribute: the assertion attribute that becomes the
        request's user (uid, mail, or NAME_ID); directives: more lines for
        the <Location>."""
        base_url = server_or_base_url
        if not isinstance(base_url, str):
            base_url = f"http://127.0.0.1:{server_or_base_url.port}"
        location = "/" + location.strip("/")
        endpoint = endpoint or f"{location}/mellon"
        sp = MellonSP(self.dir / "sp" / str(len(self.sps)), base_url,
                      location, endpoint)
        self.sps.append(sp)
        self._write_sp_metadata()
        inner = [
            "AuthType Mellon",
            "MellonEnable auth",
            f'MellonSPPrivateKeyFile "{sp.key}"',
            f'MellonSPCertFile "{sp.cert}"',
            f'MellonSPMetadataFile "{sp.metadata}"',
            f'MellonIdPMetadataFile "{self.metadata}"',
            f'MellonEndpointPath "{endpoint}"',
            f'MellonUser "{user_attribute}"',
            # plain http on loopback: a Secure cookie would never come back
            "MellonSecureCookie Off",
        ]
        if require:
            inner.append(f"Require {require}")
        inner += list(directives)
        lines = [
            "<IfModule !auth_mellon_module>",
            f"    LoadModule auth_mellon_module {MELLON_MODULE}",
            "</IfModule>",
            # Require valid-user and Require user come from mod_authz_user.
            "<IfModule !authz_user_module>",
            f"    LoadModule authz_user_module {MODULES_DIR}/mod_authz_user.so",
            "</IfModule>",
            # The session cache's lock: the default lives in /var/run,
            # shared with any other httpd on the machine.
            f'MellonLockFile "{sp.lock_file}"',
            f"<Location {location}>",
            *(f"    {l}" for l in inner),
            "</Location>",
        ]
        return "\n".join(lines) + "\n"

    def _write_config(self):
        d = self.dir
        config = {
            "baseurlpath": f"{self.url}/",
            "certdir": f"{d}/cert/",
            "loggingdir": f"{d}/log/",
            "datadir": f"{d}/data/",
            "tempdir": f"{d}/tmp",
            "metadatadir": f"{d}/metadata/",
            "secretsalt": secrets.token_hex(16),
            "auth.adminpassword": secrets.token_hex(16),
            "technicalcontact_name": "mod_scim tests",
            "technicalcontact_email": "tests@example.org",
            "timezone": "UTC",
            "enable.saml20-idp": True,
            "module.enable": {"exampleauth": True, "core": True, "saml": True},
            "admin.checkforupdates": False,
            "logging.handler": "file",
            "logging.level": PhpCode("SimpleSAML\\Logger::DEBUG"),
            "logging.logfile": self.ssp_log.name,
            "store.type": "phpsession",
            "session.phpsession.savepath": f"{d}/sessions",
            # plain http on loopback
            "session.cookie.secure": False,
            "session.cookie.samesite": None,
            "language.cookie.secure": False,
            "metadata.sources": [
                {"type": "flatfile"},
                {"type": "xml", "file": str(d / "sp-metadata.xml")},
            ],
        }
        (d / "config" / "config.php").write_text(php_file("config", config))
        hosted = {self.entity_id: {
            "host": "__DEFAULT__",
            "privatekey": self.key.name,
            "certificate": self.cert.name,
            "auth": self.AUTH_SOURCE,
        }}
        (d / "metadata" / "saml20-idp-hosted.php").write_text(
            php_file("metadata", hosted))

    def _write_users(self):
        # UserPass takes its users as "name:password" keys beside its class
        users = {0: "exampleauth:UserPass"}
        users.update({f"{name}:{password}": attrs
                      for name, (password, attrs) in self.users.items()})
        _replace_file(self.dir / "config" / "authsources.php", php_file(
            "config", {"admin": ["core:AdminPassword"], self.AUTH_SOURCE: users}))

    def _write_sp_metadata(self):
        body = "".join(sp.entity_descriptor() for sp in self.sps)
        _replace_file(self.dir / "sp-metadata.xml",
                      f'<?xml version="1.0"?>\n<md:EntitiesDescriptor '
                      f'xmlns:md="{MD_NS}" xmlns:ds="{DS_NS}">\n{body}'
                      f'</md:EntitiesDescriptor>\n')

    def _write_idp_metadata(self):
        self.metadata.write_text(
            f'<?xml version="1.0"?>\n'
            f'<md:EntityDescriptor xmlns:md="{MD_NS}" xmlns:ds="{DS_NS}" '
            f'entityID="{self.entity_id}">\n'
            f'  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" '
            f'protocolSupportEnumeration="{PROTOCOL}">\n'
            f'{_key_descriptors(self.cert)}'
            f'    <md:SingleLogoutService Binding="{HTTP_REDIRECT}" '
            f'Location="{self.slo_url}"/>\n'
            f'    <md:NameIDFormat>{TRANSIENT}</md:NameIDFormat>\n'
            f'    <md:SingleSignOnService Binding="{HTTP_REDIRECT}" '
            f'Location="{self.sso_url}"/>\n'
            f'  </md:IDPSSODescriptor>\n'
            f'</md:EntityDescriptor>\n')

    # -- process control -------------------------------------------------

    def start(self, timeout=5):
        """Starts php -S and waits until the IdP serves its own metadata
        (which proves the configuration loads)."""
        if self.proc is not None:
            return self
        env = dict(os.environ, SIMPLESAMLPHP_CONFIG_DIR=str(self.dir / "config"),
                   LANG="C")
        log = open(self.server_log, "ab")
        try:
            self.proc = subprocess.Popen(
                [PHP, "-S", f"127.0.0.1:{self.port}", "-t", str(SIMPLESAMLPHP / "www"),
                 "-d", "display_errors=stderr", "-d", "log_errors=1",
                 "-d", f"session.save_path={self.dir / 'sessions'}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                last = f"php exited with {self.proc.returncode}"
                break
            try:
                r = requests.get(self.entity_id, timeout=2)
                if r.status_code == 200 and self.entity_id in r.text:
                    return self
                last = f"metadata answered {r.status_code}"
            except requests.RequestException as e:
                last = e
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"SAML IdP did not come up on {self.url} within "
                           f"{timeout}s ({last}){self.log_tail()}")

    def stop(self, timeout=5):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- logs ------------------------------------------------------------

    def requests_served(self):
        """How many requests php -S has logged so far (it logs one line
        "[status]: METHOD /path" per request)."""
        try:
            text = self.server_log.read_text(errors="replace")
        except OSError:
            return 0
        return sum(1 for l in text.splitlines() if "]: " in l and " [" in l)

    def log_tail(self, n=40):
        out = []
        for f in (self.server_log, self.ssp_log):
            try:
                lines = f.read_text(errors="replace").splitlines()[-n:]
            except OSError:
                continue
            if lines:
                out.append(f"\n--- {f} (tail) ---\n" + "\n".join(lines))
        return "".join(out)

    @contextmanager
    def explain(self):
        """Appends the IdP's log to any failure raised inside."""
        try:
            yield self
        except Exception as e:
            what = str(e) if isinstance(e, AssertionError) else f"{type(e).__name__}: {e}"
            raise AssertionError(what + self.log_tail()) from e


def _replace_file(path, text):
    """Writes a whole new file under the running IdP (no half-read file)."""
    tmp = Path(f"{path}.new")
    tmp.write_text(text)
    os.replace(tmp, path)


# ---- the browser ---------------------------------------------------------

class _FormParser(HTMLParser):
    """The forms of a page: [{"action", "method", "fields": {name: value},
    "types": {name: type}}]."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "",
                               "method": (a.get("method") or "get").lower(),
                               "fields": {}, "types": {}})
        elif tag == "input" and self.forms and a.get("name"):
            form = self.forms[-1]
            form["fields"][a["name"]] = a.get("value") or ""
            form["types"][a["name"]] = (a.get("type") or "text").lower()


def page_forms(html):
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


def _describe(resp):
    chain = " -> ".join(f"{r.status_code} {r.url}" for r in resp.history + [resp])
    return f"\n  {chain}\n  {resp.text[:1200]!r}"


def sso_login(session, app_url, username, password, timeout=15, max_steps=6):
    """Signs in through the IdP as a browser would and returns the final
    response of app_url.  The requests.Session keeps the cookies (the IdP's
    session and mellon's) for the requests that follow.

    Steps: GET app_url -> mellon redirects to the IdP -> the IdP's login
    form (username/password) is posted -> the IdP answers with a form that
    auto-posts SAMLResponse to mellon's postResponse -> mellon redirects
    to app_url.  An IdP session that is still valid skips the login form.
    Raises SamlLoginError when a step does not come as expected (the IdP
    shows the login form again after a wrong password)."""
    resp = session.get(app_url, timeout=timeout)
    password_posted = False
    for _ in range(max_steps):
        forms = page_forms(resp.text) if "html" in resp.headers.get(
            "Content-Type", "") else []
        login = next((f for f in forms if "password" in f["types"].values()), None)
        saml = next((f for f in forms if "SAMLResponse" in f["fields"]), None)
        if login:
            if password_posted:
                raise SamlLoginError(f"the IdP refused {username!r}'s "
                                     f"password" + _describe(resp))
            fields = dict(login["fields"])
            for name, kind in login["types"].items():
                if kind == "password":
                    fields[name] = password
                elif name in ("username", "user", "login"):
                    fields[name] = username
            resp = session.post(urljoin(resp.url, login["action"]), data=fields,
                                timeout=timeout)
            password_posted = True
        elif saml:
            if saml["method"] != "post" or not saml["action"]:
                raise SamlLoginError("SAMLResponse form without a POST action"
                                     + _describe(resp))
            resp = session.post(urljoin(resp.url, saml["action"]),
                                data=saml["fields"], timeout=timeout)
            return resp
        else:
            return resp
    raise SamlLoginError(f"no way to the application after {max_steps} "
                         f"forms" + _describe(resp))


def redirect_off_site(session, url, timeout=15, max_hops=5):
    """GETs url and follows redirects while they stay on url's host and
    port (mellon's own /login endpoint, for instance); returns the first
    response that is not such a redirect, unfollowed."""
    origin = urlsplit(url)[:2]
    for _ in range(max_hops):
        resp = session.get(url, allow_redirects=False, timeout=timeout)
        location = resp.headers.get("Location")
        if not resp.is_redirect or not location:
            return resp
        url = urljoin(url, location)
        if urlsplit(url)[:2] != origin:
            return resp
    raise SamlLoginError(f"more than {max_hops} redirects on the SP"
                         + _describe(resp))


def is_saml_request_to(resp, idp):
    """True when resp redirects the browser to the IdP's single sign-on
    service with a SAMLRequest (HTTP-Redirect binding)."""
    location = resp.headers.get("Location", "")
    return (resp.is_redirect and location.startswith(idp.sso_url + "?")
            and "SAMLRequest=" in location)


# ---- a small application -------------------------------------------------

WHOAMI_CGI = """#!/bin/sh
# What the application behind mellon sees of the request.
printf 'Content-Type: text/plain\\n\\n'
printf 'REMOTE_USER=%s\\n' "$REMOTE_USER"
printf 'AUTH_TYPE=%s\\n' "$AUTH_TYPE"
printf 'MELLON_mail=%s\\n' "$MELLON_mail"
printf 'SCIM_ID=%s\\n' "$SCIM_ID"
printf 'SCIM_USERNAME=%s\\n' "$SCIM_USERNAME"
printf 'SCIM_ORGANIZATION=%s\\n' "$SCIM_ORGANIZATION"
"""


def whoami_app(directory, url_path="/app/whoami"):
    """Writes a CGI that prints REMOTE_USER (and AUTH_TYPE, MELLON_mail and
    mod_scim's SCIM_ID, SCIM_USERNAME, SCIM_ORGANIZATION) as
    text/plain lines NAME=value, and returns the httpd lines that serve it
    at url_path.  mod_cgi rather than mod_cgid: no daemon and no Unix
    socket whose path could outgrow sun_path under a deep ServerRoot."""
    script = Path(directory) / "whoami.cgi"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(WHOAMI_CGI)
    script.chmod(0o755)
    return "\n".join([
        "<IfModule !alias_module>",
        f"    LoadModule alias_module {MODULES_DIR}/mod_alias.so",
        "</IfModule>",
        "<IfModule !cgi_module>",
        f"    LoadModule cgi_module {MODULES_DIR}/mod_cgi.so",
        "</IfModule>",
        f'ScriptAlias {url_path} "{script}"',
    ]) + "\n"


def whoami(resp):
    """The NAME=value lines of a whoami_app response as a dict."""
    return dict(l.split("=", 1) for l in resp.text.splitlines() if "=" in l)
