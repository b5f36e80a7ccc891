"""Acknowledged writes survive a crash; a busy database gives 503, not a hang
or a half-write."""

import subprocess
import time

import pytest

from harness import (ANY_EXCEPT_CRASH, PATCH_OP, PYTHON, RUN_AS_ROOT, RUN_USER,
                     assert_error, describe, retry_after_ok, scim_json,
                     user_body)


def test_acknowledged_writes_survive_kill_9(make_server):
    # "apache2 -k start" over a stale pid file warns about the unclean
    # shutdown; that line is expected here.
    server = make_server("durable", allow_log=[r"AH00098|Unclean shutdown"])
    c = server.client()
    created = c.create_user(user_body(displayName="before crash"))
    patched = scim_json(c.patch(f"/Users/{created['id']}", {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "displayName",
                        "value": "patched before crash"}]}), 200)
    other = c.create_user()
    assert c.delete(f"/Users/{other['id']}").status_code == 204

    killed = server.kill9()
    assert len(killed) >= 2, f"expected a parent and children, killed {killed}"
    server.start()

    c = server.client()
    got = c.get_user(created["id"])
    assert got["userName"] == created["userName"]
    assert got["displayName"] == "patched before crash"
    assert got["meta"]["version"] == patched["meta"]["version"]
    assert_error(c.get(f"/Users/{other['id']}"), 404)
    # and the store still takes writes
    c.create_user()


LOCKER = r"""
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
db.close()
print("released", flush=True)
"""


@pytest.mark.sqlite_only     # locks the database file
@pytest.mark.expect_log(ANY_EXCEPT_CRASH)
def test_busy_database_gives_503_then_recovers(httpd, acme):
    acme.create_user()          # the schema exists, the db file is there
    assert httpd.db.exists()
    body = user_body()
    # SQLite busy: apr_dbd waits 1.5 s, the store tries twice; the lock
    # outlasts that by far
    hold = 7.0

    kw = {"user": RUN_USER, "group": RUN_USER} if RUN_AS_ROOT else {}
    locker = subprocess.Popen([PYTHON, "-c", LOCKER, str(httpd.db), str(hold)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, **kw)
    try:
        line = locker.stdout.readline().strip()
        assert line == "locked", f"could not lock the db: {line} {locker.stderr.read()}"
        t0 = time.monotonic()
        resp = acme.post("/Users", body, timeout=30)
        elapsed = time.monotonic() - t0
        locked_until = hold - elapsed
    finally:
        out, err = locker.communicate(timeout=30)
    assert locker.returncode == 0, err

    assert locked_until > 0, (
        f"POST took {elapsed:.1f}s, longer than the {hold}s lock: the module "
        f"waits too long on a busy database" + describe(resp))
    assert_error(resp, 503)
    assert retry_after_ok(resp), describe(resp)

    # nothing was half-written, and once the lock is gone the write works
    assert acme.filter_users(f'userName eq "{body["userName"]}"')["totalResults"] == 0
    scim_json(acme.post("/Users", body), 201)
