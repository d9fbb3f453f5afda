#!/usr/bin/python3
"""A strict fake of the CloudWatch Logs retention API, for tests.

Run with Debian's /usr/bin/python3 (it needs python3-botocore):

    /usr/bin/python3 fake_cloudwatch.py --port 0 --region us-east-1 \
        --access-key AKID --secret-key SECRET [--session-token TOKEN]

The first line on stdout is PORT=<n>; then it serves until killed.

It speaks the AWS JSON 1.1 protocol (POST /, X-Amz-Target: Logs_20140328.<Op>) for
PutRetentionPolicy, DeleteRetentionPolicy and DescribeLogGroups, and is as strict as AWS where
a client could get it wrong:
  * every request's SigV4 signature is recomputed with botocore.auth.SigV4Auth over the headers
    named in SignedHeaders and the request's own X-Amz-Date, and compared with the Authorization
    header (InvalidSignatureException on mismatch, UnrecognizedClientException for an unknown
    access key, IncompleteSignatureException for a malformed header);
  * host, x-amz-date, content-type and x-amz-target must be signed (libcurl signs every header
    it is given, so an unsigned one means the client sent it some other way);
  * Content-Type must be application/x-amz-json-1.1, the body a JSON object with exactly the
    operation's fields and types (SerializationException otherwise; stricter than AWS, which
    ignores unknown fields), values within AWS's constraints (InvalidParameterException);
  * errors have AWS's shape: HTTP 400 (503 for ServiceUnavailableException), header
    x-amzn-ErrorType, JSON body {"__type": ..., "message": ...}.

Control endpoints for tests, not signed, under /_fake/:
  POST /_fake/groups   {"name": N, "retentionInDays": D?}   create a log group (idempotent)
  GET  /_fake/groups                                        {"groups": [{"name", "retentionInDays"}]}
  POST /_fake/errors   {"operation": Op, "type": T, "count": N}
        the next N calls of Op (or "*" for any) fail with T before any other check but the
        signature; T is ThrottlingException, OperationAbortedException,
        ServiceUnavailableException or any other AWS type name
  GET  /_fake/calls    {"calls": [{"operation", "time", "group", "status", "error"}],
                        "max_in_any_second": n}   every signed API call in arrival order;
                        time is time.monotonic() at arrival
  POST /_fake/quota    {"enforce": true|false}   answer ThrottlingException above AWS's quotas
                        (Put/Delete 5/s, Describe 10/s); off by default
  POST /_fake/reset                               forget groups, errors, calls and quota setting
"""

import argparse
import base64
import collections
import datetime
import hmac
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as e:  # pragma: no cover - environment check
    sys.stderr.write(
        "fake_cloudwatch.py needs python3-botocore; run it with /usr/bin/python3 "
        f"(apt-get install python3-botocore): {e}\n")
    sys.exit(3)

TARGET_PREFIX = "Logs_20140328."
CONTENT_TYPE = "application/x-amz-json-1.1"
ALLOWED_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                2557, 2922, 3288, 3653]
GROUP_NAME_RE = re.compile(r"^[\.\-_/#A-Za-z0-9]+$")
QUOTAS = {"PutRetentionPolicy": 5, "DeleteRetentionPolicy": 5, "DescribeLogGroups": 10}
MAX_SKEW = datetime.timedelta(minutes=15)
ACCOUNT = "123456789012"


class AwsError(Exception):
    def __init__(self, error_type, message, status=400):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status


def _validation(field, value, constraint):
    return AwsError("InvalidParameterException",
                    f"1 validation error detected: Value '{value}' at '{field}' failed to "
                    f"satisfy constraint: {constraint}")


class State:
    """Log groups, injected errors and the call log, behind one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.groups = {}  # name -> {"retentionInDays": int|None, "creationTime": ms}
        self.errors = collections.deque()  # [operation, type, remaining]
        self.calls = []
        self.enforce_quota = False


class FixedTimeSigV4Auth(SigV4Auth):
    """SigV4Auth that signs at a given X-Amz-Date instead of now."""

    def __init__(self, credentials, service, region, timestamp):
        super().__init__(credentials, service, region)
        self._timestamp = timestamp

    def add_auth(self, request):
        request.context["timestamp"] = self._timestamp
        self._modify_request_before_signing(request)
        canonical_request = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical_request)
        signature = self.signature(string_to_sign, request)
        self._inject_signature_to_request(request, signature)


def parse_authorization(value):
    m = re.fullmatch(r"AWS4-HMAC-SHA256 (.*)", value.strip())
    if not m:
        raise AwsError("IncompleteSignatureException",
                       f"Authorization header requires AWS4-HMAC-SHA256: {value}")
    parts = {}
    for item in m.group(1).split(","):
        key, sep, val = item.strip().partition("=")
        if not sep:
            raise AwsError("IncompleteSignatureException",
                           f"Authorization header has a malformed part '{item.strip()}'")
        parts[key] = val
    for key in ("Credential", "SignedHeaders", "Signature"):
        if key not in parts:
            raise AwsError("IncompleteSignatureException",
                           f"Authorization header requires '{key}' parameter.")
    return parts


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeCloudWatchLogs/1.0"

    def log_message(self, fmt, *args):  # quiet; tests read the call log instead
        pass

    # ---- plumbing -------------------------------------------------------------------------

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise AwsError("SerializationException", "chunked bodies are not supported")
        length = int(self.headers.get("Content-Length", "0") or "0")
        return self.rfile.read(length) if length > 0 else b""

    def _send_json(self, status, obj, extra_headers=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, err):
        # Real AWS sends the bare type for service errors and a coral-namespaced one for
        # authentication errors; clients must handle both.
        body_type = err.error_type
        header_type = err.error_type
        if err.error_type in ("InvalidSignatureException", "UnrecognizedClientException",
                              "IncompleteSignatureException",
                              "MissingAuthenticationTokenException"):
            body_type = "com.amazon.coral.service#" + err.error_type
            header_type = (err.error_type +
                           ":http://internal.amazon.com/coral/com.amazon.coral.service/")
        self._send_json(err.status, {"__type": body_type, "message": err.message},
                        [("x-amzn-ErrorType", header_type)])

    # ---- control endpoints ----------------------------------------------------------------

    def do_GET(self):
        state = self.server.state
        if self.path == "/_fake/calls":
            with state.lock:
                calls = [dict(c) for c in state.calls]
            self._send_json(200, {"calls": calls, "max_in_any_second": max_in_window(calls)})
        elif self.path == "/_fake/groups":
            with state.lock:
                groups = [{"name": n, "retentionInDays": g["retentionInDays"]}
                          for n, g in sorted(state.groups.items())]
            self._send_json(200, {"groups": groups})
        else:
            self._send_json(404, {"message": f"no such path {self.path}"})

    def do_POST(self):
        try:
            body = self._read_body()
        except (AwsError, ValueError) as e:
            self._send_error(e if isinstance(e, AwsError)
                             else AwsError("SerializationException", str(e)))
            return
        if self.path.startswith("/_fake/"):
            self._control(body)
        else:
            self._api(body)

    def _control(self, body):
        state = self.server.state
        try:
            req = json.loads(body or b"{}")
        except ValueError as e:
            self._send_json(400, {"message": f"bad JSON: {e}"})
            return
        with state.lock:
            if self.path == "/_fake/groups":
                name = req.get("name")
                days = req.get("retentionInDays")
                if not isinstance(name, str) or not GROUP_NAME_RE.match(name):
                    self._send_json(400, {"message": f"bad group name {name!r}"})
                    return
                group = state.groups.setdefault(
                    name, {"retentionInDays": None, "creationTime": int(time.time() * 1000)})
                if days is not None:
                    group["retentionInDays"] = days
            elif self.path == "/_fake/errors":
                count = int(req.get("count", 1))
                state.errors.append([req["operation"], req["type"], count])
            elif self.path == "/_fake/quota":
                state.enforce_quota = bool(req.get("enforce", True))
            elif self.path == "/_fake/reset":
                state.reset()
            else:
                self._send_json(404, {"message": f"no such path {self.path}"})
                return
        self._send_json(200, {})

    # ---- the AWS API ----------------------------------------------------------------------

    def _api(self, body):
        state = self.server.state
        arrival = time.monotonic()
        target = self.headers.get("X-Amz-Target", "")
        operation = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else target
        record = {"operation": operation, "time": arrival, "group": None, "status": 200,
                  "error": None}
        counted = False
        try:
            self._verify_signature(body)
            with state.lock:
                state.calls.append(record)
                counted = True
                self._maybe_injected_or_throttled(operation, arrival)
            req = self._parse_request(target, body)
            with state.lock:
                record["group"] = req.get("logGroupName", req.get("logGroupNamePrefix"))
                result = getattr(self, "_op_" + operation)(state, req)
            self._send_json(200, result)
        except AwsError as err:
            with state.lock:
                record["status"] = err.status
                record["error"] = err.error_type
                if not counted:  # a bad signature is a call too
                    state.calls.append(record)
            self._send_error(err)

    def _maybe_injected_or_throttled(self, operation, arrival):
        state = self.server.state
        for entry in state.errors:
            if entry[0] in (operation, "*") and entry[2] > 0:
                entry[2] -= 1
                if entry[2] == 0:
                    state.errors.remove(entry)
                status = 503 if entry[1] == "ServiceUnavailableException" else 400
                raise AwsError(entry[1], f"injected {entry[1]}", status)
        quota = QUOTAS.get(operation)
        if state.enforce_quota and quota is not None:
            recent = [c for c in state.calls
                      if c["operation"] == operation and arrival - c["time"] < 1.0]
            if len(recent) > quota:
                raise AwsError("ThrottlingException", "Rate exceeded")

    def _verify_signature(self, body):
        server = self.server
        auth = self.headers.get("Authorization")
        if not auth:
            raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token")
        parts = parse_authorization(auth)
        cred = parts["Credential"].split("/")
        if len(cred) != 5 or cred[4] != "aws4_request":
            raise AwsError("IncompleteSignatureException",
                           f"Credential is malformed: {parts['Credential']}")
        access_key, date, region, service, _ = cred
        if access_key != server.access_key:
            raise AwsError("UnrecognizedClientException",
                           "The security token included in the request is invalid.")
        if region != server.region:
            raise AwsError("InvalidSignatureException",
                           f"Credential should be scoped to a valid region, not '{region}'.")
        if service != "logs":
            raise AwsError("InvalidSignatureException",
                           f"Credential should be scoped to correct service: 'logs', "
                           f"not '{service}'.")
        amz_date = self.headers.get("X-Amz-Date")
        if not amz_date:
            raise AwsError("IncompleteSignatureException", "X-Amz-Date header is missing.")
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
        except ValueError:
            raise AwsError("IncompleteSignatureException", f"Bad X-Amz-Date '{amz_date}'.")
        if date != amz_date[:8]:
            raise AwsError("InvalidSignatureException",
                           "Credential date does not match X-Amz-Date.")
        if abs(datetime.datetime.utcnow() - when) > MAX_SKEW:
            raise AwsError("InvalidSignatureException",
                           f"Signature expired: {amz_date} is now earlier or later than the "
                           "allowed 15 minutes.")
        signed = parts["SignedHeaders"].split(";")
        for required in ("host", "x-amz-date", "content-type", "x-amz-target"):
            if required not in signed:
                raise AwsError("InvalidSignatureException",
                               f"'{required}' must be a signed header.")
        token = self.headers.get("X-Amz-Security-Token")
        if server.session_token is not None:
            if token != server.session_token:
                raise AwsError("UnrecognizedClientException",
                               "The security token included in the request is invalid.")
            if "x-amz-security-token" not in signed:
                raise AwsError("InvalidSignatureException",
                               "'x-amz-security-token' must be a signed header.")
        headers = {}
        for name in signed:
            value = self.headers.get_all(name)
            if value is None:
                raise AwsError("InvalidSignatureException",
                               f"Signed header '{name}' is missing from the request.")
            headers[name] = ",".join(value)
        request = AWSRequest(method=self.command, url=f"http://{headers['host']}{self.path}",
                             data=body, headers=headers)
        creds = Credentials(server.access_key, server.secret_key, token)
        FixedTimeSigV4Auth(creds, "logs", server.region, amz_date).add_auth(request)
        expected = parse_authorization(request.headers["Authorization"])
        if (expected["SignedHeaders"] != parts["SignedHeaders"] or
                not hmac.compare_digest(expected["Signature"], parts["Signature"])):
            raise AwsError(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you "
                "provided. Check your AWS Secret Access Key and signing method. Consult the "
                "service documentation for details.")

    def _parse_request(self, target, body):
        if not target.startswith(TARGET_PREFIX):
            raise AwsError("UnknownOperationException", f"Unknown target '{target}'.")
        operation = target[len(TARGET_PREFIX):]
        if operation not in OPERATIONS:
            raise AwsError("UnknownOperationException", f"Unknown operation '{operation}'.")
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip() != CONTENT_TYPE:
            raise AwsError("SerializationException",
                           f"Content-Type must be {CONTENT_TYPE}, not '{ctype}'.")
        try:
            req = json.loads(body)
        except ValueError as e:
            raise AwsError("SerializationException", f"Body is not JSON: {e}")
        if not isinstance(req, dict):
            raise AwsError("SerializationException", "Body is not a JSON object.")
        fields = OPERATIONS[operation]
        for key, value in req.items():
            if key not in fields:
                raise AwsError("SerializationException", f"Unexpected field '{key}'.")
            kind, _ = fields[key]
            ok = (isinstance(value, str) if kind is str else
                  isinstance(value, int) and not isinstance(value, bool))
            if not ok:
                raise AwsError("SerializationException",
                               f"Field '{key}' must be a {kind.__name__}.")
        for key, (_, required) in fields.items():
            if required and key not in req:
                raise AwsError(
                    "InvalidParameterException",
                    f"1 validation error detected: Value null at '{key}' failed to satisfy "
                    "constraint: Member must not be null")
        for key in ("logGroupName", "logGroupNamePrefix"):
            if key in req:
                value = req[key]
                if not 1 <= len(value) <= 512:
                    raise _validation(key, value,
                                      "Member must have length between 1 and 512")
                if not GROUP_NAME_RE.match(value):
                    raise _validation(key, value,
                                      "Member must satisfy regular expression pattern: "
                                      "[\\.\\-_/#A-Za-z0-9]+")
        return req

    # ---- operations (called with the state lock held) -------------------------------------

    @staticmethod
    def _group(state, name):
        group = state.groups.get(name)
        if group is None:
            raise AwsError("ResourceNotFoundException", "The specified log group does not exist.")
        return group

    def _op_PutRetentionPolicy(self, state, req):
        days = req["retentionInDays"]
        if days not in ALLOWED_DAYS:
            raise _validation("retentionInDays", days,
                              "Member must satisfy enum value set: " + str(ALLOWED_DAYS))
        self._group(state, req["logGroupName"])["retentionInDays"] = days
        return {}

    def _op_DeleteRetentionPolicy(self, state, req):
        self._group(state, req["logGroupName"])["retentionInDays"] = None
        return {}

    def _op_DescribeLogGroups(self, state, req):
        limit = req.get("limit", 50)
        if not 1 <= limit <= 50:
            raise _validation("limit", limit,
                              "Member must have value less than or equal to 50")
        prefix = req.get("logGroupNamePrefix", "")
        names = sorted(n for n in state.groups if n.startswith(prefix))
        token = req.get("nextToken")
        if token is not None:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode()
            except (ValueError, UnicodeDecodeError):
                raise AwsError("InvalidParameterException",
                               "The specified nextToken is invalid.")
            names = [n for n in names if n > after]
        page, rest = names[:limit], names[limit:]
        groups = []
        for name in page:
            g = state.groups[name]
            entry = {
                "logGroupName": name,
                "creationTime": g["creationTime"],
                "metricFilterCount": 0,
                "arn": f"arn:aws:logs:{self.server.region}:{ACCOUNT}:log-group:{name}:*",
                "storedBytes": 0,
            }
            if g["retentionInDays"] is not None:
                entry["retentionInDays"] = g["retentionInDays"]
            groups.append(entry)
        result = {"logGroups": groups}
        if rest:
            result["nextToken"] = base64.urlsafe_b64encode(page[-1].encode()).decode()
        return result


# field -> (type, required)
OPERATIONS = {
    "PutRetentionPolicy": {"logGroupName": (str, True), "retentionInDays": (int, True)},
    "DeleteRetentionPolicy": {"logGroupName": (str, True)},
    # Only these DescribeLogGroups fields are implemented; the others are rejected rather than
    # silently ignored.
    "DescribeLogGroups": {"logGroupNamePrefix": (str, False), "nextToken": (str, False),
                          "limit": (int, False)},
}


def max_in_window(calls, window=1.0):
    """The most calls that arrived within any `window` seconds."""
    times = sorted(c["time"] for c in calls)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--access-key", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--session-token", default=None)
    args = parser.parse_args()

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.state = State()
    server.region = args.region
    server.access_key = args.access_key
    server.secret_key = args.secret_key
    server.session_token = args.session_token
    print(f"PORT={server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
