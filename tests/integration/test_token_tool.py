"""build/scim-token: the administrator's token generator (the first step of
setting up an organization, README)."""

import hashlib
import re
import subprocess

import pytest

from harness import REPO, TOKEN_TOOL, Org, assert_list

LINE = re.compile(r"^ScimToken sha256:([0-9a-f]{64})$", re.M)
B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


def run(*args, stdin=None):
    if not TOKEN_TOOL.exists():
        pytest.fail(f"{TOKEN_TOOL} does not exist: run ./build.sh build", pytrace=False)
    return subprocess.run([str(TOKEN_TOOL), *args], input=stdin, capture_output=True,
                          text=True, timeout=10)


def generate():
    """Runs the tool; returns (token, hex) after checking they belong together."""
    res = run()
    assert res.returncode == 0, res.stderr
    out = res.stdout
    lines = LINE.findall(out)
    assert len(lines) == 1, f"expected one 'ScimToken sha256:<hex>' line:\n{out}"
    hexhash = lines[0]
    words = {w.strip("'\"`,;:") for w in out.split()} - {""}
    candidates = [w for w in words if B64URL.match(w) and len(w) >= 32
                  and w != hexhash and "sha256" not in w]
    matching = [w for w in candidates
                if hashlib.sha256(w.encode()).hexdigest() == hexhash]
    assert len(matching) == 1, \
        f"no printed token hashes to the configuration line:\n{out}"
    return matching[0], hexhash


def entropy_bits(token):
    hexdigits = set("0123456789abcdef")
    per_char = 4 if set(token) <= hexdigits else 6
    return per_char * len(token)


def test_prints_a_token_and_its_configuration_line():
    token, hexhash = generate()
    assert hashlib.sha256(token.encode()).hexdigest() == hexhash
    assert entropy_bits(token) >= 256, f"token {token!r} is too short"
    assert len(token) >= 43


def test_each_run_gives_a_new_token():
    tokens = {generate()[0] for _ in range(3)}
    assert len(tokens) == 3


@pytest.mark.parametrize("newline", ["\n", ""])
def test_hash_mode_reads_the_token_from_stdin(newline):
    token, hexhash = generate()
    res = run("-s", stdin=token + newline)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"ScimToken sha256:{hexhash}", res.stdout
    assert token not in res.stdout


def test_hash_mode_of_a_chosen_token():
    res = run("-s", stdin="my-Chosen_token-0123456789\n")
    expected = hashlib.sha256(b"my-Chosen_token-0123456789").hexdigest()
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"ScimToken sha256:{expected}"


@pytest.mark.expect_log(r"SCIM3002: bearer token authentication failure")
def test_generated_line_configures_a_working_server(make_server):
    # The administrator's story: generate, paste the line into the config,
    # paste the token into the IdP.
    token, hexhash = generate()
    server = make_server("tokentool", orgs=[
        Org("acme", [], raw_token_lines=[f"sha256:{hexhash}"])])
    c = server.client(token=token)
    assert_list(c.get("/Users"))
    assert c.get("/Users", token=token[:-1]).status_code == 401


def test_help_exits_0_and_names_every_option():
    res = run("--help")
    assert res.returncode == 0, res.stderr
    for option in ("-s", "--help", "--version"):
        assert option in res.stdout, res.stdout


def test_unknown_option_is_a_usage_error():
    res = run("--frobnicate")
    assert res.returncode == 2
    assert "usage:" in res.stderr and res.stdout == ""


def test_version_is_the_module_version():
    header = (REPO / "mod_scim" / "scim_version.h").read_text()
    version = re.search(r'#define SCIM_VERSION "([^"]+)"', header).group(1)
    res = run("--version")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["scim-token", "(mod_scim)", version]


def test_hash_mode_strips_only_the_line_ending_and_warns_about_blanks():
    token = "  a-long-enough-chosen-token-0123456789 "
    res = run("-s", stdin=token + "\r\n")
    expected = hashlib.sha256(token.encode()).hexdigest()
    assert res.stdout.strip() == f"ScimToken sha256:{expected}"
    assert res.returncode == 0
    assert "space" in res.stderr, res.stderr
    assert token.strip() not in res.stderr


@pytest.mark.parametrize("weak", ["password", "Changeme", "123456", "secret",
                                  "x" * 43, "short-token"])
def test_hash_mode_warns_about_guessable_tokens(weak):
    res = run("-s", stdin=weak + "\n")
    assert res.returncode == 0, res.stderr
    assert LINE.search(res.stdout)
    assert "easy to guess" in res.stderr, res.stderr
    assert weak not in res.stderr


def test_generated_tokens_draw_no_warning():
    token, _ = generate()
    res = run("-s", stdin=token + "\n")
    assert res.returncode == 0 and res.stderr == ""
