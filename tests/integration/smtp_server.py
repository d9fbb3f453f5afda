#!/usr/bin/python3
"""A loopback SMTP server for tests, on Debian's python3-aiosmtpd.

Run with /usr/bin/python3 (the machine's default python3 lacks aiosmtpd):

    /usr/bin/python3 tests/integration/smtp_server.py --maildir DIR \
        [--reject RCPT ...] [--tempfail RCPT ...] [--port N]

Binds 127.0.0.1 on a free port (or --port) and prints "PORT=<n>" as the first stdout line once it
accepts connections. Each accepted message is written as one file to DIR/new (Maildir layout:
written to DIR/tmp, then renamed), with "X-MailFrom:" and "X-RcptTo:" envelope lines prepended to
the raw message. A recipient given with --reject is refused with "550 5.1.1 no such user", one
given with --tempfail with "451 4.3.0 try again" (compared case-insensitively).

The server stops on SIGTERM/SIGINT or when its stdin reaches end of file (so it never outlives a
test that started it with a pipe on stdin). When aiosmtpd is missing it prints
"ERROR: ..." as its first line and exits with status 3.
"""

import argparse
import asyncio
import os
import signal
import socket
import sys
import time

try:
    from aiosmtpd.smtp import SMTP
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"ERROR: {sys.executable} cannot import aiosmtpd ({e}); "
          "install Debian's python3-aiosmtpd and run this with /usr/bin/python3", flush=True)
    sys.exit(3)


class Handler:
    def __init__(self, maildir, reject, tempfail):
        self.maildir = maildir
        self.reject = {r.lower() for r in reject}
        self.tempfail = {r.lower() for r in tempfail}
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 no such user"
        if address.lower() in self.tempfail:
            return "451 4.3.0 try again"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = f"{time.time_ns()}.{os.getpid()}_{self.count}.localhost"
        head = (f"X-MailFrom: {envelope.mail_from}\r\n"
                f"X-RcptTo: {', '.join(envelope.rcpt_tos)}\r\n").encode()
        tmp = os.path.join(self.maildir, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(head + envelope.original_content)
        os.rename(tmp, os.path.join(self.maildir, "new", name))
        return "250 2.0.0 message accepted"


async def serve(args):
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(args.maildir, sub), exist_ok=True)
    handler = Handler(args.maildir, args.reject, args.tempfail)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="localhost", ident="retention test smtp"),
        host="127.0.0.1", port=args.port, family=socket.AF_INET)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT={port}", flush=True)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # End of stdin (the parent went away or closed the pipe) also stops the server.
    loop.add_reader(sys.stdin.fileno(), lambda: (not os.read(sys.stdin.fileno(), 4096)) and stop.set())
    await stop.wait()
    server.close()
    await server.wait_closed()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--maildir", required=True, help="folder for accepted messages (Maildir layout)")
    p.add_argument("--reject", action="append", default=[], help="refuse RCPT with 550")
    p.add_argument("--tempfail", action="append", default=[], help="refuse RCPT with 451")
    p.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    asyncio.run(serve(p.parse_args()))


if __name__ == "__main__":
    main()
