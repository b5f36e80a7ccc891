#!/usr/bin/python3
"""The mod_scim benchmark (./build.sh bench).

Starts a real httpd with mod_scim through the integration harness
(tests/integration/harness.py) on 127.0.0.1, seeds users and a large group
through the SCIM API, then runs each workload of WORKLOADS for a fixed
time with wrk and a Lua script of this directory.  In the same run, on the
same server and disk, it measures the ceilings the workloads are compared
with: the same server serving a static file the size of a user's GET
response (bare, and behind Basic auth), and SQLite's durable commit rate
through apr_dbd (build/commit_rate, tests/bench/commit_rate.c).

Results go to <out>/results.json and <out>/results.md (default
build/bench/).  The exit status is 1 when a workload saw errors (a non-2xx
answer to a read, a non-2xx other than 503 to a write, socket errors on a
read, no answer at all) or a child of httpd crashed; speed never fails it.
"""

import argparse
import base64
import hashlib
import json
import os
import platform
import shutil
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
from harness import (CORE_GROUP, CORE_USER, PATCH_OP, HttpdServer, Org,  # noqa: E402
                     ScimClient, new_token, scim_json)

ORG = "bench"
SCIM = None                 # Workload.path of the SCIM workloads
# The ceiling of the writes: SQLite's durable commits per second, from as
# many writers as wrk has connections.
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

# Every worker the harness allows, started at once and never reaped as
# idle, so that no workload pays for (or loses connections to) processes
# coming and going.  These lines follow and override the harness's.
MPM_STEADY = {
    "event": ["StartServers 4", "MinSpareThreads 10", "MaxSpareThreads 40"],
    "prefork": ["StartServers 32", "MinSpareServers 5", "MaxSpareServers 32"],
}


def start_server(out, mpm, token):
    root = out / "server"
    conf = [f"LoadModule {m}_module {harness.MODULES_DIR}/mod_{m}.so"
            for m in ("auth_basic", "authn_file", "authz_user")]
    conf += MPM_STEADY[mpm]
    for path, directives in STATIC_LOCATIONS.items():
        conf.append(f"<Location {path}>")
        conf += ["    " + d.format(root=root) for d in directives]
        conf.append("</Location>")
    server = HttpdServer(f"bench-{mpm}", [Org(ORG, [token])], mpm=mpm,
                         extra_conf="\n".join(conf), root=root)
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

def run_wrk(server, w, args, env):
    url = (server.base_url(ORG) if w.path is SCIM
           else f"http://127.0.0.1:{server.port}{w.path}")
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections),
           "-d", f"{args.duration}s", "--timeout", "10s",
           "-s", str(HERE / w.script), url]
    r = Result(w)
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, env=env,
                             timeout=args.duration + 60)
    except subprocess.TimeoutExpired:
        r.problems.append("wrk did not finish in time")
        return r
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


def commit_rate(out, seconds, writers):
    """build/commit_rate on a new database beside the server's."""
    db = out / "commit_rate.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    res = subprocess.run([str(harness.BUILD / "commit_rate"), str(db), str(seconds),
                          str(writers)],
                         capture_output=True, text=True, timeout=seconds + 60)
    if res.returncode != 0:
        raise RuntimeError(f"commit_rate failed: {res.stderr.strip()}")
    fields = dict(kv.split("=") for kv in res.stdout.split())
    return {"commits_per_s": float(fields["commits_per_s"]),
            "commits": int(fields["commits"]), "seconds": float(fields["seconds"]),
            "writers": int(fields["writers"]),
            "busy_retries": int(fields["busy_retries"])}


def measure_commits(out, args):
    seconds = min(args.duration, 5)
    commits = {"serial": commit_rate(out, seconds, 1),
               "concurrent": commit_rate(out, seconds, args.connections)}
    print(f"bench: {COMMIT_RATE:26} {commits['serial']['commits_per_s']:9.1f} commits/s"
          f" (1 writer), {commits['concurrent']['commits_per_s']:.1f} "
          f"({args.connections} writers)", flush=True)
    return commits


def ratio(r, results, commits):
    ceiling = r.workload.ceiling
    if ceiling == COMMIT_RATE:
        base = commits["concurrent"]["commits_per_s"]
    elif ceiling in results:
        base = results[ceiling].rps
    else:
        return None
    return r.rps / base if base else None


# ---- reporting ---------------------------------------------------------------

def report(out, args, mach, seeding, commits, results, crashes, warnings):
    rows = []
    for r in results.values():
        q = ratio(r, results, commits)
        rows.append({
            "name": r.workload.name, "kind": "write" if r.workload.write else "read",
            "requests": r.requests, "seconds": round(r.seconds, 2),
            "rps": round(r.rps, 1), "p50_ms": round(r.p50_ms, 2),
            "p99_ms": round(r.p99_ms, 2), "max_ms": round(r.max_ms, 2),
            "statuses": r.statuses, "non_2xx": r.non_2xx,
            "status_503": r.statuses.get("503", 0),
            "socket_errors": r.socket_errors,
            "ceiling": r.workload.ceiling,
            "ratio": round(q, 3) if q is not None else None,
            "problems": r.problems})
    doc = {"machine": mach,
           "config": {"mpm": args.mpm, "duration_s": args.duration,
                      "connections": args.connections, "threads": args.threads,
                      "host": "127.0.0.1", "store": "sqlite3 (WAL, synchronous=FULL)",
                      "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
           "seeding": seeding, "commit_rate": commits, "workloads": rows,
           "httpd_crashes": crashes, "httpd_warnings": len(warnings)}
    (out / "results.json").write_text(json.dumps(doc, indent=2) + "\n")

    md = [
        "# mod_scim benchmark",
        "",
        f"Machine: {mach['nproc']} CPUs ({mach['cpu']}), {mach['kernel']}; "
        f"wrk and httpd on the same machine, over 127.0.0.1.",
        f"Run: mpm_{args.mpm}, {seeding['users']} users (+{seeding['spares']} spares), "
        f"a group of {seeding['group_members']} members, SQLite (WAL, synchronous=FULL); "
        f"wrk {args.threads} thread, {args.connections} connections, "
        f"{args.duration} s per workload; a user's GET response is "
        f"{seeding['user_response_bytes']} bytes.",
        f"Seeding: {seeding['users'] + seeding['spares']} POST /Users in "
        f"{seeding['users_seconds']} s ({seeding['users_per_s']}/s, "
        f"{SEED_CLIENTS} clients, {seeding['retried_503']} retried after 503);"
        f" the group in {seeding['group_seconds']} s.",
        "",
        "| workload | req/s | p50 ms | p99 ms | non-2xx | vs ceiling |",
        "|---|---:|---:|---:|---|---|",
    ]
    for row in rows:
        non2xx = ", ".join(f"{n}×{s}" for s, n in sorted(row["non_2xx"].items())) or "0"
        vs = (f"{row['ratio']:.2f} of {row['ceiling']}" if row["ratio"] is not None
              else "(ceiling)")
        md.append(f"| {row['name']} | {row['rps']:.0f} | {row['p50_ms']:.2f} | "
                  f"{row['p99_ms']:.2f} | {non2xx} | {vs} |")
    for c in (commits["concurrent"], commits["serial"]):
        md.append(f"| {COMMIT_RATE}, {c['writers']} writer(s) (SQLite via apr_dbd, "
                  f"same disk) | {c['commits_per_s']:.0f} commits/s |  |  |  | "
                  f"{'(ceiling)' if c is commits['concurrent'] else ''} |")
    md.append("")
    (out / "results.md").write_text("\n".join(md))
    return "\n".join(md)


# ---- main --------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--group-members", type=int, default=10000,
                    help="members of the large group (at most --users)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per workload")
    ap.add_argument("--connections", "-c", type=int, default=16)
    ap.add_argument("--threads", "-t", type=int, default=1)
    ap.add_argument("--mpm", choices=tuple(MPM_STEADY), default="event")
    ap.add_argument("--out", type=Path, default=harness.BUILD / "bench")
    args = ap.parse_args()
    if args.users < 1 or args.duration < 1 or args.connections < args.threads:
        ap.error("--users and --duration must be positive, --connections >= --threads")
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is missing (apt-get install wrk, or ./build.sh deps)")

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data"
    mach = machine()
    token = new_token()
    server = start_server(out, args.mpm, token)
    results = {}
    try:
        client = server.client(ORG)
        print(f"bench: seeding {args.users} users on mpm_{args.mpm} ...", flush=True)
        seeding = seed(client, data, args.users, min(args.group_members, args.users))
        write_static_files(server, seeding["user_response_bytes"])
        print(f"bench: seeded in {seeding['users_seconds'] + seeding['group_seconds']:.1f} s",
              flush=True)
        env = dict(os.environ, BENCH_PREFIX=server.orgs[ORG].path, BENCH_TOKEN=token,
                   BENCH_DATA=str(data), BENCH_RUN=uuid.uuid4().hex[:8])
        commits = None
        for w in WORKLOADS:
            # The disk's speed drifts (other tenants): measure the commit
            # rate right before the writes that are compared with it.
            if w.ceiling == COMMIT_RATE and commits is None:
                commits = measure_commits(out, args)
            r = run_wrk(server, w, args, env)
            results[w.name] = r
            print(f"bench: {w.name:26} {r.rps:9.1f} req/s  p50 {r.p50_ms:7.2f} ms"
                  f"  p99 {r.p99_ms:7.2f} ms  non-2xx {r.non_2xx or 0}", flush=True)
        if commits is None:
            commits = measure_commits(out, args)
    finally:
        wait_idle(server)
        server.stop()
    lines = server.log_since(0)
    crashes = [l for l in lines if harness.CRASH_LOG_LINE.search(l)]
    warnings = [l for l in lines if harness.BAD_LOG_LINE.search(l)]
    print(report(out, args, mach, seeding, commits, results, crashes, warnings))
    print(f"bench: results in {out}/results.json and results.md")
    if warnings:
        print(f"bench: {len(warnings)} warn-or-worse lines in {server.error_log}, e.g.\n  "
              + "\n  ".join(warnings[:5]))
    problems = [f"{r.workload.name}: {p}" for r in results.values() for p in r.problems]
    problems += [f"httpd crashed: {l}" for l in crashes]
    if problems:
        print("bench: FAILED\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
