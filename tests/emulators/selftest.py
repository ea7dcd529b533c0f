#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Self-test of the emulator framework with Python's own HTTP client, independent of the C
adapter: port file, routes, each fault knob as seen on the wire, TLS trust of the test PKI, the
control endpoint's validation, and process hygiene (SIGTERM, death of the parent, no strays).
Run by tests/cli/test-emulators.sh; exits non-zero on the first failed check."""
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "testserver.py")
CHECKS = 0


def check(cond, what):
    global CHECKS
    CHECKS += 1
    if not cond:
        raise AssertionError(what)


def wait_for(path, proc, seconds=15.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if os.path.exists(path):
            with open(path, encoding="ascii") as f:
                return json.load(f)
        if proc is not None and proc.poll() is not None:
            raise AssertionError("server exited at start with %d" % proc.returncode)
        time.sleep(0.05)
    raise AssertionError("no port file after %.0f s" % seconds)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class Client:
    def __init__(self, info):
        self.info = info
        self.ctx = ssl.create_default_context(cafile=info["ca_file"])

    def https(self, method, path, body=None, timeout=5.0):
        conn = http.client.HTTPSConnection("127.0.0.1", self.info["port"], context=self.ctx, timeout=timeout)
        try:
            conn.request(method, path, body=body)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def control(self, method, path, obj=None, expect=200):
        conn = http.client.HTTPConnection("127.0.0.1", self.info["control_port"], timeout=5.0)
        try:
            body = None if obj is None else json.dumps(obj)
            conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            check(resp.status == expect, "control %s %s: HTTP %d, expected %d" % (method, path, resp.status, expect))
            return json.loads(data)
        finally:
            conn.close()


def test_server(client):
    info = client.info
    check(set(info) >= {"port", "control_port", "plain_port", "ca_file", "pid"}, "port file fields: %s" % info)
    check(client.control("GET", "/health")["ok"] is True, "health")

    status, headers, body = client.https("POST", "/echo?a=1", b"abc")
    echo = json.loads(body)
    check(status == 200 and echo["method"] == "POST" and echo["body_size"] == 3 and echo["query"] == {"a": "1"},
          "echo: %s" % echo)
    check(client.https("GET", "/nope")[0] == 404, "unknown path is 404")
    check(client.https("PUT", "/text")[0] == 405, "wrong method is 405")

    # Request log: sizes and digests, never bodies.
    log = client.control("GET", "/requests")
    check(len(log) == 3 and log[0]["body_size"] == 3 and "body" not in log[0], "request log: %s" % log[:1])
    client.control("DELETE", "/requests")
    check(client.control("GET", "/requests") == [], "request log cleared")

    # Control validation.
    client.control("POST", "/faults", {"kind": "nonsense"}, expect=400)
    client.control("POST", "/faults", {"kind": "status"}, expect=400)
    client.control("POST", "/faults", {"kind": "status", "status": 503, "count": -1}, expect=400)
    client.control("GET", "/no-such-control", expect=404)

    # status + Retry-After, consumed after count uses, path-restricted.
    client.control("POST", "/faults", {"kind": "status", "status": 429, "retry_after": "7", "count": 2,
                                       "path": "/echo"})
    check(client.https("GET", "/text")[0] == 200, "path-restricted fault skipped other paths")
    for _ in range(2):
        status, headers, _ = client.https("GET", "/echo")
        check(status == 429 and headers.get("Retry-After") == "7", "429 with Retry-After: %d %s" % (status, headers))
    check(client.https("GET", "/echo")[0] == 200, "fault used up after count")

    # count 0: every request, until cleared.
    client.control("POST", "/faults", {"kind": "status", "status": 500, "count": 0})
    check(all(client.https("GET", "/echo")[0] == 500 for _ in range(3)), "count 0 repeats")
    client.control("DELETE", "/faults")
    check(client.control("GET", "/faults") == [], "faults cleared")

    # close: no response at all.
    client.control("POST", "/faults", {"kind": "close"})
    try:
        client.https("GET", "/echo")
        check(False, "close fault answered")
    except (http.client.RemoteDisconnected, ConnectionError):
        pass

    # truncate: fewer bytes than Content-Length.
    client.control("POST", "/faults", {"kind": "truncate", "declared": 100, "send": 10})
    try:
        client.https("GET", "/echo")
        check(False, "truncated body read completely")
    except http.client.IncompleteRead as e:
        check(len(e.partial) == 10, "truncate sent %d bytes" % len(e.partial))

    # oversize, chunked and not.
    for chunked in (False, True):
        client.control("POST", "/faults", {"kind": "oversize", "bytes": 200000, "chunked": chunked})
        status, headers, body = client.https("GET", "/echo")
        check(len(body) == 200000, "oversize chunked=%s: %d bytes" % (chunked, len(body)))
        check(("Transfer-Encoding" in headers) == chunked, "oversize framing: %s" % headers)

    # slow_body: the body takes its time.
    client.control("POST", "/faults", {"kind": "slow_body", "bytes": 20, "chunk": 5, "delay": 0.1})
    start = time.monotonic()
    status, _, body = client.https("GET", "/echo")
    check(len(body) == 20 and time.monotonic() - start >= 0.3, "slow body")

    # hang: longer than the client waits.
    client.control("POST", "/faults", {"kind": "hang", "seconds": 3})
    try:
        client.https("GET", "/echo", timeout=0.5)
        check(False, "hang answered in time")
    except (socket.timeout, TimeoutError):
        pass

    # TLS: the test CA verifies the normal certificate only.
    for kind, reason in (("untrusted_cert", "unable to get local issuer"), ("wrong_host_cert", "mismatch")):
        client.control("POST", "/faults", {"kind": kind})
        try:
            client.https("GET", "/echo")
            check(False, "%s accepted" % kind)
        except ssl.SSLCertVerificationError as e:
            check(reason in str(e).lower() or "hostname" in str(e).lower(), "%s: %s" % (kind, e))
    check(client.https("GET", "/echo")[0] == 200, "normal certificate after TLS faults")

    # Flags are only consumed by handlers, never by the generic request path.
    client.control("POST", "/faults", {"kind": "flag", "name": "wrong_nonce"})
    check(client.https("GET", "/echo")[0] == 200, "flag does not disturb other routes")
    check(len(client.control("GET", "/faults")) == 1, "flag still queued")

    # Plain listener serves the same routes.
    conn = http.client.HTTPConnection("127.0.0.1", info["plain_port"], timeout=5.0)
    conn.request("GET", "/status/404")
    check(conn.getresponse().status == 404, "plain listener")
    conn.close()


def main():
    state = tempfile.mkdtemp(prefix="cvm-emu-selftest.")
    procs = []
    try:
        port_file = os.path.join(state, "port.json")
        proc = subprocess.Popen([sys.executable, SERVER, "--state-dir", state, "--port-file", port_file, "--plain",
                                 "--max-lifetime", "60"])
        procs.append(proc)
        info = wait_for(port_file, proc)
        check(info["pid"] == proc.pid, "pid in port file")
        check(not any(n.endswith(".key") for n in os.listdir(HERE)), "no private key in the source tree")
        test_server(Client(info))

        # SIGTERM: prompt, clean exit, even with a handler still hanging.
        Client(info).control("POST", "/faults", {"kind": "hang", "seconds": 30})
        s = socket.create_connection(("127.0.0.1", info["port"]))
        t = Client(info).ctx.wrap_socket(s, server_hostname="127.0.0.1")
        t.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=5)
        t.close()
        check(rc == 0 and time.monotonic() - start < 2.0, "SIGTERM exit: rc %d after %.1f s"
              % (rc, time.monotonic() - start))

        # Death of the parent: the server follows it (no stray process).
        port_file2 = os.path.join(state, "port2.json")
        parent = subprocess.Popen(["sh", "-c", '"$0" "$1" --state-dir "$2" --port-file "$3" & exec sleep 60',
                                   sys.executable, SERVER, state, port_file2])
        procs.append(parent)
        server_pid = wait_for(port_file2, None)["pid"]
        parent.kill()
        parent.wait()
        end = time.monotonic() + 5
        while alive(server_pid) and time.monotonic() < end:
            time.sleep(0.05)
        check(not alive(server_pid), "server %d outlived its parent" % server_pid)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(state, ignore_errors=True)
    print("emulator framework self-test: %d checks passed" % CHECKS)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print("FAIL: %s" % e)
        sys.exit(1)
