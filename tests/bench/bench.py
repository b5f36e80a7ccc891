#!/usr/bin/python3
"""The mod_scim benchmark (./build.sh bench).

Starts a real httpd with mod_scim through the integration harness
(tests/integration/harness.py) on 127.0.0.1, seeds users and a large group
through the SCIM API, then runs each workload of WORKLOADS for a fixed
time with wrk and a Lua script of this directory.  In the same run, on the
same server and disk, it measures the ceilings the workloads are compared
with: the same server serving a static file the size of a user's GET
response (bare, and behind Basic auth), and the store's durable commit
rate through apr_dbd with as many writers as wrk has connections
(build/commit_rate, tests/bench/commit_rate.c).  Each workload's ceiling
is measured again right after it, and the workload is compared with the
mean of the measurements before and after it (the machine's and the
disk's speed drift between minutes).  --rounds N runs each workload and
its ceiling N times in turn and reports the round of the median ratio.

--db sqlite (default), pgsql or both: the store.  PostgreSQL is the
cluster build.sh started for the run (SCIM_TEST_PG_*; "./build.sh bench
--db pgsql" starts one with fsync=on and synchronous_commit=on, durable as
SQLite's synchronous=FULL).  With both, each store runs the same workloads
on its own server, one after the other, and results.md shows them side by
side.

Three other runs answer issue 9's questions:
  --create N --writers W   W connections create N users (no seeding); counts
                           201/409/503/other and compares the users stored
                           with the 201s (lost writes).
  --queries N              filters no index answers and sortBy over N users
                           (tests/bench/queries.py): median and slowest
                           answer of each, memory while 16 clients sort.
  --rss N                  a mixed workload (tests/bench/mixed.lua) until N
                           requests; samples the VmRSS of httpd's children
                           for 12 s from every 100,000 requests (or N/10)
                           on, and from N: each child's floor and peak.

Results go to <out>/results.json and <out>/results.md (default
build/bench/).  The exit status is 1 when a workload saw errors (a non-2xx
answer to a read, a non-2xx other than 503 to a write, socket errors on a
read, no answer at all) or a child of httpd crashed; speed never fails it.
The creation run also fails on a 503 or a lost write.
"""

import argparse
import base64
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

import harness  # noqa: E402
from queries import queries_main  # noqa: E402
from harness import (CORE_GROUP, CORE_USER, PATCH_OP, HttpdServer, Org,  # noqa: E402
                     PgCluster, ScimClient, new_token, scim_json)

ORG = "bench"
SCIM = None                 # Workload.path of the SCIM workloads
# The ceiling of the writes: the store's durable commits per second, from
# as many writers as wrk has connections.
COMMIT_RATE = "commit_rate"
STATIC_FILE = "user.json"   # in each static location, sized like a user GET
SPARES = 100                # users outside the group, for member churn
GROUP_BATCH = 1000          # members per seeding PATCH
SEED_CLIENTS = 8
SEED_RETRIES = 20           # tries of a seeding POST answered 503
BASIC_USERS = 100           # seeded users that also have a Basic password
BASIC_PASSWORD = "bench-password"


@dataclass(frozen=True)
class Workload:
    name: str
    path: str               # URL path of a static file, or SCIM (None)
    script: str             # tests/bench/<script>
    ceiling: str = None     # the workload (or COMMIT_RATE) it is compared with
    write: bool = False     # writes may answer 503 (store busy)


# Locations that serve the static file: URL path -> directives.  The file
# is written to <DocumentRoot><path>/user.json.
BASIC_AUTH = ["AuthType Basic", 'AuthName "bench"',
              "AuthBasicProvider file", 'AuthUserFile "{root}/htpasswd"']
STATIC_LOCATIONS = {
    "/static": [],
    "/basic": BASIC_AUTH + ["Require valid-user"],
    "/member": BASIC_AUTH + [f"ScimOrganization {ORG}",
                             "AuthzSendForbiddenOnFailure On",
                             "Require scim-member"],
}

# Run in this order: the ceilings first, the reads, then the writes (which
# change what the reads would see).
WORKLOADS = [
    Workload("static", f"/static/{STATIC_FILE}", "static.lua"),
    Workload("static_basic", f"/basic/{STATIC_FILE}", "basic_auth.lua"),
    Workload("scim_member", f"/member/{STATIC_FILE}", "basic_auth.lua",
             "static_basic"),
    Workload("get_user", SCIM, "get_user.lua", "static"),
    Workload("filter_userName", SCIM, "filter_username.lua", "static"),
    Workload("filter_externalId", SCIM, "filter_externalid.lua", "static"),
    Workload("page_walk_100", SCIM, "page_walk.lua", "static"),
    Workload("post_user", SCIM, "post_user.lua", COMMIT_RATE, write=True),
    Workload("patch_active", SCIM, "patch_active.lua", COMMIT_RATE, write=True),
    Workload("group_member_add_remove", SCIM, "group_members.lua", COMMIT_RATE,
             write=True),
]


@dataclass
class Result:
    workload: Workload
    requests: int = 0
    seconds: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    statuses: dict = field(default_factory=dict)
    socket_errors: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    # its ceiling measured right before and right after it: a write's
    # concurrent commit rate (the disk's speed drifts from minute to
    # minute), a read's static file (the CPU's share drifts too: a static
    # rate once ran 16,700 and 22,800 a second within the hour)
    ceiling_around: tuple = ()
    # with --rounds N: each round's ratio; this result is the median round
    round_ratios: list = field(default_factory=list)
    # httpd's CPU time (all its processes, user and system) per request
    # while wrk measured: steadier than a rate when other tenants take
    # the CPUs, though it counts the waits httpd spins or syscalls through
    cpu_us: float = 0.0

    @property
    def rps(self):
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def non_2xx(self):
        return {s: n for s, n in self.statuses.items() if not 200 <= int(s) < 300}


# ---- the machine -------------------------------------------------------------

def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu,
            "kernel": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "wrk": wrk_version()}


def wrk_version():
    res = subprocess.run(["wrk", "--version"], capture_output=True, text=True,
                         timeout=10)
    return (res.stdout + res.stderr).split("Copyright")[0].strip()


# ---- the server --------------------------------------------------------------

# Debian's mpm_event.conf (2 children of 25 threads to start with, more
# only when fewer than 25 are idle, none reaped below 75 idle), with a
# database connection for each thread as README advises; prefork: every
# worker the harness allows, started at once and never reaped.  No workload
# pays for (or loses connections to) processes coming and going.  These
# lines follow and override the harness's.

def event_children_of(threads):
    """The event lines: 150 workers in children of that many threads
    (Debian's: 25), started as 50 workers, each thread with a database
    connection (and, on SQLite, each child with its own apr_dbd mutex)."""
    per = lambda n: -(-n // threads)    # children for n workers
    return [f"StartServers {per(50)}", "MinSpareThreads 25", "MaxSpareThreads 75",
            f"ThreadLimit {max(threads, 64)}", f"ThreadsPerChild {threads}",
            "MaxRequestWorkers 150", f"ServerLimit {per(150)}", f"DBDMax {threads}"]


THREADS_PER_CHILD = 25      # event, Debian's
MPM_STEADY = {
    "event": event_children_of(THREADS_PER_CHILD),
    "prefork": ["StartServers 32", "MinSpareServers 5", "MaxSpareServers 32"],
}


def mpm_lines(mpm, writers, threads_per_child=None):
    """MPM_STEADY (event: children of threads_per_child threads, when
    given), or enough workers for that many writers.  prefork: a
    child per writer (a child holds its keep-alive connection; beyond the
    children the others would wait in the listen queue).  event: children
    that each have a thread (and a database connection) for every writer
    and some to spare: an event child whose workers are all busy closes
    its idle keep-alive connections, and a request the client has just
    sent on one of them is never answered (with 64 writers on the
    harness's 4 children of 10 threads, 515 of 100,000 POSTs were)."""
    if mpm == "event" and writers > 2 * THREADS_PER_CHILD:
        threads = writers + 16
        return [f"ThreadLimit {threads}", "ServerLimit 2", "StartServers 2",
                f"ThreadsPerChild {threads}", f"MaxRequestWorkers {2 * threads}",
                "MinSpareThreads 10", f"MaxSpareThreads {2 * threads}",
                f"DBDMax {threads}"]
    if mpm == "prefork" and writers > 32:
        # (a prefork child has one database connection)
        return [f"ServerLimit {writers}", f"MaxRequestWorkers {writers}",
                f"StartServers {writers}", "MinSpareServers 5",
                f"MaxSpareServers {writers}"]
    if mpm == "event" and threads_per_child:
        return event_children_of(threads_per_child)
    return MPM_STEADY[mpm]


def start_server(out, mpm, token, db, writers=0, threads_per_child=None):
    root = out / "server"
    conf = [f"LoadModule {m}_module {harness.MODULES_DIR}/mod_{m}.so"
            for m in ("auth_basic", "authn_file", "authz_user")]
    conf += mpm_lines(mpm, writers, threads_per_child)
    for path, directives in STATIC_LOCATIONS.items():
        conf.append(f"<Location {path}>")
        conf += ["    " + d.format(root=root) for d in directives]
        conf.append("</Location>")
    server = HttpdServer(f"bench-{mpm}", [Org(ORG, [token])], mpm=mpm,
                         extra_conf="\n".join(conf), root=root, db=db,
                         database=f"bench_{mpm}_{uuid.uuid4().hex[:8]}")
    server.write_config()
    (root / "htpasswd").write_text("".join(
        f"{user_name(i)}:{{SHA}}{sha1_b64(BASIC_PASSWORD)}\n"
        for i in range(BASIC_USERS)))
    return server.start()


def sha1_b64(text):
    return base64.b64encode(hashlib.sha1(text.encode()).digest()).decode()


def write_static_files(server, size):
    """The static file of every location: JSON-looking filler of size bytes."""
    body = ('{"filler":"' + "x" * max(0, size - 14) + '"}\n').encode()[:size]
    for path in STATIC_LOCATIONS:
        d = server.root / "htdocs" / path.lstrip("/")
        d.mkdir(parents=True, exist_ok=True)
        (d / STATIC_FILE).write_bytes(body)


# ---- seeding -----------------------------------------------------------------

def user_name(i):
    return f"user-{i:06d}@bench.example"


def seed_body(name, external_id):
    return {"schemas": [CORE_USER], "userName": name, "externalId": external_id,
            "displayName": name.split("@")[0],
            "name": {"givenName": "Bench", "familyName": name.split("@")[0]},
            "emails": [{"value": name, "type": "work", "primary": True}],
            "active": True}


def post_retrying(client, path, body, retries):
    """POSTs, retrying a 503 (store busy) as an IdP would, but sooner than
    Retry-After says; counts the retries in retries["503"]."""
    for attempt in range(SEED_RETRIES):
        resp = client.post(path, body)
        if resp.status_code != 503:
            break
        retries["503"] += 1
        time.sleep(0.05 * (attempt + 1))
    return scim_json(resp, 201)


def create_users(client, names, retries):
    """POSTs a user per name from SEED_CLIENTS threads; returns the users."""
    local = threading.local()

    def create(name):
        if not hasattr(local, "client"):
            local.client = ScimClient(client.base, client.token)
        ext = f"ext-{uuid.uuid4().hex}"
        return post_retrying(local.client, "/Users", seed_body(name, ext), retries)

    with ThreadPoolExecutor(SEED_CLIENTS) as pool:
        return list(pool.map(create, names))


def seed_run(client, data, args, db):
    """The run's users and group (seed), announced."""
    print(f"bench: seeding {args.users} users on mpm_{args.mpm}, "
          f"{store_short(db)} ...", flush=True)
    return seed(client, data, args.users, min(args.group_members, args.users))


def seed(client, data, users, group_members):
    """Seeds users, spares and the large group; writes the scripts' files."""
    retries = {"503": 0}    # a dict: the pool's threads add to it
    t0 = time.monotonic()
    seeded = create_users(client, [user_name(i) for i in range(users)], retries)
    spares = create_users(client, [f"spare-{i:03d}@bench.example"
                                   for i in range(SPARES)], retries)
    t1 = time.monotonic()
    group = scim_json(client.post("/Groups", {
        "schemas": [CORE_GROUP], "displayName": "bench-large"}), 201)
    members = seeded[:group_members]
    for i in range(0, len(members), GROUP_BATCH):
        resp = client.patch(f"/Groups/{group['id']}", {
            "schemas": [PATCH_OP], "Operations": [{
                "op": "add", "path": "members",
                "value": [{"value": u["id"]} for u in members[i:i + GROUP_BATCH]]}]})
        if resp.status_code not in (200, 204):
            raise RuntimeError(f"group seeding: PATCH answered {resp.status_code}:"
                               f" {resp.text[:300]}")
    t2 = time.monotonic()

    data.mkdir(parents=True, exist_ok=True)
    (data / "users.tsv").write_text("".join(
        f"{u['id']}\t{u['userName']}\t{u['externalId']}\n" for u in seeded))
    (data / "spares.tsv").write_text("".join(f"{u['id']}\n" for u in spares))
    (data / "group.tsv").write_text(f"{group['id']}\n")
    (data / "basic_auth.tsv").write_text("".join(
        f"{name}\tBasic {base64.b64encode(f'{name}:{BASIC_PASSWORD}'.encode()).decode()}\n"
        for name in (user_name(i) for i in range(min(BASIC_USERS, users)))))

    typical = client.get(f"/Users/{seeded[0]['id']}")
    scim_json(typical, 200)
    return {"users": users, "spares": SPARES, "group_members": len(members),
            "users_seconds": round(t1 - t0, 2),
            "users_per_s": round((users + SPARES) / (t1 - t0), 1),
            "retried_503": retries["503"],
            "group_seconds": round(t2 - t1, 2),
            "user_response_bytes": len(typical.content)}


def wait_idle(server, timeout=15):
    """Waits until httpd has answered the requests wrk left in flight (the
    access log stops growing): "apache2 -k stop" kills prefork children
    mid-request, and a child killed while holding a database connection
    aborts in apr_reslist's cleanup."""
    log = server.root / "access.log"
    deadline = time.monotonic() + timeout
    size = -1
    while time.monotonic() < deadline:
        now = log.stat().st_size if log.exists() else 0
        if now == size:
            return
        size = now
        time.sleep(0.5)


# ---- measuring ---------------------------------------------------------------

WARM_UP_WRITES = Workload("warm_up_writes", SCIM, "post_user.lua", write=True)


def warm_up(server, w, args, env):
    """--warmup seconds before the workload, not measured: mod_dbd opens a
    child's database connections while requests wait for them, once
    concurrency first reaches them (a new PostgreSQL connection is a
    server process; its first request took 40-90 ms on this machine), and
    a server that has run a while has them all.  The measurement is then
    of a warm server, for both stores.  A read warms up with itself; a
    write with new users under a tag of its own, which leaves the users,
    states and members that the measured writes change as they were."""
    if args.warmup > 0:
        run_wrk(server, WARM_UP_WRITES if w.write else w, args,
                dict(env, BENCH_RUN=uuid.uuid4().hex[:8]), seconds=args.warmup)


def cpu_seconds(pids):
    """User and system CPU time of processes (their own), in seconds; a
    process gone counts nothing."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])      # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def run_wrk(server, w, args, env, seconds=None):
    seconds = seconds or args.duration
    url = (server.base_url(ORG) if w.path is SCIM
           else f"http://127.0.0.1:{server.port}{w.path}")
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections),
           "-d", f"{seconds}s", "--timeout", "10s",
           "-s", str(HERE / w.script), url]
    r = Result(w)
    before_pids = server.pids()
    cpu_before = cpu_seconds(before_pids)
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, env=env,
                             timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        r.problems.append("wrk did not finish in time")
        return r
    # (a child started during the run counts from its start)
    cpu = cpu_seconds(set(before_pids) | set(server.pids())) - cpu_before
    line = next((l for l in res.stdout.splitlines()
                 if l.startswith("BENCH_RESULT ")), None)
    if res.returncode != 0 or line is None:
        r.problems.append(f"wrk failed (rc {res.returncode}): "
                          f"{(res.stderr or res.stdout).strip()[:500]}")
        return r
    got = json.loads(line.split(" ", 1)[1])
    r.requests = got["requests"]
    r.seconds = got["duration_us"] / 1e6
    r.p50_ms = got["p50_us"] / 1000
    r.p99_ms = got["p99_us"] / 1000
    r.max_ms = got["max_us"] / 1000
    r.statuses = got["statuses"]
    r.socket_errors = {k: v for k, v in got["socket_errors"].items() if v}
    r.cpu_us = 1e6 * cpu / r.requests if r.requests else 0.0
    check(r)
    return r


def check(r):
    """Errors, never speed: what makes the run fail.  wrk counts a
    keep-alive connection that httpd closed while idle as a read error, so
    read and write errors are only reported (a crashed child shows in the
    error log); a refused connection or a request that found no answer in
    10 s is an error."""
    if r.requests == 0:
        r.problems.append("no request completed")
    bad = {s: n for s, n in r.non_2xx.items()
           if not (r.workload.write and s == "503")}
    if bad:
        r.problems.append(f"non-2xx answers: {bad}")
    hard = {k: n for k, n in r.socket_errors.items() if k in ("connect", "timeout")}
    if hard:
        r.problems.append(f"socket errors: {hard}")


def commit_rate(out, db, seconds, writers):
    """build/commit_rate on a new database beside the server's: a file on
    SQLite, a database of the same cluster on PostgreSQL."""
    if db == "pgsql":
        PgCluster.create_database("bench_commit_rate")
        target = ["-d", "pgsql", PgCluster.params("bench_commit_rate")]
    else:
        path = out / "commit_rate.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        target = [str(path)]
    res = subprocess.run([str(harness.BUILD / "commit_rate"), *target,
                          str(seconds), str(writers)],
                         capture_output=True, text=True, timeout=seconds + 60)
    if res.returncode != 0:
        raise RuntimeError(f"commit_rate failed: {res.stderr.strip()}")
    fields = dict(kv.split("=") for kv in res.stdout.split())
    got = {"commits_per_s": float(fields["commits_per_s"]),
           "commits": int(fields["commits"]), "seconds": float(fields["seconds"]),
           "writers": int(fields["writers"]),
           "busy_retries": int(fields["busy_retries"])}
    for k in ("fsync", "synchronous_commit"):
        if k in fields:
            got[k] = fields[k]
    return got


def commit_seconds(args):
    return min(args.duration, 5)


def concurrent_commits(out, db, args):
    """The commit rate from as many writers as wrk has connections."""
    return commit_rate(out, db, commit_seconds(args), args.connections)


def measure_commits(out, db, args):
    commits = {"serial": commit_rate(out, db, commit_seconds(args), 1),
               "concurrent": concurrent_commits(out, db, args)}
    print(f"bench: {COMMIT_RATE:26} {commits['serial']['commits_per_s']:9.1f} commits/s"
          f" (1 writer), {commits['concurrent']['commits_per_s']:.1f} "
          f"({args.connections} writers)", flush=True)
    return commits


def pg_version():
    return PgCluster.psql("SHOW server_version")[0][0].split()[0]


def store_label(db, commits=None):
    """What the store was, as the results say it."""
    if db != "pgsql":
        return "SQLite (WAL, synchronous=FULL)"
    c = (commits or {}).get("serial", {})
    if "fsync" not in c:
        c = {k: PgCluster.psql(f"SHOW {k}")[0][0]
             for k in ("fsync", "synchronous_commit")}
    durable = c["fsync"] == "on" and c["synchronous_commit"] == "on"
    return (f"PostgreSQL {pg_version()} (fsync={c['fsync']}, synchronous_commit="
            f"{c['synchronous_commit']}{'' if durable else ': NOT durable'})")


def ratio(r, results):
    ceiling = r.workload.ceiling
    if r.ceiling_around:
        base = sum(r.ceiling_around) / len(r.ceiling_around)
    elif ceiling in results:
        base = results[ceiling].rps
    else:
        return None
    return r.rps / base if base else None


# ---- reporting ---------------------------------------------------------------

def store_short(db):
    return "PostgreSQL" if db == "pgsql" else "SQLite"


def run_doc(args, mach, db, store, seeding, commits, results, crashes, warnings):
    rows = []
    for r in results.values():
        q = ratio(r, results)
        rows.append({
            "name": r.workload.name, "kind": "write" if r.workload.write else "read",
            "requests": r.requests, "seconds": round(r.seconds, 2),
            "rps": round(r.rps, 1), "p50_ms": round(r.p50_ms, 2),
            "p99_ms": round(r.p99_ms, 2), "max_ms": round(r.max_ms, 2),
            "httpd_cpu_us_per_request": round(r.cpu_us, 1),
            "statuses": r.statuses, "non_2xx": r.non_2xx,
            "status_503": r.statuses.get("503", 0),
            "socket_errors": r.socket_errors,
            "ceiling": r.workload.ceiling,
            "ceiling_around": [round(c, 1) for c in r.ceiling_around],
            "ratio": round(q, 3) if q is not None else None,
            "round_ratios": r.round_ratios,
            "problems": r.problems})
    return {"machine": mach,
            "config": {"mpm": args.mpm, "threads_per_child": args.threads_per_child,
                       "duration_s": args.duration,
                       "warmup_s": args.warmup,
                       "connections": args.connections, "threads": args.threads,
                       "host": "127.0.0.1", "db": db, "store": store,
                       "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
            "seeding": seeding, "commit_rate": commits, "workloads": rows,
            "httpd_crashes": crashes, "httpd_warnings": len(warnings)}


def md_header(args, mach, docs):
    seeding = next(iter(docs.values()))["seeding"]
    lines = [
        "# mod_scim benchmark",
        "",
        f"Machine: {mach['nproc']} CPUs ({mach['cpu']}), {mach['kernel']}; "
        f"wrk and httpd on the same machine, over 127.0.0.1.",
        f"Run: mpm_{args.mpm}"
        + (f" (children of {args.threads_per_child} threads)"
           if args.threads_per_child and args.mpm == "event" else "")
        + f", {seeding['users']} users (+{seeding['spares']} spares), "
        f"a group of {seeding['group_members']} members; "
        f"wrk {args.threads} thread, {args.connections} connections, "
        f"{args.duration} s per workload after {args.warmup} s of warm-up; "
        f"a user's GET response is "
        f"{seeding['user_response_bytes']} bytes.",
    ]
    for db, doc in docs.items():
        sd = doc["seeding"]
        lines.append(
            f"{store_short(db)}: {doc['config']['store']}; seeding "
            f"{sd['users'] + sd['spares']} POST /Users in {sd['users_seconds']} s "
            f"({sd['users_per_s']}/s, {SEED_CLIENTS} clients, {sd['retried_503']} "
            f"retried after 503), the group in {sd['group_seconds']} s.")
    lines.append("")
    return lines


def vs_text(row):
    if row["ratio"] is None:
        return "(ceiling)"
    around = row.get("ceiling_around")
    rounds = row.get("round_ratios") or []
    return (f"{row['ratio']:.2f} of {row['ceiling']}"
            + (f" ({' / '.join(f'{c:.0f}' for c in around)} before / after)"
               if around else "")
            + (f", median of {len(rounds)} rounds: "
               + ", ".join(f"{q:.2f}" for q in rounds) if len(rounds) > 1 else ""))


def non2xx_text(row):
    return ", ".join(f"{n}×{s}" for s, n in sorted(row["non_2xx"].items())) or "0"


def report_one(args, mach, db, doc):
    md = md_header(args, mach, {db: doc}) + [
        "| workload | req/s | p50 ms | p99 ms | httpd CPU µs/req | non-2xx | vs ceiling |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for row in doc["workloads"]:
        md.append(f"| {row['name']} | {row['rps']:.0f} | {row['p50_ms']:.2f} | "
                  f"{row['p99_ms']:.2f} | {row['httpd_cpu_us_per_request']:.0f} | "
                  f"{non2xx_text(row)} | {vs_text(row)} |")
    commits = doc["commit_rate"]
    for c in (commits["concurrent"], commits["serial"]):
        md.append(f"| {COMMIT_RATE}, {c['writers']} writer(s) ({store_short(db)} "
                  f"via apr_dbd, same disk) | {c['commits_per_s']:.0f} commits/s |  |  |  |  | "
                  f"{'(ceiling)' if c is commits['concurrent'] else ''} |")
    md.append("")
    return "\n".join(md)


def report_side_by_side(args, mach, docs):
    """One row per workload, the stores' columns side by side."""
    dbs = list(docs)
    head = "| workload |"
    rule = "|---|"
    for db in dbs:
        name = store_short(db)
        head += f" {name} req/s | p50 ms | p99 ms | CPU µs/req | non-2xx | vs ceiling |"
        rule += "---:|---:|---:|---:|---|---|"
    md = md_header(args, mach, docs) + [head, rule]
    by_name = {db: {row["name"]: row for row in docs[db]["workloads"]} for db in dbs}
    for name in by_name[dbs[0]]:
        line = f"| {name} |"
        for db in dbs:
            row = by_name[db].get(name)
            line += (f" {row['rps']:.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} |"
                     f" {row['httpd_cpu_us_per_request']:.0f} |"
                     f" {non2xx_text(row)} | {vs_text(row)} |" if row
                     else " | | | | | |")
        md.append(line)
    for kind in ("concurrent", "serial"):
        c0 = docs[dbs[0]]["commit_rate"][kind]
        line = f"| {COMMIT_RATE}, {c0['writers']} writer(s) (apr_dbd, same disk) |"
        for db in dbs:
            c = docs[db]["commit_rate"][kind]
            line += (f" {c['commits_per_s']:.0f} commits/s | | | | | "
                     f"{'(ceiling)' if kind == 'concurrent' else ''} |")
        md.append(line)
    md.append("")
    return "\n".join(md)


# ---- the workloads on one store ----------------------------------------------

def run_workloads(args, mach, db, out):
    """Seeds and runs every workload on a server of its own; returns the
    run's document, its problems and the server's warnings."""
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data"
    token = new_token()
    server = start_server(out, args.mpm, token, db,
                          threads_per_child=args.threads_per_child)
    results = {}
    try:
        client = server.client(ORG)
        seeding = seed_run(client, data, args, db)
        write_static_files(server, seeding["user_response_bytes"])
        print(f"bench: seeded in {seeding['users_seconds'] + seeding['group_seconds']:.1f} s",
              flush=True)
        env = dict(os.environ, BENCH_PREFIX=server.orgs[ORG].path, BENCH_TOKEN=token,
                   BENCH_DATA=str(data), BENCH_RUN=uuid.uuid4().hex[:8])
        commits = None
        last_rate = {}      # each ceiling's latest measurement
        ceilings = {w.name: w for w in WORKLOADS}
        for w in chosen_workloads(args.only):
            # The machine's speed drifts (other tenants): each workload is
            # compared with its ceiling measured right before and right
            # after it.
            if w.ceiling == COMMIT_RATE and commits is None:
                commits = measure_commits(out, db, args)
                last_rate[COMMIT_RATE] = commits["concurrent"]["commits_per_s"]
            if not w.ceiling:
                r = warm_run_print(server, w, args, env)
                results[w.name] = r
                last_rate[w.name] = r.rps
                continue
            # --rounds N: the workload and its ceiling alternate N times;
            # the round of the median ratio stands for the workload
            rounds = []
            for k in range(args.rounds if w.ceiling in last_rate
                           or w.ceiling == COMMIT_RATE else 1):
                # each round's new userNames its own
                renv = dict(env, BENCH_RUN=f"{env['BENCH_RUN']}r{k}") if k else env
                r = warm_run_print(server, w, args, renv)
                if w.ceiling == COMMIT_RATE:
                    wait_idle(server)
                    after = concurrent_commits(out, db, args)["commits_per_s"]
                    print(f"bench: {COMMIT_RATE:26} {after:9.1f} commits/s "
                          f"({args.connections} writers) after {w.name}",
                          flush=True)
                elif w.ceiling in last_rate:
                    after = warm_run_print(server, ceilings[w.ceiling], args,
                                           env, f"{w.ceiling}, after {w.name}").rps
                else:
                    rounds.append(r)
                    break
                r.ceiling_around = (last_rate[w.ceiling], after)
                last_rate[w.ceiling] = after
                rounds.append(r)
            ordered = sorted(rounds, key=lambda x: ratio(x, results) or 0.0)
            r = ordered[len(ordered) // 2]
            if len(rounds) > 1:
                r.round_ratios = [round(ratio(x, results) or 0.0, 3) for x in rounds]
            results[w.name] = r
        if commits is None:
            commits = measure_commits(out, db, args)
    finally:
        wait_idle(server)
        server.stop()
    crashes, warnings = server_complaints(server)
    doc = run_doc(args, mach, db, store_label(db, commits), seeding, commits,
                  results, crashes, warnings)
    problems = [f"{store_short(db)} {r.workload.name}: {p}"
                for r in results.values() for p in r.problems]
    problems += [f"httpd crashed: {l}" for l in crashes]
    return doc, problems, warnings, server


def warm_run_print(server, w, args, env, label=None):
    """A workload after its warm-up, its result printed."""
    warm_up(server, w, args, env)
    r = run_wrk(server, w, args, env)
    print(f"bench: {label or w.name:26} {r.rps:9.1f} req/s  p50 {r.p50_ms:7.2f} ms"
          f"  p99 {r.p99_ms:7.2f} ms  httpd CPU {r.cpu_us:6.0f} µs/req"
          f"  non-2xx {r.non_2xx or 0}", flush=True)
    return r


def chosen_workloads(only):
    """WORKLOADS, or those named in --only and the ceilings they are
    compared with, in WORKLOADS' order."""
    if not only:
        return WORKLOADS
    names = set(only)
    names |= {w.ceiling for w in WORKLOADS if w.name in names and w.ceiling}
    return [w for w in WORKLOADS if w.name in names]


def server_complaints(server):
    lines = server.log_since(0)
    return ([l for l in lines if harness.CRASH_LOG_LINE.search(l)],
            [l for l in lines if harness.BAD_LOG_LINE.search(l)])


def print_warnings(server, warnings):
    if warnings:
        print(f"bench: {len(warnings)} warn-or-worse lines in {server.error_log}, e.g.\n  "
              + "\n  ".join(warnings[:5]))


def write_results(out, doc, md):
    """<out>/results.json (doc) and results.md (md), and md printed."""
    (out / "results.json").write_text(json.dumps(doc, indent=2) + "\n")
    (out / "results.md").write_text(md)
    print(md)


def workloads_main(args, mach, out):
    docs, problems = {}, []
    for db in args.dbs:
        sub = out / db if len(args.dbs) > 1 else out
        doc, probs, warnings, server = run_workloads(args, mach, db, sub)
        docs[db] = doc
        problems += probs
        write_results(sub, doc, report_one(args, mach, db, doc))
        print_warnings(server, warnings)
    if len(docs) > 1:
        write_results(out, docs, report_side_by_side(args, mach, docs))
    print(f"bench: results in {out}/results.json and results.md")
    return problems


# ---- issue 9: many writers create many users ---------------------------------

STALL_SECONDS = 30          # the creation run gives up after this long
                            # without an answer


def stored_users(client):
    """The organization's users, as the store counts them.  The session's
    connection is closed at once: under prefork it would hold a child that
    a writer needs."""
    try:
        return client.total_users()
    finally:
        client.session.close()


def post_statuses(log):
    """The statuses httpd logged for POSTs (a check on wrk's counts)."""
    got = {}
    with open(log, "rb") as f:
        for line in f:
            if b'"POST ' in line:
                status = line.rsplit(b'"', 1)[1].split()[0].decode()
                got[status] = got.get(status, 0) + 1
    return got


def run_until_answered(cmd, env, log, quota):
    """Runs wrk (create_users.lua stops it after the last answer); stops it
    when httpd has logged no POST for STALL_SECONDS (a request lost on a
    connection: wrk would wait for it until -d)."""
    counter = AccessLogCounter(log, b"POST ")
    wrk = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=env)
    seen, last_change = 0, time.monotonic()
    while wrk.poll() is None:
        n = counter.poll()
        if n != seen:
            seen, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > STALL_SECONDS:
            print(f"bench: no POST for {STALL_SECONDS} s after {n} of {quota};"
                  " stopping wrk", flush=True)
            wrk.send_signal(signal.SIGINT)
            break
        time.sleep(0.5)
    stdout, stderr = wrk.communicate(timeout=120)
    return subprocess.CompletedProcess(cmd, wrk.returncode, stdout, stderr)


def create_main(args, mach, out, db):
    """--create N --writers W: W connections POST N new users in all."""
    out.mkdir(parents=True, exist_ok=True)
    token = new_token()
    server = start_server(out, args.mpm, token, db, writers=args.writers)
    env = dict(os.environ, BENCH_PREFIX=server.orgs[ORG].path, BENCH_TOKEN=token,
               BENCH_DATA=str(out), BENCH_RUN=uuid.uuid4().hex[:8],
               BENCH_CREATE=str(args.create))
    bound = args.create_timeout
    cmd = ["wrk", "-t", "1", "-c", str(args.writers), "-d", f"{bound}s",
           "--timeout", "30s", "-s", str(HERE / "create_users.lua"),
           server.base_url(ORG)]
    print(f"bench: {args.writers} writers create {args.create} users on "
          f"mpm_{args.mpm}, {store_label(db)} (at most {bound} s) ...", flush=True)
    problems = []
    try:
        client = server.client(ORG)
        before = stored_users(client)
        t0 = time.monotonic()
        res = run_until_answered(cmd, env, server.root / "access.log", args.create)
        elapsed = time.monotonic() - t0
        wait_idle(server)
        stored = stored_users(client) - before
    finally:
        wait_idle(server)
        server.stop()
    line = next((l for l in res.stdout.splitlines()
                 if l.startswith("BENCH_RESULT ")), None)
    if res.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (rc {res.returncode}): "
                           f"{(res.stderr or res.stdout).strip()[:500]}")
    got = json.loads(line.split(" ", 1)[1])
    st = {int(k): v for k, v in got["statuses"].items()}
    created = st.get(201, 0)
    answered = sum(v for k, v in st.items() if k != 404)
    other = {k: v for k, v in st.items() if k not in (404, 201, 409, 503)}
    crashes, warnings = server_complaints(server)
    doc = {"machine": mach,
           "config": {"mode": "create", "mpm": args.mpm, "db": db,
                      "store": store_label(db), "writers": args.writers,
                      "users": args.create, "host": "127.0.0.1",
                      "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
           "answered": answered, "unanswered": args.create - answered,
           "status_201": created, "status_409": st.get(409, 0),
           "status_503": st.get(503, 0), "other": other,
           "socket_errors": {k: v for k, v in got["socket_errors"].items() if v},
           "server_post_statuses": post_statuses(server.root / "access.log"),
           "stored": stored, "lost": created - stored if stored < created else 0,
           "stored_unacknowledged": stored - created if stored > created else 0,
           "seconds": round(elapsed, 1),
           "wrk_seconds": round(got["duration_us"] / 1e6, 1),
           "created_per_s": round(created / elapsed, 1) if elapsed else 0,
           "p50_ms": got["p50_us"] / 1000, "p99_ms": got["p99_us"] / 1000,
           "max_ms": got["max_us"] / 1000,
           "httpd_crashes": crashes, "httpd_warnings": len(warnings)}
    md = (f"Creation run: mpm_{args.mpm}, {doc['config']['store']}, "
          f"{args.writers} writers, {args.create} POST /Users "
          f"(machine: {mach['nproc']} CPUs, {mach['cpu']}).\n\n"
          "| MPM | store | writers | POSTs answered | 201 | 409 | 503 | other |"
          " stored | lost | p50 ms | p99 ms | max ms | seconds | created/s |\n"
          "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n"
          f"| {args.mpm} | {store_short(db)} | {args.writers} | {answered} | {created} |"
          f" {doc['status_409']} | {doc['status_503']} | {other or 0} | {stored} |"
          f" {doc['lost']} | {doc['p50_ms']:.1f} | {doc['p99_ms']:.1f} |"
          f" {doc['max_ms']:.1f} | {doc['seconds']} | {doc['created_per_s']:.0f} |\n\n"
          f"httpd logged these answers to POST: {doc['server_post_statuses']}.\n")
    write_results(out, doc, md)
    print(f"bench: results in {out}/results.json and results.md")
    print_warnings(server, warnings)
    if doc["unanswered"]:
        problems.append(f"{doc['unanswered']} POSTs unanswered")
    if doc["status_503"]:
        problems.append(f"{doc['status_503']} answers 503")
    if other:
        problems.append(f"other answers: {other}")
    if doc["lost"]:
        problems.append(f"{doc['lost']} acknowledged users not stored (lost writes)")
    if doc["stored_unacknowledged"]:
        problems.append(f"{doc['stored_unacknowledged']} users stored whose POST"
                        " was not answered 201")
    problems += [f"httpd crashed: {l}" for l in crashes]
    return problems


# ---- issue 9: memory of the workers over many requests -----------------------

def rss_of(pid):
    """VmRSS and RssAnon of a process in kB, or None once it is gone."""
    got = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "RssAnon"):
                    got[k] = int(v.split()[0])
    except OSError:
        return None
    return got


# One sample of a worker's RSS lands anywhere on the sawtooth that the
# module's periodic malloc_trim draws (TRIM_INTERVAL, 10 s, in
# mod_scim_handler.c); a window a little longer than that period sees both
# the floor (what the worker keeps) and the peak (what it reaches).
RSS_WINDOW = 12.0


def sqlite_connections(pid, database):
    """How many SQLite connections a process holds open on database (each
    has its own page cache), or None for a process gone."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    count = 0
    for fd in fds:
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}") == database
        except OSError:
            pass
    return count


def rss_sample(server, requests, seconds=RSS_WINDOW):
    """Each child's VmRSS (and RssAnon) sampled every 0.25 s for seconds:
    the lowest and highest of each, and their sums over the children; the
    children's summed VmRSS averaged over the window (what a reading at a
    random moment gives on average); and the most SQLite connections each
    held (a connection's page cache is memory the child keeps)."""
    low, high = {}, {}
    sums = []
    database = str(server.db) if server.db_driver == "sqlite3" else None
    end = time.monotonic() + seconds
    while True:
        now = 0
        for p in server.pids()[1:]:         # the children, not the parent
            v = rss_of(p)
            if v and database:
                v["connections"] = sqlite_connections(p, database) or 0
            if v:
                now += v["VmRSS"]
                lo = low.setdefault(p, dict(v))
                hi = high.setdefault(p, dict(v))
                for k in v:
                    lo[k], hi[k] = min(lo[k], v[k]), max(hi[k], v[k])
        sums.append(now)
        if time.monotonic() >= end:
            break
        time.sleep(0.25)

    def total(d, k):
        return sum(v[k] for v in d.values())

    def largest(d, k):
        return max((v[k] for v in d.values()), default=0)

    return {"requests": requests, "children": sorted(low),
            "floor_sum_kb": total(low, "VmRSS"), "peak_sum_kb": total(high, "VmRSS"),
            "mean_sum_kb": round(sum(sums) / len(sums)) if sums else 0,
            "floor_max_kb": largest(low, "VmRSS"), "peak_max_kb": largest(high, "VmRSS"),
            "anon_peak_sum_kb": total(high, "RssAnon"),
            "connections": (total(high, "connections") if database else None),
            "per_child_kb": {str(p): {"floor": low[p], "peak": high[p]}
                             for p in sorted(low)}}


class AccessLogCounter:
    """Counts the requests httpd has logged (lines of access.log), or those
    whose line holds a given bytes string."""

    def __init__(self, path, holding=b"\n"):
        self.path = path
        self.holding = holding
        self.offset = 0
        self.count = 0

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except OSError:
            return self.count
        chunk = chunk[:chunk.rfind(b"\n") + 1]     # whole lines only
        self.offset += len(chunk)
        self.count += chunk.count(self.holding)
        return self.count


def rss_main(args, mach, out, db):
    """--rss N: the mixed workload until N requests; RSS at N/10 and N."""
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data"
    token = new_token()
    server = start_server(out, args.mpm, token, db)
    first = min(100000, args.rss // 10)
    marks = sorted({first} | set(range(first, args.rss + 1, max(first, args.rss // 10)))
                   | {args.rss})
    samples, problems = [], []
    try:
        client = server.client(ORG)
        seed_run(client, data, args, db)
        env = dict(os.environ, BENCH_PREFIX=server.orgs[ORG].path, BENCH_TOKEN=token,
                   BENCH_DATA=str(data), BENCH_RUN=uuid.uuid4().hex[:8])
        counter = AccessLogCounter(server.root / "access.log")
        base = counter.poll()           # the seeding's requests
        cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections),
               "-d", f"{args.rss_timeout}s", "--timeout", "10s",
               "-s", str(HERE / "mixed.lua"), server.base_url(ORG)]
        print(f"bench: mixed workload until {args.rss} requests (at most "
              f"{args.rss_timeout} s), RSS of the children at {marks}", flush=True)
        t0 = time.monotonic()
        wrk = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
        pending = list(marks)
        while pending and wrk.poll() is None:
            n = counter.poll() - base
            while pending and n >= pending[0]:
                s = rss_sample(server, n)
                s["seconds"] = round(time.monotonic() - t0, 1)
                samples.append(s)
                print(f"bench: {n:9d} requests ({s['seconds']:6.1f} s): RSS of "
                      f"{len(s['children'])} children over {RSS_WINDOW:.0f} s: sum "
                      f"{s['floor_sum_kb']}-{s['peak_sum_kb']} kB (mean "
                      f"{s['mean_sum_kb']}), larger child "
                      f"{s['floor_max_kb']}-{s['peak_max_kb']} kB"
                      + (f", {s['connections']} SQLite connections"
                         if s["connections"] is not None else ""), flush=True)
                pending.pop(0)
            time.sleep(0.2)
        if wrk.poll() is None:
            wrk.send_signal(signal.SIGINT)      # wrk prints what it has
        stdout, stderr = wrk.communicate(timeout=120)
    finally:
        wait_idle(server)
        server.stop()
    line = next((l for l in stdout.splitlines() if l.startswith("BENCH_RESULT ")), None)
    got = json.loads(line.split(" ", 1)[1]) if line else {}
    statuses = got.get("statuses", {})
    bad = {s: n for s, n in statuses.items() if not 200 <= int(s) < 300 and s != "503"}
    crashes, warnings = server_complaints(server)
    if len(samples) < 2:
        problems.append(f"only {len(samples)} RSS samples (wrk ended early: "
                        f"{stderr.strip()[:300]})")
    if bad:
        problems.append(f"non-2xx answers: {bad}")
    problems += [f"httpd crashed: {l}" for l in crashes]
    change = {}
    if len(samples) >= 2:
        a, b = samples[0], samples[-1]
        for k in ("floor_sum_kb", "peak_sum_kb", "mean_sum_kb", "floor_max_kb",
                  "peak_max_kb", "anon_peak_sum_kb"):
            change[k] = round(100.0 * (b[k] - a[k]) / a[k], 2) if a[k] else None
        change["same_children"] = a["children"] == b["children"]
    doc = {"machine": mach,
           "config": {"mode": "rss", "mpm": args.mpm, "db": db,
                      "store": store_label(db), "connections": args.connections,
                      "requests": args.rss, "users": args.users,
                      "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
           "statuses": statuses, "samples": samples, "change_percent": change,
           "httpd_crashes": crashes, "httpd_warnings": len(warnings)}
    lines = [f"Memory run: mpm_{args.mpm}, {doc['config']['store']}, {args.users} users, "
             f"mixed workload (tests/bench/mixed.lua), {args.connections} connections "
             f"(machine: {mach['nproc']} CPUs, {mach['cpu']}); answers: {statuses}.", "",
             f"Each row: the children's VmRSS sampled every 0.25 s for {RSS_WINDOW:.0f} s"
             " from the request count on, lowest (floor), highest (peak) and, for"
             " their sum, its mean over the window.", "",
             "| requests | seconds | children | sum floor kB | sum mean kB | sum peak kB |"
             " larger child floor kB | larger child peak kB | SQLite connections |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in samples:
        lines.append(f"| {s['requests']} | {s['seconds']} | {len(s['children'])} |"
                     f" {s['floor_sum_kb']} | {s['mean_sum_kb']} | {s['peak_sum_kb']} |"
                     f" {s['floor_max_kb']} |"
                     f" {s['peak_max_kb']} |"
                     f" {'' if s['connections'] is None else s['connections']} |")
    if change:
        lines += ["", f"Change from {samples[0]['requests']} to {samples[-1]['requests']}"
                  f" requests: sum floor {change['floor_sum_kb']:+.2f} %, sum mean "
                  f"{change['mean_sum_kb']:+.2f} %, sum peak "
                  f"{change['peak_sum_kb']:+.2f} %; larger child floor "
                  f"{change['floor_max_kb']:+.2f} %, peak {change['peak_max_kb']:+.2f} %"
                  f"{'' if change['same_children'] else ' (the children changed)'}."]
    md = "\n".join(lines) + "\n"
    write_results(out, doc, md)
    print(f"bench: results in {out}/results.json and results.md")
    print_warnings(server, warnings)
    return problems


# ---- main --------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--group-members", type=int, default=10000,
                    help="members of the large group (at most --users)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per workload")
    ap.add_argument("--rounds", type=int, default=1, metavar="N",
                    help="run each workload and its ceiling N times in turn; the "
                         "round of the median ratio is reported (on a shared "
                         "machine the ratios move from minute to minute)")
    ap.add_argument("--connections", "-c", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=1,
                    help="seconds of each workload before it is measured")
    ap.add_argument("--threads", "-t", type=int, default=1)
    ap.add_argument("--mpm", choices=tuple(MPM_STEADY), default="event")
    ap.add_argument("--threads-per-child", type=int, default=None, metavar="N",
                    help="event: children of N threads (default Debian's 25),"
                         " as many workers in all")
    ap.add_argument("--db", choices=("sqlite", "pgsql", "both"), default="sqlite",
                    help="the store (pgsql: the cluster build.sh started)")
    ap.add_argument("--create", type=int, default=0, metavar="N",
                    help="the creation run: N new users from --writers connections")
    ap.add_argument("--writers", type=int, default=64)
    ap.add_argument("--create-timeout", type=int, default=1800,
                    help="seconds the creation run may take at most")
    ap.add_argument("--rss", type=int, default=0, metavar="N",
                    help="the memory run: a mixed workload until N requests")
    ap.add_argument("--rss-timeout", type=int, default=1800,
                    help="seconds the memory run may take at most")
    ap.add_argument("--queries", type=int, default=0, metavar="N",
                    help="the query run: filters no index answers and sorts "
                         "over N users (tests/bench/queries.py)")
    ap.add_argument("--only", type=lambda v: v.split(","), default=[],
                    metavar="W1,W2", help="run only these workloads (and their ceilings)")
    ap.add_argument("--out", type=Path, default=harness.BUILD / "bench")
    args = ap.parse_args()
    unknown = set(args.only) - {w.name for w in WORKLOADS}
    if unknown:
        ap.error(f"--only: no workload {', '.join(sorted(unknown))} "
                 f"(workloads: {', '.join(w.name for w in WORKLOADS)})")
    if args.users < 1 or args.duration < 1 or args.connections < args.threads:
        ap.error("--users and --duration must be positive, --connections >= --threads")
    if sum(1 for mode in (args.create, args.rss, args.queries) if mode) > 1:
        ap.error("--create, --rss and --queries are separate runs")
    if (args.create or args.rss or args.queries) and args.db == "both":
        ap.error("--create, --rss and --queries run on one store: --db sqlite"
                 " or pgsql")
    if min(args.create, args.rss, args.queries) < 0 or args.writers < 1 \
            or args.rounds < 1:
        ap.error("--create, --rss, --queries, --writers and --rounds must be"
                 " positive")
    args.dbs = ["sqlite", "pgsql"] if args.db == "both" else [args.db]
    if "pgsql" in args.dbs and not harness.PG_PORT:
        sys.exit("bench: --db pgsql needs the cluster that ./build.sh bench --db "
                 "pgsql starts (SCIM_TEST_PG_PORT is not set)")
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is missing (apt-get install wrk, or ./build.sh deps)")

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    mach = machine()
    if args.create:
        problems = create_main(args, mach, out, args.db)
    elif args.rss:
        problems = rss_main(args, mach, out, args.db)
    elif args.queries:
        problems = queries_main(args, mach, out, args.db)
    else:
        problems = workloads_main(args, mach, out)
    if problems:
        print("bench: FAILED\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
