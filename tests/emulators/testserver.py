#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Generic test server for the HTTP transport tests (tests/unit/test-http.c): the emulator
framework with a few plain routes, so every fault knob can be exercised without a protocol."""
import hashlib
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean (no __pycache__)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from emulator import Emulator, HttpError, Response  # noqa: E402

emu = Emulator("test")


@emu.route("GET", "/echo")
@emu.route("POST", "/echo")
@emu.route("PUT", "/echo")
@emu.route("PATCH", "/echo")
@emu.route("DELETE", "/echo")
def echo(req):
    return Response.json({
        "method": req.method,
        "path": req.path,
        "query": req.query,
        "body_size": len(req.body),
        "body_sha256": hashlib.sha256(req.body).hexdigest(),
        "content_type": req.headers.get("Content-Type"),
        "accept": req.headers.get("Accept"),
        "authorization": req.headers.get("Authorization"),
        "cookie": req.headers.get("Cookie"),
        "x_test": req.headers.get("X-Test"),
        "user_agent": req.headers.get("User-Agent"),
    })


@emu.route("GET", "/cookie/set")
@emu.route("POST", "/cookie/set")
def cookie_set(req):
    value = req.query.get("value", "session-1")
    return Response.json({"set": True},
                         headers=[("Set-Cookie", "kbs-session-id=%s; Path=/; Secure; HttpOnly" % value)])


@emu.route("GET", "/cookie/check")
def cookie_check(req):
    return Response.json({"kbs-session-id": req.cookies.get("kbs-session-id")})


@emu.route("GET", "/bytes")
def some_bytes(req):
    try:
        n = int(req.query.get("n", "0"))
    except ValueError:
        raise HttpError(400, "n must be an integer")
    if not 0 <= n <= 16 * 1024 * 1024:
        raise HttpError(400, "n out of range")
    return Response(200, b"b" * n, "application/octet-stream")


@emu.route("GET", "/status/(?P<code>[0-9]{3})")
def status(req):
    return Response.json({"status": int(req.params["code"])}, status=int(req.params["code"]))


@emu.route("GET", "/redirect")
def redirect(req):
    return Response(302, b"", None, [("Location", "/echo")])


@emu.route("GET", "/text")
def text(req):
    return Response.text("plain text\n")


if __name__ == "__main__":
    sys.exit(emu.main())
