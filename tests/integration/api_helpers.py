"""A running `retention serve` on a free loopback port, over a Workspace, with a tiny client."""
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

from helpers import BIN


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, ws, extra_args=(), env=None, config=None):
        self.ws = ws
        self.port = free_port()
        args = [BIN]
        if config:
            args += ["--config", config]
        args += ["serve", "--listen", "127.0.0.1:%d" % self.port, *extra_args]
        e = dict(ws.env)
        if env:
            e.update(env)
        self.log = open(os.path.join(ws.dir, "serve-%d.log" % self.port), "w")
        self.proc = subprocess.Popen(args, env=e, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("serve exited %d: %s" % (self.proc.returncode, self.logs()))
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("serve did not become healthy: " + self.logs())

    def logs(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def request(self, method, path, body=None, token=None, raw=None, headers=None):
        """Returns (status, parsed JSON or text, headers)."""
        data = None
        h = dict(headers or {})
        if raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode()
        elif body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        if token:
            h["Authorization"] = "Token " + token
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=data,
                                     method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, text, hdrs = r.status, r.read().decode(), r.headers
        except urllib.error.HTTPError as e:
            status, text, hdrs = e.code, e.read().decode(), e.headers
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        return status, parsed, hdrs
