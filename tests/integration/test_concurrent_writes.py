"""Many writers at once, as an IdP's first cycle or a bulk import sends
them: the writes of one server process that wait at the same time are
committed together (group commit on SQLite).  None is answered before it
is durable, a write refused among them (409) leaves the others standing,
every acknowledged write is in the store (also after kill -9), and none is
answered 503 while the store is merely busy."""

import threading
import uuid

from concurrent.futures import ThreadPoolExecutor

from harness import MPM, ScimClient, describe, user_body

WRITERS = 64

# Room for WRITERS keep-alive clients: a child whose workers are all busy
# (its writers waiting for their group's COMMIT) closes its keep-alive
# connections under the clients' next requests, and prefork needs a child
# per client.  With a threaded MPM each thread holds a database connection
# (DBDMax >= ThreadsPerChild).  Event gets two children beyond the
# writers' four: at the limit httpd logs AH10159 at error level.
ROOM_FOR_WRITERS = {
    "event": "StartServers 4\nServerLimit 6\nThreadsPerChild 25\n"
             "MaxRequestWorkers 150\nMaxSpareThreads 150\nDBDMax 25",
    "prefork": "ServerLimit 80\nMaxRequestWorkers 80",
}


def _post_all(base, token, bodies, writers=WRITERS):
    """POSTs every body from writers threads, each with its own client and
    each request on a new connection (what is under test is the store, not
    keep-alive: a child whose workers are all busy closes idle keep-alive
    connections, a race an HTTP client meets at its next request); returns
    the responses in order."""
    local = threading.local()

    def post(body):
        if not hasattr(local, "client"):
            local.client = ScimClient(base, token, timeout=60,
                                      headers={"Connection": "close"})
        return local.client.post("/Users", body)

    with ThreadPoolExecutor(writers) as pool:
        return list(pool.map(post, bodies))


def _count_rows(server, sql, *args):
    return int(server.sql(sql, *args)[0][0])


def test_64_writers_every_acknowledged_create_is_stored(make_server):
    # (at full load a child may still report its workers all busy: the
    # connections then wait in the listen queue)
    server = make_server("writers", extra_conf=ROOM_FOR_WRITERS.get(MPM, ""),
                         allow_log=[r"AH00484|AH00161"])
    acme = server.client()
    tag = uuid.uuid4().hex[:8]
    # every fourth name is sent twice: one of the two is a 409, which must
    # not take the writes committed with it down
    names = [f"w64-{tag}-{i}@example.com" for i in range(256)]
    bodies = [user_body(n) for n in names] + \
             [user_body(n.upper()) for n in names[::4]]
    results = _post_all(acme.base, acme.token, bodies)

    codes = [r.status_code for r in results]
    assert set(codes) <= {201, 409}, \
        "".join(describe(r) for r in results if r.status_code not in (201, 409))[:3000]
    assert codes.count(201) == len(names) and codes.count(409) == len(names[::4])
    created = {r.json()["id"] for r in results if r.status_code == 201}
    assert len(created) == len(names)
    # the store holds exactly what was acknowledged, each with its audit row
    assert _count_rows(server, "SELECT COUNT(*) FROM scim_resources WHERE org = ?"
                       " AND rtype = 'User' AND lower(name) LIKE ?", "acme",
                       f"w64-{tag}-%") == len(names)
    assert _count_rows(server, "SELECT COUNT(*) FROM scim_audit WHERE org = ?"
                       " AND event = 'create' AND outcome = 'ok'"
                       " AND lower(name) LIKE ?", "acme",
                       f"w64-{tag}-%") == len(names)
    # and each refusal its own, written among the writers
    assert _count_rows(server, "SELECT COUNT(*) FROM scim_audit WHERE org = ?"
                       " AND event = 'create' AND outcome = '409'"
                       " AND lower(name) LIKE ?", "acme",
                       f"w64-{tag}-%") == len(names[::4])
    for r in results:
        if r.status_code == 201:
            got = acme.get_user(r.json()["id"])
            assert got["userName"] == r.json()["userName"]


def test_concurrent_acknowledged_creates_survive_kill_9(make_server):
    server = make_server("group-crash", allow_log=[r"AH00098|Unclean shutdown"])
    c = server.client()
    c.create_user()                 # the schema exists
    org = server.orgs["acme"]
    acked, lock = [], threading.Lock()
    stop = threading.Event()
    tag = uuid.uuid4().hex[:8]

    def writer(k):
        client = ScimClient(server.base_url(), org.tokens[0], timeout=10)
        i = 0
        while not stop.is_set():
            i += 1
            try:
                r = client.post("/Users", user_body(f"crash-{tag}-{k}-{i}@example.com"))
            except Exception:       # the server is gone: unanswered
                return
            if r.status_code == 201:
                with lock:
                    acked.append(r.json())

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    try:
        while True:                 # well into the load, then the crash
            with lock:
                if len(acked) >= 200:
                    break
            threads[0].join(0.05)
        server.kill9()
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    with lock:
        answered = list(acked)
    server.start()

    c = server.client()
    for u in answered:
        got = c.get(f"/Users/{u['id']}")
        assert got.status_code == 200, f"acknowledged create of {u['userName']} lost"
        assert got.json()["userName"] == u["userName"]
