"""Request framing on keep-alive connections: a refused request (401, 400,
413) must not leave its body on the connection to be read as the next
request.  Raw sockets, because HTTP libraries hide this."""

import json
import socket

import pytest

from harness import user_body


class RawConnection:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.rfile = self.sock.makefile("rb")

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        self.rfile.close()
        self.sock.close()

    def response(self):
        """Reads one response: (status, headers, body), or None at EOF."""
        try:
            line = self.rfile.readline()
        except (socket.timeout, ConnectionResetError):
            return None
        if not line:
            return None
        status = int(line.split()[1])
        headers = {}
        while True:
            h = self.rfile.readline().decode("latin-1").rstrip("\r\n")
            if not h:
                break
            k, v = h.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        body = b""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        elif "content-length" in headers:
            body = self.rfile.read(int(headers["content-length"]))
        return status, headers, body

    def responses(self, limit=5):
        out = []
        while len(out) < limit:
            r = self.response()
            if r is None:
                break
            out.append(r)
        return out


def request(method, path, token=None, body=b"", extra=""):
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    if body:
        head += f"Content-Type: application/scim+json\r\nContent-Length: {len(body)}\r\n"
    return (head + extra + "\r\n").encode() + body


def smuggled_delete(path, token):
    return request("DELETE", path, token)


def check_followers(got, first_status):
    """After the refused request the server either closed the connection or
    answered the pipelined GET correctly; nothing else (no response to
    left-over body bytes)."""
    assert got, "no response at all"
    assert got[0][0] == first_status, got
    rest = [r[0] for r in got[1:]]
    assert rest in ([], [200]), \
        f"left-over body bytes were parsed as requests: statuses {rest}"
    if rest:
        assert json.loads(got[1][2])["totalResults"] >= 0


def test_pipelined_request_after_a_400(httpd, tokens):
    # (httpd may close the connection after a 400; it must not desync)
    conn = RawConnection(httpd.port)
    try:
        conn.send(request("POST", "/scim/v2/acme/Users", tokens["A"], b'{"broken": ')
                  + request("GET", "/scim/v2/acme/Users?count=0", tokens["A"],
                          extra="Connection: close\r\n"))
        got = conn.responses(3)
    finally:
        conn.close()
    check_followers(got, 400)


@pytest.mark.expect_log(r"SCIM3002: bearer token authentication failure")
def test_body_of_an_unauthenticated_request_is_not_a_request(httpd, acme, tokens):
    # If the 401 left the body unread, the DELETE inside it would run.
    victim = acme.create_user()
    inner = smuggled_delete(f"/scim/v2/acme/Users/{victim['id']}", tokens["A"])
    conn = RawConnection(httpd.port)
    try:
        conn.send(request("POST", "/scim/v2/acme/Users", None, inner)
                  + request("GET", "/scim/v2/acme/Users?count=0", tokens["A"],
                          extra="Connection: close\r\n"))
        got = conn.responses(3)
    finally:
        conn.close()
    check_followers(got, 401)
    assert acme.get_user(victim["id"])["id"] == victim["id"]


def test_body_over_the_limit_is_not_a_request(httpd, tiny, tokens):
    # Content-Length says 5000 > 2048: if the server refused it without
    # reading and kept the connection, the DELETE would run.
    victim = tiny.create_user()
    inner = smuggled_delete(f"/scim/v2/tiny/Users/{victim['id']}", tokens["T"])
    body = inner + b"x" * (5000 - len(inner))
    conn = RawConnection(httpd.port)
    try:
        conn.send(request("POST", "/scim/v2/tiny/Users", tokens["T"], body)
                  + request("GET", "/scim/v2/tiny/Users?count=0", tokens["T"],
                          extra="Connection: close\r\n"))
        got = conn.responses(3)
    finally:
        conn.close()
    check_followers(got, 413)
    assert tiny.get_user(victim["id"])["id"] == victim["id"]


def test_chunked_body_over_the_limit_keeps_framing(httpd, tiny, tokens):
    total = tiny.total_users()
    payload = json.dumps(user_body(displayName="z" * 5000)).encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(payload[i:i + 700]), payload[i:i + 700])
                       for i in range(0, len(payload), 700)) + b"0\r\n\r\n"
    head = (f"POST /scim/v2/tiny/Users HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {tokens['T']}\r\n"
            "Content-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\n\r\n")
    conn = RawConnection(httpd.port)
    try:
        conn.send(head.encode() + chunked
                  + request("GET", "/scim/v2/tiny/Users?count=0", tokens["T"],
                          extra="Connection: close\r\n"))
        got = conn.responses(3)
    finally:
        conn.close()
    check_followers(got, 413)
    assert tiny.total_users() == total
