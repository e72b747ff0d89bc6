#!/usr/bin/python3
"""An RFC 8441 WebSocket server that masq's and Node's code did not write: Debian's python3-h2
for HTTP/2, python3-websockets' sans-I/O connection for the WebSocket on each stream (and for
HTTP/1.1 upgrades when the client comes back without h2), asyncio + ssl for I/O.

Prints one JSON line {"port": N} when listening. With --record, prints one JSON line per frame
the client sent ({"conn": n, "type": ..., ...}, HEADERS decoded with its own HPACK decoder) and
one per TLS connection ({"conn": n, "alpn": selected}).

Paths: /echo (echo every frame, fragmentation kept), /close?code=N (close at once),
/rst-mid and /goaway-mid (first 64 KiB of a 1 MiB BINARY frame, then RST_STREAM CANCEL or
GOAWAY INTERNAL_ERROR).
"""
import argparse
import asyncio
import json
import ssl
import sys
from urllib.parse import urlsplit, parse_qs

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack
from hyperframe.frame import Frame, SettingsFrame, WindowUpdateFrame, HeadersFrame, ContinuationFrame, PriorityFrame
from websockets.connection import State
from websockets.server import ServerConnection
from websockets.frames import Opcode
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.headers import parse_extension, build_extension

MAX = 64 * 1024 * 1024
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
ARGS = None
CONN_IDS = iter(range(1, 1 << 30))


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Recorder:
    """Decodes the client's frames independently of h2, for the fingerprint tests."""

    def __init__(self, conn_id):
        self.conn_id = conn_id
        self.buf = b""
        self.preface = False
        self.decoder = hpack.Decoder()
        self.decoder.max_allowed_table_size = 65536
        self.block = None

    def feed(self, data):
        self.buf += data
        if not self.preface:
            if len(self.buf) < len(PREFACE):
                return
            self.buf = self.buf[len(PREFACE):]
            self.preface = True
        while len(self.buf) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(self.buf[:9]))
            if len(self.buf) < 9 + length:
                return
            frame.parse_body(memoryview(self.buf[9:9 + length]))
            self.buf = self.buf[9 + length:]
            rec = {"conn": self.conn_id, "type": frame.type, "flags": sorted(frame.flags), "stream": frame.stream_id, "len": length}
            if isinstance(frame, SettingsFrame):
                rec["type"] = "SETTINGS"
                rec["settings"] = [[k, v] for k, v in frame.settings.items()]
            elif isinstance(frame, WindowUpdateFrame):
                rec["type"] = "WINDOW_UPDATE"
                rec["increment"] = frame.window_increment
            elif isinstance(frame, PriorityFrame):
                rec["type"] = "PRIORITY"
            elif isinstance(frame, (HeadersFrame, ContinuationFrame)):
                rec["type"] = "HEADERS" if isinstance(frame, HeadersFrame) else "CONTINUATION"
                if isinstance(frame, HeadersFrame) and "PRIORITY" in frame.flags:
                    rec["priority"] = {"exclusive": bool(frame.exclusive), "dependsOn": frame.depends_on, "weightByte": frame.stream_weight}
                self.block = (self.block or b"") + frame.data
                if "END_HEADERS" in frame.flags:
                    rec["headers"] = [[n.decode("latin1") if isinstance(n, bytes) else n, v.decode("latin1") if isinstance(v, bytes) else v]
                                      for n, v in self.decoder.decode(self.block, raw=True)]
                    self.block = None
            else:
                rec["type"] = type(frame).__name__.replace("Frame", "").upper()
            out(rec)


class H2Conn:
    def __init__(self, reader, writer, conn_id):
        self.reader, self.writer, self.conn_id = reader, writer, conn_id
        cfg = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.h2 = h2.connection.H2Connection(config=cfg)
        self.ws = {}  # stream id -> ServerConnection
        self.outbuf = {}  # stream id -> bytearray waiting for window
        self.eof = set()  # streams to end once their buffer is sent
        self.recorder = Recorder(conn_id) if ARGS.record else None

    async def run(self):
        settings = {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1000}
        if not ARGS.no_ecp:
            settings[h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL] = 1
        self.h2.local_settings = h2.settings.Settings(client=False, initial_values=settings)
        self.h2.initiate_connection()
        await self.flush()
        while True:
            data = await self.reader.read(65536)
            if not data:
                return
            if self.recorder:
                self.recorder.feed(data)
            try:
                events = self.h2.receive_data(data)
            except Exception as e:  # a protocol error: h2 queued GOAWAY
                print("h2 error:", e, file=sys.stderr)
                await self.flush()
                return
            for ev in events:
                self.handle(ev)
            await self.flush()

    def handle(self, ev):
        if isinstance(ev, h2.events.RequestReceived):
            self.request(ev.stream_id, [(n.decode("latin1"), v.decode("latin1")) for n, v in ev.headers])
        elif isinstance(ev, h2.events.DataReceived):
            self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            ws = self.ws.get(ev.stream_id)
            if ws is not None:
                ws.receive_data(ev.data)
                self.pump(ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            ws = self.ws.get(ev.stream_id)
            if ws is not None:
                ws.receive_eof()
                self.pump(ev.stream_id)
        elif isinstance(ev, h2.events.StreamReset):
            self.ws.pop(ev.stream_id, None)
            self.outbuf.pop(ev.stream_id, None)
        elif isinstance(ev, h2.events.WindowUpdated):
            for sid in list(self.outbuf):
                self.send_pending(sid)

    def request(self, sid, headers):
        h = dict(headers)
        if h.get(":method") != "CONNECT" or h.get(":protocol") != "websocket":
            self.h2.send_headers(sid, [(":status", "400")], end_stream=True)
            return
        url = urlsplit(h.get(":path", "/"))
        query = parse_qs(url.query)
        response = [(":status", "200")]
        ws = ServerConnection(state=State.OPEN, max_size=MAX)
        offer = h.get("sec-websocket-extensions")
        if offer and not ARGS.no_deflate:
            for name, params in parse_extension(offer):
                if name == "permessage-deflate":
                    try:
                        rparams, ext = ServerPerMessageDeflateFactory().process_request_params(params, [])
                    except Exception:
                        continue
                    ws.extensions = [ext]
                    response.append(("sec-websocket-extensions", build_extension([(name, rparams)])))
                    break
        protos = [p.strip() for p in h.get("sec-websocket-protocol", "").split(",") if p.strip()]
        if protos:
            response.append(("sec-websocket-protocol", protos[0]))
        self.h2.send_headers(sid, response)
        if url.path in ("/rst-mid", "/goaway-mid"):
            head = bytes([0x82, 127, 0, 0, 0, 0, 0, 0x10, 0, 0])
            self.outbuf[sid] = bytearray(head + b"\x07" * (64 * 1024))
            self.send_pending(sid)
            asyncio.get_running_loop().call_later(0.1, self.abort, sid, url.path)
            return
        self.ws[sid] = ws
        if url.path == "/close":
            ws.send_close(int(query.get("code", ["1000"])[0]), "bye")
            self.pump(sid)

    def abort(self, sid, path):
        if path == "/rst-mid":
            self.h2.reset_stream(sid, error_code=8)
        else:
            self.h2.close_connection(error_code=2, additional_data=b"test goaway")
        asyncio.ensure_future(self.flush())

    def pump(self, sid):
        ws = self.ws.get(sid)
        if ws is None:
            return
        for frame in ws.events_received():
            if frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                # Echo frame by frame, fragmentation and type kept.
                if frame.opcode == Opcode.TEXT:
                    ws.send_text(frame.data, fin=frame.fin)
                elif frame.opcode == Opcode.BINARY:
                    ws.send_binary(frame.data, fin=frame.fin)
                else:
                    ws.send_continuation(frame.data, fin=frame.fin)
        for chunk in ws.data_to_send():
            if chunk == b"":
                self.eof.add(sid)
            else:
                self.outbuf.setdefault(sid, bytearray()).extend(chunk)
        self.send_pending(sid)

    def send_pending(self, sid):
        buf = self.outbuf.get(sid)
        while buf:
            window = min(self.h2.local_flow_control_window(sid), self.h2.max_outbound_frame_size)
            if window <= 0:
                return
            n = min(window, len(buf))
            self.h2.send_data(sid, bytes(buf[:n]))
            del buf[:n]
        self.outbuf.pop(sid, None)
        if sid in self.eof:
            self.eof.discard(sid)
            self.h2.end_stream(sid)
            self.ws.pop(sid, None)

    async def flush(self):
        data = self.h2.data_to_send()
        if data:
            self.writer.write(data)
            await self.writer.drain()


async def http1(reader, writer, first):
    """HTTP/1.1 upgrade through websockets' own handshake code, then echo."""
    ws = ServerConnection(max_size=MAX, extensions=None if ARGS.no_deflate else [ServerPerMessageDeflateFactory()])
    ws.receive_data(first)
    request = None
    while request is None:
        for ev in ws.events_received():
            request = ev
        if request is None:
            data = await reader.read(65536)
            if not data:
                return
            ws.receive_data(data)
    ws.send_response(ws.accept(request))
    for chunk in ws.data_to_send():
        writer.write(chunk)
    while True:
        data = await reader.read(65536)
        if not data:
            ws.receive_eof()
        else:
            ws.receive_data(data)
        for frame in ws.events_received():
            if hasattr(frame, "opcode") and frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                if frame.opcode == Opcode.TEXT:
                    ws.send_text(frame.data, fin=frame.fin)
                elif frame.opcode == Opcode.BINARY:
                    ws.send_binary(frame.data, fin=frame.fin)
                else:
                    ws.send_continuation(frame.data, fin=frame.fin)
        for chunk in ws.data_to_send():
            if chunk == b"":
                writer.close()
                return
            writer.write(chunk)
        await writer.drain()
        if not data:
            return


async def on_client(reader, writer):
    conn_id = next(CONN_IDS)
    ssl_object = writer.get_extra_info("ssl_object")
    alpn = ssl_object.selected_alpn_protocol()
    if ARGS.record:
        out({"conn": conn_id, "alpn": alpn, "resumed": ssl_object.session_reused})
    try:
        if alpn == "h2":
            await H2Conn(reader, writer, conn_id).run()
        else:
            first = await reader.read(65536)
            if first:
                await http1(reader, writer, first)
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--no-ecp", action="store_true", help="h2 without SETTINGS_ENABLE_CONNECT_PROTOCOL")
    p.add_argument("--no-deflate", action="store_true")
    p.add_argument("--record", action="store_true")
    ARGS = p.parse_args()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    server = await asyncio.start_server(on_client, "127.0.0.1", 0, ssl=ctx, limit=1 << 20)
    out({"port": server.sockets[0].getsockname()[1], "h2": h2.__version__})
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
