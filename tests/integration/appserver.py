"""An application behind Apache that mod_scim guards, for the access tests.

AppServer is an HttpdServer whose organizations each have, besides their
SCIM endpoint, protected locations: Basic authentication stands in for SSO
(the htpasswd file is rewritten while the server runs: mod_authn_file reads
it on every request), and a CGI script prints the request environment the
backend receives, so a test sees exactly what an application would.
"""

import base64
import hashlib
import json
import os
import shutil
import stat
from dataclasses import dataclass, field

import requests

from harness import MODULES_DIR, RUN_AS_ROOT, RUN_USER, HttpdServer

PASSWORD = "secret-pw"

# The CGI backend: the SCIM_* variables (and REMOTE_USER) as JSON.
ENV_CGI = """#!/bin/sh
printf 'Content-Type: application/json\\r\\n\\r\\n'
exec /usr/bin/python3 -c '
import json, os
print(json.dumps({k: v for k, v in os.environ.items()
                  if k.startswith("SCIM_") or k == "REMOTE_USER"}))'
"""


@dataclass
class Guard:
    """A protected location: <Location path> with Basic auth and Require."""
    path: str                       # URL path, e.g. /app
    org: str                        # ScimOrganization
    require: str = "scim-member"    # the Require line's argument (None:
                                    # none; directives carry them)
    directives: list = field(default_factory=list)   # extra lines inside


class AppServer(HttpdServer):
    """HttpdServer plus Basic-auth locations guarded by mod_scim."""

    def __init__(self, name, orgs, guards, extra_conf="", **kw):
        self.guards = guards
        self.logins = {}
        super().__init__(name, orgs, extra_conf=extra_conf, **kw)

    def conf_text(self):
        m = MODULES_DIR
        r = self.root
        # mod_cgi on both MPMs: mod_cgid's socket path under a deep
        # ServerRoot can pass the length limit of a Unix socket.
        lines = [
            f"LoadModule auth_basic_module {m}/mod_auth_basic.so",
            f"LoadModule authn_file_module {m}/mod_authn_file.so",
            f"LoadModule authz_user_module {m}/mod_authz_user.so",
            f"LoadModule authz_host_module {m}/mod_authz_host.so",
            f"LoadModule alias_module {m}/mod_alias.so",
            f"LoadModule setenvif_module {m}/mod_setenvif.so",
            f"LoadModule cgi_module {m}/mod_cgi.so",
        ]
        for g in self.guards:
            lines += [
                f'ScriptAlias {g.path}/env "{r}/cgi/env.cgi"',
                f"<Location {g.path}>",
                "    AuthType Basic",
                f'    AuthName "{g.org}"',
                "    AuthBasicProvider file",
                f'    AuthUserFile "{r}/htpasswd"',
                "    AuthzSendForbiddenOnFailure On",
                f"    ScimOrganization {g.org}",
                *[f"    {d}" for d in g.directives],
                f"    Require {g.require}" if g.require else "",
                "</Location>",
            ]
        base = super().conf_text()
        return base + "\n".join(lines) + "\n" + (self.extra_conf or "")

    def write_config(self):
        super().write_config()
        cgi_dir = self.root / "cgi"
        cgi_dir.mkdir()
        script = cgi_dir / "env.cgi"
        script.write_text(ENV_CGI)
        script.chmod(0o755)
        (self.root / "htdocs" / "page.html").write_text("<p>the app</p>\n")
        for g in self.guards:
            d = self.root / "htdocs" / g.path.strip("/")
            d.mkdir(parents=True, exist_ok=True)
            (d / "index.html").write_text(f"<p>{g.path}</p>\n")
        self._write_htpasswd()

    def _write_htpasswd(self):
        lines = []
        for name, pw in self.logins.items():
            digest = base64.b64encode(hashlib.sha1(pw.encode()).digest()).decode()
            lines.append(f"{name}:{{SHA}}{digest}")
        path = self.root / "htpasswd"
        tmp = self.root / "htpasswd.new"
        tmp.write_text("\n".join(lines) + "\n")
        if RUN_AS_ROOT:
            shutil.chown(tmp, RUN_USER, RUN_USER)
        os.replace(tmp, path)

    def add_login(self, name, password=PASSWORD):
        """Lets name sign in (authentication only: access is mod_scim's)."""
        self.logins[name] = password
        self._write_htpasswd()

    def app_url(self, guard_path, rest="/index.html"):
        return f"http://127.0.0.1:{self.port}{guard_path}{rest}"

    def visit(self, guard_path, login, rest="/index.html", password=PASSWORD,
              headers=None):
        """A signed-in request to a protected location."""
        return requests.get(self.app_url(guard_path, rest),
                            auth=(login, password), headers=headers,
                            allow_redirects=False, timeout=30)

    def backend_env(self, guard_path, login, **kw):
        """The environment the CGI backend saw, or the refusal."""
        resp = self.visit(guard_path, login, rest="/env", **kw)
        return resp, (resp.json() if resp.status_code == 200 else None)
