"""Where a test workspace's artifacts live: a local folder (the default) or a fresh prefix of
the bucket that RETENTION_STORAGE names (s3://BUCKET[/PREFIX]?region=R&endpoint=URL, with
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY set; s3_suite.py starts such a server). Tests put,
remove and list artifacts through these classes, so the same test runs on either store.
"""
import json
import os
import urllib.request
import uuid
from urllib.parse import parse_qs, urlsplit


class LocalObjects:
    """Artifacts as files under `root`."""

    def __init__(self, root):
        self.root = root
        self.url = "file://" + root

    def put(self, key, data):
        path = os.path.join(self.root, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def remove(self, key):
        os.remove(os.path.join(self.root, key))

    def keys(self):
        out = []
        for root, _, names in os.walk(self.root):
            for n in names:
                out.append(os.path.relpath(os.path.join(root, n), self.root))
        return sorted(out)


class S3Objects:
    """Artifacts as objects under a fresh prefix of the bucket that `base_url` names, read and
    written with botocore (signed, path style)."""

    def __init__(self, base_url):
        import botocore.session
        from botocore.config import Config
        parts = urlsplit(base_url)
        query = parse_qs(parts.query)
        if not parts.netloc or "region" not in query or "endpoint" not in query:
            raise ValueError(f"RETENTION_STORAGE={base_url!r}: want "
                             "s3://BUCKET[/PREFIX]?region=R&endpoint=URL")
        self.bucket = parts.netloc
        self.endpoint = query["endpoint"][0]
        base = parts.path.strip("/")
        self.prefix = (base + "/" if base else "") + "it-" + uuid.uuid4().hex[:12]
        self.url = f"s3://{self.bucket}/{self.prefix}?{parts.query}"
        self.client = botocore.session.get_session().create_client(
            "s3", region_name=query["region"][0], endpoint_url=query["endpoint"][0],
            aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 5}))

    def put(self, key, data):
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + "/" + key, Body=data,
                               ContentType="application/octet-stream")

    def remove(self, key):
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + "/" + key)

    def fail_deletes(self, keys, code):
        """Makes s3_server.py's DeleteObjects keep `keys` and answer an Error with `code` for
        each, until clear_faults()."""
        self._control("/_s3/faults",
                      {"fail_keys": {self.prefix + "/" + k: code for k in keys}})

    def calls(self):
        """s3_server.py's record of signed requests since the last reset (every workspace's)."""
        with urllib.request.urlopen(self.endpoint + "/_s3/calls", timeout=10) as answer:
            return json.loads(answer.read())["calls"]

    def clear_faults(self):
        """Forgets the faults and the request record."""
        self._control("/_s3/reset", {})

    def _control(self, path, body):
        request = urllib.request.Request(self.endpoint + path, data=json.dumps(body).encode(),
                                         method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def keys(self):
        out = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + "/"):
            out.extend(o["Key"][len(self.prefix) + 1:] for o in page.get("Contents", []))
        return sorted(out)


def open_storage(local_root):
    """The store of a new workspace: S3 when RETENTION_STORAGE is an s3:// URL, else the folder
    `local_root`."""
    url = os.environ.get("RETENTION_STORAGE", "")
    if url.startswith("s3://"):
        return S3Objects(url)
    return LocalObjects(local_root)


def is_s3():
    return os.environ.get("RETENTION_STORAGE", "").startswith("s3://")
