"""Interop peer for masq's tests: Debian's python3-websockets (10.x legacy server API).

Run with /usr/bin/python3 (the distribution's interpreter, which has python3-websockets):

    /usr/bin/python3 py_ws_server.py [--cert CERT --key KEY] [--deflate]

Listens on 127.0.0.1 on a free port and prints one JSON line {"port": N, "version": "..."}.
Exits when stdin closes (the parent died or closed it) or on SIGTERM.

Paths:
  /echo                         echo every message with its type
  /close?code=&reason=          close with that code and reason (no code: close() with 1000)
  /headers                      first message: JSON {"path", "headers": [[name, value], ...]}; then echo
  /send?count=&size=&close=     send `count` text messages of `size` bytes, then close when `close` is given
"""

import argparse
import asyncio
import json
import signal
import ssl
import sys
from urllib.parse import parse_qs, urlsplit

import websockets


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def handler(ws, path=None):
    target = urlsplit(path if path is not None else ws.path)
    query = {k: v[-1] for k, v in parse_qs(target.query, keep_blank_values=True).items()}
    route = target.path
    try:
        if route == "/echo":
            await echo(ws)
        elif route == "/close":
            code = query.get("code")
            if code is None or code == "":
                await ws.close()
            else:
                await ws.close(int(code), query.get("reason", ""))
        elif route == "/headers":
            await ws.send(json.dumps({
                "path": path if path is not None else ws.path,
                "headers": [[k, v] for k, v in ws.request_headers.raw_items()],
            }))
            await echo(ws)
        elif route == "/send":
            count = int(query.get("count", "1"))
            size = int(query.get("size", "16"))
            for i in range(count):
                prefix = f"{i}:"
                body = (prefix + chr(0x61 + i % 26) * size)[:size] if len(prefix) <= size else chr(0x61 + i % 26) * size
                await ws.send(body)
            if query.get("close"):
                await ws.close(int(query["close"]), query.get("reason", ""))
            else:
                await echo(ws)
        else:
            await ws.close(4404, "unknown path")
    except websockets.ConnectionClosed:
        pass


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--deflate", action="store_true")
    args = parser.parse_args()

    ssl_ctx = None
    if args.cert:
        ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_ctx.load_cert_chain(args.cert, args.key)

    server = await websockets.serve(
        handler,
        "127.0.0.1",
        0,
        ssl=ssl_ctx,
        max_size=None,
        max_queue=None,
        ping_interval=None,
        compression="deflate" if args.deflate else None,
    )
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port, "version": websockets.__version__}), flush=True)

    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
    # stdin closing means the parent test process is gone: do not outlive it.
    loop.add_reader(sys.stdin.fileno(), lambda: sys.stdin.buffer.read1(4096) or stop.done() or stop.set_result(None))
    await stop
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
