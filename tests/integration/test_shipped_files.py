"""What a newcomer and an administrator use first: `./build.sh run` (the
README's demo command) and the configuration files in conf/."""

import os
import re
import signal
import subprocess
import time

import requests

from harness import (APACHE, ITEST, MODULE, MODULES_DIR, REPO, RUN_AS_ROOT,
                     RUN_USER, free_port, new_token, token_hash, user_body,
                     ScimClient, scim_json)


def test_build_sh_run_serves_the_demo_organization_until_ctrl_c():
    port = free_port()
    root = ITEST / "demo-run"
    root.mkdir(parents=True, exist_ok=True)
    if RUN_AS_ROOT:
        os.chown(root, *(lambda p: (p.pw_uid, p.pw_gid))(
            __import__("pwd").getpwnam(RUN_USER)))
    env = dict(os.environ, SCIM_DEMO_ROOT=str(root))
    proc = subprocess.Popen([str(REPO / "build.sh"), "run", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    try:
        endpoint = token = None
        deadline = time.time() + 240
        printed = []
        while time.time() < deadline and not (endpoint and token):
            line = proc.stdout.readline()
            if not line:
                break
            printed.append(line)
            m = re.search(r"SCIM endpoint:\s+(\S+)", line)
            endpoint = m.group(1) if m else endpoint
            m = re.search(r"Bearer token:\s+(\S+)", line)
            token = m.group(1) if m else token
        assert endpoint == f"http://127.0.0.1:{port}/scim/v2/demo", "".join(printed)
        assert token and len(token) >= 43, "".join(printed)

        c = ScimClient(endpoint, token)
        for _ in range(100):
            try:
                resp = c.get("/ServiceProviderConfig")
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert resp.status_code == 200
        created = scim_json(c.post("/Users", user_body()), 201)
        assert c.get(f"/Users/{created['id']}").status_code == 200
        assert ScimClient(endpoint, "wrong").get("/Users").status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)       # what Ctrl-C sends
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert rc == 0, f"the demo server exited with {rc}"
    try:
        requests.get(f"http://127.0.0.1:{port}/", timeout=2)
        raise AssertionError("the demo server still answers after Ctrl-C")
    except requests.ConnectionError:
        pass


def test_conf_scim_conf_is_a_working_configuration_once_uncommented():
    """conf/scim.conf is what a2enmod installs: uncommented, with a real token
    and database path, it must pass apache2 -t."""
    text = (REPO / "conf" / "scim.conf").read_text()
    lines = []
    for line in text.splitlines():
        m = re.match(r"^(\s*)#(\s*)(DBDriver|DBDParams|<Location|</Location|"
                     r"SetHandler|ScimOrganization|ScimToken|ScimMaxBodySize|"
                     r"ScimMaxResults)(.*)$", line)
        if m:
            args = re.sub(r"[ \t]+", " ", m.group(4))
            line = f"{m.group(1)}{m.group(3)}{args}"
        lines.append(line)
    enabled = "\n".join(lines)
    root = ITEST / "conf-sample"
    root.mkdir(parents=True, exist_ok=True)
    enabled = re.sub(r"sha256:0{64}", f"sha256:{token_hash(new_token())}", enabled)
    enabled = enabled.replace("/var/lib/apache2/scim/scim.db", str(root / "scim.db"))
    for directive in ("DBDriver sqlite3", "SetHandler scim", "ScimOrganization acme",
                      "ScimToken sha256:", "ScimMaxBodySize 1048576",
                      "ScimMaxResults 200"):
        assert directive in enabled, f"conf/scim.conf no longer shows {directive}"
    load = (REPO / "conf" / "scim.load").read_text()
    assert "LoadModule scim_module" in load and "Depends: dbd" in load
    conf = root / "httpd.conf"
    conf.write_text(f"""ServerRoot "{root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{free_port()}
PidFile "{root}/httpd.pid"
ErrorLog "{root}/error.log"
LoadModule mpm_event_module {MODULES_DIR}/mod_mpm_event.so
LoadModule authz_core_module {MODULES_DIR}/mod_authz_core.so
LoadModule dbd_module {MODULES_DIR}/mod_dbd.so
LoadModule scim_module {MODULE}
{enabled}
""")
    res = subprocess.run([APACHE, "-t", "-d", str(root), "-f", str(conf)],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr
