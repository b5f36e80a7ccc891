"""The scim-status page: per organization its endpoint, tokens and their
last use, members by state, seats, groups, the IdP's last call and the
latest audit events; HTML read in headless Chromium, and JSON."""

import re
import shutil
import subprocess
import tempfile
import uuid
from html.parser import HTMLParser

import pytest
import requests

from appserver import AppServer, Guard
from harness import CORE_GROUP, CORE_USER, Org, new_token, scim_json, token_hash

AUTHZ_REFUSAL = r"AH01631|AH01630"
NO_SEAT_LINE = r"\[scim:warn\].*no free seat"
CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def status_app():
    orgs = [Org("acme", [new_token()], directives=["ScimToken sha256:%s label=okta-prod"
                                                  % token_hash("second-token-" + "x" * 20)]),
            Org("globex", [new_token()])]
    guards = [Guard("/app", "acme", directives=["ScimSeatLimit 2"])]
    extra = ("<Location /scim-status>\n    SetHandler scim-status\n</Location>\n"
             "<Location /acme-status>\n    SetHandler scim-status\n"
             "    ScimOrganization acme\n</Location>\n")
    server = AppServer("status", orgs, guards, extra_conf=extra,
                       allow_log=[AUTHZ_REFUSAL, NO_SEAT_LINE])
    server.write_config()
    try:
        server.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    # acme: 4 users (one inactive), 2 linked with seats, 1 refused; 1 group
    c = server.client("acme")
    users = [c.create_user({"schemas": [CORE_USER], "userName": f"s{i}.{uuid.uuid4().hex[:6]}"})
             for i in range(4)]
    for u in users:
        server.add_login(u["userName"])
    for u in users[:3]:
        server.visit("/app", u["userName"])
    c.patch_ops(users[3]["id"], {"op": "replace", "path": "active", "value": False})
    scim_json(c.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "g1"}), 201)
    server.client("globex").create_user()
    server.test_users = users
    yield server
    server.stop()


def status_json(app, path="/scim-status"):
    r = requests.get(f"http://127.0.0.1:{app.port}{path}?json", timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()


def org_of(doc, name):
    return next(o for o in doc["organizations"] if o["name"] == name)


def test_json_has_every_organization_and_its_figures(status_app):
    doc = status_json(status_app)
    assert re.match(r"^\d+\.\d+\.\d+", doc["version"])
    assert sorted(o["name"] for o in doc["organizations"]) == ["acme", "globex"]
    acme = org_of(doc, "acme")
    assert acme["endpoint"] == status_app.base_url("acme")
    # s0, s1 linked with the 2 seats; s2 refused (still provisioned);
    # s3 deactivated before signing in
    assert acme["members"] == {"total": 4, "provisioned": 1, "linked": 2,
                               "waiting": 0, "inactive": 1}
    assert acme["seats"] == {"used": 2, "limit": 2}
    assert acme["groups"] == 1
    assert acme["lastIdpCall"]
    events = [e["event"] for e in acme["audit"]]
    assert "link" in events and "seat-refused" in events and "create" in events
    globex = org_of(doc, "globex")
    assert globex["members"]["total"] == 1 and globex["seats"]["limit"] is None


def test_tokens_show_fingerprints_labels_and_last_use(status_app):
    acme = org_of(status_json(status_app), "acme")
    tokens = acme["tokens"]
    assert len(tokens) == 2
    labels = [t.get("label") for t in tokens]
    assert "okta-prod" in labels
    used = [t for t in tokens if t.get("lastUsed")]
    assert len(used) == 1               # only the first token called
    assert all(len(t["fingerprint"]) >= 8 for t in tokens)
    # nothing of a token itself
    text = requests.get(f"http://127.0.0.1:{status_app.port}/scim-status?json",
                        timeout=10).text
    for o in status_app.orgs.values():
        for t in o.tokens:
            assert t not in text and token_hash(t) not in text


def test_a_location_naming_an_organization_shows_only_it(status_app):
    doc = status_json(status_app, "/acme-status")
    assert [o["name"] for o in doc["organizations"]] == ["acme"]


def test_html_has_refresh_and_escapes(status_app):
    r = requests.get(f"http://127.0.0.1:{status_app.port}/scim-status?refresh=5",
                     timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert '<meta http-equiv="refresh" content="5"' in r.text
    assert "<script" not in r.text.lower()


class Cells(HTMLParser):
    """Text of every element that has an id."""

    def __init__(self):
        super().__init__()
        self.stack, self.cells = [], {}

    def handle_starttag(self, tag, attrs):
        self.stack.append(dict(attrs).get("id"))

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()

    def handle_data(self, data):
        for i in self.stack:
            if i:
                self.cells[i] = (self.cells.get(i, "") + data).strip()


def test_html_page_rendered_in_chromium_shows_the_numbers(status_app):
    # ./build.sh test installs Debian's chromium
    assert CHROMIUM, "chromium is not installed"
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--dump-dom",
             f"http://127.0.0.1:{status_app.port}/scim-status"],
            capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    cells = Cells()
    cells.feed(out.stdout)
    c = cells.cells
    assert c.get("acme-seats-used") == "2", c
    assert c.get("acme-seats-limit") == "2", c
    assert c.get("acme-members-linked") == "2", c
    assert c.get("acme-members-inactive") == "1", c
    assert c.get("acme-groups") == "1", c
    assert c.get("globex-members-total") == "1", c
    assert c.get("globex-seats-limit") == "unlimited", c
    assert status_app.base_url("acme") in out.stdout
    assert "okta-prod" in out.stdout
