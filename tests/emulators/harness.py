# SPDX-License-Identifier: Apache-2.0
"""Small test harness for the emulator self-tests: start emulators as child processes, talk to
them over HTTPS (test CA) / plain HTTP / the control listener, count checks."""
import http.client
import json
import os
import ssl
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


class Checks:
    def __init__(self, name):
        self.name, self.count, self.failed = name, 0, []

    def ok(self, cond, what):
        self.count += 1
        if not cond:
            self.failed.append(what)
            print("FAIL: %s" % what, flush=True)
        return cond

    def contains(self, text, needle, what):
        return self.ok(needle in (text or ""), "%s: %r not in %r" % (what, needle, (text or "")[:300]))

    def finish(self):
        if self.failed:
            print("%s: %d of %d checks failed" % (self.name, len(self.failed), self.count))
            return 1
        print("%s: %d checks passed" % (self.name, self.count))
        return 0


class Server:
    def __init__(self, script, state, tag, args=(), plain=False):
        self.port_file = os.path.join(state, "%s.port.json" % tag)
        cmd = [sys.executable, os.path.join(HERE, script), "--state-dir", state, "--port-file", self.port_file,
               "--max-lifetime", "300"] + (["--plain"] if plain else []) + list(args)
        self.stderr = open(os.path.join(state, "%s.stderr" % tag), "w")
        self.proc = subprocess.Popen(cmd, stderr=self.stderr)
        end = time.monotonic() + 30
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited at start with %d; see %s.stderr" % (script, self.proc.returncode, tag))
            if time.monotonic() > end:
                raise RuntimeError("%s: no port file after 30 s" % script)
            time.sleep(0.05)
        with open(self.port_file, encoding="ascii") as f:
            self.info = json.load(f)
        self.ctx = ssl.create_default_context(cafile=self.info["ca_file"])
        self.base = "https://127.0.0.1:%d" % self.info["port"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()

    def request(self, method, path, body=None, headers=None, plain=False, timeout=20.0):
        """(status, headers dict (lower-case names), body bytes); body may be a dict (sent as JSON)."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            headers = dict(headers or {}, **{"Content-Type": "application/json"})
        if plain:
            conn = http.client.HTTPConnection("127.0.0.1", self.info["plain_port"], timeout=timeout)
        else:
            conn = http.client.HTTPSConnection("127.0.0.1", self.info["port"], context=self.ctx, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None, plain=False):
        status, hdrs, data = self.request(method, path, body, headers, plain)
        try:
            obj = json.loads(data) if data else None
        except ValueError:
            obj = {"_raw": data.decode(errors="replace")}
        return status, hdrs, obj

    def control(self, method, path, obj=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.info["control_port"], timeout=10)
        try:
            conn.request(method, path, body=None if obj is None else json.dumps(obj),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            if r.status != 200:
                raise RuntimeError("control %s %s: HTTP %d %s" % (method, path, r.status, data[:200]))
            return json.loads(data)
        finally:
            conn.close()

    def flag(self, name, count=1):
        self.control("POST", "/faults", {"kind": "flag", "name": name, "count": count})


def error_message(obj):
    """The message of an Azure-style or Trustee-style error body."""
    if isinstance(obj, dict):
        if isinstance(obj.get("error"), dict):
            return str(obj["error"].get("code")) + ": " + str(obj["error"].get("message"))
        if "detail" in obj:
            return str(obj.get("type")) + ": " + str(obj["detail"])
        if "error" in obj:
            return str(obj.get("error")) + ": " + str(obj.get("error_description", ""))
    return repr(obj)
