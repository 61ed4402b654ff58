#!/usr/bin/env python3
"""The receiving end of the relay tests: an aiosmtpd server that stores every message it
accepts and prints its port.

Each message is written to DIR as <name>.json (the envelope: mail_from, rcpt_tos, tls) and
<name>.eml (the bytes received, dot-unstuffed), the .eml renamed into place last and before
the 250 is sent, so a test that sees an .eml may read both, and a message the relay was told
was taken is on disk.

Options make it refuse recipients containing a marker (550 at RCPT), defer them (451 at
RCPT), leave out SMTPUTF8, or offer STARTTLS.
"""
import argparse
import asyncio
import itertools
import json
import os
import ssl
import sys
import time

try:
    from aiosmtpd.smtp import SMTP
except ImportError:
    print("python3-aiosmtpd is missing: apt-get install python3-aiosmtpd", file=sys.stderr)
    sys.exit(3)


class Store:
    def __init__(self, directory, reject, defer):
        self.directory = directory
        self.reject = reject
        self.defer = defer
        self.counter = itertools.count()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if any(marker in address for marker in self.reject):
            return "550 5.1.1 <%s>: no such user here" % address
        if any(marker in address for marker in self.defer):
            return "451 4.2.0 <%s>: mailbox busy, try later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        name = "%d-%d-%d" % (time.time_ns(), os.getpid(), next(self.counter))
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "smtputf8": envelope.smtp_utf8,
        }
        self.write(name + ".json", json.dumps(meta, ensure_ascii=False).encode("utf-8"))
        self.write(name + ".eml", envelope.original_content)
        return "250 2.0.0 OK stored as %s" % name

    def write(self, file_name, data):
        temporary = os.path.join(self.directory, "." + file_name + ".tmp")
        with open(temporary, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, os.path.join(self.directory, file_name))


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reject", action="append", default=[])
    parser.add_argument("--defer", action="append", default=[])
    parser.add_argument("--no-smtputf8", action="store_true")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()

    tls_context = None
    if args.tls_cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)
    store = Store(args.dir, args.reject, args.defer)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            store,
            enable_SMTPUTF8=not args.no_smtputf8,
            hostname="sink.test",
            tls_context=tls_context,
        ),
        host="127.0.0.1",
        port=args.port,
        reuse_address=True,
    )
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
