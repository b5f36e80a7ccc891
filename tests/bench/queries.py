"""--queries N: filters no index answers and sorts, over N users (issue 9:
"any other filter, and any sortBy, over 100,000 users at most 0.2 s and in
bounded memory").

Seeds N users through the SCIM API (bench.seed), then asks each query of
QUERIES one at a time, REPEATS times, and reports the median and the
slowest answer as the client saw it, with the totalResults each answered
(checked against what the seeded users make true).  Then CONCURRENT
clients ask the sorted queries together for a few rounds while the
children's RSS is sampled: one page must not hold the organization in
memory, so the children's peak may not grow with N.  Speed never fails the
run; a wrong total or an error answer does.
"""

import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from harness import ScimClient

REPEATS = 7
CONCURRENT = 16
CONCURRENT_ROUNDS = 3
TARGET_S = 0.2


def user_number(n, users):
    """A seeded user's number near n % users, six digits as user_name has it."""
    return f"{n % users:06d}"


def queries(users):
    """(label, params, expected totalResults) of each query; users are
    bench.seed's: familyName and displayName "user-NNNNNN", givenName
    "Bench", one work e-mail, userName "user-NNNNNN@bench.example";
    SPARES more users ("spare-NNN@bench.example", same shape) count too."""
    from bench import SPARES
    everyone = users + SPARES
    one = user_number(users // 2 + 1, users)
    last_page = max(1, everyone - 99)
    # users whose number has a 9 in it: counted, not guessed
    with_9 = sum("9" in f"{i:06d}" for i in range(users)) + \
        sum("9" in f"{i:03d}" for i in range(SPARES))
    return [
        ("name.familyName eq (one match)",
         {"filter": f'name.familyName eq "user-{one}"'}, 1),
        ("displayName co \"9\"",
         {"filter": 'displayName co "9"', "count": 100}, with_9),
        ("emails[type eq work and value eq] (index)",
         {"filter": f'emails[type eq "work" and value eq "user-{one}@bench.example"]'}, 1),
        ("userName eq (index)",
         {"filter": f'userName eq "user-{one}@bench.example"'}, 1),
        ("title pr (no match)", {"filter": "title pr"}, 0),
        ("sortBy=name.familyName",
         {"sortBy": "name.familyName", "count": 100}, everyone),
        ("sortBy=name.familyName descending",
         {"sortBy": "name.familyName", "sortOrder": "descending", "count": 100},
         everyone),
        ("name.givenName eq \"Bench\" sortBy=name.familyName (all match)",
         {"filter": 'name.givenName eq "Bench"', "sortBy": "name.familyName",
          "count": 100}, everyone),
        ("... descending, startIndex at the last page",
         {"filter": 'name.givenName eq "Bench"', "sortBy": "name.familyName",
          "sortOrder": "descending", "startIndex": last_page, "count": 100},
         everyone),
        ("displayName co \"9\" sortBy=name.familyName",
         {"filter": 'displayName co "9"', "sortBy": "name.familyName",
          "count": 100}, with_9),
        ("active eq true sortBy=displayName",
         {"filter": "active eq true", "sortBy": "displayName", "count": 100},
         everyone),
    ]


def ask(client, params, expected):
    """Seconds the query took, or raises on an error or a wrong total."""
    t0 = time.monotonic()
    resp = client.get("/Users", params=params)
    seconds = time.monotonic() - t0
    if resp.status_code != 200:
        raise RuntimeError(f"{params}: {resp.status_code} {resp.text[:300]}")
    total = resp.json().get("totalResults")
    if total != expected:
        raise RuntimeError(f"{params}: totalResults {total}, expected {expected}")
    return seconds


def children_rss_kb(server):
    """The summed VmRSS of httpd's children, in kB."""
    from bench import rss_of
    return sum((rss_of(p) or {}).get("VmRSS", 0) for p in server.pids()[1:])


def concurrent_memory(server, base, token, sorted_queries):
    """CONCURRENT clients asking the sorted queries CONCURRENT_ROUNDS times
    each: the children's summed RSS before, at its highest while they ran
    (sampled every 0.1 s) and after; the slowest answer."""
    before = children_rss_kb(server)
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], children_rss_kb(server))
            time.sleep(0.1)

    def client_run(_):
        client = ScimClient(base, token, timeout=120)
        return max(ask(client, p, e) for _ in range(CONCURRENT_ROUNDS)
                   for _, p, e in sorted_queries)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(CONCURRENT) as pool:
            slowest = max(pool.map(client_run, range(CONCURRENT)))
    finally:
        done.set()
        sampler.join()
    return {"before_kb": before, "peak_kb": peak[0],
            "after_kb": children_rss_kb(server), "slowest_s": round(slowest, 3)}


def queries_main(args, mach, out, db):
    from bench import ORG, new_token, seed_run, start_server, store_label, \
        server_complaints, wait_idle, write_results
    token = new_token()
    server = start_server(out, args.mpm, token, db)
    rows, problems, seeding, memory = [], [], None, None
    try:
        client = server.client(ORG)
        client.timeout = 120
        args.users, args.group_members = args.queries, 0
        seeding = seed_run(client, out / "data", args, db)
        todo = queries(args.queries)
        for label, params, expected in todo:
            ask(client, params, expected)       # warm: the page cache, statements
            times = [ask(client, params, expected) for _ in range(REPEATS)]
            rows.append({"query": label, "params": params, "total": expected,
                         "median_s": round(statistics.median(times), 4),
                         "max_s": round(max(times), 4)})
            print(f"bench: {label}: median {rows[-1]['median_s'] * 1000:.1f} ms,"
                  f" slowest {rows[-1]['max_s'] * 1000:.1f} ms", flush=True)
        memory = concurrent_memory(server, client.base, token,
                                   [q for q in todo if "sortBy" in q[1]])
        print(f"bench: {CONCURRENT} clients sorting: children's RSS "
              f"{memory['before_kb']} kB -> peak {memory['peak_kb']} kB -> "
              f"{memory['after_kb']} kB", flush=True)
    except RuntimeError as e:
        problems.append(str(e))
    finally:
        wait_idle(server)
        server.stop()
    crashes, _ = server_complaints(server)
    problems += [f"httpd crashed: {l}" for l in crashes]

    doc = {"machine": mach,
           "config": {"mode": "queries", "mpm": args.mpm, "db": db,
                      "store": store_label(db), "users": args.queries,
                      "repeats": REPEATS,
                      "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
           "seeding": seeding, "queries": rows,
           "concurrent_memory": memory}
    lines = [f"Queries over {args.queries} users: mpm_{args.mpm}, "
             f"{doc['config']['store']} (machine: {mach['nproc']} CPUs, "
             f"{mach['cpu']}); each asked {REPEATS} times after a first, one at a"
             f" time; target {TARGET_S * 1000:.0f} ms.", "",
             "| query | totalResults | median ms | slowest ms |",
             "|---|---:|---:|---:|"]
    for r in rows:
        over = " (over)" if r["median_s"] > TARGET_S else ""
        lines.append(f"| {r['query']} | {r['total']} | {r['median_s'] * 1000:.1f}{over}"
                     f" | {r['max_s'] * 1000:.1f} |")
    if memory:
        lines += ["", f"{CONCURRENT} clients asking the sorted queries "
                  f"{CONCURRENT_ROUNDS} times each: the children's summed RSS "
                  f"{memory['before_kb']} kB before, {memory['peak_kb']} kB at "
                  f"most, {memory['after_kb']} kB after; slowest answer "
                  f"{memory['slowest_s'] * 1000:.0f} ms."]
    write_results(out, doc, "\n".join(lines) + "\n")
    print(f"bench: results in {out}/results.json and results.md")
    return problems
