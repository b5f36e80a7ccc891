"""Harness for the mod_scim integration tests.

A real Apache httpd (Debian's /usr/sbin/apache2) is started on loopback from a
generated ServerRoot under build/itest/<mpm>/run<pid>/<name>/, with mod_dbd
and a copy of build/mod_scim.so loaded.  Tests talk HTTP to it through
ScimClient.

The database: SCIM_TEST_DB=sqlite (default; a file in the ServerRoot) or
pgsql (a database of its own in the PostgreSQL cluster that build.sh starts,
named by SCIM_TEST_PG_PORT / SCIM_TEST_PG_BIN; servers given the same
database= share it).  PgCluster restarts that cluster for the fault tests.

Nothing here depends on pytest, so later suites (benchmarks, authz tests) can
reuse it.
"""

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import requests

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build"
MODULE = Path(os.environ.get("SCIM_TEST_MODULE", BUILD / "mod_scim.so"))
TOKEN_TOOL = Path(os.environ.get("SCIM_TEST_TOKEN_TOOL", BUILD / "scim-token"))
APACHE = os.environ.get("SCIM_TEST_APACHE", "/usr/sbin/apache2")
MODULES_DIR = Path(os.environ.get("SCIM_TEST_MODULES", "/usr/lib/apache2/modules"))
MPM = os.environ.get("SCIM_TEST_MPM", "event")
# Server roots of this test session.  Several people (and CI) may run the
# suite in one work tree at once, so each session gets its own directory
# under build/itest/<mpm>/; prepare_itest() removes those of finished runs.
ITEST_MPM = BUILD / "itest" / MPM
ITEST = ITEST_MPM / f"run{os.getpid()}"
PYTHON = "/usr/bin/python3"
RUN_AS_ROOT = os.geteuid() == 0
RUN_USER = "www-data"
DB = os.environ.get("SCIM_TEST_DB", "sqlite")
PG_PORT = os.environ.get("SCIM_TEST_PG_PORT")
PG_BIN = os.environ.get("SCIM_TEST_PG_BIN")
PG_DATA = os.environ.get("SCIM_TEST_PG_DATA")
PG_ROLE = "scim"

# ---- SCIM constants ------------------------------------------------------

SCIM_CT = "application/scim+json"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MEMBERSHIP = "urn:modscim:schemas:extension:membership:2.0:User"
CUSTOM_EXT = "urn:example:params:scim:schemas:extension:acme:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"

# Limits configured on the "tiny" organization of the main server.
TINY_MAX_BODY = 2048
TINY_MAX_RESULTS = 5

RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

# Error-log lines that fail a test unless expected: any warn-or-worse level
# ("[warn]", "[scim:error]", "[core:crit]" ...) and child crash notices
# ("[core:notice] ... AH00052: child pid 123 exit signal Segmentation fault").
BAD_LOG_LINE = re.compile(
    r"\[(?:[\w.-]+:)?(?:warn|error|crit|alert|emerg)\]|exit signal")
CRASH_LOG_LINE = re.compile(r"exit signal|Segmentation fault|AH00051|AH00052")
# For servers that are expected to complain (no database, crash recovery):
# anything except a crashed child.
ANY_EXCEPT_CRASH = r"^(?!.*(exit signal|Segmentation fault)).*$"


# ---- small helpers -------------------------------------------------------

def new_token():
    """A bearer token as an administrator would generate one."""
    return secrets.token_urlsafe(32)


def token_hash(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def unique(tag="u"):
    """A userName no other test uses."""
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


def prepare_itest():
    """Wipes this session's directory and those of sessions that ended."""
    ITEST_MPM.mkdir(parents=True, exist_ok=True)
    for d in ITEST_MPM.iterdir():
        m = re.fullmatch(r"run(\d+)", d.name)
        if m and (int(m.group(1)) == os.getpid() or not _alive(int(m.group(1)))):
            shutil.rmtree(d, ignore_errors=True)
    ITEST.mkdir(parents=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def user_body(user_name=None, **extra):
    """A plain, complete user; keyword arguments replace or add attributes."""
    user_name = user_name or unique()
    body = {
        "schemas": [CORE_USER],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        "active": True,
    }
    body.update(extra)
    return body


def describe(resp):
    """A response (and its request) as text for assertion messages."""
    req = resp.request
    body = req.body
    if isinstance(body, bytes):
        body = body[:600].decode("utf-8", "replace")
    elif body is not None and not isinstance(body, str):
        body = "<streamed body>"
    elif isinstance(body, str):
        body = body[:600]
    return (f"\n--> {req.method} {req.url}\n    {body!r}\n"
            f"<-- {resp.status_code} {resp.reason}  "
            f"Content-Type={resp.headers.get('Content-Type')!r}\n"
            f"    headers={dict(resp.headers)}\n"
            f"    {resp.text[:1500]!r}")


# ---- assertions ----------------------------------------------------------

def scim_json(resp, status):
    """Asserts status and a SCIM JSON body; returns the decoded body."""
    assert resp.status_code == status, \
        f"expected {status}, got {resp.status_code}" + describe(resp)
    ct = resp.headers.get("Content-Type", "")
    assert ct.split(";")[0].strip().lower() == SCIM_CT, \
        f"Content-Type must be {SCIM_CT}" + describe(resp)
    try:
        return resp.json()
    except ValueError:
        raise AssertionError("body is not JSON" + describe(resp)) from None


def assert_error(resp, status, scim_type=None):
    """Asserts a SCIM error document.  scim_type: a string or a tuple of
    acceptable values; None to not check it."""
    body = scim_json(resp, status)
    assert isinstance(body, dict), "error body must be an object" + describe(resp)
    assert ERROR in body.get("schemas", []), describe(resp)
    assert body.get("status") == str(status), \
        "status must be the code as a string" + describe(resp)
    assert isinstance(body.get("detail"), str) and body["detail"], \
        "error needs a detail" + describe(resp)
    if scim_type is not None:
        accepted = (scim_type,) if isinstance(scim_type, str) else tuple(scim_type)
        assert body.get("scimType") in accepted, \
            f"scimType must be one of {accepted}" + describe(resp)
    return body


def assert_list(resp):
    """Asserts a well-formed ListResponse; returns it."""
    body = scim_json(resp, 200)
    assert LIST_RESPONSE in body.get("schemas", []), describe(resp)
    for key in ("totalResults", "startIndex", "itemsPerPage"):
        assert type(body.get(key)) is int, f"{key} must be an integer" + describe(resp)
    assert isinstance(body.get("Resources"), list), describe(resp)
    assert body["itemsPerPage"] == len(body["Resources"]), \
        "itemsPerPage must equal the number of Resources" + describe(resp)
    assert body["totalResults"] >= len(body["Resources"]), describe(resp)
    return body


def retry_after_ok(resp):
    """Retry-After: delay-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    from email.utils import parsedate
    value = resp.headers.get("Retry-After", "").strip()
    return value.isdigit() or parsedate(value) is not None


def strip_meta(resource):
    """The resource without meta (for before/after comparisons)."""
    return {k: v for k, v in resource.items() if k != "meta"}


# ---- HTTP client ---------------------------------------------------------

class ScimClient:
    """A SCIM client bound to one organization's endpoint and token.

    Query parameters are percent-encoded with %20 for spaces, as Okta and
    Entra send them."""

    def __init__(self, base_url, token=None, content_type=SCIM_CT,
                 headers=None, timeout=30):
        self.base = base_url.rstrip("/")
        self.token = token
        self.content_type = content_type
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.session = requests.Session()

    def with_token(self, token):
        return ScimClient(self.base, token, self.content_type, self.headers,
                          self.timeout)

    def url(self, path="", params=None):
        url = self.base + path
        if params:
            url += "?" + "&".join(f"{quote(str(k), safe='')}={quote(str(v), safe='')}"
                                  for k, v in params.items() if v is not None)
        return url

    def request(self, method, path="", body=None, *, raw=None, params=None,
                headers=None, token=..., content_type=None, timeout=None):
        h = {"Accept": SCIM_CT}
        h.update(self.headers)
        tok = self.token if token is ... else token
        if tok is not None:
            h["Authorization"] = f"Bearer {tok}"
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
        elif raw is not None:
            data = raw
        if data is not None:
            h["Content-Type"] = content_type or self.content_type
        if headers:
            for k, v in headers.items():
                if v is None:
                    h.pop(k, None)
                else:
                    h[k] = v
        return self.session.request(method, self.url(path, params), data=data,
                                    headers=h, allow_redirects=False,
                                    timeout=timeout or self.timeout)

    def get(self, path="", **kw):
        return self.request("GET", path, **kw)

    def post(self, path="", body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path="", body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path="", body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path="", **kw):
        return self.request("DELETE", path, **kw)

    # -- conveniences that assert success --------------------------------

    def create_user(self, body=None, **extra):
        """POSTs a user (user_body() by default), asserts 201, returns it."""
        if body is None:
            body = user_body(**extra)
        return scim_json(self.post("/Users", body), 201)

    def get_user(self, uid):
        return scim_json(self.get(f"/Users/{uid}"), 200)

    def patch_ops(self, uid, *ops, **kw):
        return self.patch(f"/Users/{uid}",
                          {"schemas": [PATCH_OP], "Operations": list(ops)}, **kw)

    def list_users(self, **params):
        return assert_list(self.get("/Users", params=params))

    def filter_users(self, expr, **params):
        params["filter"] = expr
        return assert_list(self.get("/Users", params=params))

    def total_users(self):
        return self.list_users(count=0)["totalResults"]


# ---- the server ----------------------------------------------------------

@dataclass
class Org:
    """One <Location> with SetHandler scim."""
    name: str                       # ScimOrganization
    tokens: list                    # clear-text bearer tokens (hashed in conf)
    path: str = None                # URL path; default /scim/v2/<name>
    directives: list = field(default_factory=list)   # extra lines
    raw_token_lines: list = field(default_factory=list)  # verbatim ScimToken args

    def __post_init__(self):
        if self.path is None:
            self.path = f"/scim/v2/{self.name}"


ALL_SERVERS = []   # every HttpdServer created in this process (log guard)


# ---- PostgreSQL ------------------------------------------------------------

class PgCluster:
    """The PostgreSQL cluster build.sh started for the tests."""

    @staticmethod
    def _as_owner(args):
        # the cluster belongs to "postgres" when the tests run as root
        return (["runuser", "-u", "postgres", "--"] + args) if RUN_AS_ROOT else args

    @staticmethod
    def psql(sql, dbname="postgres", timeout=60):
        """Runs SQL; returns the rows as lists of strings."""
        res = subprocess.run(
            [f"{PG_BIN}/psql", "-h", "127.0.0.1", "-p", PG_PORT, "-U", PG_ROLE,
             "-d", dbname, "-X", "-q", "-A", "-t", "-F", "\t",
             "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {res.stderr}")
        return [line.split("\t") for line in res.stdout.splitlines() if line]

    @classmethod
    def create_database(cls, dbname):
        if not cls.psql(f"SELECT 1 FROM pg_database WHERE datname = '{dbname}'"):
            cls.psql(f'CREATE DATABASE "{dbname}"')

    @classmethod
    def restart(cls, mode="fast"):
        """Restarts the server (its connections are cut)."""
        # the new postmaster logs to a file: were its output our pipe, the
        # pipe would stay open as long as the server runs
        log = os.path.join(os.path.dirname(PG_DATA), "server.log")
        res = subprocess.run(cls._as_owner(
            [f"{PG_BIN}/pg_ctl", "-D", PG_DATA, "-m", mode, "-l", log, "-w",
             "restart"]), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"pg_ctl restart failed ({res.returncode}),"
                               f" see {log}")

    @staticmethod
    def params(dbname):
        return f"host=127.0.0.1 port={PG_PORT} dbname={dbname} user={PG_ROLE}"


def sql_literal(value):
    if value is None:
        return "NULL"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


class HttpdServer:
    """A generated ServerRoot with its own httpd.conf, port and database.

    db: "sqlite" or "pgsql" (default: SCIM_TEST_DB); database: the pgsql
    database's name (default: one of the server's own)."""

    def __init__(self, name, orgs, mpm=MPM, dbd_params=None, extra_conf="",
                 allow_log=(), module=None, root=None, db=None,
                 database=None):
        self.name = name
        self.orgs = {o.name: o for o in orgs}
        self.mpm = mpm
        # root: another place for the ServerRoot (the benchmark's lives
        # under build/bench/); it is wiped by write_config().
        self.root = Path(root) if root else BUILD / "itest" / mpm / ITEST.name / name
        self.conf = self.root / "httpd.conf"
        self.error_log = self.root / "error.log"
        self.pid_file = self.root / "httpd.pid"
        self.db = self.root / "scim.db"
        self.db_driver = "sqlite3" if (db or DB) == "sqlite" or dbd_params else "pgsql"
        self.database = database or \
            f"scim_{os.getpid()}_{hashlib.sha1(name.encode()).hexdigest()[:16]}"
        if self.db_driver == "pgsql":
            dbd_params = PgCluster.params(self.database)
        self.dbd_params = dbd_params or str(self.db)
        self.extra_conf = extra_conf
        self.allow_log = list(allow_log)   # regexes always allowed in this log
        self.module = Path(module or MODULE)
        self.port = None
        self.running = False
        ALL_SERVERS.append(self)

    # -- configuration ---------------------------------------------------

    def base_url(self, org="acme"):
        return f"http://127.0.0.1:{self.port}{self.orgs[org].path}"

    def client(self, org="acme", token=..., **kw):
        o = self.orgs[org]
        tok = (o.tokens[0] if o.tokens else None) if token is ... else token
        return ScimClient(self.base_url(org), tok, **kw)

    def conf_text(self):
        r = self.root
        m = MODULES_DIR
        lines = [
            f'ServerRoot "{r}"',
            "ServerName 127.0.0.1",
            f"Listen 127.0.0.1:{self.port}",
            f'PidFile "{r}/httpd.pid"',
            f'DefaultRuntimeDir "{r}"',
            f"Mutex file:{r} default",
            f'ErrorLog "{r}/error.log"',
            # event: children started and stopped, in the log
            "LogLevel warn" + (" mpm_event:debug" if self.mpm == "event" else ""),
            f"LoadModule mpm_{self.mpm}_module {m}/mod_mpm_{self.mpm}.so",
            f"LoadModule authz_core_module {m}/mod_authz_core.so",
            f"LoadModule authn_core_module {m}/mod_authn_core.so",
            f"LoadModule dbd_module {m}/mod_dbd.so",
            f"LoadModule scim_module {self.root / self.module.name}",
        ]
        if RUN_AS_ROOT:
            lines += [f"User {RUN_USER}", f"Group {RUN_USER}"]
        lines += [
            f'DocumentRoot "{r}/htdocs"',
            'LogFormat "%h %t \\"%r\\" %>s %b %D pid=%P conn=%X" itest',
            f'CustomLog "{r}/access.log" itest',
            "KeepAlive On",
            "Timeout 30",
        ]
        if self.mpm == "event":
            lines += ["StartServers 2", "ServerLimit 4", "ThreadsPerChild 10",
                      "MaxRequestWorkers 40", "MinSpareThreads 5",
                      "MaxSpareThreads 30"]
        elif self.mpm == "prefork":
            lines += ["StartServers 10", "MinSpareServers 5", "MaxSpareServers 20",
                      "ServerLimit 32", "MaxRequestWorkers 32"]
        lines += [f"DBDriver {self.db_driver}", f'DBDParams "{self.dbd_params}"']
        for o in self.orgs.values():
            lines.append(f"<Location {o.path}>")
            lines.append("    SetHandler scim")
            lines.append(f"    ScimOrganization {o.name}")
            for t in o.tokens:
                lines.append(f"    ScimToken sha256:{token_hash(t)}")
            for raw in o.raw_token_lines:
                lines.append(f"    ScimToken {raw}")
            for d in o.directives:
                lines.append(f"    {d}")
            lines.append("</Location>")
        if self.extra_conf:
            lines.append(self.extra_conf)
        return "\n".join(lines) + "\n"

    def write_config(self):
        """Wipes the ServerRoot and writes httpd.conf (keeps the port)."""
        if self.port is None:
            self.port = free_port()
        shutil.rmtree(self.root, ignore_errors=True)
        (self.root / "htdocs").mkdir(parents=True)
        # A private copy of the module: a rebuild that overwrites
        # build/mod_scim.so in place would crash running children.
        if self.module.exists():
            shutil.copy2(self.module, self.root / self.module.name)
        self.conf.write_text(self.conf_text())
        self._chown()
        if self.db_driver == "pgsql":
            PgCluster.create_database(self.database)

    def sql(self, query, *args):
        """Runs SQL (? placeholders) on the server's database, as the
        server's user; returns the rows (tuples; on pgsql of strings)."""
        if self.db_driver == "pgsql":
            parts = query.split("?")
            assert len(parts) == len(args) + 1, query
            text = parts[0] + "".join(sql_literal(a) + p
                                      for a, p in zip(args, parts[1:]))
            return [tuple(r) for r in PgCluster.psql(text, self.database)]
        import sqlite3
        con = sqlite3.connect(str(self.db), timeout=30)
        try:
            rows = con.execute(query, args).fetchall()
            con.commit()        # a write is kept, as on pgsql
            return rows
        finally:
            con.close()

    def _chown(self):
        if not RUN_AS_ROOT:
            return
        for dirpath, dirnames, filenames in os.walk(self.root):
            for n in [dirpath] + [os.path.join(dirpath, f) for f in filenames]:
                shutil.chown(n, RUN_USER, RUN_USER)

    def _apache(self, *args, timeout=30):
        return subprocess.run([APACHE, "-d", str(self.root), "-f", str(self.conf),
                               *args], capture_output=True, text=True,
                              timeout=timeout, env=dict(os.environ, LANG="C"))

    def configtest(self):
        """Runs apache2 -t; returns the CompletedProcess."""
        return self._apache("-t")

    # -- process control -------------------------------------------------

    def start(self, timeout=10):
        if not self.conf.exists():
            self.write_config()
        if not (self.root / self.module.name).exists():
            raise RuntimeError(f"{self.module} does not exist: run ./build.sh build")
        self._chown()
        res = self._apache("-k", "start")
        if res.returncode != 0 or "already running" in res.stdout + res.stderr:
            raise RuntimeError(f"httpd {self.name} did not start (rc "
                               f"{res.returncode}):\n{res.stdout}{res.stderr}"
                               f"{self.log_tail()}")
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{self.port}/", timeout=1)
                self.running = True
                return self
            except requests.RequestException as e:
                last = e
                time.sleep(0.05)
        self.kill9()
        raise RuntimeError(f"httpd {self.name} did not answer within {timeout}s "
                           f"({last}){self.log_tail()}")

    def parent_pid(self):
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def pids(self):
        """The parent and its children (the workers), parent first."""
        parent = self.parent_pid()
        if parent is None or not _alive(parent):
            return []
        return [parent] + _children(parent)

    def stop(self, timeout=10):
        if not self.running:
            return
        pids = self.pids()
        self._apache("-k", "stop")
        if not _wait_gone(pids, timeout):
            for p in pids:
                _kill(p, signal.SIGKILL)
            _wait_gone(pids, 5)
        self.running = False

    def restart(self):
        """Stops and starts again on the same root, port, module and db."""
        self.stop()
        return self.start()

    def kill9(self):
        """SIGKILLs the parent and every child at once (a crash)."""
        pids = self.pids()
        for p in pids:
            _kill(p, signal.SIGKILL)
        if not _wait_gone(pids, 10):
            raise RuntimeError(f"httpd processes {pids} survived SIGKILL")
        # "apache2 -k start" takes a zombie for a running server: give init
        # a moment to reap the old parent.
        _wait_gone(pids, 5, reaped=True)
        self.running = False
        return pids

    # -- logs ------------------------------------------------------------

    def log_size(self):
        try:
            return self.error_log.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset):
        try:
            with open(self.error_log, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return []

    def log_tail(self, n=30):
        lines = self.log_since(0)[-n:]
        return ("\n--- " + str(self.error_log) + " (tail) ---\n" + "\n".join(lines)
                if lines else "")

    def bad_log_lines(self, offset, expected=()):
        """New warn-or-worse or crash lines not matched by an expected regex."""
        pats = [re.compile(p) for p in list(expected) + self.allow_log]
        bad = []
        for line in self.log_since(offset):
            if BAD_LOG_LINE.search(line) and not any(p.search(line) for p in pats):
                bad.append(line)
        return bad


def _alive(pid, zombie_counts=False):
    """True while pid exists and (unless zombie_counts) is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return zombie_counts or state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _children(parent):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == parent:
                kids.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return kids


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_gone(pids, timeout, reaped=False):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_alive(p, reaped) for p in pids):
            return True
        time.sleep(0.05)
    return not any(_alive(p, reaped) for p in pids)
