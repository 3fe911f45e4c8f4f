#!/usr/bin/python3
"""sink.py - a scriptable SMTP sink for Tern's delivery tests.

Listens on HOST:PORT and records every event as a JSON line in LOG, each
with "t", the time.time() at which it was logged:
  {"ev": "connect", "conn": N, "peer": ip, "concurrent": K}
  {"ev": "ehlo", "conn": N, "name": ...}
  {"ev": "mail", "conn": N, "frm": ..., "line": command, "code": 250}
  {"ev": "rcpt", "conn": N, "to": ..., "line": command, "code": 250}
  {"ev": "message", "conn": N, "frm": ..., "rcpts": [...],
   "size": n, "data": first 4 KB, "bare_lf": bool, "code": reply code}
     (logged as the reply to the final dot is sent, after any dot_delay;
     a message with a code other than 2xx was refused)
  {"ev": "close", "conn": N, "quit": bool, "aborted": bool}
     (quit: the client sent QUIT; aborted: the connection ended inside a
     transaction - after an accepted MAIL, before the reply to the final
     dot or an RSET - without QUIT)
The behaviour comes from SCRIPT (a JSON file re-read at each connection,
so a test can change it while the sink runs):
  {"greeting": "220 sink ESMTP", "ehlo": ["PIPELINING", "SIZE 100000000"],
   "rcpt": {"regex": "550 5.1.1 no such user", ...},  first match wins
   "mail": "451 4.3.0 try later", "data": "554 5.7.1 no",
   "dot": "250 2.0.0 ok", "hang_after_dot": seconds,
   "hang_after_data": seconds, "close_after_greeting": false,
   "dot_delay": seconds,        hold each message this long, then reply
   "dot_first": {"n": N, "reply": "421 4.7.28 slow down"},
   "save_raw": false}            true: each message as received, dot-
                                 stuffing removed, goes to the file
                                 LOG.<conn>.<n>.eml, named in the
                                 message event as "raw"
"dot_first" answers the first N final dots with its reply (then "dot" or
250): N counted over all connections from the moment the sink first read
this script; a script whose text differs from the one read before starts
the count again.  After a 421 reply to the final dot (from "dot" or
"dot_first") the sink closes the connection, as a server saying 421 does.
Stops on SIGTERM.  Loopback only.
"""
import asyncio
import json
import os
import re
import signal
import sys
import time

host, port = sys.argv[1].rsplit(":", 1)
LOG = sys.argv[2]
SCRIPT = sys.argv[3] if len(sys.argv) > 3 else None
assert host.startswith("127.") or host == "::1", "loopback only"

# dots: final dots seen since the script text last changed (dot_first)
state = {"conn": 0, "active": 0, "script_text": None, "dots": 0}
logf = open(LOG, "a", buffering=1)


def log(**kw):
    kw.setdefault("t", time.time())
    logf.write(json.dumps(kw) + "\n")


def script():
    if SCRIPT and os.path.exists(SCRIPT):
        try:
            with open(SCRIPT) as f:
                text = f.read()
            sc = json.loads(text)
        except (OSError, ValueError):
            return {}
        if text != state["script_text"]:
            state["script_text"] = text
            state["dots"] = 0
        return sc
    return {}


async def handle(reader, writer):
    state["conn"] += 1
    state["active"] += 1
    cid = state["conn"]
    sc = script()
    peer = writer.get_extra_info("peername")[0]
    local = writer.get_extra_info("sockname")[0]
    log(ev="connect", conn=cid, peer=peer, local=local,
        concurrent=state["active"])
    # in_txn: an accepted MAIL not yet ended by the reply to the final dot
    # or by RSET; quit: QUIT received (see the close event)
    st = {"in_txn": False, "quit": False}

    async def send(line):
        writer.write((line + "\r\n").encode())
        await writer.drain()

    try:
        await send(sc.get("greeting", "220 sink.test ESMTP"))
        if sc.get("close_after_greeting") or \
                sc.get("greeting", "220")[:1] != "2":
            if sc.get("greeting", "220")[:1] == "5":
                await asyncio.sleep(0.2)
            return
        mail, rcpts = None, []
        while True:
            line = await asyncio.wait_for(reader.readline(), 120)
            if not line:
                return
            cmd = line.decode(errors="replace").rstrip("\r\n")
            verb = cmd[:4].upper()
            if verb == "EHLO":
                log(ev="ehlo", conn=cid, name=cmd[5:])
                ext = sc.get("ehlo", ["PIPELINING", "8BITMIME",
                                      "ENHANCEDSTATUSCODES",
                                      "SIZE 100000000"])
                lines = ["sink.test"] + ext
                for i, e in enumerate(lines):
                    await send("250%s%s" % ("-" if i < len(lines) - 1
                                            else " ", e))
            elif verb == "HELO":
                log(ev="ehlo", conn=cid, name=cmd[5:])
                await send("250 sink.test")
            elif verb == "MAIL":
                mail = cmd[10:].split(">")[0].lstrip("<")
                rcpts = []
                reply = sc.get("mail", "250 2.1.0 ok")
                log(ev="mail", conn=cid, frm=mail, line=cmd,
                    code=int(reply[:3]))
                st["in_txn"] = reply.startswith("2")
                await send(reply)
            elif verb == "RCPT":
                to = cmd[8:].split(">")[0].lstrip("<")
                reply = "250 2.1.5 ok"
                for rx, rep in sc.get("rcpt", {}).items():
                    if re.search(rx, to):
                        reply = rep
                        break
                log(ev="rcpt", conn=cid, to=to, line=cmd,
                    code=int(reply[:3]))
                if reply.startswith("2"):
                    rcpts.append(to)
                await send(reply)
            elif verb == "DATA":
                if not rcpts:
                    await send("554 5.5.1 no valid recipients")
                    continue
                if "data" in sc:
                    await send(sc["data"])
                    continue
                await send("354 go ahead")
                if sc.get("hang_after_data"):
                    await asyncio.sleep(sc["hang_after_data"])
                    return
                buf = b""
                while True:
                    chunk = await asyncio.wait_for(reader.readline(), 120)
                    if not chunk:
                        return
                    if chunk == b".\r\n":
                        break
                    buf += chunk
                bare = bool(re.search(rb"(?<!\r)\n", buf)) or \
                    bool(re.search(rb"\r(?!\n)", buf))
                if sc.get("hang_after_dot"):
                    await asyncio.sleep(sc["hang_after_dot"])
                    return
                state["dots"] += 1
                first = sc.get("dot_first") or {}
                if state["dots"] <= int(first.get("n", 0)):
                    reply = first["reply"]
                else:
                    reply = sc.get("dot", "250 2.0.0 queued as %d" % cid)
                if sc.get("dot_delay"):
                    await asyncio.sleep(sc["dot_delay"])
                extra = {}
                if sc.get("save_raw"):
                    st["n"] = st.get("n", 0) + 1
                    raw = "%s.%d.%d.eml" % (LOG, cid, st["n"])
                    with open(raw, "wb") as f:
                        f.write(re.sub(rb"(?m)^\.", b"", buf))
                    extra["raw"] = raw
                log(ev="message", conn=cid, peer=peer, frm=mail,
                    rcpts=rcpts, size=len(buf), bare_lf=bare,
                    data=buf[:4096].decode(errors="replace"),
                    code=int(reply[:3]), **extra)
                await send(reply)
                st["in_txn"] = False
                if reply.startswith("421"):
                    return
            elif verb == "RSET":
                mail, rcpts = None, []
                st["in_txn"] = False
                await send("250 2.0.0 ok")
            elif verb == "QUIT":
                st["quit"] = True
                await send("221 2.0.0 bye")
                return
            elif verb == "NOOP":
                await send("250 2.0.0 ok")
            else:
                await send("502 5.5.2 what")
    except (asyncio.TimeoutError, ConnectionError, OSError):
        pass
    finally:
        state["active"] -= 1
        log(ev="close", conn=cid, quit=st["quit"],
            aborted=st["in_txn"] and not st["quit"])
        try:
            writer.close()
        except Exception:
            pass


async def main():
    srv = await asyncio.start_server(handle, host, int(port),
                                     reuse_address=True, backlog=256)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    log(ev="listening")
    async with srv:
        await stop

asyncio.run(main())
