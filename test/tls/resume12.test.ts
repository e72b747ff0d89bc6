/**
 * TLS 1.2 session resumption with a ticket (RFC 5077) in masq's engine: the ticket a full
 * handshake reported through `onSessionTicket`, put back into the hello's session_ticket
 * extension and given as `resume12`, leads to an abbreviated handshake the server confirms
 * (Node's isSessionReused(), openssl s_server); a declined ticket falls back to a full handshake;
 * a server that drops (or adds) extended_master_secret or changes the suite on resumption fails.
 * The hello patching here stands in for the resumption hello the session cache builds.
 */
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import type net from "node:net";
import { TlsError } from "../../src/errors.js";
import { ContentType, ExtensionType } from "../../src/tls/constants.js";
import { connectEngine, type MasqTlsSocket } from "../../src/tls/socket.js";
import { profileHelloBuilder } from "../../src/tls/hello-builder.js";
import type { HelloBuilder } from "../../src/tls/engine.js";
import type { TlsSession12 } from "../../src/tls/session-ticket.js";
import { chrome156Hello } from "../../src/impersonate/chrome.js";
import { firefox153Hello } from "../../src/impersonate/firefox.js";
import { TlsReader, u16, withLength } from "../../src/tls/reader.js";
import { startFake12Server, type Fake12Options, type Fake12Server } from "./helpers/fake-server12.js";
import { tlsTestPki, type TlsTestPki } from "./helpers/pki.js";
import { tcp } from "./helpers/servers.js";
import { hasBinary, startPeer, until, type Peer } from "./helpers/processes.js";

let pki!: TlsTestPki;
const cleanups: Array<() => Promise<void>> = [];
before(() => {
  pki = tlsTestPki();
});
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** The hello `inner` builds, with `ticket` as the session_ticket extension's data. */
function withTicket(inner: HelloBuilder, ticket: Buffer): HelloBuilder {
  return {
    keyShareGroups: inner.keyShareGroups,
    recordVersion: inner.recordVersion,
    build(p) {
      const hello = inner.build(p);
      const r = new TlsReader(hello, 4);
      r.bytes(2 + 32);
      r.vec(1);
      r.vec(2);
      r.vec(1);
      const extStart = r.pos;
      const exts = r.sub(2);
      const parts: Buffer[] = [];
      while (exts.remaining > 0) {
        const type = exts.u16();
        const data = exts.vec(2);
        parts.push(Buffer.concat([u16(type), withLength(2, type === ExtensionType.SESSION_TICKET ? ticket : data)]));
      }
      const body = Buffer.concat([hello.subarray(4, extStart), withLength(2, ...parts)]);
      return Buffer.concat([Buffer.of(1, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff), body]);
    },
  };
}

async function connect(port: number, o: { profile?: typeof chrome156Hello; resume?: TlsSession12; onTicket?: (s: TlsSession12) => void } = {}): Promise<MasqTlsSocket> {
  const base = profileHelloBuilder(o.profile ?? chrome156Hello, "localhost", undefined);
  return connectEngine(await tcp(port), {
    hello: o.resume ? withTicket(base, o.resume.ticket) : base,
    verifyHost: "localhost",
    rejectUnauthorized: true,
    ca: pki.root.cert,
    engine: { ...(o.resume ? { resume12: o.resume } : {}), ...(o.onTicket ? { onSessionTicket: o.onTicket } : {}) },
  });
}

async function fake(o: Partial<Fake12Options>): Promise<Fake12Server> {
  const s = await startFake12Server({ chain: [pki.leaf.cert], key: pki.leaf.key, ...o });
  cleanups.push(() => s.close());
  return s;
}

/** A full handshake against `port` that returns the ticket the server issued. */
async function firstTicket(port: number, profile = chrome156Hello): Promise<TlsSession12> {
  const tickets: TlsSession12[] = [];
  const t = await connect(port, { profile, onTicket: (s) => tickets.push(s) });
  assert.equal(t.isSessionReused(), false);
  t.destroy();
  assert.equal(tickets.length, 1, "the full handshake issued a ticket");
  return tickets[0]!;
}

test("resume 1.2 (fake server): abbreviated handshake with the ticket, data both ways, the new ticket reported; declined ticket -> full handshake", async () => {
  const first = await fake({ ticket: Buffer.from("ticket-1") });
  const session = await firstTicket(first.port);
  const s = await fake({
    ticket: Buffer.from("ticket-2"),
    resume: { ticket: session.ticket, masterSecret: session.masterSecret },
    afterHandshake: (seal) => [seal(ContentType.APPLICATION_DATA, Buffer.from("resumed data"))],
  });
  const tickets: TlsSession12[] = [];
  const t = await connect(s.port, { resume: session, onTicket: (x) => tickets.push(x) });
  assert.equal(t.isSessionReused(), true);
  assert.equal(t.getProtocol(), "TLSv1.2");
  assert.equal(t.getPeerCertificate().subject !== undefined, true, "the session's certificate is reported");
  assert.equal((await new Promise<Buffer>((r) => t.once("data", r))).toString(), "resumed data");
  t.write("client data");
  await until(() => s.cores[0]!.received.length > 0, 5000, "server data");
  assert.equal(Buffer.concat(s.cores[0]!.received).toString(), "client data");
  assert.equal(s.cores[0]!.resumedHandshakes, 1);
  assert.equal(tickets.length, 1);
  assert.equal(tickets[0]!.ticket.toString(), "ticket-2");
  assert.deepEqual(tickets[0]!.masterSecret, session.masterSecret);
  t.destroy();

  // A server that does not know the ticket answers with a full handshake: that is fine.
  const other = await fake({});
  const u = await connect(other.port, { resume: session });
  assert.equal(u.isSessionReused(), false);
  u.destroy();
});

async function resumeFailure(o: Partial<Fake12Options>, session: TlsSession12, alert: string, message: RegExp): Promise<void> {
  const s = await fake({ ...o, afterHandshake: (seal) => [seal(ContentType.APPLICATION_DATA, Buffer.from("must not arrive"))] });
  await assert.rejects(connect(s.port, { resume: session }), (e: unknown) => e instanceof TlsError && e.alert === alert && message.test(e.message));
  assert.equal(s.cores[0]!.resumedHandshakes, 0);
  assert.deepEqual(s.cores[0]!.received, []);
}

test("resume 1.2 negative: EMS dropped on resumption, EMS added to a non-EMS session -> handshake_failure; another suite -> illegal_parameter", async () => {
  const first = await fake({ ticket: Buffer.from("t") });
  const session = await firstTicket(first.port);
  assert.equal(session.extendedMasterSecret, true);
  await resumeFailure({ resume: { ticket: session.ticket, masterSecret: session.masterSecret, ems: false } }, session, "handshake_failure", /without extended_master_secret/);
  const noEms: TlsSession12 = { ...session, extendedMasterSecret: false };
  await resumeFailure({ resume: { ticket: session.ticket, masterSecret: session.masterSecret, ems: true } }, noEms, "handshake_failure", /extended_master_secret/);
  const otherSuite: TlsSession12 = { ...session, cipherSuite: 0xc02c };
  await resumeFailure({ resume: { ticket: session.ticket, masterSecret: session.masterSecret } }, otherSuite, "illegal_parameter", /different cipher suite/);
  // A master secret that does not match: the keys differ, the server's Finished record does not open.
  const wrongSecret: TlsSession12 = { ...session, masterSecret: Buffer.alloc(48, 1) };
  await resumeFailure({ resume: { ticket: session.ticket, masterSecret: session.masterSecret } }, wrongSecret, "bad_record_mac", /bad_record_mac/);
});

test("resume 1.2: Node's TLS server (maxVersion TLSv1.2) confirms the reuse with isSessionReused()", async () => {
  const reused: boolean[] = [];
  const server = tls.createServer({ key: pki.leaf.key, cert: pki.leaf.cert, maxVersion: "TLSv1.2" }, (s) => {
    reused.push(s.isSessionReused());
    s.on("error", () => {});
    s.end("hi");
  });
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(() => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }));
  const port = (server.address() as net.AddressInfo).port;
  for (const profile of [chrome156Hello, firefox153Hello]) {
    const session = await firstTicket(port, profile);
    const tickets: TlsSession12[] = [];
    const t = await connect(port, { profile, resume: session, onTicket: (x) => tickets.push(x) });
    assert.equal(t.isSessionReused(), true);
    assert.equal((await new Promise<Buffer>((r) => t.once("data", r))).toString(), "hi");
    t.destroy();
    await until(() => reused.length % 2 === 0 && reused.length > 0, 5000, "server callback");
    assert.equal(reused.at(-1), true, "Node's server resumed the session");
  }
});

test("resume 1.2: openssl s_server -tls1_2 resumes the ticket and data flows", { skip: !hasBinary("openssl") && "openssl not installed" }, async () => {
  const peer: Peer = await startPeer("openssl", ["s_server", "-accept", "127.0.0.1:{port}", "-cert", pki.leafRsa.certPath, "-key", pki.leafRsa.keyPath, "-tls1_2"]);
  cleanups.push(() => peer.stop());
  const session = await firstTicket(peer.port);
  const t = await connect(peer.port, { resume: session });
  assert.equal(t.isSessionReused(), true);
  t.write("after-resume\n");
  await until(() => Buffer.concat(peer.stdout).includes("after-resume"), 10000, "s_server to read");
  assert.match(Buffer.concat(peer.stdout).toString(), /Reused session-id/);
  t.destroy();
});
