/**
 * A scripted TLS 1.3 *server* for masq's client tests: sans-I/O core plus a loopback wrapper.
 * It speaks just enough TLS 1.3 (RFC 8446) to complete a handshake with masq's engine, and every
 * step can be mutated: the ServerHello, each handshake message, the records, the order. Built on
 * masq's own key schedule and record layer (which the RFC 8448 vectors pin down independently).
 */
import net from "node:net";
import { X509Certificate, createPrivateKey, randomBytes, sign, constants as cc, type KeyObject } from "node:crypto";
import { brotliCompressSync, deflateSync } from "node:zlib";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { ContentType, HRR_RANDOM, NamedGroup } from "../../../src/tls/constants.js";
import { createKeyShare } from "../../../src/tls/key-exchange.js";
import { KeySchedule, Transcript, finishedVerifyData, nextTrafficSecret, suiteInfo, type SuiteInfo } from "../../../src/tls/key-schedule.js";
import { TlsReader, handshakeMessage, u16, withLength } from "../../../src/tls/reader.js";
import { RecordDecryptor, RecordEncryptor, RecordReader, plaintextRecord } from "../../../src/tls/record.js";
import { certificateVerifyContent } from "../../../src/tls/certificate.js";

export interface ParsedClientHello {
  raw: Buffer;
  random: Buffer;
  sessionId: Buffer;
  suites: number[];
  shares: Map<number, Buffer>;
  groups: number[];
  sigAlgs: number[];
  alpn: string[];
  cookie: Buffer | undefined;
  extensions: number[];
}

export function parseClientHello(raw: Buffer): ParsedClientHello {
  const r = new TlsReader(raw, 4);
  r.u16();
  const random = r.bytes(32);
  const sessionId = Buffer.from(r.vec(1));
  const sr = r.sub(2);
  const suites: number[] = [];
  while (sr.remaining) suites.push(sr.u16());
  r.vec(1);
  const out: ParsedClientHello = { raw, random, sessionId, suites, shares: new Map(), groups: [], sigAlgs: [], alpn: [], cookie: undefined, extensions: [] };
  const er = r.sub(2);
  while (er.remaining) {
    const t = er.u16();
    const d = er.sub(2);
    out.extensions.push(t);
    if (t === 51) {
      const l = d.sub(2);
      while (l.remaining) {
        const g = l.u16();
        out.shares.set(g, Buffer.from(l.vec(2)));
      }
    } else if (t === 10) {
      const l = d.sub(2);
      while (l.remaining) out.groups.push(l.u16());
    } else if (t === 13) {
      const l = d.sub(2);
      while (l.remaining) out.sigAlgs.push(l.u16());
    } else if (t === 16) {
      const l = d.sub(2);
      while (l.remaining) out.alpn.push(l.vec(1).toString("latin1"));
    } else if (t === 44) {
      out.cookie = Buffer.from(d.vec(2));
    }
  }
  return out;
}

function ext(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), withLength(2, data)]);
}

export interface FakeServerOptions {
  /** Leaf first, PEM. */
  chain: string[];
  key: string;
  suite?: number;
  /** Group to use; when the client sent no share for it, a HelloRetryRequest asks for it. */
  group?: number;
  /** Force an HRR with a cookie (and ask for `group`). */
  hrrCookie?: Buffer;
  alpn?: string;
  /** Send the certificate as CompressedCertificate (RFC 8879). */
  compress?: "brotli" | "zlib";
  /** ServerHello body (after the server built it) -> what to send. Keys are derived from the result. */
  mutateServerHello?: (body: Buffer) => Buffer;
  /** Replace the ServerHello random (e.g. with a downgrade sentinel). */
  random?: Buffer;
  /** The encrypted flight [EE, Certificate, CertificateVerify, Finished] (raw messages) -> what to send. */
  mutateFlight?: (msgs: Buffer[]) => Buffer[];
  /** Flip a bit in the CertificateVerify signature (signature computed correctly first). */
  badSignature?: boolean;
  /** Split the encrypted flight into one record per message. */
  recordPerMessage?: boolean;
  /** Raw bytes to send instead of the encrypted flight (after the ServerHello). */
  rawAfterServerHello?: (enc: RecordEncryptor) => Buffer[];
  /** Extra EncryptedExtensions entries (type, data). */
  extraEE?: Array<[number, Buffer]>;
  /** After the handshake: what to send once the client Finished arrived. */
  afterHandshake?: (api: { send(type: number, data: Buffer): void; keyUpdate(requested: boolean): void; raw(b: Buffer): void }) => void;
  /** Echo application data (default true). */
  echo?: boolean;
  /** Answer the first application data with a small HTTP/1.1 200 response instead of echoing. */
  http?: boolean;
}

/** Sans-I/O fake server: feed client bytes, collect what it wants to send. */
export class FakeServerCore {
  readonly o: FakeServerOptions;
  out: Buffer[] = [];
  readonly reader = new RecordReader();
  hello: ParsedClientHello | undefined;
  clientAlerts: number[] = [];
  appData: Buffer[] = [];
  clientKeyUpdates = 0;
  httpAnswered = false;
  /** Largest application-data plaintext the client put in one record. */
  maxClientRecord = 0;
  done = false;
  #hs = Buffer.alloc(0);
  #transcript = new Transcript();
  #suite: SuiteInfo;
  #schedule: KeySchedule | undefined;
  #enc: RecordEncryptor | undefined;
  #dec: RecordDecryptor | undefined;
  #hrrSent = false;
  #expectFinished = false;
  #key: KeyObject;

  constructor(o: FakeServerOptions) {
    this.o = o;
    this.#suite = suiteInfo(o.suite ?? 0x1301)!;
    this.#key = createPrivateKey(o.key);
  }

  take(): Buffer {
    const b = Buffer.concat(this.out);
    this.out = [];
    return b;
  }

  receive(chunk: Buffer): void {
    this.reader.push(chunk);
    for (let rec = this.reader.next(); rec; rec = this.reader.next()) {
      if (rec.type === ContentType.CHANGE_CIPHER_SPEC) continue;
      if (rec.type === ContentType.ALERT) {
        this.clientAlerts.push(rec.fragment[1]!);
        continue;
      }
      let type = rec.type;
      let data = rec.fragment;
      if (this.#dec && rec.type === ContentType.APPLICATION_DATA) {
        const opened = this.#dec.open(rec.header, rec.fragment);
        type = opened.type;
        data = opened.data;
      }
      if (type === ContentType.ALERT) {
        this.clientAlerts.push(data[1]!);
        continue;
      }
      if (type === ContentType.APPLICATION_DATA) {
        this.maxClientRecord = Math.max(this.maxClientRecord, data.length);
        this.appData.push(data);
        if (this.o.http && this.#enc) {
          if (Buffer.concat(this.appData).includes("\r\n\r\n") && !this.httpAnswered) {
            this.httpAnswered = true;
            this.#sendApp(Buffer.from("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 7\r\nconnection: close\r\n\r\nfake-ok"));
          }
        } else if (this.o.echo !== false && this.#enc) this.#sendApp(data);
        continue;
      }
      if (type === ContentType.HANDSHAKE) {
        this.#hs = Buffer.concat([this.#hs, data]);
        while (this.#hs.length >= 4 && this.#hs.length >= 4 + this.#hs.readUIntBE(1, 3)) {
          const len = this.#hs.readUIntBE(1, 3);
          const msg = this.#hs.subarray(0, 4 + len);
          this.#hs = this.#hs.subarray(4 + len);
          this.#onMessage(msg);
        }
      }
    }
  }

  #sendApp(data: Buffer): void {
    for (let o = 0; o < data.length || o === 0; o += 1 << 14) {
      this.out.push(this.#enc!.seal(ContentType.APPLICATION_DATA, data.subarray(o, o + (1 << 14))));
      if (data.length === 0) break;
    }
  }

  #onMessage(msg: Buffer): void {
    if (msg[0] === 1) return this.#onClientHello(msg);
    if (msg[0] === 20 && this.#expectFinished) {
      const expected = finishedVerifyData(this.#suite, this.#schedule!.clientHandshakeTrafficSecret!, this.#transcript.digest());
      if (!expected.equals(msg.subarray(4))) throw new Error("fake server: bad client Finished");
      this.#transcript.add(msg);
      this.#expectFinished = false;
      this.#dec = new RecordDecryptor(this.#suite, this.#schedule!.clientApplicationTrafficSecret!);
      this.done = true;
      this.o.afterHandshake?.({
        send: (type, data) => this.out.push(this.#enc!.seal(type, data)),
        keyUpdate: (requested) => {
          this.out.push(this.#enc!.seal(ContentType.HANDSHAKE, handshakeMessage(24, Buffer.of(requested ? 1 : 0))));
          this.#enc = new RecordEncryptor(this.#suite, nextTrafficSecret(this.#suite, this.#enc!.secret));
        },
        raw: (b) => this.out.push(b),
      });
      return;
    }
    if (msg[0] === 24) {
      this.clientKeyUpdates++;
      this.#dec = new RecordDecryptor(this.#suite, nextTrafficSecret(this.#suite, this.#dec!.secret));
      return;
    }
    if (msg[0] === 11 || msg[0] === 20) return; // client certificate/finished in odd states: ignore
    throw new Error(`fake server: unexpected message ${msg[0]}`);
  }

  #onClientHello(msg: Buffer): void {
    const ch = parseClientHello(msg);
    this.hello = ch;
    const group = this.o.group ?? NamedGroup.X25519;
    const needHrr = !this.#hrrSent && (!ch.shares.has(group) || this.o.hrrCookie !== undefined);
    this.#transcript.add(msg);
    if (needHrr) {
      this.#hrrSent = true;
      this.#transcript.replaceWithMessageHash(this.#suite.hash);
      const exts = [ext(43, u16(0x0304))];
      if (!ch.shares.has(group)) exts.push(ext(51, u16(group)));
      if (this.o.hrrCookie) exts.push(ext(44, withLength(2, this.o.hrrCookie)));
      const body = Buffer.concat([u16(0x0303), HRR_RANDOM, withLength(1, ch.sessionId), u16(this.#suite.id), Buffer.of(0), withLength(2, ...exts)]);
      const hrr = handshakeMessage(2, body);
      this.#transcript.add(hrr);
      this.out.push(plaintextRecord(ContentType.HANDSHAKE, hrr));
      return;
    }
    if (this.#hrrSent) this.#transcript.start(this.#suite.hash);
    const clientShare = ch.shares.get(group);
    if (!clientShare) throw new Error("fake server: no client share for the group");
    let serverKey: Buffer;
    let shared: Buffer;
    if (group === NamedGroup.X25519MLKEM768) {
      const { cipherText, sharedSecret } = ml_kem768.encapsulate(new Uint8Array(clientShare.subarray(0, 1184)));
      const x = createKeyShare(NamedGroup.X25519);
      serverKey = Buffer.concat([Buffer.from(cipherText), x.key]);
      shared = Buffer.concat([Buffer.from(sharedSecret), x.complete(clientShare.subarray(1184))]);
    } else {
      const s = createKeyShare(group);
      serverKey = s.key;
      shared = s.complete(clientShare);
    }
    const exts = [ext(43, u16(0x0304)), ext(51, Buffer.concat([u16(group), withLength(2, serverKey)]))];
    let body: Buffer = Buffer.concat([u16(0x0303), this.o.random ?? randomBytes(32), withLength(1, ch.sessionId), u16(this.#suite.id), Buffer.of(0), withLength(2, ...exts)]);
    if (this.o.mutateServerHello) body = this.o.mutateServerHello(body);
    const sh = handshakeMessage(2, body);
    this.#transcript.start(this.#suite.hash);
    this.#transcript.add(sh);
    this.out.push(plaintextRecord(ContentType.HANDSHAKE, sh));
    const schedule = new KeySchedule(this.#suite);
    schedule.handshake(shared, this.#transcript.digest());
    this.#schedule = schedule;
    this.#enc = new RecordEncryptor(this.#suite, schedule.serverHandshakeTrafficSecret!);
    this.#dec = new RecordDecryptor(this.#suite, schedule.clientHandshakeTrafficSecret!);
    if (this.o.rawAfterServerHello) {
      this.out.push(...this.o.rawAfterServerHello(this.#enc));
      return;
    }
    this.out.push(plaintextRecord(ContentType.CHANGE_CIPHER_SPEC, Buffer.of(1)));
    // EncryptedExtensions
    const ee: Buffer[] = [];
    if (this.o.alpn) ee.push(ext(16, withLength(2, withLength(1, Buffer.from(this.o.alpn)))));
    for (const [t, d] of this.o.extraEE ?? []) ee.push(ext(t, d));
    const msgs: Buffer[] = [];
    const add = (m: Buffer): void => {
      msgs.push(m);
      this.#transcript.add(m);
    };
    add(handshakeMessage(8, withLength(2, ...ee)));
    // Certificate / CompressedCertificate
    const entries = this.o.chain.map((pem) => Buffer.concat([withLength(3, new X509Certificate(pem).raw), u16(0)]));
    const certBody = Buffer.concat([Buffer.of(0), withLength(3, ...entries)]);
    if (this.o.compress) {
      const comp = this.o.compress === "brotli" ? brotliCompressSync(certBody) : deflateSync(certBody);
      const lenBuf = Buffer.alloc(3);
      lenBuf.writeUIntBE(certBody.length, 0, 3);
      add(handshakeMessage(25, Buffer.concat([u16(this.o.compress === "brotli" ? 2 : 1), lenBuf, withLength(3, comp)])));
    } else add(handshakeMessage(11, certBody));
    // CertificateVerify
    const content = certificateVerifyContent(this.#transcript.digest());
    const { scheme, sig } = this.#sign(content);
    if (this.o.badSignature) sig[sig.length - 3]! ^= 1;
    add(handshakeMessage(15, Buffer.concat([u16(scheme), withLength(2, sig)])));
    add(handshakeMessage(20, finishedVerifyData(this.#suite, schedule.serverHandshakeTrafficSecret!, this.#transcript.digest())));
    schedule.application(this.#transcript.digest());
    const sent = this.o.mutateFlight ? this.o.mutateFlight(msgs) : msgs;
    if (this.o.recordPerMessage) for (const m of sent) this.out.push(this.#enc.seal(ContentType.HANDSHAKE, m));
    else this.out.push(this.#enc.seal(ContentType.HANDSHAKE, Buffer.concat(sent)));
    this.#enc = new RecordEncryptor(this.#suite, schedule.serverApplicationTrafficSecret!);
    this.#expectFinished = true;
  }

  #sign(content: Buffer): { scheme: number; sig: Buffer } {
    const k = this.#key;
    const t = k.asymmetricKeyType;
    if (t === "ed25519") return { scheme: 0x0807, sig: sign(null, content, k) };
    if (t === "rsa") return { scheme: 0x0804, sig: sign("sha256", content, { key: k, padding: cc.RSA_PKCS1_PSS_PADDING, saltLength: 32 }) };
    const curve = k.asymmetricKeyDetails?.namedCurve;
    if (curve === "secp384r1") return { scheme: 0x0503, sig: sign("sha384", content, k) };
    return { scheme: 0x0403, sig: sign("sha256", content, k) };
  }
}

export interface FakeServer {
  port: number;
  cores: FakeServerCore[];
  close(): Promise<void>;
}

/** Loopback wrapper: one FakeServerCore per connection. */
export async function startFakeServer(o: FakeServerOptions): Promise<FakeServer> {
  const cores: FakeServerCore[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    const core = new FakeServerCore(o);
    cores.push(core);
    s.on("data", (c: Buffer) => {
      try {
        core.receive(c);
      } catch {
        s.destroy();
        return;
      }
      const out = core.take();
      if (out.length) s.write(out);
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
