#!/usr/bin/env python3
"""tls_source.py: SMTP load generator with STARTTLS (and optional AUTH PLAIN)
for bench/submission/run_tls.sh; smtp-source has no TLS. Python 3 stdlib only.

C concurrent sessions send N messages in total. Each session: connect, read
the greeting, EHLO, STARTTLS, EHLO, [AUTH PLAIN], then M times MAIL, RCPT,
DATA + a LEN-byte body, then QUIT. M=1 (the default, like smtp-source
without -d) pays one TLS handshake per message. Commands are sent one at a
time (no PIPELINING), every reply code is checked; a session that gets an
unexpected reply is counted as failed and the messages it still had are
counted as not sent.

Prints one line of key=value: sent, failed, seconds, msgs_per_s
(= sent / wall time), client CPU seconds (user+sys of all client
processes), CPU/wall (near the number of processes = client-bound) and
the TLS sessions established by protocol/cipher (proof STARTTLS ran).

usage: tls_source.py [-c CONNS] [-n N] [-m PER_CONN] [-l LEN] [--plain]
                     [--user U --password P] [--procs P] HOST:PORT
"""
import argparse
import asyncio
import base64
import multiprocessing
import os
import resource
import ssl
import sys
import time


class SmtpError(Exception):
    pass


TIMEOUT = 60.0


async def reply(reader, expect, what):
    """Reads one (multi-line) reply; raises SmtpError unless its code is `expect`."""
    lines = []
    while True:
        line = await asyncio.wait_for(reader.readline(), TIMEOUT)
        if not line:
            raise SmtpError(f"{what}: connection closed")
        if len(line) > 1000:
            raise SmtpError(f"{what}: reply line too long")
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            break
    code = lines[-1][:3]
    if code != expect:
        raise SmtpError(f"{what}: {b''.join(lines).decode(errors='replace').strip()}")
    return lines


async def command(reader, writer, text, expect):
    writer.write(text + b"\r\n")
    return await reply(reader, expect, text.split(b" ")[0].decode())


_BODY = {}


def message_bytes(length, seq):
    """A LEN-byte message (headers + 76-column body lines) ending in CRLF.CRLF."""
    head = (f"From: bench@example.com\r\nTo: rcpt@dest.example\r\n"
            f"Subject: tls bench {seq}\r\nMessage-ID: <{seq}.{os.getpid()}@bench.example>\r\n"
            "\r\n").encode()
    want = max(0, length - len(head))
    if want not in _BODY:
        lines = (b"x" * 76 + b"\r\n") * (want // 78 + 1)
        _BODY[want] = lines[:want].rstrip(b"\r\n") + b"\r\n.\r\n"
    return head + _BODY[want]


async def session(host, port, args, ctx, count, stats):
    """One connection sending `count` messages; returns how many were accepted."""
    sent = 0
    writer = None
    try:
        reader, writer = await asyncio.open_connection(host, port)
        await reply(reader, b"220", "greeting")
        await command(reader, writer, b"EHLO tls-source.example", b"250")
        if ctx is not None:
            await command(reader, writer, b"STARTTLS", b"220")
            await asyncio.wait_for(writer.start_tls(ctx), TIMEOUT)
            tls = writer.get_extra_info("ssl_object")
            key = f"{tls.version()}/{tls.cipher()[0]}"
            stats["tls"][key] = stats["tls"].get(key, 0) + 1
            await command(reader, writer, b"EHLO tls-source.example", b"250")
        if args.user:
            token = base64.b64encode(b"\0" + args.user.encode() + b"\0" + args.password.encode())
            await command(reader, writer, b"AUTH PLAIN " + token, b"235")
        for _ in range(count):
            stats["seq"] += 1
            await command(reader, writer, b"MAIL FROM:<" + args.sender.encode() + b">", b"250")
            await command(reader, writer, b"RCPT TO:<" + args.rcpt.encode() + b">", b"250")
            await command(reader, writer, b"DATA", b"354")
            writer.write(message_bytes(args.length, stats["seq"]))
            await reply(reader, b"250", "end of DATA")
            sent += 1
        await command(reader, writer, b"QUIT", b"221")
    except (SmtpError, OSError, ssl.SSLError, asyncio.IncompleteReadError,
            asyncio.TimeoutError) as e:
        stats["failed_sessions"] += 1
        if len(stats["errors"]) < 5:
            stats["errors"].append(str(e))
    finally:
        if writer is not None:
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 5)
            except (OSError, ssl.SSLError, asyncio.TimeoutError):
                pass
    return sent


async def run(args, n, conns):
    host, _, port = args.server.rpartition(":")
    ctx = None
    if not args.plain:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False  # throwaway self-signed certificate
        ctx.verify_mode = ssl.CERT_NONE
    stats = {"seq": 0, "failed_sessions": 0, "errors": [], "tls": {}}
    queue = [args.per_conn] * (n // args.per_conn)
    if n % args.per_conn:
        queue.append(n % args.per_conn)
    total = 0

    async def worker():
        nonlocal total
        while queue:
            count = queue.pop()
            done = await session(host, int(port), args, ctx, count, stats)
            total += done  # not `total += await ...`: that reads total before awaiting

    await asyncio.gather(*(worker() for _ in range(conns)))
    return total, stats


def child(args, n, conns, out):
    sent, stats = asyncio.run(run(args, n, conns))
    out.put((sent, stats["failed_sessions"], stats["errors"], stats["tls"]))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("server", help="HOST:PORT")
    p.add_argument("-c", "--conns", type=int, default=20, help="concurrent sessions (total)")
    p.add_argument("-n", "--messages", type=int, default=1000, help="messages in total")
    p.add_argument("-m", "--per-conn", type=int, default=1, help="messages per connection")
    p.add_argument("-l", "--length", type=int, default=5000, help="message size in bytes")
    p.add_argument("--plain", action="store_true", help="no STARTTLS (plain text)")
    p.add_argument("--user", default="", help="AUTH PLAIN user (after STARTTLS)")
    p.add_argument("--password", default="")
    p.add_argument("--sender", default="bench@example.com")
    p.add_argument("--rcpt", default="rcpt@dest.example")
    p.add_argument("--procs", type=int, default=1, help="client processes (split N and C)")
    args = p.parse_args()
    if args.per_conn < 1 or args.conns < 1 or args.procs < 1 or args.messages < 1:
        p.error("-c, -n, -m and --procs must be at least 1")

    t0 = time.monotonic()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    if args.procs == 1:
        sent, stats = asyncio.run(run(args, args.messages, args.conns))
        failed, errors, tls = stats["failed_sessions"], stats["errors"], stats["tls"]
    else:
        out = multiprocessing.Queue()
        procs = []
        for i in range(args.procs):
            n = args.messages // args.procs + (i < args.messages % args.procs)
            c = max(1, args.conns // args.procs + (i < args.conns % args.procs))
            pr = multiprocessing.Process(target=child, args=(args, n, c, out))
            pr.start()
            procs.append(pr)
        sent = failed = 0
        errors = []
        tls = {}
        for _ in procs:
            s, f, e, t = out.get()
            sent, failed, errors = sent + s, failed + f, errors + e
            for k, v in t.items():
                tls[k] = tls.get(k, 0) + v
        for pr in procs:
            pr.join()
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    rc = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime) + rc.ru_utime + rc.ru_stime
    mode = "plain" if args.plain else "starttls"
    if args.user:
        mode += "+auth"
    print(f"mode={mode} conns={args.conns} per_conn={args.per_conn} procs={args.procs} "
          f"sent={sent} failed_sessions={failed} not_sent={args.messages - sent} "
          f"seconds={wall:.2f} msgs_per_s={sent / wall:.0f} "
          f"client_cpu_s={cpu:.2f} client_cpu_per_wall={cpu / wall:.2f} "
          f"tls_sessions={','.join(f'{k}:{v}' for k, v in sorted(tls.items())) or 'none'}")
    for e in errors[:5]:
        print(f"error: {e}", file=sys.stderr)
    return 0 if sent == args.messages else 1


if __name__ == "__main__":
    sys.exit(main())
