#!/usr/bin/python3
"""tlssink.py - an SMTP sink with STARTTLS, for Tern's outbound TLS tests.

usage: tlssink.py HOST:PORT LOG MODE [CERT KEY]
MODE is one of
  tls      advertise STARTTLS and do it with CERT/KEY
  plain    do not advertise STARTTLS (a server without TLS)
  broken   advertise STARTTLS, answer 220, then send garbage instead of a
           TLS handshake (a broken TLS stack)
Every event is a JSON line in LOG, with "t" (time.time()):
  {"ev": "connect", "conn": N}
  {"ev": "tls", "conn": N, "version": ..., "cipher": ..., "resumed": bool}
  {"ev": "message", "conn": N, "from": ..., "rcpts": [...], "tls": bool,
   "size": n}
Loopback only; stops on SIGTERM.
"""
import asyncio
import json
import signal
import ssl
import sys
import time

host, port = sys.argv[1].rsplit(":", 1)
LOG, MODE = sys.argv[2], sys.argv[3]
assert host.startswith("127."), "loopback only"
assert MODE in ("tls", "plain", "broken")
ctx = None
if MODE == "tls":
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
logf = open(LOG, "a", buffering=1)
state = {"conn": 0}


def log(**kw):
    kw["t"] = time.time()
    logf.write(json.dumps(kw) + "\n")


async def handle(reader, writer):
    state["conn"] += 1
    cid = state["conn"]
    log(ev="connect", conn=cid)
    tls = False

    async def send(line):
        writer.write((line + "\r\n").encode())
        await writer.drain()

    await send("220 tlssink ESMTP")
    sender, rcpts = None, []
    try:
        while True:
            raw = await asyncio.wait_for(reader.readline(), 30)
            if not raw:
                break
            line = raw.decode("latin-1").rstrip("\r\n")
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                caps = ["250-tlssink", "250-PIPELINING", "250-8BITMIME"]
                if MODE != "plain" and not tls:
                    caps.append("250-STARTTLS")
                caps.append("250 SIZE 100000000")
                for c in caps:
                    writer.write((c + "\r\n").encode())
                await writer.drain()
            elif line.upper() == "STARTTLS" and MODE != "plain" and not tls:
                await send("220 2.0.0 ready")
                if MODE == "broken":
                    # Read the ClientHello, answer with nonsense.
                    await asyncio.wait_for(reader.read(512), 10)
                    writer.write(b"this is not a TLS record\r\n" * 4)
                    await writer.drain()
                    writer.close()
                    return
                await writer.start_tls(ctx)
                obj = writer.get_extra_info("ssl_object")
                tls = True
                log(ev="tls", conn=cid, version=obj.version(),
                    cipher=obj.cipher()[0], resumed=obj.session_reused)
            elif verb == "MAIL":
                sender, rcpts = line[10:].strip("<>"), []
                await send("250 2.1.0 ok")
            elif verb == "RCPT":
                rcpts.append(line[8:].strip("<>"))
                await send("250 2.1.5 ok")
            elif verb == "DATA":
                await send("354 go ahead")
                size = 0
                while True:
                    l2 = await asyncio.wait_for(reader.readline(), 30)
                    if not l2 or l2 in (b".\r\n", b".\n"):
                        break
                    size += len(l2)
                log(ev="message", conn=cid, sender=sender, rcpts=rcpts,
                    tls=tls, size=size)
                await send("250 2.0.0 queued")
            elif verb == "RSET":
                sender, rcpts = None, []
                await send("250 2.0.0 ok")
            elif verb == "QUIT":
                await send("221 2.0.0 bye")
                break
            else:
                await send("250 2.0.0 ok")
    except (asyncio.TimeoutError, ConnectionError, ssl.SSLError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    server = await asyncio.start_server(handle, host, int(port))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()

asyncio.run(main())
