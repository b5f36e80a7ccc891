"""Behind a TLS-terminating proxy: meta.location, Location and $ref carry
the public URL (ScimBaseURL, or X-Forwarded-* when trusted, or ServerName
https://...)."""

import subprocess

import pytest

from harness import Org, new_token, scim_json, user_body

PUBLIC = "https://id.example.com/scim/v2/acme"


def created_urls(client):
    resp = client.post("/Users", user_body())
    user = scim_json(resp, 201)
    group = scim_json(client.post("/Groups", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": f"g-{user['id']}",
        "members": [{"value": user["id"]}]}), 201)
    return resp.headers["Location"], user, group


def test_scim_base_url_is_the_public_url(make_server):
    server = make_server("baseurl", orgs=[
        Org("acme", [new_token()], directives=[f"ScimBaseURL {PUBLIC}/"])])
    c = server.client()
    location, user, group = created_urls(c)
    assert location == f"{PUBLIC}/Users/{user['id']}"
    assert user["meta"]["location"] == location
    assert group["members"][0]["$ref"] == location
    spc = scim_json(c.get("/ServiceProviderConfig"), 200)
    assert spc["meta"]["location"] == f"{PUBLIC}/ServiceProviderConfig"
    # forwarded headers change nothing when a base URL is configured
    got = scim_json(c.get(f"/Users/{user['id']}", headers={
        "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"}), 200)
    assert got["meta"]["location"] == location


def test_forwarded_headers_are_ignored_unless_trusted(make_server):
    server = make_server("untrusted")
    c = server.client(headers={"X-Forwarded-Host": "evil.example",
                               "X-Forwarded-Proto": "https"})
    location, user, _ = created_urls(c)
    assert location.startswith(f"http://127.0.0.1:{server.port}/scim/v2/acme/Users/")


def test_trusted_forwarded_headers_build_the_urls(make_server):
    server = make_server("trusted", orgs=[
        Org("acme", [new_token()], directives=["ScimTrustForwardedHeaders On"])])
    c = server.client(headers={"X-Forwarded-Host": "id.example.com, proxy2.internal",
                               "X-Forwarded-Proto": "HTTPS"})
    location, user, group = created_urls(c)
    assert location == f"{PUBLIC}/Users/{user['id']}"
    assert group["members"][0]["$ref"] == location
    # a forwarded host that is not a plain host[:port] is not used
    got = scim_json(server.client(headers={
        "X-Forwarded-Host": "evil.example/x?", "X-Forwarded-Proto": "https"})
        .get(f"/Users/{user['id']}"), 200)
    assert got["meta"]["location"] == \
        f"https://127.0.0.1/scim/v2/acme/Users/{user['id']}"


def test_server_name_with_scheme_gives_the_public_url(make_server):
    # ServerName https://... with UseCanonicalName On: httpd's own way
    server = make_server("servername", extra_conf="\n".join([
        "ServerName https://id.example.com:443", "UseCanonicalName On"]))
    location, user, _ = created_urls(server.client())
    assert location == f"{PUBLIC}/Users/{user['id']}"


@pytest.mark.parametrize("value", ["id.example.com/scim", "ftp://x/scim",
                                   "https:///scim", "https://x/scim?a=b"])
def test_scim_base_url_must_be_an_absolute_http_url(make_server, value):
    server = make_server("badbase", start=False, orgs=[
        Org("acme", [new_token()], directives=[f"ScimBaseURL {value}"])])
    res = server.configtest()
    assert res.returncode != 0 and "ScimBaseURL" in res.stderr + res.stdout
