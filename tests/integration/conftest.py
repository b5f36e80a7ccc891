"""pytest fixtures for the mod_scim integration tests.

Fixtures for test modules:
  httpd         session: the main HttpdServer (orgs acme, globex, tiny, okta, bulk)
  tokens        session: dict of the clear-text tokens (A, A2, G, T, O, B)
  acme, acme2   ScimClient for /scim/v2/acme with token A / rotation token A2
  globex, tiny, okta, bulk   ScimClient for the other organizations
  make_server   factory for a separate httpd (own ServerRoot, port, db);
                make_server(name, orgs=[Org(...)], start=True, ...)
  expect_log    callable: expect_log(regex) allows matching warn/error lines
                (also: @pytest.mark.expect_log(regex, ...))
  pg            the PostgreSQL cluster (harness.PgCluster); skips the test
                unless the suite runs on PostgreSQL (SCIM_TEST_DB=pgsql)
@pytest.mark.sqlite_only skips a test about the SQLite file when the suite
runs on PostgreSQL.
The autouse fixture log_guard fails a test whose run left warn-or-worse
lines or crash notices in the error log of any server it touched (and
restarts a server whose children crashed); time_limit bounds each test
(@pytest.mark.scim_timeout(seconds), env SCIM_TEST_TIMEOUT, default 300).
Server roots live in build/itest/<mpm>/run<pid>/<name>/, so concurrent runs
in one work tree do not collide; each root gets its own copy of the module.
"""

import itertools
import os
import re
import signal

import pytest
import requests

import harness
from harness import TINY_MAX_BODY, TINY_MAX_RESULTS, HttpdServer, Org, new_token


_server_seq = itertools.count(1)


TEST_TIMEOUT = int(os.environ.get("SCIM_TEST_TIMEOUT", "300"))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "expect_log(*regex): error-log lines matching these "
        "regexes do not fail the test")
    config.addinivalue_line(
        "markers", "sqlite_only: about the SQLite database file; skipped "
        "when the suite runs on PostgreSQL")
    config.addinivalue_line(
        "markers", "scim_timeout(seconds): per-test time limit (setup and "
        f"call; default {TEST_TIMEOUT}s, env SCIM_TEST_TIMEOUT)")


def pytest_sessionstart(session):
    harness.prepare_itest()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A request the server dropped without an answer (a crash, a closed
    keep-alive connection) is explained by the servers' logs: the report
    carries the tails of every running server's error and access logs."""
    outcome = yield
    report = outcome.get_result()
    excinfo = call.excinfo
    if not (report.failed and excinfo
            and excinfo.errisinstance(requests.exceptions.ConnectionError)):
        return
    for s in harness.ALL_SERVERS:
        if not s.running:
            continue
        report.sections.append((f"{s.name} error.log (tail)",
                                "\n".join(s.log_since(0)[-40:])))
        try:
            access = (s.root / "access.log").read_text(errors="replace")
            report.sections.append((f"{s.name} access.log (tail)",
                                    "\n".join(access.splitlines()[-40:])))
        except OSError:
            pass


def pytest_collection_modifyitems(config, items):
    if harness.DB != "pgsql":
        return
    skip = pytest.mark.skip(reason="about the SQLite file; the suite runs on "
                            "PostgreSQL")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)


@pytest.fixture
def pg():
    if harness.DB != "pgsql" or not harness.PG_PORT:
        pytest.skip("needs the PostgreSQL run (SCIM_TEST_DB=pgsql)")
    return harness.PgCluster


class ScimTestTimeout(Exception):
    pass


@pytest.fixture(autouse=True)
def time_limit(request):
    """Bounds every test, so a server that stops answering fails the test
    instead of hanging the run."""
    m = request.node.get_closest_marker("scim_timeout")
    seconds = int(m.args[0]) if m else TEST_TIMEOUT

    def expired(signum, frame):
        raise ScimTestTimeout(f"{request.node.nodeid} exceeded {seconds}s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="session")
def tokens():
    return {k: new_token() for k in ("A", "A2", "G", "T", "O", "B")}


@pytest.fixture(scope="session")
def httpd(tokens):
    orgs = [
        Org("acme", [tokens["A"], tokens["A2"]]),
        Org("globex", [tokens["G"]]),
        Org("tiny", [tokens["T"]], directives=[
            f"ScimMaxBodySize {TINY_MAX_BODY}",
            f"ScimMaxResults {TINY_MAX_RESULTS}"]),
        # Okta's SPEC test reads "the first user" of the org: give it an
        # org of its own so other tests' users cannot disturb it.
        Org("okta", [tokens["O"]]),
        # test_scale fills this one with more users than a store scan chunk
        Org("bulk", [tokens["B"]]),
    ]
    server = HttpdServer("main", orgs)
    server.write_config()
    try:
        server.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()
    crashes = [l for l in server.log_since(0) if harness.CRASH_LOG_LINE.search(l)]
    if crashes:
        pytest.fail("httpd children crashed during the session:\n"
                    + "\n".join(crashes), pytrace=False)


@pytest.fixture
def acme(httpd):
    return httpd.client("acme")


@pytest.fixture
def acme2(httpd, tokens):
    return httpd.client("acme", token=tokens["A2"])


@pytest.fixture
def globex(httpd):
    return httpd.client("globex")


@pytest.fixture
def tiny(httpd):
    return httpd.client("tiny")


@pytest.fixture
def okta(httpd):
    return httpd.client("okta")


@pytest.fixture
def bulk(httpd):
    return httpd.client("bulk")


@pytest.fixture
def make_server(request):
    """Factory for separately configured servers, stopped after the test."""
    made = []

    def make(name, orgs=None, start=True, **kw):
        if orgs is None:
            orgs = [Org("acme", [new_token()])]
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{name}-{request.node.name}")[:60]
        server = HttpdServer(f"{safe}-{next(_server_seq)}", orgs, **kw)
        server.write_config()
        made.append(server)
        if start:
            server.start()
        return server

    yield make
    for s in made:
        s.stop()


@pytest.fixture
def expect_log(request):
    pats = request.node.__dict__.setdefault("_expected_log", [])

    def add(regex):
        re.compile(regex)
        pats.append(regex)

    return add


@pytest.fixture(autouse=True)
def log_guard(request):
    before = {id(s): s.log_size() for s in harness.ALL_SERVERS}
    yield
    expected = list(request.node.__dict__.get("_expected_log", []))
    for m in request.node.iter_markers("expect_log"):
        expected.extend(m.args)
    problems = []
    for s in harness.ALL_SERVERS:
        offset = before.get(id(s), 0)
        bad = s.bad_log_lines(offset, expected)
        if bad:
            problems.append(f"{s.error_log}:\n  " + "\n  ".join(bad))
        if s.running and any(harness.CRASH_LOG_LINE.search(l)
                             for l in s.log_since(offset)):
            # give the following tests a fresh server
            s.restart()
    if problems:
        pytest.fail("unexpected error-log lines:\n" + "\n".join(problems),
                    pytrace=False)
