"""The Debian package libapache2-mod-scim on this machine (needs root).

The administrator's story from package to purge: install the .deb of
./build.sh deb, make a token with the installed scim-token, "a2enmod scim"
(which pulls in mod_dbd), configure an organization, serve SCIM with the
installed files, then "a2dismod scim" and purge; nothing of the package may
remain.

The system's apache2 service is never started, reloaded or reconfigured:
the server is a private httpd on a free loopback port whose configuration
(in a temporary directory) loads the modules through the links a2enmod made
in /etc/apache2/mods-enabled.  The test puts back what it found: the
enabled modules and a2enmod's state markers for scim and dbd.  Runs from
several work trees take turns through a lock file.  A run that died with
the package installed leaves a marker file, so that the next run purges
that package; a package installed by anyone else makes the test skip.
"""

import fcntl
import gzip
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from harness import (BAD_LOG_LINE, MPM, REPO, ScimClient, _alive, _children,
                     _wait_gone, assert_list, free_port, scim_json, user_body)

PKG = "libapache2-mod-scim"
DEB_DIR = REPO / "build" / "deb"
MODS_ENABLED = Path("/etc/apache2/mods-enabled")
MODULE_MARKERS = Path("/var/lib/apache2/module")    # a2enmod's state
DATA_DIR = Path("/var/lib/apache2/scim")
LOCK_FILE = Path("/run/lock/mod-scim-deb-test.lock")
OURS_INSTALLED = Path("/var/tmp/mod-scim-deb-test.installed")
APT = ["apt-get", "-y", "-qq", "-o", "DPkg::Lock::Timeout=240"]

PACKAGE_FILES = [
    "/usr/lib/apache2/modules/mod_scim.so",
    "/etc/apache2/mods-available/scim.load",
    "/etc/apache2/mods-available/scim.conf",
    "/usr/bin/scim-token",
    "/usr/share/man/man1/scim-token.1.gz",
    f"/usr/share/doc/{PKG}/copyright",
    f"/usr/share/doc/{PKG}/changelog.gz",        # the project's CHANGELOG
    f"/usr/share/doc/{PKG}/README.md.gz",
]

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="installs a package: needs root"),
    pytest.mark.skipif(not shutil.which("dpkg"), reason="not a Debian system"),
    # A stale .deb is rebuilt first (a minute or two); the rest takes seconds.
    pytest.mark.scim_timeout(1200),
]


def run(*cmd, timeout=300, check=True):
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                         env=dict(os.environ, LANG="C", DEBIAN_FRONTEND="noninteractive"))
    if check:
        assert res.returncode == 0, f"{' '.join(cmd)}: rc {res.returncode}\n" \
            f"{res.stdout}{res.stderr}"
    return res


def package_known():
    """Installed or with configuration files left: purge removes both."""
    res = run("dpkg-query", "-W", "-f=${Status}", PKG, check=False)
    return res.returncode == 0 and not res.stdout.endswith("not-installed")


def newest_source_mtime():
    paths = [REPO / "build.sh", REPO / "README.md", REPO / "CHANGELOG", REPO / "LICENSE"]
    for tree in (REPO / "mod_scim", REPO / "conf"):
        paths += [p for p in tree.rglob("*") if p.is_file()]
    return max(p.stat().st_mtime for p in paths if p.exists())


def the_deb():
    """The package of ./build.sh deb, rebuilt when a source is newer."""
    debs = sorted(DEB_DIR.glob(f"{PKG}_*.deb"))
    if len(debs) != 1 or debs[0].stat().st_mtime < newest_source_mtime():
        res = run(str(REPO / "build.sh"), "deb", timeout=1100, check=False)
        assert res.returncode == 0, f"./build.sh deb failed:\n{res.stdout}{res.stderr}"
        debs = sorted(DEB_DIR.glob(f"{PKG}_*.deb"))
    assert len(debs) == 1, f"expected one {PKG} package in {DEB_DIR}: {debs}"
    return debs[0]


def apache_state():
    """What a2enmod and a2dismod change for scim and its dependency dbd:
    the links in mods-enabled, the state markers and their directories."""
    links = {p.name: os.readlink(p) for p in MODS_ENABLED.iterdir()
             if p.name.split(".")[0] in ("scim", "dbd") and p.is_symlink()}
    markers = {str(p.relative_to(MODULE_MARKERS)) for p in MODULE_MARKERS.rglob("*")
               if p.is_dir() or p.name in ("scim", "dbd")}
    return links, markers


def put_back(before, *names):
    """Disables what the test enabled of these modules, and puts their
    state markers back as they were."""
    links, markers = before
    for name in names:
        if f"{name}.load" not in links and (MODS_ENABLED / f"{name}.load").exists():
            run("a2dismod", "-q", "-f", name, check=False)
    now = apache_state()[1]
    for rel in sorted(now - markers, reverse=True):     # files before their dirs
        path = MODULE_MARKERS / rel
        if path.is_file() and path.name in names:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    for rel in markers - now:
        path = MODULE_MARKERS / rel
        if Path(rel).name in names:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()


def system_configtest():
    return run("apache2ctl", "-t", check=False)


def remember(before):
    """Marks an installation of this test, with the state it found."""
    links, markers = before
    OURS_INSTALLED.write_text(json.dumps({"links": links, "markers": sorted(markers)}))


def remembered():
    saved = json.loads(OURS_INSTALLED.read_text())
    return saved["links"], set(saved["markers"])


def clean_up(before):
    """Purges the package if it is there, and puts back the modules'
    state found before it was installed."""
    put_back(before, "scim")
    if package_known():
        run(*APT, "purge", PKG, check=False)
    put_back(before, "scim", "dbd")
    if not package_known():
        OURS_INSTALLED.unlink(missing_ok=True)


@pytest.fixture
def machine():
    """The machine, taken in turn and given back as it was found."""
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if package_known():
            if not OURS_INSTALLED.exists():
                pytest.skip(f"{PKG} is installed here by someone else; "
                            "the test would remove it")
            clean_up(remembered())        # a run of this test that died
            assert not package_known(), f"could not purge {PKG}"
        if DATA_DIR.exists():
            pytest.skip(f"{DATA_DIR} exists without the package; purging "
                        "the test's package would remove it")
        before = apache_state()
        server = PrivateHttpd()
        try:
            yield before, server
        finally:
            server.stop()
            clean_up(before)
            shutil.rmtree(server.root, ignore_errors=True)


class PrivateHttpd:
    """An httpd of its own on loopback: the system's modules and data
    directory through Debian's layout, nothing else of /etc/apache2."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="mod-scim-deb-"))
        self.conf = self.root / "httpd.conf"
        self.error_log = self.root / "error.log"
        self.pid_file = self.root / "httpd.pid"
        self.db = DATA_DIR / f"deb-test-{os.getpid()}.db"
        self.port = free_port()
        self.pid = None

    def write(self, token_line):
        r, m = self.root, "/usr/lib/apache2/modules"
        self.conf.write_text(f"""ServerName 127.0.0.1
Listen 127.0.0.1:{self.port}
PidFile "{r}/httpd.pid"
DefaultRuntimeDir "{r}"
Mutex file:{r} default
ErrorLog "{r}/error.log"
LogLevel warn
User www-data
Group www-data
LoadModule mpm_{MPM}_module {m}/mod_mpm_{MPM}.so
LoadModule authz_core_module {m}/mod_authz_core.so
# as many threads as mod_dbd's default DBDMax has connections
<IfModule mpm_event_module>
    ThreadsPerChild 10
</IfModule>
Include {MODS_ENABLED}/dbd.load
Include {MODS_ENABLED}/scim.load
Include {MODS_ENABLED}/scim.conf
DBDriver sqlite3
DBDParams {self.db}
<Location /scim/v2/acme>
    SetHandler scim
    ScimOrganization acme
    {token_line}
</Location>
""")

    def apache(self, *args):
        return run("/usr/sbin/apache2", "-d", str(self.root), "-f", str(self.conf),
                   *args, timeout=30, check=False)

    def start(self):
        res = self.apache("-k", "start")
        assert res.returncode == 0, res.stdout + res.stderr + self.log()
        self.pid = self.wait_for(lambda: int(self.pid_file.read_text()),
                                 (OSError, ValueError))
        self.wait_for(lambda: requests.get(f"http://127.0.0.1:{self.port}/", timeout=1),
                      requests.ConnectionError)

    def wait_for(self, attempt, failure, seconds=10):
        deadline = time.monotonic() + seconds
        while True:
            try:
                return attempt()
            except failure:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self):
        """Stops the parent, which stops its children, as Debian's
        apache2.service does (apachectl graceful-stop): each child ends
        the request it serves first; SIGKILL for any still there after 10
        s.  (A prefork child that "apache2 -k stop" kills while a request
        still holds mod_dbd's connection, which goes back with the
        request's pool after the answer is sent, aborts in apr_reslist's
        cleanup: seen once in a clean-clone run, and so for any mod_dbd
        module.)"""
        pid, self.pid = self.pid, None
        if pid is None or not _alive(pid):
            return
        pids = [pid] + _children(pid)
        os.kill(pid, signal.SIGWINCH)         # "apache2 -k graceful-stop"
        if not _wait_gone(pids, 10):
            for p in pids:
                if _alive(p):
                    os.kill(p, signal.SIGKILL)
            _wait_gone(pids, 5)

    def log(self):
        return self.error_log.read_text() if self.error_log.exists() else ""


def generated_token():
    """The installed scim-token's token and ScimToken line."""
    out = run("/usr/bin/scim-token").stdout
    token = re.search(r"^Bearer token: (\S+)$", out, re.M).group(1)
    line = re.search(r"^ScimToken sha256:[0-9a-f]{64}$", out, re.M).group(0)
    assert line == f"ScimToken sha256:{hashlib.sha256(token.encode()).hexdigest()}"
    return token, line


def test_package_installs_serves_scim_and_purges_without_a_trace(machine):
    before, server = machine
    apache_ok_before = system_configtest().returncode == 0
    deb = the_deb()

    remember(before)
    run(*APT, "install", "--no-remove", str(deb))

    # What the package put on the machine
    for path in PACKAGE_FILES:
        assert Path(path).is_file(), f"{path} missing after installation"
    assert os.access("/usr/bin/scim-token", os.X_OK)
    with gzip.open("/usr/share/man/man1/scim-token.1.gz", "rt") as man:
        assert ".TH SCIM-TOKEN 1" in man.read()
    load = Path("/etc/apache2/mods-available/scim.load").read_text()
    assert "# Depends: dbd" in load
    assert "LoadModule scim_module /usr/lib/apache2/modules/mod_scim.so" in load
    data = DATA_DIR.stat()
    www = pwd.getpwnam("www-data")
    assert (data.st_uid, data.st_gid) == (www.pw_uid, www.pw_gid)
    assert stat.S_IMODE(data.st_mode) == 0o700
    assert apache_state() == before, "installation must not enable the module"

    # The administrator enables it; a2enmod pulls in mod_dbd
    run("a2enmod", "scim")
    for name in ("scim.load", "scim.conf", "dbd.load"):
        assert (MODS_ENABLED / name).exists(), f"a2enmod scim did not enable {name}"
    if apache_ok_before:
        res = system_configtest()
        assert res.returncode == 0, \
            "the system configuration no longer passes with scim enabled:\n" \
            + res.stdout + res.stderr

    # An organization with the installed tool's token, served through it
    token, token_line = generated_token()
    server.write(token_line)
    res = server.apache("-t")
    assert res.returncode == 0, res.stdout + res.stderr
    server.start()
    base = f"http://127.0.0.1:{server.port}/scim/v2/acme"
    client = ScimClient(base, token)
    assert_list(client.get("/Users"))
    created = scim_json(client.post("/Users", user_body()), 201)
    assert client.get(f"/Users/{created['id']}").status_code == 200
    refused = ScimClient(base, token[:-1])
    assert refused.get("/Users").status_code == 401
    assert server.db.stat().st_uid == www.pw_uid, "the store is not the server's"
    for c in (client, refused):
        c.session.close()       # a graceful stop waits for open connections
    server.stop()
    # the refused token[:-1] above is logged (SCIM3002), as it should be
    bad = [l for l in server.log().splitlines() if BAD_LOG_LINE.search(l)
           and "SCIM3002: bearer token authentication failure" not in l]
    assert not bad, "error log:\n" + "\n".join(bad)

    # Disable and purge: nothing of the package remains
    run("a2dismod", "scim")
    run(*APT, "purge", PKG)
    assert not package_known()
    OURS_INSTALLED.unlink()
    put_back(before, "dbd")       # what a2enmod scim enabled along with it
    left = [p for p in PACKAGE_FILES + [str(DATA_DIR), f"/usr/share/doc/{PKG}"]
            if os.path.lexists(p)]
    left += [str(p) for p in MODS_ENABLED.glob("scim.*")]
    assert not left, f"left after purge: {left}"
    assert apache_state() == before, "a2enmod's state for scim and dbd changed"
