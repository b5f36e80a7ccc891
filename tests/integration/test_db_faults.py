"""What happens to the database underneath a running server: another
connection changes the schema, the file is removed, many writers race on a
new database or on one lock.  Each must end in 2xx answers, or in a 503 that
says why, never in a lost write."""

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import (ANY_EXCEPT_CRASH, RUN_AS_ROOT, RUN_USER, ScimClient,
                     assert_error, describe, retry_after_ok, scim_json, unique,
                     user_body)


def as_server_user():
    return {"user": RUN_USER, "group": RUN_USER} if RUN_AS_ROOT else {}


def sqlite3_cli(db, sql):
    res = subprocess.run(["sqlite3", str(db), sql], capture_output=True,
                         text=True, timeout=60, **as_server_user())
    assert res.returncode == 0, res.stderr


def parallel_clients(server, n):
    """n clients; a new TCP connection for each request: the event MPM
    closes idle keep-alive connections of a child it retires, which a
    reused connection meets as an empty reply."""
    return [server.client(headers={"Connection": "close"}) for _ in range(n)]


@pytest.mark.sqlite_only
def test_schema_changed_by_another_connection_requests_stay_2xx(make_server):
    server = make_server("schema")
    c = server.client()
    users = [c.create_user() for _ in range(5)]
    for sql in ("VACUUM;", "ANALYZE;",
                "CREATE INDEX IF NOT EXISTS extra ON scim_resources (created);",
                "VACUUM;"):
        sqlite3_cli(server.db, sql)
        # every connection of every child meets the change: several rounds
        for _ in range(12):
            for u in users:
                scim_json(c.get(f"/Users/{u['id']}"), 200)
            c.create_user()
            scim_json(c.patch_ops(users[0]["id"], {
                "op": "replace", "path": "title", "value": sql}), 200)


@pytest.mark.sqlite_only
@pytest.mark.expect_log(r"\[scim:crit\].*was removed or replaced",
                        r"\[scim:error\]")
def test_removed_database_refuses_writes_and_says_so(make_server):
    server = make_server("removed")
    c = server.client()
    # every child has opened the database (new children would create a
    # new, empty one: nothing in a fresh process knows the old file)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda cl: cl.create_user(),
                      parallel_clients(server, 32)))
    for f in server.root.glob("scim.db*"):
        f.unlink()
    offset = server.log_size()
    for _ in range(6):      # every child that has a connection
        resp = c.post("/Users", user_body())
        assert resp.status_code == 503, describe(resp)
        assert_error(resp, 503)
        assert retry_after_ok(resp), describe(resp)
    assert any("[scim:crit]" in l and "was removed or replaced" in l
               for l in server.log_since(offset)), server.log_tail()


def test_identical_creates_on_a_new_database_one_201(make_server):
    """Fifty identical creates as the first requests of a brand-new
    database: set-up and migration wait their turn, one create wins."""
    server = make_server("fresh")
    cs = parallel_clients(server, 16)
    body = user_body(unique("first"))
    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(lambda i: cs[i % 16].post("/Users", body),
                                  range(50)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 1, \
        "\n".join(describe(r) for r in responses if r.status_code not in (201, 409))[:3000]
    assert set(statuses) == {201, 409}, statuses


@pytest.mark.scim_timeout(240)
def test_concurrent_creates_never_503(make_server):
    """16 writers at once (fewer than the server's threads): a create that
    only waited for the write lock never fails.  Prints the latencies."""
    server = make_server("writers")
    cs = parallel_clients(server, 16)

    def create(i):
        t0 = time.monotonic()
        resp = cs[i % 16].post("/Users", user_body())
        return resp, time.monotonic() - t0

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(create, range(640)))
    bad = [describe(r) for r, _ in results if r.status_code != 201]
    assert not bad, f"{len(bad)} failed:\n" + "\n".join(bad[:3])
    times = sorted(t for _, t in results)
    print(f"\n{server.db_driver} creates, 16 writers: p50 "
          f"{times[len(times) // 2] * 1000:.1f} ms, p99 "
          f"{times[int(len(times) * 0.99)] * 1000:.1f} ms")


@pytest.mark.expect_log(ANY_EXCEPT_CRASH)
def test_killed_backend_gives_503_then_recovers(pg, make_server):
    """PostgreSQL ends the server's sessions (a failover, an
    administrator): the requests that meet a dead connection get 503 with
    Retry-After, no child crashes, the next ones succeed."""
    server = make_server("killed")
    c = server.client()
    c.create_user()
    for _ in range(3):
        pg.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                f" WHERE datname = '{server.database}'")
        statuses = []
        for _ in range(20):
            resp = c.post("/Users", user_body())
            statuses.append(resp.status_code)
            if resp.status_code == 503:
                assert retry_after_ok(resp), describe(resp)
                assert_error(resp, 503)
        assert set(statuses) <= {201, 503}, statuses
        assert statuses[-1] == 201, statuses
    assert not [l for l in server.log_since(0) if "exit signal" in l]
