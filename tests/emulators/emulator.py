#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Loopback HTTPS server framework for the cvm-agent protocol emulators (MAA, IMDS, Key Vault, KBS).

Python 3 standard library only (http.server, ssl, threading); TLS material comes from testpki.py
(openssl CLI) at run time. An emulator is an Emulator object with routes:

    emu = Emulator("maa")

    @emu.route("POST", "/attest/AzureGuest")
    def attest(req):                  # req: Request
        claims = req.json()           # HttpError(400) when the body is not JSON
        if req.take_flag("wrong_nonce"):
            ...                       # an emulator-specific fault, queued as {"kind": "flag", ...}
        return Response.json({"token": "..."})

    if __name__ == "__main__":
        emu.main()

Every server listens on 127.0.0.1 only, on free ports, and writes them to --port-file as JSON
{"port", "control_port", "plain_port" (with --plain), "ca_file", "pid"} once it accepts
connections. It exits on SIGTERM/SIGINT, when its parent dies, and after --max-lifetime seconds,
so a crashed test leaves no stray process.

Fault injection goes through the control listener (plain HTTP, loopback): POST /faults with one
fault object or a list. Faults apply to the next `count` matching requests (default 1, 0 = every
one), optionally only to paths starting with `path`:

  {"kind": "status", "status": 503, "retry_after": "2", "body": "...", "content_type": "..."}
  {"kind": "hang", "seconds": 5}           wait, then answer normally (if the client still listens)
  {"kind": "close"}                        close the connection without any response
  {"kind": "truncate", "declared": 1000, "send": 10}   Content-Length larger than what is sent
  {"kind": "oversize", "bytes": 2000000, "chunked": true}
  {"kind": "slow_body", "bytes": 64, "chunk": 8, "delay": 0.1}
  {"kind": "untrusted_cert"}               next TLS connection presents a certificate from an
  {"kind": "wrong_host_cert"}              untrusted CA / for another host name
  {"kind": "flag", "name": "wrong_nonce"}  consumed by emulator handlers through req.take_flag()

Other control endpoints: GET/DELETE /faults, GET/DELETE /requests (the request log: method, path,
query, headers, client port, body size and SHA-256; never bodies), GET /health, plus emulator-specific ones
added with Emulator.control_route(). The access log on stderr (--verbose only) carries method,
path and status, never headers or bodies.
"""
import argparse
import collections
import ctypes
import hashlib
import json
import os
import re
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import testpki

MAX_REQUEST_BODY = 4 * 1024 * 1024
MAX_RESPONSE_FAULT_BYTES = 64 * 1024 * 1024
MAX_HANG_SECONDS = 60.0
MAX_SLOW_SECONDS = 30.0
REQUEST_LOG_SIZE = 500
IDLE_TIMEOUT = 10.0

CONNECTION_FAULTS = ("untrusted_cert", "wrong_host_cert")
REQUEST_FAULTS = ("status", "hang", "close", "truncate", "oversize", "slow_body")
FAULT_KINDS = CONNECTION_FAULTS + REQUEST_FAULTS + ("flag",)


class HttpError(Exception):
    """Raised by handlers to answer with an error status and a JSON error body."""

    def __init__(self, status, message, code=None, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or "Error%d" % status
        self.headers = headers or {}

    def response(self):
        return Response.json({"error": {"code": self.code, "message": self.message}}, status=self.status,
                             headers=self.headers)


class Response:
    def __init__(self, status=200, body=b"", content_type="application/octet-stream", headers=None):
        self.status = status
        self.body = body.encode() if isinstance(body, str) else bytes(body)
        self.headers = [("Content-Type", content_type)] if content_type else []
        for name, value in (headers.items() if isinstance(headers, dict) else headers or []):
            self.headers.append((name, value))

    @classmethod
    def json(cls, obj, status=200, headers=None):
        return cls(status, json.dumps(obj, separators=(",", ":")), "application/json; charset=utf-8", headers)

    @classmethod
    def text(cls, text, status=200, headers=None):
        return cls(status, text, "text/plain; charset=utf-8", headers)


class Request:
    def __init__(self, emulator, method, target, headers, body, client):
        parts = urlsplit(target)
        self.emulator = emulator
        self.method = method
        self.path = parts.path
        self.query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.headers = headers          # email.message.Message: case-insensitive .get()
        self.body = body
        self.client = client
        self.params = {}                # named groups of the route pattern

    def json(self):
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as e:
            raise HttpError(400, "request body is not JSON: %s" % e, "InvalidRequest")

    @property
    def cookies(self):
        jar = {}
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, sep, value = part.strip().partition("=")
            if sep:
                jar[name] = value
        return jar

    def take_flag(self, name):
        """True (and one use consumed) when a {"kind": "flag", "name": name} fault matches."""
        return self.emulator.faults.take("flag", self.path, name) is not None


class FaultQueue:
    def __init__(self):
        self._lock = threading.Lock()
        self._faults = []

    @staticmethod
    def validate(fault):
        if not isinstance(fault, dict) or fault.get("kind") not in FAULT_KINDS:
            raise ValueError("a fault is an object with kind in %s" % ", ".join(FAULT_KINDS))
        count = fault.get("count", 1)
        if not isinstance(count, int) or count < 0:
            raise ValueError("count must be a non-negative integer")
        if fault["kind"] == "status" and not (isinstance(fault.get("status"), int) and
                                              100 <= fault["status"] <= 599):
            raise ValueError("status fault needs an integer status 100..599")
        if fault["kind"] == "flag" and not isinstance(fault.get("name"), str):
            raise ValueError("flag fault needs a name")
        for key in ("seconds", "delay"):
            if key in fault and not isinstance(fault[key], (int, float)):
                raise ValueError("%s must be a number" % key)
        for key in ("bytes", "declared", "send", "chunk"):
            if key in fault and not (isinstance(fault[key], int) and 0 <= fault[key] <= MAX_RESPONSE_FAULT_BYTES):
                raise ValueError("%s must be an integer 0..%d" % (key, MAX_RESPONSE_FAULT_BYTES))
        return dict(fault, count=count)

    def add(self, faults):
        checked = [self.validate(f) for f in faults]
        with self._lock:
            self._faults.extend(checked)
        return len(checked)

    def clear(self):
        with self._lock:
            self._faults.clear()

    def snapshot(self):
        with self._lock:
            return [dict(f) for f in self._faults]

    def take(self, kinds, path=None, name=None):
        """Consumes one use of the first queued fault of one of kinds matching path (and name)."""
        kinds = (kinds,) if isinstance(kinds, str) else kinds
        with self._lock:
            for i, f in enumerate(self._faults):
                if f["kind"] not in kinds or (name is not None and f.get("name") != name):
                    continue
                if path is not None and not path.startswith(f.get("path", "")):
                    continue
                if f["count"] == 1:
                    del self._faults[i]
                elif f["count"] > 1:
                    f["count"] -= 1
                return dict(f)
        return None


class _EmulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cvm-agent-emulator"
    timeout = IDLE_TIMEOUT

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):  # noqa: A002 (BaseHTTPRequestHandler's signature)
        if self.server.emulator.verbose:
            sys.stderr.write("emulator %s: %s\n" % (self.server.emulator.name, format % args))

    def log_request(self, code="-", size="-"):
        # Only method, path (no query string: it may carry credentials) and status.
        if self.server.emulator.verbose:
            path = urlsplit(self.path).path
            sys.stderr.write("emulator %s: %s %s -> %s\n" % (self.server.emulator.name, self.command, path, code))

    def _read_body(self):
        if self.headers.get("Transfer-Encoding"):
            raise HttpError(411, "chunked request bodies are not supported", "LengthRequired")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise HttpError(400, "bad Content-Length", "InvalidRequest")
        if length < 0 or length > MAX_REQUEST_BODY:
            raise HttpError(413, "request body too large", "RequestTooLarge")
        return self.rfile.read(length) if length else b""

    def _dispatch(self):
        emu = self.server.emulator
        try:
            body = self._read_body()
        except HttpError as e:
            self.close_connection = True
            self.send_response_obj(e.response())
            return
        req = Request(emu, self.command, self.path, self.headers, body, self.client_address)
        emu.record(req)
        fault = emu.faults.take(REQUEST_FAULTS, req.path)
        if fault and self._apply_fault(fault, req):
            return
        self.send_response_obj(emu.handle(req))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    def send_response_obj(self, resp, declared_length=None):
        self.send_response(resp.status)
        for name, value in resp.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body) if declared_length is None else declared_length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    def _apply_fault(self, f, req):
        """Returns True when the fault produced the whole answer (or deliberately none)."""
        kind = f["kind"]
        stop = self.server.emulator.stop
        if kind == "status":
            headers = dict(f.get("headers") or {})
            if "retry_after" in f:
                headers["Retry-After"] = str(f["retry_after"])
            if "body" in f:
                resp = Response(f["status"], f["body"], f.get("content_type", "application/json"), headers)
            else:
                resp = HttpError(f["status"], "injected fault: HTTP %d" % f["status"], "InjectedFault",
                                 headers).response()
            self.send_response_obj(resp)
            return True
        if kind == "hang":
            stop.wait(min(float(f.get("seconds", MAX_HANG_SECONDS)), MAX_HANG_SECONDS))
            self.close_connection = True
            return stop.is_set()
        if kind == "close":
            self.close_connection = True
            return True
        if kind == "truncate":
            declared = f.get("declared", 1000)
            sent = min(f.get("send", 10), declared)
            self.close_connection = True
            self.send_response_obj(Response(200, b"t" * sent, "application/json"), declared_length=declared)
            return True
        if kind == "oversize":
            self._send_bytes(f.get("bytes", 2 * 1024 * 1024), f.get("chunked", False), 64 * 1024, 0.0)
            return True
        if kind == "slow_body":
            self._send_bytes(f.get("bytes", 64), f.get("chunked", False), max(1, f.get("chunk", 8)),
                             float(f.get("delay", 0.1)))
            return True
        return False

    def _send_bytes(self, total, chunked, piece, delay):
        """Streams total bytes of JSON-ish filler, optionally chunked, pausing delay between pieces."""
        stop = self.server.emulator.stop
        deadline = time.monotonic() + MAX_SLOW_SECONDS
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(total))
        self.end_headers()
        sent = 0
        while sent < total and not stop.is_set() and time.monotonic() < deadline:
            n = min(piece, total - sent)
            data = b"x" * n
            self.wfile.write(b"%x\r\n%s\r\n" % (n, data) if chunked else data)
            self.wfile.flush()
            sent += n
            if delay and sent < total:
                stop.wait(delay)
        if chunked and sent >= total:
            self.wfile.write(b"0\r\n\r\n")

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout, TimeoutError):
            self.close_connection = True


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, emulator, handler, contexts=None):
        self.emulator = emulator
        self.contexts = contexts
        super().__init__(("127.0.0.1", 0), handler)

    def finish_request(self, request, client_address):
        # Headers and body go out in separate writes; without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every response.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = request
        if self.contexts is not None:
            fault = self.emulator.faults.take(CONNECTION_FAULTS)
            ctx = self.contexts[fault["kind"] if fault else "default"]
            request.settimeout(IDLE_TIMEOUT)
            try:
                conn = ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                request.close()  # the client refused our certificate, or went away
                return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            if conn is not request:
                conn.close()

    def handle_error(self, request, client_address):
        traceback.print_exc(file=sys.stderr)


class _ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT

    def log_message(self, format, *args):  # noqa: A002
        pass

    def _answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _dispatch(self):
        emu = self.server.emulator
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_REQUEST_BODY:
            self.close_connection = True
            self._answer(413, {"error": "too large"})
            return
        raw = self.rfile.read(length) if length else b""
        try:
            data = json.loads(raw) if raw else None
        except ValueError as e:
            self._answer(400, {"error": "body is not JSON: %s" % e})
            return
        key = (self.command, urlsplit(self.path).path)
        try:
            if key == ("GET", "/health"):
                self._answer(200, {"ok": True, "name": emu.name})
            elif key == ("POST", "/faults"):
                self._answer(200, {"queued": emu.faults.add(data if isinstance(data, list) else [data])})
            elif key == ("GET", "/faults"):
                self._answer(200, emu.faults.snapshot())
            elif key == ("DELETE", "/faults"):
                emu.faults.clear()
                self._answer(200, {"ok": True})
            elif key == ("GET", "/requests"):
                self._answer(200, emu.requests())
            elif key == ("DELETE", "/requests"):
                emu.clear_requests()
                self._answer(200, {"ok": True})
            elif key in emu.control_routes:
                self._answer(200, emu.control_routes[key](data))
            else:
                self._answer(404, {"error": "no such control endpoint"})
        except ValueError as e:
            self._answer(400, {"error": str(e)})

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch


def _die_with_parent():
    """Asks the kernel for SIGTERM when the process that started us exits (Linux prctl)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Emulator:
    def __init__(self, name):
        self.name = name
        self.routes = []
        self.control_routes = {}
        self.faults = FaultQueue()
        self.stop = threading.Event()
        self.verbose = False
        self.args = None
        self.pki = None
        self._log = collections.deque(maxlen=REQUEST_LOG_SIZE)
        self._log_lock = threading.Lock()
        self._extra_args = []
        self._on_start = []

    # --- extension points for the emulators -------------------------------------------------
    def route(self, method, pattern):
        """Decorator: handler(req) -> Response for method and a regex fully matching the path;
        named groups land in req.params."""
        def register(fn):
            self.routes.append((method, re.compile(pattern), fn))
            return fn
        return register

    def control_route(self, method, path):
        """Decorator: handler(json_body) -> JSON-able result, on the control listener."""
        def register(fn):
            self.control_routes[(method, path)] = fn
            return fn
        return register

    def argument(self, *args, **kwargs):
        """Adds a command-line option (argparse syntax); values are in emu.args after start."""
        self._extra_args.append((args, kwargs))

    def on_start(self, fn):
        """Decorator: fn(emu) runs after the options are parsed and the PKI exists, before serving."""
        self._on_start.append(fn)
        return fn

    # --- request handling --------------------------------------------------------------------
    def handle(self, req):
        allowed = False
        for method, pattern, fn in self.routes:
            m = pattern.fullmatch(req.path)
            if not m:
                continue
            if method != req.method:
                allowed = True
                continue
            req.params = m.groupdict()
            try:
                return fn(req)
            except HttpError as e:
                return e.response()
            except Exception:  # a bug in an emulator must show up, not hang the client
                traceback.print_exc(file=sys.stderr)
                return HttpError(500, "emulator handler failed", "InternalError").response()
        if allowed:
            return HttpError(405, "method not allowed", "MethodNotAllowed").response()
        return HttpError(404, "no such path", "NotFound").response()

    def record(self, req):
        entry = {
            "time": time.time(),
            "method": req.method,
            "path": req.path,
            "client_port": req.client[1] if req.client else None,
            "query": req.query,
            "headers": {k: v for k, v in req.headers.items()},
            "body_size": len(req.body),
            "body_sha256": hashlib.sha256(req.body).hexdigest(),
        }
        with self._log_lock:
            self._log.append(entry)

    def requests(self):
        with self._log_lock:
            return list(self._log)

    def clear_requests(self):
        with self._log_lock:
            self._log.clear()

    # --- process lifecycle -------------------------------------------------------------------
    def _contexts(self, state_dir):
        pki = testpki.generate(os.path.join(state_dir, "pki"))
        self.pki = pki
        contexts = {}
        for key, stem in (("default", "server"), ("untrusted_cert", "untrusted"), ("wrong_host_cert", "wronghost")):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(pki[stem], os.path.splitext(pki[stem])[0] + ".key")
            contexts[key] = ctx
        return contexts

    def main(self, argv=None):
        parser = argparse.ArgumentParser(description="cvm-agent %s emulator (test only)" % self.name)
        parser.add_argument("--state-dir", required=True, help="directory for the generated test PKI and state")
        parser.add_argument("--port-file", required=True, help="where to write the listening ports (JSON)")
        parser.add_argument("--plain", action="store_true", help="also serve the routes over plain HTTP")
        parser.add_argument("--fault", action="append", default=[], help="fault (JSON) queued at start")
        parser.add_argument("--max-lifetime", type=float, default=900.0, help="exit after this many seconds")
        parser.add_argument("--verbose", action="store_true", help="access log (method, path, status) on stderr")
        for args, kwargs in self._extra_args:
            parser.add_argument(*args, **kwargs)
        self.args = parser.parse_args(argv)
        self.verbose = self.args.verbose

        _die_with_parent()
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop.set())

        contexts = self._contexts(self.args.state_dir)
        for text in self.args.fault:
            self.faults.add([json.loads(text)])
        for fn in self._on_start:
            fn(self)

        servers = [_Server(self, _EmulatorHandler, contexts), _Server(self, _ControlHandler)]
        if self.args.plain:
            servers.append(_Server(self, _EmulatorHandler))
        for s in servers:
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

        info = {"port": servers[0].server_address[1], "control_port": servers[1].server_address[1],
                "ca_file": self.pki["ca"], "pid": os.getpid()}
        if self.args.plain:
            info["plain_port"] = servers[2].server_address[1]
        tmp = self.args.port_file + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            json.dump(info, f)
        os.replace(tmp, self.args.port_file)

        self.stop.wait(self.args.max_lifetime)
        self.stop.set()  # wakes handlers that hang or stream slowly
        for s in servers:
            s.shutdown()
            s.server_close()
        return 0
