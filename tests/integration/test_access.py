"""Membership decides access: Require scim-member / scim-group after an
authentication module (Basic here, standing in for SSO), linking on first
sign-in, seats, revocation on the next request, the backend's environment,
and the audit trail of links and refusals."""

import concurrent.futures
import time
import uuid

import pytest

import harness
from appserver import AppServer, Guard
from harness import (CORE_GROUP, CORE_USER, MEMBERSHIP, PATCH_OP, Org,
                     assert_error, new_token, scim_json)

# A refused member's request leaves mod_authz_core's own line.
AUTHZ_REFUSAL = r"AH01631|AH01630"
NO_SEAT_LINE = r"\[scim:warn\].*no free seat"

ORGS = ("acme", "seats", "race", "team", "mail", "ext", "envid")


@pytest.fixture(scope="module")
def app():
    orgs = [Org(name, [new_token()]) for name in ORGS]
    guards = [
        Guard("/app", "acme"),
        Guard("/app2", "acme"),         # a second location of the same org
        Guard("/seats", "seats", directives=["ScimSeatLimit 2"]),
        Guard("/seats2", "seats"),      # follows the limit set at /seats
        Guard("/race", "race", directives=["ScimSeatLimit 2"]),
        Guard("/team", "team", require="scim-group engineering"),
        Guard("/either", "team", require="scim-group Design \"Sales Ops\""),
        Guard("/mail", "mail", directives=["ScimLinkAttribute email"]),
        Guard("/ext", "ext", directives=["ScimLinkAttribute externalId"]),
        Guard("/envid", "envid",
              directives=["ScimLinkIdentity TEST_IDENTITY"]),
    ]
    server = AppServer("access", orgs, guards, allow_log=[AUTHZ_REFUSAL],
                       extra_conf='SetEnvIf X-Test-Identity "^(.+)$" '
                                  'TEST_IDENTITY=$1\nLogLevel warn scim:info\n')
    server.write_config()
    try:
        server.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()


def scim(app, org):
    return app.client(org)


def new_member(app, org="acme", login=None, **extra):
    """A provisioned user whose Basic login is login (default: its
    userName, in another case, to show the match ignores case)."""
    name = f"Member.{uuid.uuid4().hex[:10]}"
    body = {"schemas": [CORE_USER], "userName": name, "active": True}
    body.update(extra)
    user = scim(app, org).create_user(body)
    app.add_login(login or name.lower())
    return user, login or name.lower()


def membership(app, org, uid):
    return scim(app, org).get_user(uid)[MEMBERSHIP]


def db_rows(app, sql, *args):
    """Rows of the server's database (SQLite or PostgreSQL)."""
    return app.sql(sql, *args)


def db_count(app, sql, *args):
    """A COUNT(*) of the server's database, as an integer."""
    return int(app.sql(sql, *args)[0][0])


# ---- linking ---------------------------------------------------------------

def test_provisioned_member_holds_no_seat(app):
    user, _ = new_member(app)
    m = user[MEMBERSHIP]
    assert m["state"] == "provisioned" and m["seat"] is False
    assert "linked" not in m


def test_first_sign_in_links_and_takes_a_seat(app):
    user, login = new_member(app)
    resp = app.visit("/app", login)
    assert resp.status_code == 200, resp.text
    assert "/app" in resp.text
    m = membership(app, "acme", user["id"])
    assert m["state"] == "linked" and m["seat"] is True
    assert harness.RFC3339.match(m["linked"])
    # the link moved the user's version: an IdP's cached ETag is stale
    assert scim(app, "acme").get_user(user["id"])["meta"]["version"] \
        != user["meta"]["version"]


def test_linked_time_is_the_first_sign_in(app):
    user, login = new_member(app)
    assert app.visit("/app", login).status_code == 200
    first = membership(app, "acme", user["id"])["linked"]
    time.sleep(1.1)
    assert app.visit("/app2", login).status_code == 200
    assert membership(app, "acme", user["id"])["linked"] == first


def test_match_ignores_case_of_the_user_name(app):
    user, _ = new_member(app, login="MiXeD.Case.Login")
    scim(app, "acme").patch_ops(user["id"], {"op": "replace", "path": "userName",
                                             "value": "mixed.case.LOGIN"})
    assert app.visit("/app", "MiXeD.Case.Login").status_code == 200


@pytest.mark.expect_log(AUTHZ_REFUSAL)
def test_unknown_identity_is_refused(app):
    app.add_login("nobody.provisioned")
    resp = app.visit("/app", "nobody.provisioned")
    assert resp.status_code == 403
    assert "not an active member" in resp.text
    # the application never ran
    assert "/app" not in resp.text


@pytest.mark.expect_log(AUTHZ_REFUSAL)
def test_other_organizations_member_is_refused(app):
    user, login = new_member(app, org="mail")
    assert app.visit("/app", login).status_code == 403


@pytest.mark.expect_log(r"AH01617")
def test_wrong_password_is_authentications_401(app):
    _, login = new_member(app)
    assert app.visit("/app", login, password="wrong").status_code == 401


# ---- deactivation, deletion, reactivation ---------------------------------

DEACTIVATIONS = {
    "entra-path": {"op": "Replace", "path": "active", "value": "False"},
    "entra-nopath": {"op": "Replace", "value": {"active": "False"}},
    "okta": {"op": "replace", "value": {"active": False}},
}


@pytest.mark.parametrize("dialect", sorted(DEACTIVATIONS))
@pytest.mark.expect_log(AUTHZ_REFUSAL)
def test_deactivation_revokes_on_the_next_request(app, dialect):
    user, login = new_member(app)
    assert app.visit("/app", login).status_code == 200
    r = scim(app, "acme").patch_ops(user["id"], DEACTIVATIONS[dialect])
    assert r.status_code == 200, r.text
    resp = app.visit("/app", login)
    assert resp.status_code == 403
    m = membership(app, "acme", user["id"])
    assert m["state"] == "linked" and m["seat"] is False


@pytest.mark.expect_log(AUTHZ_REFUSAL)
def test_put_inactive_revokes(app):
    user, login = new_member(app)
    assert app.visit("/app", login).status_code == 200
    body = {"schemas": [CORE_USER], "userName": user["userName"],
            "active": False}
    scim_json(scim(app, "acme").put(f"/Users/{user['id']}", body), 200)
    assert app.visit("/app", login).status_code == 403
    assert membership(app, "acme", user["id"])["seat"] is False


@pytest.mark.expect_log(AUTHZ_REFUSAL)
def test_delete_revokes(app):
    user, login = new_member(app)
    assert app.visit("/app", login).status_code == 200
    assert scim(app, "acme").delete(f"/Users/{user['id']}").status_code == 204
    assert app.visit("/app", login).status_code == 403


@pytest.mark.expect_log(AUTHZ_REFUSAL)
def test_reactivated_member_signs_in_again(app):
    user, login = new_member(app)
    assert app.visit("/app", login).status_code == 200
    c = scim(app, "acme")
    c.patch_ops(user["id"], {"op": "Replace", "path": "active", "value": "False"})
    assert app.visit("/app", login).status_code == 403
    c.patch_ops(user["id"], {"op": "Replace", "path": "active", "value": "True"})
    assert app.visit("/app", login).status_code == 200
    m = membership(app, "acme", user["id"])
    assert m["state"] == "linked" and m["seat"] is True


# ---- seats -----------------------------------------------------------------

@pytest.mark.expect_log(AUTHZ_REFUSAL, NO_SEAT_LINE)
def test_seat_limit_refuses_with_a_page_and_frees_on_deactivation(app):
    c = scim(app, "seats")
    a, la = new_member(app, "seats")
    b, lb = new_member(app, "seats")
    d, ld = new_member(app, "seats")
    assert app.visit("/seats", la).status_code == 200
    assert app.visit("/seats", lb).status_code == 200
    log_at = app.log_size()
    resp = app.visit("/seats", ld)
    assert resp.status_code == 403
    assert "no free seat" in resp.text.lower()
    assert "text/html" in resp.headers.get("Content-Type", "")
    assert any("no free seat" in l and "seats" in l and "2" in l
               for l in app.log_since(log_at)), app.log_tail()
    m = membership(app, "seats", d["id"])
    assert m["state"] == "provisioned" and m["seat"] is False
    # a seat holder keeps entering while the others wait
    assert app.visit("/seats", la).status_code == 200
    # the IdP deactivates a: its seat goes to d
    c.patch_ops(a["id"], {"op": "Replace", "path": "active", "value": "False"})
    assert app.visit("/seats", ld).status_code == 200
    assert membership(app, "seats", d["id"])["seat"] is True
    # a comes back while every seat is taken: the no-seat page
    c.patch_ops(a["id"], {"op": "Replace", "path": "active", "value": "True"})
    resp = app.visit("/seats", la)
    assert resp.status_code == 403 and "no free seat" in resp.text.lower()
    # b is deleted: a gets the freed seat
    assert c.delete(f"/Users/{b['id']}").status_code == 204
    assert app.visit("/seats", la).status_code == 200
    assert [membership(app, "seats", u["id"])["seat"] for u in (a, d)] \
        == [True, True]


@pytest.mark.expect_log(AUTHZ_REFUSAL, NO_SEAT_LINE)
def test_simultaneous_first_sign_ins_never_exceed_the_limit(app):
    members = [new_member(app, "race") for _ in range(8)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda m: app.visit("/race", m[1]).status_code,
                              members))
    assert sorted(codes) == [200] * 2 + [403] * 6, codes
    seats = [membership(app, "race", u["id"])["seat"] for u, _ in members]
    assert seats.count(True) == 2
    # the winners are the ones admitted
    for (u, login), code, seat in zip(members, codes, seats):
        assert (code == 200) == seat, (login, code, seat)


# ---- the membership extension ---------------------------------------------

def test_membership_attributes_are_filterable(app):
    user, login = new_member(app)
    other, _ = new_member(app)
    assert app.visit("/app", login).status_code == 200
    c = scim(app, "acme")
    linked = c.filter_users(f'{MEMBERSHIP}:state eq "linked" and '
                            f'userName eq "{user["userName"]}"')
    assert [r["id"] for r in linked["Resources"]] == [user["id"]]
    waiting = c.filter_users(f'{MEMBERSHIP}:seat eq false and '
                             f'userName eq "{other["userName"]}"')
    assert [r["id"] for r in waiting["Resources"]] == [other["id"]]
    none = c.filter_users(f'{MEMBERSHIP}:seat eq true and '
                          f'userName eq "{other["userName"]}"')
    assert none["totalResults"] == 0


def test_membership_attributes_are_read_only(app):
    user, login = new_member(app)
    c = scim(app, "acme")
    r = c.patch_ops(user["id"], {"op": "replace", "path": f"{MEMBERSHIP}:seat",
                                 "value": True})
    assert_error(r, 400, "mutability")
    # without a path, read-only keys are skipped as a PUT skips them
    r = c.patch_ops(user["id"], {"op": "replace",
                                 "value": {f"{MEMBERSHIP}:state": "linked"}})
    assert scim_json(r, 200)[MEMBERSHIP]["state"] == "provisioned"
    # ignored when sent with a whole resource
    body = {"schemas": [CORE_USER, MEMBERSHIP], "userName": user["userName"],
            MEMBERSHIP: {"state": "linked", "seat": True}}
    got = scim_json(c.put(f"/Users/{user['id']}", body), 200)
    assert got[MEMBERSHIP]["state"] == "provisioned"
    created = c.create_user({"schemas": [CORE_USER, MEMBERSHIP],
                             "userName": f"x-{uuid.uuid4().hex[:8]}",
                             MEMBERSHIP: {"state": "linked", "seat": True}})
    assert created[MEMBERSHIP] == {"state": "provisioned", "seat": False}


# ---- what the application receives ---------------------------------------

def group_id(c, name):
    """The id of the team's group name, made on first use."""
    found = c.get("/Groups", params={"filter": f'displayName eq "{name}"'}).json()
    if found["totalResults"]:
        return found["Resources"][0]["id"]
    return scim_json(c.post("/Groups", {"schemas": [CORE_GROUP],
                                        "displayName": name}), 201)["id"]


def add_to_group(c, gid, uid):
    r = c.patch(f"/Groups/{gid}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": uid}]}]})
    assert r.status_code in (200, 204), r.text


def test_backend_receives_the_member(app):
    c = scim(app, "team")
    user, login = new_member(app, "team", externalId="ext-42")
    add_to_group(c, group_id(c, "engineering"), user["id"])
    odd = f"R&D, Berlin {uuid.uuid4().hex[:4]}"
    add_to_group(c, group_id(c, odd), user["id"])
    resp, env = app.backend_env("/team", login)
    assert resp.status_code == 200, resp.text
    assert env["SCIM_ID"] == user["id"]
    assert env["SCIM_USERNAME"] == user["userName"]
    assert env["SCIM_EXTERNAL_ID"] == "ext-42"
    assert env["SCIM_ORGANIZATION"] == "team"
    assert env["REMOTE_USER"] == login
    # a comma inside a name is written as "\,"
    assert "engineering" in env["SCIM_GROUPS"].split(",")
    assert odd.replace(",", "\\,") in env["SCIM_GROUPS"]


def test_member_without_groups_gets_empty_groups(app):
    user, login = new_member(app)
    resp, env = app.backend_env("/app", login)
    assert resp.status_code == 200
    assert env["SCIM_GROUPS"] == ""
    assert env["SCIM_EXTERNAL_ID"] == ""


# ---- Require scim-group ----------------------------------------------------

@pytest.mark.expect_log(AUTHZ_REFUSAL)
def test_group_requirement_follows_membership_patches(app):
    c = scim(app, "team")
    user, login = new_member(app, "team")
    assert app.visit("/either", login).status_code == 403
    gid = group_id(c, "Design")
    add_to_group(c, gid, user["id"])
    assert app.visit("/either", login).status_code == 200
    # Entra's removal by value filter
    r = c.patch(f"/Groups/{gid}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "Remove", "path": f'members[value eq "{user["id"]}"]'}]})
    assert r.status_code in (200, 204), r.text
    assert app.visit("/either", login).status_code == 403


@pytest.mark.expect_log(AUTHZ_REFUSAL)
def test_group_rename_and_delete_take_effect_on_the_next_request(app):
    c = scim(app, "team")
    user, login = new_member(app, "team")
    gid = group_id(c, "sales ops")      # the location says "Sales Ops"
    add_to_group(c, gid, user["id"])
    assert app.visit("/either", login).status_code == 200
    c.patch(f"/Groups/{gid}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "displayName", "value": "Sales Ops Old"}]})
    assert app.visit("/either", login).status_code == 403
    c.patch(f"/Groups/{gid}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "displayName", "value": "SALES OPS"}]})
    assert app.visit("/either", login).status_code == 200
    assert c.delete(f"/Groups/{gid}").status_code == 204
    assert app.visit("/either", login).status_code == 403


@pytest.mark.expect_log(AUTHZ_REFUSAL)
def test_group_requirement_refuses_inactive_members(app):
    c = scim(app, "team")
    user, login = new_member(app, "team")
    add_to_group(c, group_id(c, "engineering"), user["id"])
    assert app.visit("/team", login).status_code == 200
    c.patch_ops(user["id"], {"op": "replace", "path": "active", "value": False})
    assert app.visit("/team", login).status_code == 403


# ---- ScimLinkAttribute / ScimLinkIdentity --------------------------------

@pytest.mark.expect_log(AUTHZ_REFUSAL)
def test_link_by_email_ignores_case(app):
    name = f"m{uuid.uuid4().hex[:8]}"
    user = scim(app, "mail").create_user({
        "schemas": [CORE_USER], "userName": name,
        "emails": [{"value": f"Home.{name}@Example.org", "type": "home"},
                   {"value": f"{name}@Example.COM", "type": "work"}]})
    app.add_login(f"{name}@example.com")
    app.add_login(name)
    assert app.visit("/mail", f"{name}@example.com").status_code == 200
    assert membership(app, "mail", user["id"])["seat"] is True
    # the userName is not what this location matches
    assert app.visit("/mail", name).status_code == 403
    # an e-mail replaced by the IdP stops matching
    scim(app, "mail").patch_ops(user["id"], {
        "op": "replace", "path": "emails",
        "value": [{"value": f"new.{name}@example.com", "type": "work"}]})
    assert app.visit("/mail", f"{name}@example.com").status_code == 403


@pytest.mark.expect_log(AUTHZ_REFUSAL)
def test_link_by_external_id_is_exact(app):
    ext = f"ObjId-{uuid.uuid4().hex[:8]}"
    user = scim(app, "ext").create_user({"schemas": [CORE_USER],
                                         "userName": f"x{ext}", "externalId": ext})
    app.add_login(ext)
    app.add_login(ext.lower())
    assert app.visit("/ext", ext.lower()).status_code == 403
    assert app.visit("/ext", ext).status_code == 200
    assert membership(app, "ext", user["id"])["state"] == "linked"


@pytest.mark.expect_log(AUTHZ_REFUSAL)
def test_link_identity_from_an_environment_variable(app):
    user, _ = new_member(app, "envid")
    app.add_login("gateway")
    resp = app.visit("/envid", "gateway",
                     headers={"X-Test-Identity": user["userName"]})
    assert resp.status_code == 200
    assert membership(app, "envid", user["id"])["state"] == "linked"
    # authenticated, but without the variable: refused
    assert app.visit("/envid", "gateway").status_code == 403


# ---- audit ----------------------------------------------------------------

@pytest.mark.expect_log(AUTHZ_REFUSAL, NO_SEAT_LINE,
                        r"SCIM3002: bearer token authentication failure")
def test_links_refusals_and_writes_are_audited(app):
    user, login = new_member(app)
    log_at = app.log_size()
    assert app.visit("/app", login).status_code == 200
    rows = db_rows(app, "SELECT event, actor, resource_id, name, outcome, "
                   "address FROM scim_audit WHERE org = 'acme' AND "
                   "resource_id = ? ORDER BY at", user["id"])
    events = [r[0] for r in rows]
    assert events[:2] == ["create", "link"], rows
    create, link = rows[0], rows[1]
    assert create[1] and create[1] != login      # the token's fingerprint
    assert create[3] == user["userName"] and create[4] == "ok"
    assert create[5] == "127.0.0.1"
    assert link[1] == login and link[4] == "linked"
    assert any("linked" in l and user["id"] in l
               for l in app.log_since(log_at)), app.log_tail()
    # a patch and a refused token
    scim(app, "acme").patch_ops(user["id"], {"op": "replace",
                                             "path": "displayName",
                                             "value": "Audited"})
    r = scim(app, "acme").get("/Users", token="not-a-token")
    assert r.status_code == 401
    rows = db_rows(app, "SELECT event, outcome FROM scim_audit "
                   "WHERE org = 'acme' ORDER BY at DESC LIMIT 5")
    assert ("token-rejected", "401") in rows, rows
    assert ("patch", "ok") in rows, rows


@pytest.mark.expect_log(AUTHZ_REFUSAL, NO_SEAT_LINE)
def test_seat_refusal_is_audited(app):
    c = scim(app, "seats")
    # fill the seats whatever earlier tests left
    while True:
        u, login = new_member(app, "seats")
        if app.visit("/seats", login).status_code == 403:
            break
    rows = db_rows(app, "SELECT event, actor, outcome FROM scim_audit "
                   "WHERE org = 'seats' AND resource_id = ?", u["id"])
    assert ("seat-refused", login, "no-seat") in rows, rows


def test_failed_write_is_audited_with_its_status(app):
    user, _ = new_member(app)
    r = scim(app, "acme").post("/Users", {"schemas": [CORE_USER],
                                          "userName": user["userName"]})
    assert r.status_code == 409
    rows = db_rows(app, "SELECT event, outcome, name FROM scim_audit "
                   "WHERE org = 'acme' AND event = 'create' AND name = ?",
                   user["userName"])
    assert sorted(r[1] for r in rows) == ["409", "ok"], rows


def test_audit_rows_past_retention_are_pruned_by_writes(app):
    """Each organization's writes prune its own rows past the retention
    in effect where they happen; another organization (whose location
    may keep them longer) keeps its rows until its own writes.  A process
    prunes an organization with its first write, then at most once a
    minute: the restart gives processes that have not pruned yet."""
    new_member(app)         # the schema exists
    old = "2000-01-01T00:00:00.000Z"
    for org in ("acme", "ext"):
        for _ in range(5):
            app.sql("INSERT INTO scim_audit (org, at, event, actor, outcome)"
                    " VALUES (?, ?, 'create', 'old', 'ok')", org, old)
    app.restart()

    def expired(org):
        return db_count(app, "SELECT COUNT(*) FROM scim_audit"
                        " WHERE org = ? AND at = ?", org, old)

    assert (expired("acme"), expired("ext")) == (5, 5)
    new_member(app)         # a write of acme prunes acme's, past 90 days
    assert (expired("acme"), expired("ext")) == (0, 5)
    new_member(app, "ext")
    assert expired("ext") == 0
    # what is recent stays
    assert db_count(app, "SELECT COUNT(*) FROM scim_audit"
                    " WHERE org = 'acme'") > 0


@pytest.mark.sqlite_only
def test_the_prune_reads_by_the_organization_and_time_index(app):
    plan = db_rows(app, "EXPLAIN QUERY PLAN DELETE FROM scim_audit "
                   "WHERE org = 'acme' AND at < '2000-01-01'")
    assert any("scim_audit_org" in str(row) for row in plan), plan
    indexes = db_rows(app, "SELECT name FROM sqlite_master"
                      " WHERE tbl_name = 'scim_audit' AND type = 'index'")
    assert "scim_audit_at" not in {r[0] for r in indexes}


@pytest.mark.sqlite_only
def test_access_checks_read_by_index(app):
    for sql in ("SELECT id FROM scim_resources WHERE org = 'a' AND "
                "rtype = 'User' AND name_ci = 'x'",
                "SELECT user_id FROM scim_emails WHERE org = 'a' AND "
                "value_ci = 'x'",
                "SELECT COUNT(*) FROM scim_resources WHERE org = 'a' AND "
                "rtype = 'User' AND seat = 1"):
        plan = " ".join(str(r) for r in db_rows(app, "EXPLAIN QUERY PLAN "
                                                + sql))
        assert "USING" in plan and "SCAN" not in plan.replace(
            "COVERING INDEX", ""), (sql, plan)


# ---- Require combined with other requirements ----------------------------

@pytest.fixture(scope="module")
def combos():
    orgs = [Org("acme", [new_token()])]
    guards = [
        Guard("/any", "acme", require="all denied",
              directives=["<RequireAny>", "    Require ip 192.0.2.1",
                          "    Require scim-member", "</RequireAny>"]),
        Guard("/none", "acme", require="valid-user",
              directives=["<RequireAll>", "    Require valid-user",
                          "    <RequireNone>", "        Require scim-group "
                          "contractors", "    </RequireNone>",
                          "    Require scim-member", "</RequireAll>"]),
    ]
    # the Require line of a Guard comes last; "all denied" inside a
    # <RequireAny> would deny everything, so those guards carry their
    # requirements in the block and the line is replaced below
    for g in guards:
        g.require = None
    server = AppServer("combos", orgs, guards, allow_log=[AUTHZ_REFUSAL])
    server.write_config()
    server.start()
    yield server
    server.stop()


def test_require_any_admits_members(combos):
    user, login = new_member(combos)
    assert combos.visit("/any", login).status_code == 200
    combos.add_login("stranger")
    assert combos.visit("/any", "stranger").status_code == 403


def test_require_none_of_a_group_excludes_its_members(combos):
    c = scim(combos, "acme")
    user, login = new_member(combos)
    assert combos.visit("/none", login).status_code == 200
    scim_json(c.post("/Groups", {"schemas": [CORE_GROUP],
                                 "displayName": "contractors",
                                 "members": [{"value": user["id"]}]}), 201)
    assert combos.visit("/none", login).status_code == 403


# ---- configuration mistakes ----------------------------------------------

def configtest(make_server, guards, orgs=None):
    server = AppServer(f"conf-{uuid.uuid4().hex[:8]}",
                       orgs or [Org("acme", [new_token()])], guards)
    server.write_config()
    res = server.configtest()
    return res.returncode, res.stdout + res.stderr


def test_two_seat_limits_for_one_organization_fail_configtest(make_server):
    rc, out = configtest(make_server, [
        Guard("/a", "acme", directives=["ScimSeatLimit 5"]),
        Guard("/b", "acme", directives=["ScimSeatLimit 6"])])
    assert rc != 0 and "ScimSeatLimit" in out and "acme" in out, out


def test_same_seat_limit_twice_and_followers_pass(make_server):
    rc, out = configtest(make_server, [
        Guard("/a", "acme", directives=["ScimSeatLimit 5"]),
        Guard("/b", "acme", directives=["ScimSeatLimit 5"]),
        Guard("/c", "acme")])
    assert rc == 0, out


@pytest.mark.parametrize("guard, word", [
    (Guard("/g", "acme", require="scim-group"), "scim-group"),
    (Guard("/m", "acme", require="scim-member extra"), "scim-member"),
    (Guard("/l", "acme", directives=["ScimLinkAttribute phone"]),
     "ScimLinkAttribute"),
    (Guard("/s", "acme", directives=["ScimSeatLimit -1"]), "ScimSeatLimit"),
    (Guard("/r", "acme", directives=["ScimAuditRetention 0"]),
     "ScimAuditRetention"),
])
def test_access_directive_mistakes_fail_configtest(make_server, guard, word):
    rc, out = configtest(make_server, [guard])
    assert rc != 0 and word in out, out


@pytest.mark.expect_log(AUTHZ_REFUSAL, NO_SEAT_LINE)
def test_seat_limit_follows_the_organization_across_locations(app):
    """/seats2 sets no ScimSeatLimit: organization seats' limit of 2, set
    at /seats, holds there too."""
    while True:
        _, login = new_member(app, "seats")
        if app.visit("/seats", login).status_code == 403:
            break
    _, login = new_member(app, "seats")
    resp = app.visit("/seats2", login)
    assert resp.status_code == 403 and "no free seat" in resp.text.lower()


def test_simultaneous_first_requests_of_one_member_are_all_admitted(app):
    user, login = new_member(app)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: app.visit("/app", login).status_code,
                              range(16)))
    assert codes == [200] * 16, codes
    assert db_count(app, "SELECT COUNT(*) FROM scim_audit WHERE event = "
                    "'link' AND resource_id = ?", user["id"]) == 1
