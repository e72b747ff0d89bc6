/**
 * A scripted TLS 1.2 *server* for masq's client tests (RFC 5246, ECDHE key exchange only): a
 * sans-I/O core plus a loopback wrapper. Every step can be mutated (ServerHello, the first flight,
 * the signature, Finished, records), and it can ask for renegotiation. Built on masq's own PRF and
 * record protection with the directions swapped; the real-server interop tests pin those down.
 */
import net from "node:net";
import { createPrivateKey, randomBytes, sign, constants as cc, X509Certificate, type KeyObject } from "node:crypto";
import { ContentType, ExtensionType, HandshakeType, NamedGroup } from "../../../src/tls/constants.js";
import { createKeyShare } from "../../../src/tls/key-exchange.js";
import { Transcript } from "../../../src/tls/key-schedule.js";
import { finished12, keyBlock12, masterSecret12 } from "../../../src/tls/prf.js";
import { TlsReader, handshakeMessage, u16, withLength } from "../../../src/tls/reader.js";
import { Aead12Opener, Aead12Sealer } from "../../../src/tls/record12.js";
import { CbcOpener, CbcSealer } from "../../../src/tls/cbc.js";
import { RecordReader, plaintextRecord, type RecordOpener, type RecordSealer } from "../../../src/tls/record.js";
import { suite12Info, type Suite12 } from "../../../src/tls/suites12.js";
import { parseClientHello, type ParsedClientHello } from "./fake-server.js";

export interface Fake12Options {
  /** Leaf first, PEM. */
  chain: string[];
  key: string;
  /** TLS 1.2 ECDHE suite (default TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256). */
  suite?: number;
  /** ECDHE group in ServerKeyExchange (default X25519). */
  group?: number;
  /** Named group id written into ServerKeyExchange instead of `group` (the point stays `group`'s). */
  advertiseGroup?: number;
  /** ServerHello.random (e.g. with a downgrade sentinel). */
  random?: Buffer;
  /** Signature scheme (default: ECDSA-SHA256 for EC keys, RSA-PSS-SHA256 for RSA). */
  scheme?: number;
  /** Corrupt the ServerKeyExchange signature. */
  badSignature?: boolean;
  /** Flip a bit of the server Finished's verify_data. */
  badFinished?: boolean;
  /** Flip a bit of the protected Finished record (its tag / MAC). */
  badFinishedRecord?: boolean;
  /** Send a NewSessionTicket with this ticket (when the client offered session_ticket). */
  ticket?: Buffer;
  /** Acknowledge session_ticket in ServerHello but never send the NewSessionTicket. */
  skipTicket?: boolean;
  /** Answer extended_master_secret when offered (default true). */
  ems?: boolean;
  /**
   * Resume (abbreviated handshake) when the ClientHello carries `resume.ticket`: echo the session
   * id, use `masterSecret`; `ems` (default: as offered) and `suite` (default: the option's) may be
   * set to test a misbehaving server.
   */
  resume?: { ticket: Buffer; masterSecret: Buffer; ems?: boolean };
  /** Staple this OCSP response (CertificateStatus, RFC 6066 §8) when status_request was offered. */
  ocsp?: Buffer;
  /** Send CertificateStatus even without the client's status_request (a protocol error). */
  ocspUnasked?: boolean;
  /** Answer signed_certificate_timestamp with this SignedCertificateTimestampList (RFC 6962 §3.3). */
  sct?: Buffer;
  /** Replace the ServerHello body. */
  mutateServerHello?: (body: Buffer) => Buffer;
  /** Rewrite the first flight's handshake messages [ServerHello, Certificate, (CertificateStatus), ServerKeyExchange, ServerHelloDone]. */
  mutateFlight?: (messages: Buffer[]) => Buffer[];
  /** After the handshake: records to send 100 ms later (built with the server's sealer). */
  afterHandshake?: (seal: (type: number, data: Buffer) => Buffer) => Buffer[];
  /** Send the `afterHandshake` records in the same write as the Finished. */
  afterHandshakeAtOnce?: boolean;
}

type Phase = "hello" | "client-flight" | "resumed" | "done" | "failed";

/** The server side of one connection, in memory: feed client bytes, take the answer. */
export class Fake12Core {
  readonly #o: Fake12Options;
  readonly #reader = new RecordReader();
  readonly #transcript = new Transcript();
  readonly #suite: Suite12;
  #phase: Phase = "hello";
  #out: Buffer[] = [];
  #hs: Buffer = Buffer.alloc(0);
  #hello: ParsedClientHello | undefined;
  #serverRandom: Buffer = Buffer.alloc(0);
  #share: ReturnType<typeof createKeyShare> | undefined;
  #ems = false;
  #opener: RecordOpener | undefined;
  #sealer: RecordSealer | undefined;
  #pendingSealer: RecordSealer | undefined;
  #pendingOpener: RecordOpener | undefined;
  #masterSecret: Buffer = Buffer.alloc(0);
  /** Alerts the client sent: [level, description]. */
  readonly clientAlerts: Array<[number, number]> = [];
  /** Application data the client sent. */
  readonly received: Buffer[] = [];

  constructor(o: Fake12Options) {
    this.#o = o;
    const s = suite12Info(o.suite ?? 0xc02b);
    if (!s || s.kx !== "ecdhe") throw new Error("fake 1.2 server: ECDHE suites only");
    this.#suite = s;
  }

  get clientHello(): ParsedClientHello | undefined {
    return this.#hello;
  }

  /** Whatever the server wants to send now. */
  take(): Buffer {
    return Buffer.concat(this.#out.splice(0));
  }

  /** What the server sends a little later (after the handshake). */
  takeLater(): Buffer {
    return Buffer.concat(this.#later.splice(0));
  }
  #later: Buffer[] = [];

  /** Seal application data for the client (after the handshake). */
  seal(type: number, data: Buffer): Buffer {
    if (!this.#sealer) throw new Error("not connected");
    return this.#sealer.seal(type, data);
  }

  receive(bytes: Buffer): void {
    this.#reader.push(bytes);
    for (let rec = this.#reader.next(); rec; rec = this.#reader.next()) {
      let { type } = rec;
      let data: Buffer = rec.fragment;
      if (type === ContentType.CHANGE_CIPHER_SPEC) {
        if (!this.#pendingOpener) throw new Error("client CCS before ClientKeyExchange");
        this.#opener = this.#pendingOpener;
        continue;
      }
      if (this.#opener) ({ type, data } = this.#opener.open(rec.header, rec.fragment));
      if (type === ContentType.ALERT) {
        this.clientAlerts.push([data[0]!, data[1]!]);
        continue;
      }
      if (type === ContentType.APPLICATION_DATA) {
        this.received.push(Buffer.from(data));
        continue;
      }
      this.#hs = Buffer.concat([this.#hs, data]);
      while (this.#hs.length >= 4 && this.#hs.length >= 4 + this.#hs.readUIntBE(1, 3)) {
        const len = this.#hs.readUIntBE(1, 3);
        const msg = this.#hs.subarray(0, 4 + len);
        this.#hs = this.#hs.subarray(4 + len);
        this.#onMessage(msg);
      }
    }
  }


  #onMessage(msg: Buffer): void {
    const type = msg[0]!;
    if (type === HandshakeType.CLIENT_HELLO && this.#phase === "hello") return this.#onClientHello(msg);
    if (type === HandshakeType.CERTIFICATE && this.#phase === "client-flight") {
      this.#transcript.add(msg);
      return;
    }
    if (type === HandshakeType.CLIENT_KEY_EXCHANGE && this.#phase === "client-flight") return this.#onClientKeyExchange(msg);
    if (type === HandshakeType.FINISHED && this.#phase === "client-flight") return this.#onClientFinished(msg);
    if (type === HandshakeType.FINISHED && this.#phase === "resumed") {
      const expected = finished12(this.#suite.hash, this.#masterSecret, "client finished", this.#transcript.digest());
      if (!msg.subarray(4).equals(expected)) throw new Error("fake 1.2 server: client Finished (resumed) does not verify");
      this.resumedHandshakes++;
      this.#phase = "done";
      if (this.#o.afterHandshake) this.#later.push(...this.#o.afterHandshake((t, d) => this.#sealer!.seal(t, d)));
      return;
    }
    throw new Error(`fake 1.2 server: unexpected message ${type} in ${this.#phase}`);
  }

  #onClientHello(msg: Buffer): void {
    const hello = parseClientHello(msg);
    this.#hello = hello;
    this.#transcript.start(this.#suite.hash);
    this.#transcript.add(msg);
    const o = this.#o;
    this.#serverRandom = o.random ?? Buffer.concat([randomBytes(24), Buffer.alloc(8, 0x11)]);
    const exts: Buffer[] = [];
    const ext = (t: number, d: Buffer): void => void exts.push(Buffer.concat([u16(t), withLength(2, d)]));
    if (hello.extensions.includes(ExtensionType.RENEGOTIATION_INFO)) ext(ExtensionType.RENEGOTIATION_INFO, Buffer.of(0));
    this.#ems = (o.ems ?? true) && hello.extensions.includes(ExtensionType.EXTENDED_MASTER_SECRET);
    if (this.#ems) ext(ExtensionType.EXTENDED_MASTER_SECRET, Buffer.alloc(0));
    if (hello.extensions.includes(ExtensionType.EC_POINT_FORMATS)) ext(ExtensionType.EC_POINT_FORMATS, Buffer.of(1, 0));
    const ticket = o.ticket && hello.extensions.includes(ExtensionType.SESSION_TICKET);
    if (ticket) ext(ExtensionType.SESSION_TICKET, Buffer.alloc(0));
    if (o.resume && msg.includes(o.resume.ticket)) return this.#resume(hello, o.resume, exts);
    const staple = o.ocsp && (o.ocspUnasked || hello.extensions.includes(ExtensionType.STATUS_REQUEST));
    if (staple && !o.ocspUnasked) ext(ExtensionType.STATUS_REQUEST, Buffer.alloc(0));
    if (o.sct && hello.extensions.includes(ExtensionType.SCT)) ext(ExtensionType.SCT, o.sct);
    let shBody: Buffer = Buffer.concat([u16(0x0303), this.#serverRandom, withLength(1, randomBytes(32)), u16(this.#suite.id), Buffer.of(0), withLength(2, ...exts)]);
    if (o.mutateServerHello) shBody = o.mutateServerHello(shBody);
    const sh = handshakeMessage(HandshakeType.SERVER_HELLO, shBody);
    const cert = handshakeMessage(
      HandshakeType.CERTIFICATE,
      withLength(3, ...o.chain.map((pem) => withLength(3, new X509Certificate(pem).raw))),
    );
    const group = o.group ?? NamedGroup.X25519;
    this.#share = createKeyShare(group);
    const params = Buffer.concat([Buffer.of(3), u16(o.advertiseGroup ?? group), withLength(1, this.#share.key)]);
    const key = createPrivateKey(o.key);
    const scheme = o.scheme ?? (key.asymmetricKeyType === "ec" ? 0x0403 : 0x0804);
    let sig = signParams(key, scheme, Buffer.concat([hello.random, this.#serverRandom, params]));
    if (o.badSignature) {
      sig = Buffer.from(sig);
      sig[sig.length - 5]! ^= 0x10;
    }
    const ske = handshakeMessage(HandshakeType.SERVER_KEY_EXCHANGE, Buffer.concat([params, u16(scheme), withLength(2, sig)]));
    const shd = handshakeMessage(HandshakeType.SERVER_HELLO_DONE, Buffer.alloc(0));
    const status = staple ? [handshakeMessage(HandshakeType.CERTIFICATE_STATUS, Buffer.concat([Buffer.of(1), withLength(3, o.ocsp!)]))] : [];
    let flight = [sh, cert, ...status, ske, shd];
    // The transcript keeps what the server meant to send: a mutated flight cannot finish.
    for (const m of flight) this.#transcript.add(m);
    if (o.mutateFlight) flight = o.mutateFlight(flight);
    this.#out.push(plaintextRecord(ContentType.HANDSHAKE, Buffer.concat(flight)));
    this.#phase = "client-flight";
  }

  /** The abbreviated handshake (RFC 5246 §7.3 figure 2): ServerHello, [NewSessionTicket], CCS, Finished. */
  #resume(hello: ParsedClientHello, resume: NonNullable<Fake12Options["resume"]>, exts: Buffer[]): void {
    const o = this.#o;
    const emsOffered = hello.extensions.includes(ExtensionType.EXTENDED_MASTER_SECRET);
    const emsNow = resume.ems ?? emsOffered;
    const list = exts.filter((e) => e.readUInt16BE(0) !== ExtensionType.EXTENDED_MASTER_SECRET);
    if (emsNow) list.push(Buffer.concat([u16(ExtensionType.EXTENDED_MASTER_SECRET), u16(0)]));
    const sh = handshakeMessage(
      HandshakeType.SERVER_HELLO,
      Buffer.concat([u16(0x0303), this.#serverRandom, withLength(1, hello.sessionId), u16(this.#suite.id), Buffer.of(0), withLength(2, ...list)]),
    );
    this.#transcript.add(sh);
    this.#masterSecret = resume.masterSecret;
    this.#installKeys(hello);
    const out = [plaintextRecord(ContentType.HANDSHAKE, sh)];
    if (o.ticket && hello.extensions.includes(ExtensionType.SESSION_TICKET)) {
      const nst = handshakeMessage(HandshakeType.NEW_SESSION_TICKET, Buffer.concat([Buffer.from([0, 0, 0x1c, 0x20]), withLength(2, o.ticket)]));
      this.#transcript.add(nst);
      out.push(plaintextRecord(ContentType.HANDSHAKE, nst));
    }
    out.push(plaintextRecord(ContentType.CHANGE_CIPHER_SPEC, Buffer.of(1)));
    const fin = handshakeMessage(HandshakeType.FINISHED, finished12(this.#suite.hash, this.#masterSecret, "server finished", this.#transcript.digest()));
    this.#transcript.add(fin);
    this.#sealer = this.#pendingSealer!;
    out.push(this.#sealer.seal(ContentType.HANDSHAKE, fin));
    this.#out.push(...out);
    this.#phase = "resumed";
  }

  #installKeys(hello: ParsedClientHello): void {
    const c = this.#suite.cipher;
    const k = keyBlock12(this.#suite.hash, this.#masterSecret, hello.random, this.#serverRandom, {
      mac: c.kind === "cbc" ? c.macLength : 0,
      key: c.keyLength,
      iv: c.fixedIvLength,
    });
    if (c.kind === "cbc") {
      this.#pendingOpener = new CbcOpener(c, k.clientKey, k.clientMac);
      this.#pendingSealer = new CbcSealer(c, k.serverKey, k.serverMac);
    } else {
      this.#pendingOpener = new Aead12Opener(c, k.clientKey, k.clientIv);
      this.#pendingSealer = new Aead12Sealer(c, k.serverKey, k.serverIv);
    }
  }

  /** Number of abbreviated handshakes completed. */
  resumedHandshakes = 0;

  #onClientKeyExchange(msg: Buffer): void {
    const r = new TlsReader(msg, 4);
    const point = r.vec(1);
    const premaster = this.#share!.complete(point);
    this.#transcript.add(msg);
    const hello = this.#hello!;
    this.#masterSecret = this.#ems
      ? masterSecret12(this.#suite.hash, premaster, { ems: true, sessionHash: this.#transcript.digest() })
      : masterSecret12(this.#suite.hash, premaster, { ems: false, clientRandom: hello.random, serverRandom: this.#serverRandom });
    this.#installKeys(hello);
  }

  #onClientFinished(msg: Buffer): void {
    const expected = finished12(this.#suite.hash, this.#masterSecret, "client finished", this.#transcript.digest());
    if (!msg.subarray(4).equals(expected)) throw new Error("fake 1.2 server: client Finished does not verify");
    this.#transcript.add(msg);
    const o = this.#o;
    const out: Buffer[] = [];
    if (o.ticket && !o.skipTicket && this.#hello!.extensions.includes(ExtensionType.SESSION_TICKET)) {
      const nst = handshakeMessage(HandshakeType.NEW_SESSION_TICKET, Buffer.concat([Buffer.from([0, 0, 0x1c, 0x20]), withLength(2, o.ticket)]));
      this.#transcript.add(nst);
      out.push(plaintextRecord(ContentType.HANDSHAKE, nst));
    }
    out.push(plaintextRecord(ContentType.CHANGE_CIPHER_SPEC, Buffer.of(1)));
    const verify = finished12(this.#suite.hash, this.#masterSecret, "server finished", this.#transcript.digest());
    if (o.badFinished) verify[0]! ^= 1;
    const sealer = this.#pendingSealer!;
    this.#sealer = sealer;
    let fin = sealer.seal(ContentType.HANDSHAKE, handshakeMessage(HandshakeType.FINISHED, verify));
    if (o.badFinishedRecord) {
      fin = Buffer.from(fin);
      fin[fin.length - 1]! ^= 1;
    }
    out.push(fin);
    if (o.afterHandshake) (o.afterHandshakeAtOnce ? out : this.#later).push(...o.afterHandshake((t, d) => sealer.seal(t, d)));
    this.#out.push(...out);
    this.#phase = "done";
  }
}

function signParams(key: KeyObject, scheme: number, data: Buffer): Buffer {
  if ((scheme & 0xff00) === 0x0800) {
    const hash = scheme === 0x0804 ? "sha256" : scheme === 0x0805 ? "sha384" : "sha512";
    return sign(hash, data, { key, padding: cc.RSA_PKCS1_PSS_PADDING, saltLength: hash === "sha256" ? 32 : hash === "sha384" ? 48 : 64 });
  }
  const hash = { 2: "sha1", 4: "sha256", 5: "sha384", 6: "sha512" }[scheme >> 8] ?? "sha256";
  if ((scheme & 0xff) === 1) return sign(hash, data, { key, padding: cc.RSA_PKCS1_PADDING });
  return sign(hash, data, { key, dsaEncoding: "der" });
}

export interface Fake12Server {
  port: number;
  cores: Fake12Core[];
  close(): Promise<void>;
}

/** The core on a loopback port: one core per connection; a core error closes that connection. */
export async function startFake12Server(o: Fake12Options): Promise<Fake12Server> {
  const cores: Fake12Core[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    const core = new Fake12Core(o);
    cores.push(core);
    s.on("data", (d: Buffer) => {
      try {
        core.receive(d);
        const out = core.take();
        if (out.length > 0) s.write(out);
        const later = core.takeLater();
        if (later.length > 0) setTimeout(() => s.destroyed || s.write(later), 100);
      } catch {
        s.destroy();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    cores,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
