"""What an administrator meets around the SCIM protocol: the module's
version at start-up, a database file only the server's user can read, log
lines that name the file and the user when the store cannot be used, and a
location that names an organization but lacks SetHandler scim."""

import os
import pwd
import re
import shutil
import socket
import stat
import subprocess

import pytest

from harness import (ITEST, REPO, RUN_AS_ROOT, RUN_USER, Org, assert_error,
                     assert_list, new_token, token_hash)

STORE_LINE = r"SCIM2005: the SCIM store \(DBDriver sqlite3, DBDParams "


def module_version():
    header = (REPO / "mod_scim" / "scim_version.h").read_text()
    return re.search(r'#define SCIM_VERSION "([^"]+)"', header).group(1)


def server_user():
    return RUN_USER if RUN_AS_ROOT else pwd.getpwuid(os.geteuid()).pw_name


def test_version_is_logged_at_start_up(httpd):
    lines = [l for l in httpd.log_since(0) if "SCIM1010" in l]
    assert lines and f"mod_scim {module_version()} configured" in lines[-1]
    assert "[scim:notice]" in lines[-1]


@pytest.mark.sqlite_only
def test_database_file_is_private_to_the_server_user(make_server):
    server = make_server("dbmode")
    assert_list(server.client().get("/Users"))      # WAL files exist now
    for path in (server.db, server.db.with_name(server.db.name + "-wal")):
        st = os.stat(path)
        assert stat.S_IMODE(st.st_mode) == 0o600, f"{path}: {oct(st.st_mode)}"
        assert pwd.getpwuid(st.st_uid).pw_name == server_user(), path


@pytest.mark.sqlite_only
def test_an_existing_database_file_keeps_its_mode(make_server):
    server = make_server("dbkeep", start=False)
    server.db.touch()
    os.chmod(server.db, 0o640)
    if RUN_AS_ROOT:
        shutil.chown(server.db, RUN_USER, RUN_USER)
    server.start()
    assert_list(server.client().get("/Users"))
    assert stat.S_IMODE(os.stat(server.db).st_mode) == 0o640


@pytest.mark.expect_log(STORE_LINE, r"SCIM2001: .* 503 ")
@pytest.mark.sqlite_only
def test_unwritable_database_folder_names_folder_and_user(make_server):
    folder = ITEST / "read-only-folder"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # root's 0755 folder is read-only for www-data; without root, 0555
    os.chmod(folder, 0o755 if RUN_AS_ROOT else 0o555)
    try:
        server = make_server("dbro", dbd_params=str(folder / "scim.db"))
        c = server.client()
        for _ in range(3):
            assert_error(c.get("/Users"), 503)
        lines = [l for l in server.log_since(0) if "SCIM2005" in l]
        pids = [re.search(r"\[pid (\d+)", l).group(1) for l in lines]
        # repeated ones are held back, per process
        assert lines and len(pids) == len(set(pids)), "\n".join(lines)
        assert str(folder) in lines[0] and server_user() in lines[0], lines[0]
        assert "not writable" in lines[0]
    finally:
        os.chmod(folder, 0o755)


@pytest.mark.expect_log(STORE_LINE, r"SCIM2001: .* 503 ", r"SCIM2003",
                        r"SCIM1011", r"\[dbd:(error|crit)\]")
@pytest.mark.sqlite_only
def test_missing_database_folder_names_folder_and_user(make_server):
    missing = ITEST / "no-such-folder" / "scim.db"
    server = make_server("dbmissing", dbd_params=str(missing))
    assert_error(server.client().get("/Users"), 503)
    lines = [l for l in server.log_since(0) if "SCIM2005" in l]
    assert lines and "does not exist" in lines[0], server.log_tail()
    assert str(missing.parent) in lines[0] and server_user() in lines[0]
    start = [l for l in server.log_since(0) if "SCIM1011" in l]
    assert start and str(missing) in start[0], server.log_tail()


@pytest.mark.expect_log(r"SCIM2006: /scim/v2/lost/Users is in a location with "
                        r"ScimOrganization lost and ScimToken but no SetHandler scim")
def test_location_without_set_handler_says_so(make_server):
    token = new_token()
    server = make_server("nohandler", extra_conf="\n".join([
        "<Location /scim/v2/lost>",
        "    ScimOrganization lost",
        f"    ScimToken sha256:{token_hash(token)}",
        "</Location>"]))
    c = server.client()
    lost = c.with_token(token)
    lost.base = lost.base.replace("/scim/v2/acme", "/scim/v2/lost")
    body = assert_error(lost.get("/Users"), 404)
    assert "SetHandler scim" in body["detail"]
    assert resp_is_scim(lost.get("/Users"))
    # the real endpoint beside it is untouched
    assert_list(c.get("/Users"))


def resp_is_scim(resp):
    return resp.headers.get("Content-Type", "").startswith("application/scim+json")


def run_demo(*args):
    return subprocess.run([str(REPO / "build.sh"), "run", *args],
                          capture_output=True, text=True, timeout=240,
                          env=dict(os.environ, SCIM_DEMO_ROOT=str(ITEST / "demo-busy")))


def test_build_sh_run_on_a_busy_port_says_so_before_any_token():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        res = run_demo("--port", str(busy.getsockname()[1]))
    assert res.returncode == 1
    assert "already in use" in res.stderr, res.stderr
    assert "Bearer token" not in res.stdout + res.stderr


@pytest.mark.parametrize("args", [("--port",), ("--port", "http"), ("--frob",)])
def test_build_sh_run_with_a_bad_port_gives_the_usage(args):
    res = run_demo(*args)
    assert res.returncode == 2
    assert "usage:" in res.stderr and "--port N" in res.stderr, res.stderr
    assert "Bearer token" not in res.stdout


def test_documentation_holds_no_usable_token_hash():
    """An administrator copies examples: a hash in README.md or conf/ must
    be a placeholder, never the SHA-256 of some word (README's examples
    once accepted "Bearer password")."""
    files = [REPO / "README.md"] + sorted((REPO / "conf").glob("*.conf")) \
        + sorted((REPO / "conf").glob("*.conf.in"))
    for path in files:
        for digest in re.findall(r"sha256:([0-9a-fA-F]{64})", path.read_text()):
            assert set(digest) == {"0"}, f"{path}: sha256:{digest} is not a placeholder"
    readme = (REPO / "README.md").read_text()
    assert "ScimToken sha256:<paste the line scim-token prints>" in readme
