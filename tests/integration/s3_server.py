#!/usr/bin/python3
"""s3rver behind a strict, counting, fault-injecting proxy: the S3 of the tests.

Run with Debian's /usr/bin/python3 (it needs python3-botocore):

    /usr/bin/python3 s3_server.py --bucket NAME [--bucket NAME2] [--dir DIR] [--port 0]

It starts s3rver (tests/s3rver/node_modules, installed by tools/install-deps.sh) on a free
loopback port with NODE_OPTIONS=--openssl-legacy-provider and the buckets created, then serves a
proxy in front of it. The first line on stdout is PORT=<n> (the proxy's port); then it serves
until killed, and stops s3rver when it ends (s3rver also dies with it: PR_SET_PDEATHSIG).

s3rver checks only the access key (S3RVER), not signatures or Content-MD5. The proxy adds what a
client could get wrong and s3rver would let through:
  * every request's SigV4 signature is recomputed with botocore's S3SigV4Auth over the headers
    named in SignedHeaders at the request's own X-Amz-Date, for the secret key S3RVER; host,
    x-amz-date and x-amz-content-sha256 must be signed, and x-amz-content-sha256 must be the
    body's SHA-256 (403 SignatureDoesNotMatch / 400 XAmzContentSHA256Mismatch otherwise);
  * a body (PUT, POST) must come with a signed Content-Type;
  * DeleteObjects (POST ?delete) needs a correct Content-MD5 and at most 1000 keys
    (400 InvalidDigest / MalformedXML otherwise).

Control endpoints for tests, not signed, under /_s3/:
  POST /_s3/faults  {"answer": [{"status": 503, "code": "SlowDown", "count": n,
                                 "method": "POST"?}],
                     "fail_keys": {"full/object/key": "InternalError", ...},
                     "omit_keys": ["full/object/key", ...],
                     "error_after_delete": n}
        answer: the next n matching requests get that error without reaching s3rver (with
        "delay": seconds, they wait that long first; a rule with a delay and no status only
        delays, then the request goes on to s3rver);
        fail_keys: DeleteObjects does not delete these keys and answers an <Error> with the code
        for each (every time, until reset); omit_keys: DeleteObjects deletes them but its answer
        does not mention them; error_after_delete: the next n DeleteObjects are forwarded (the
        objects are deleted) and then answered 500 InternalError, as s3rver itself often does
        when a delete empties a prefix
  GET  /_s3/calls   {"calls": [{"method", "path", "query", "keys", "status"}]} every signed
        request in arrival order (keys: the number of keys of a DeleteObjects)
  POST /_s3/reset   forget faults and calls
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from fake_cloudwatch import FixedTimeSigV4Auth, AwsError, parse_authorization
except ImportError as e:  # pragma: no cover - environment check
    sys.stderr.write("s3_server.py needs python3-botocore; run it with /usr/bin/python3 "
                     f"(apt-get install python3-botocore): {e}\n")
    sys.exit(3)

ACCESS_KEY = "S3RVER"  # the only key s3rver accepts
SECRET_KEY = "S3RVER"
SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_S3RVER = os.path.join(SOURCE_DIR, "tests", "s3rver", "node_modules", ".bin", "s3rver")
MAX_SKEW = datetime.timedelta(minutes=15)


class FixedTimeS3SigV4Auth(FixedTimeSigV4Auth, S3SigV4Auth):
    """S3's signer (unnormalised path, payload hash header) at a given X-Amz-Date."""


class S3Fail(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.answer = []  # [{"status", "code", "count", "method"}]
        self.fail_keys = {}
        self.omit_keys = set()
        self.error_after_delete = 0
        self.calls = []


def error_xml(code, message):
    return (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f'<Message>{xml_escape(message)}</Message></Error>').encode()


def xml_escape(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def set_parent_death_signal():
    import ctypes
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet; tests read the call log instead
        pass

    def _send(self, status, body, headers=()):
        self.send_response(status)
        sent = set()
        length = str(len(body))
        for name, value in headers:
            if name.lower() == "content-length" and self.command == "HEAD":
                length = value  # a HEAD answer's length is the object's
            if name.lower() in ("content-length", "transfer-encoding", "connection"):
                continue
            self.send_header(name, value)
            sent.add(name.lower())
        if "content-type" not in sent and body:
            self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        if url.path.startswith("/_s3/"):
            return self._control(url.path, body)
        state = self.server.state
        call = {"method": self.command, "path": url.path, "query": url.query, "keys": 0,
                "status": 0}
        try:
            self._verify(body)
            is_delete = self.command == "POST" and url.query == "delete="
            keys = self._check_delete(body) if is_delete else []
            call["keys"] = len(keys)
            with state.lock:
                state.calls.append(call)
                injected = self._take_answer(state)
            if injected and injected.get("delay"):
                time.sleep(injected["delay"])  # a slow answer (the client may time out)
            if injected and injected.get("status"):
                raise S3Fail(injected["status"], injected["code"], "injected by the test")
            if is_delete:
                status, headers, answer = self._delete_objects(body, keys)
            else:
                status, headers, answer = self._forward(body)
        except S3Fail as f:
            status, headers, answer = f.status, [], error_xml(f.code, f.message)
        call["status"] = status
        self._send(status, answer, headers)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    def _take_answer(self, state):
        for rule in state.answer:
            if rule["count"] > 0 and rule.get("method") in (None, self.command):
                rule["count"] -= 1
                return rule
        return None

    def _forward(self, body, headers_override=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=60)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("connection", "expect", "content-length")}
        if headers_override:
            headers.update(headers_override)
        headers["Content-Length"] = str(len(body))
        conn.request(self.command, self.path, body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read()
        conn.close()
        return response.status, response.getheaders(), answer

    def _check_delete(self, body):
        md5 = self.headers.get("Content-MD5")
        want = base64.b64encode(hashlib.md5(body).digest()).decode()
        if md5 != want:
            raise S3Fail(400, "InvalidDigest",
                         f"The Content-MD5 you specified did not match what we received "
                         f"(got {md5!r}).")
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            raise S3Fail(400, "MalformedXML", f"bad XML: {e}")
        keys = [el.text or "" for el in root.iter() if el.tag.endswith("Key")]
        if not keys or len(keys) > 1000:
            raise S3Fail(400, "MalformedXML", f"{len(keys)} keys; 1 to 1000 allowed")
        return keys

    def _delete_objects(self, body, keys):
        state = self.server.state
        with state.lock:
            fail = {k: state.fail_keys[k] for k in keys if k in state.fail_keys}
            omit = set(k for k in keys if k in state.omit_keys)
            quirk = state.error_after_delete > 0
            if quirk:
                state.error_after_delete -= 1
        forwarded = body
        if fail:
            kept = "".join(f"<Object><Key>{xml_escape(k)}</Key></Object>"
                           for k in keys if k not in fail)
            forwarded = (f'<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>false</Quiet>'
                         f'{kept}</Delete>').encode()
        if fail and len(fail) == len(set(keys)):
            status, headers, answer = 200, [("Content-Type", "application/xml")], (
                b'<?xml version="1.0" encoding="UTF-8"?><DeleteResult></DeleteResult>')
        else:
            md5 = base64.b64encode(hashlib.md5(forwarded).digest()).decode()
            status, headers, answer = self._forward(forwarded, {"Content-MD5": md5})
        if quirk:
            raise S3Fail(500, "InternalError", "injected after deleting, as s3rver does")
        if status != 200:
            return status, headers, answer
        text = answer.decode()
        for k in omit:
            text = text.replace(f"<Deleted><Key>{xml_escape(k)}</Key></Deleted>", "")
        errors = "".join(f"<Error><Key>{xml_escape(k)}</Key><Code>{code}</Code>"
                         f"<Message>injected failure for {xml_escape(k)}</Message></Error>"
                         for k, code in fail.items())
        text = text.replace("</DeleteResult>", errors + "</DeleteResult>")
        return status, [(n, v) for n, v in headers if n.lower() != "content-length"], \
            text.encode()

    def _verify(self, body):
        auth = self.headers.get("Authorization")
        if not auth:
            raise S3Fail(403, "AccessDenied", "Anonymous access is forbidden")
        try:
            parts = parse_authorization(auth)
        except AwsError as e:
            raise S3Fail(400, "AuthorizationHeaderMalformed", e.message)
        cred = parts["Credential"].split("/")
        if len(cred) != 5 or cred[4] != "aws4_request" or cred[3] != "s3":
            raise S3Fail(400, "AuthorizationHeaderMalformed",
                         f"bad credential scope {parts['Credential']}")
        access_key, date, region, _, _ = cred
        if access_key != ACCESS_KEY:
            raise S3Fail(403, "InvalidAccessKeyId", "The AWS Access Key Id does not exist.")
        if region != self.server.region:
            raise S3Fail(400, "AuthorizationHeaderMalformed",
                         f"the region '{region}' is wrong; expecting '{self.server.region}'")
        amz_date = self.headers.get("X-Amz-Date") or ""
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
        except ValueError:
            raise S3Fail(403, "AccessDenied", f"bad X-Amz-Date '{amz_date}'")
        if date != amz_date[:8] or abs(datetime.datetime.utcnow() - when) > MAX_SKEW:
            raise S3Fail(403, "RequestTimeTooSkewed", "X-Amz-Date is off")
        signed = parts["SignedHeaders"].split(";")
        required = ["host", "x-amz-date", "x-amz-content-sha256"]
        if self.command in ("PUT", "POST"):
            required.append("content-type")
        for name in required:
            if name not in signed:
                raise S3Fail(403, "AccessDenied", f"'{name}' must be a signed header")
        if self.headers.get("x-amz-content-sha256") != hashlib.sha256(body).hexdigest():
            raise S3Fail(400, "XAmzContentSHA256Mismatch",
                         "The provided 'x-amz-content-sha256' header does not match what was "
                         "computed.")
        headers = {}
        for name in signed:
            value = self.headers.get_all(name)
            if value is None:
                raise S3Fail(403, "SignatureDoesNotMatch",
                             f"signed header '{name}' is missing from the request")
            headers[name] = ",".join(value)
        request = AWSRequest(method=self.command, url=f"http://{headers['host']}{self.path}",
                             data=body, headers=headers)
        token = self.headers.get("X-Amz-Security-Token")
        FixedTimeS3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, token), "s3",
                             self.server.region, amz_date).add_auth(request)
        expected = parse_authorization(request.headers["Authorization"])
        if (expected["SignedHeaders"] != parts["SignedHeaders"] or
                not hmac.compare_digest(expected["Signature"], parts["Signature"])):
            raise S3Fail(403, "SignatureDoesNotMatch",
                         "The request signature we calculated does not match the signature "
                         "you provided.")

    def _control(self, path, body):
        state = self.server.state
        with state.lock:
            if path == "/_s3/calls":
                answer = {"calls": list(state.calls)}
            elif path == "/_s3/reset":
                state.reset()
                answer = {}
            elif path == "/_s3/faults":
                faults = json.loads(body or b"{}")
                state.answer.extend(faults.get("answer", []))
                state.fail_keys.update(faults.get("fail_keys", {}))
                state.omit_keys.update(faults.get("omit_keys", []))
                state.error_after_delete += faults.get("error_after_delete", 0)
                answer = {}
            else:
                return self._send(404, b'{"error": "unknown control path"}',
                                  [("Content-Type", "application/json")])
        self._send(200, json.dumps(answer).encode(), [("Content-Type", "application/json")])


def start_s3rver(binary, directory, buckets):
    port = free_port()
    args = [binary, "--directory", directory, "--address", "127.0.0.1", "--port", str(port),
            "--silent"]
    for bucket in buckets:
        args += ["--configure-bucket", bucket]
    env = dict(os.environ, NODE_OPTIONS="--openssl-legacy-provider")
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                               preexec_fn=set_parent_death_signal)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"s3rver exited with {process.returncode}: {' '.join(args)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("s3rver did not listen within 20 s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--bucket", action="append", default=[])
    parser.add_argument("--dir", default=None, help="s3rver's data folder (default: a temp dir)")
    parser.add_argument("--s3rver", default=DEFAULT_S3RVER)
    args = parser.parse_args()
    set_parent_death_signal()  # a test process that dies takes its server with it
    if not os.access(args.s3rver, os.X_OK):
        sys.stderr.write(f"s3_server.py: {args.s3rver} not found; run tools/install-deps.sh "
                         "(npm install in tests/s3rver)\n")
        sys.exit(3)
    directory = args.dir or tempfile.mkdtemp(prefix="s3rver-")
    try:
        process, upstream = start_s3rver(args.s3rver, directory, args.bucket)
    except RuntimeError as e:
        sys.stderr.write(f"s3_server.py: {e}\n")
        sys.exit(3)

    def stop(*_):
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
        if args.dir is None:
            shutil.rmtree(directory, ignore_errors=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State()
    server.region = args.region
    server.upstream_port = upstream
    print(f"PORT={server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
