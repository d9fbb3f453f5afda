#!/usr/bin/python3
"""Runs integration tests with the artifacts on S3: starts s3_server.py (s3rver behind the
signature-checking proxy, bucket retention-it), sets RETENTION_STORAGE to it and the AWS_*
variables, runs the named unittest tests, and stops the server.

    /usr/bin/python3 s3_suite.py test_cli.SweepTests [more names...]

Exits with unittest's status; 3 when the server cannot start (a test needing it FAILS).
"""
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BUCKET = "retention-it"
REGION = "us-east-1"


def main():
    server = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "s3_server.py"),
                               "--port", "0", "--bucket", BUCKET, "--region", REGION],
                              stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    if not line.startswith("PORT="):
        server.kill()
        sys.stderr.write("s3_suite.py: s3_server.py did not start (see above); it needs "
                         "/usr/bin/python3 with python3-botocore and tests/s3rver/node_modules "
                         "(tools/install-deps.sh)\n")
        return 3
    endpoint = f"http://127.0.0.1:{line.strip()[5:]}"
    os.environ.update({
        "RETENTION_STORAGE": f"s3://{BUCKET}?region={REGION}&endpoint={endpoint}",
        "AWS_ACCESS_KEY_ID": "S3RVER",
        "AWS_SECRET_ACCESS_KEY": "S3RVER",
    })
    os.environ.pop("AWS_SESSION_TOKEN", None)
    try:
        sys.path.insert(0, HERE)
        suite = unittest.defaultTestLoader.loadTestsFromNames(sys.argv[1:])
        result = unittest.TextTestRunner(verbosity=2).run(suite)
        return 0 if result.wasSuccessful() else 1
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
