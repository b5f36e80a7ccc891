"""E-mail lookups, the most common matching attribute after userName, are
answered from the e-mail index in every form Entra ID and Okta send, with
the same answer a scan gives and the work of a userName lookup."""

import uuid

import pytest

from harness import CORE_USER, Org, new_token
from test_groups_scale import measured

FORMS = {
    "sub-attribute": 'emails.value eq "{v}"',
    "okta value path": 'emails[value eq "{v}"]',
    "entra typed": 'emails[type eq "work" and value eq "{v}"]',
    "entra tail": 'emails[type eq "work"].value eq "{v}"',
    "and chain": 'active eq true and emails.value eq "{v}"',
}


@pytest.fixture(scope="module")
def indexed(request):
    from harness import HttpdServer
    server = HttpdServer(f"email-index-{uuid.uuid4().hex[:6]}",
                         [Org("acme", [new_token()])],
                         extra_conf="LogLevel warn scim:debug")
    server.write_config()
    server.start()
    c = server.client("acme")
    users = []
    for i in range(60):
        name = f"e{i}.{uuid.uuid4().hex[:6]}"
        users.append(c.create_user({
            "schemas": [CORE_USER], "userName": name,
            "emails": [{"value": f"{name}@Work.example", "type": "work"},
                       {"value": f"{name}@home.example", "type": "home"}]}))
    yield server, c, users
    server.stop()


@pytest.mark.parametrize("form", sorted(FORMS))
def test_each_form_finds_the_user_by_index(indexed, form):
    server, c, users = indexed
    target = users[37]
    value = target["emails"][0]["value"].upper()     # case-insensitive
    resp, work = measured(server, lambda: c.get("/Users", params={
        "filter": FORMS[form].format(v=value)}))
    body = resp.json()
    assert [r["id"] for r in body["Resources"]] == [target["id"]], body
    # one indexed statement, one row: no scan of the 60 users
    assert work.read <= 2, work


def test_the_filter_still_judges_what_the_index_returns(indexed):
    server, c, users = indexed
    home = users[5]["emails"][1]["value"]
    # the home address is indexed, but the filter asks for a work one
    body = c.get("/Users", params={
        "filter": f'emails[type eq "work" and value eq "{home}"]'}).json()
    assert body["totalResults"] == 0
    body = c.get("/Users", params={
        "filter": f'emails[type eq "home" and value eq "{home}"]'}).json()
    assert [r["id"] for r in body["Resources"]] == [users[5]["id"]]


def test_a_replaced_address_is_found_no_more(indexed):
    server, c, users = indexed
    u = users[9]
    old = u["emails"][0]["value"]
    c.patch_ops(u["id"], {"op": "replace", "path": "emails",
                          "value": [{"value": "renamed." + old, "type": "work"}]})
    assert c.get("/Users", params={"filter": f'emails.value eq "{old}"'}
                 ).json()["totalResults"] == 0
    assert c.get("/Users", params={
        "filter": f'emails.value eq "renamed.{old}"'}).json()["totalResults"] == 1


def test_or_is_not_taken_for_an_index(indexed):
    server, c, users = indexed
    a, b = users[1]["emails"][0]["value"], users[2]["emails"][0]["value"]
    body = c.get("/Users", params={
        "filter": f'emails.value eq "{a}" or emails.value eq "{b}"'}).json()
    assert sorted(r["id"] for r in body["Resources"]) == sorted(
        [users[1]["id"], users[2]["id"]])


def found_by_email(c, value):
    return [r["id"] for r in c.get("/Users", params={
        "filter": f'emails.value eq "{value}"'}).json()["Resources"]]


def test_a_patch_of_active_writes_no_index_rows(indexed):
    """Entra disables and enables users with a PATCH of active alone: the
    user's row and its audit row are written, the e-mail index is not
    (its rows did not change), and the user is still found by e-mail."""
    server, c, users = indexed
    u = users[11]
    for active in (False, True):
        resp, work = measured(server, lambda: c.patch_ops(u["id"], {
            "op": "replace", "path": "active", "value": active}))
        assert resp.status_code == 200, resp.text
        assert work.written <= 2, work          # user row, audit row
    for e in u["emails"]:
        assert found_by_email(c, e["value"]) == [u["id"]]


def test_a_patch_changing_emails_rewrites_the_index(indexed):
    server, c, users = indexed
    u = users[12]
    old, home = u["emails"][0]["value"], u["emails"][1]["value"]
    new = "moved." + old
    resp, work = measured(server, lambda: c.patch_ops(u["id"], {
        "op": "replace", "path": "emails[type eq \"work\"].value",
        "value": new}))
    assert resp.status_code == 200, resp.text
    assert work.written > 2, work
    assert found_by_email(c, new) == [u["id"]]
    assert found_by_email(c, old) == []
    assert found_by_email(c, home) == [u["id"]]
    # a change of case only: the index keeps values folded, so it stays
    resp, work = measured(server, lambda: c.patch_ops(u["id"], {
        "op": "replace", "path": "emails[type eq \"work\"].value",
        "value": new.upper()}))
    assert resp.status_code == 200, resp.text
    assert work.written <= 2, work
    assert found_by_email(c, new.lower()) == [u["id"]]
