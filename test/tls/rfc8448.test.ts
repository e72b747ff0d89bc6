import { test } from "node:test";
import assert from "node:assert/strict";
import { TlsError } from "../../src/errors.js";
import { TlsClientEngine, type HelloBuilder } from "../../src/tls/engine.js";
import { createKeyShare } from "../../src/tls/key-exchange.js";
import { KeySchedule, hkdfExpandLabel, suiteInfo, trafficKeys } from "../../src/tls/key-schedule.js";
import { NamedGroup } from "../../src/tls/constants.js";
import { createHash } from "node:crypto";
import { RFC8448, hex } from "./helpers/rfc8448.js";

/** Replays the RFC's ClientHello bytes (we build different ones; the engine does not care). */
const rfcHello: HelloBuilder = {
  keyShareGroups: [NamedGroup.X25519],
  recordVersion: 0x0301,
  build: () => hex(RFC8448.clientHello),
};

function engine(opts: { verify?: () => void } = {}) {
  const sent: Buffer[] = [];
  const data: Buffer[] = [];
  let connected = false;
  let closed = false;
  const e = new TlsClientEngine(
    {
      hello: rfcHello,
      verifyChain: opts.verify ?? (() => {}),
      keyShare: (g) => createKeyShare(g, { privateKey: hex(RFC8448.clientPrivateKey) }),
    },
    {
      send: (b) => sent.push(b),
      data: (b) => data.push(b),
      connected: () => (connected = true),
      closed: () => (closed = true),
    },
  );
  return { e, sent, data, state: () => ({ connected, closed }) };
}

test("RFC 8448 §3: X25519 share and shared secret", () => {
  const share = createKeyShare(NamedGroup.X25519, { privateKey: hex(RFC8448.clientPrivateKey) });
  assert.equal(share.key.toString("hex"), RFC8448.clientPublicKey);
  assert.equal(share.complete(hex(RFC8448.serverPublicKey)).toString("hex"), RFC8448.sharedSecret);
});

test("RFC 8448 §3: key schedule secrets and traffic keys", () => {
  const suite = suiteInfo(0x1301)!;
  const ks = new KeySchedule(suite);
  const chsh = createHash("sha256").update(hex(RFC8448.clientHello)).update(hex(RFC8448.serverHelloRecord).subarray(5)).digest();
  ks.handshake(hex(RFC8448.sharedSecret), chsh);
  assert.equal(ks.clientHandshakeTrafficSecret!.toString("hex"), RFC8448.clientHsTrafficSecret);
  assert.equal(ks.serverHandshakeTrafficSecret!.toString("hex"), RFC8448.serverHsTrafficSecret);
  const s = trafficKeys(suite, ks.serverHandshakeTrafficSecret!);
  assert.equal(s.key.toString("hex"), RFC8448.serverHsKey);
  assert.equal(s.iv.toString("hex"), RFC8448.serverHsIv);
  const c = trafficKeys(suite, ks.clientHandshakeTrafficSecret!);
  assert.equal(c.key.toString("hex"), RFC8448.clientHsKey);
  assert.equal(c.iv.toString("hex"), RFC8448.clientHsIv);
  // HKDF-Expand-Label with an empty context, as the RFC's "finished" key derivation uses.
  assert.equal(
    hkdfExpandLabel("sha256", ks.serverHandshakeTrafficSecret!, "finished", Buffer.alloc(0), 32).toString("hex"),
    "008d3b66f816ea559f96b537e885c31fc068bf492c652f01f288a1d8cdc19fc8",
  );
});

test("RFC 8448 §3: the engine completes the handshake byte for byte", () => {
  let chainSeen = 0;
  const { e, sent, data, state } = engine({ verify: () => void chainSeen++ });
  e.start();
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.subarray(5).toString("hex"), RFC8448.clientHello);
  sent.length = 0;
  e.receive(hex(RFC8448.serverHelloRecord));
  const sch = e.secrets.schedule!;
  assert.equal(sch.clientHandshakeTrafficSecret!.toString("hex"), RFC8448.clientHsTrafficSecret);
  assert.equal(sch.serverHandshakeTrafficSecret!.toString("hex"), RFC8448.serverHsTrafficSecret);
  assert.equal(state().connected, false);
  e.receive(hex(RFC8448.serverFlightRecord));
  assert.equal(chainSeen, 1);
  assert.equal(state().connected, true);
  assert.equal(sch.masterSecret!.toString("hex"), RFC8448.masterSecret);
  assert.equal(sch.clientApplicationTrafficSecret!.toString("hex"), RFC8448.clientApTrafficSecret);
  assert.equal(sch.serverApplicationTrafficSecret!.toString("hex"), RFC8448.serverApTrafficSecret);
  assert.equal(sch.exporterMasterSecret!.toString("hex"), RFC8448.exporterMasterSecret);
  // No CCS (the RFC's hello has an empty session id): exactly the client Finished record.
  assert.deepEqual(sent.map((b) => b.toString("hex")), [RFC8448.clientFinishedRecord]);
  assert.equal(e.peerCertificates[0]!.subject, "CN=rsa");
  sent.length = 0;
  e.receive(hex(RFC8448.ticketRecord)); // NewSessionTicket: accepted, ignored
  e.receive(hex(RFC8448.serverAppRecord));
  assert.deepEqual(data.map((b) => b.toString("hex")), [RFC8448.appPayload]);
  assert.equal(e.encrypt([hex(RFC8448.appPayload)]).toString("hex"), RFC8448.clientAppRecord);
  e.receive(hex(RFC8448.serverAlertRecord));
  assert.equal(state().closed, true);
  assert.equal(e.closeNotify().toString("hex"), RFC8448.clientAlertRecord);
});

test("RFC 8448 §3: records split at every byte boundary give the same result", () => {
  const all = Buffer.concat([hex(RFC8448.serverHelloRecord), hex(RFC8448.serverFlightRecord), hex(RFC8448.ticketRecord), hex(RFC8448.serverAppRecord)]);
  for (const step of [1, 3, 7, 64, 500]) {
    const { e, sent, data, state } = engine();
    e.start();
    for (let o = 0; o < all.length; o += step) e.receive(all.subarray(o, o + step));
    assert.equal(state().connected, true);
    assert.equal(sent[1]!.toString("hex"), RFC8448.clientFinishedRecord);
    assert.equal(Buffer.concat(data).toString("hex"), RFC8448.appPayload);
  }
});

test("RFC 8448 §3: a tampered handshake record fails with bad_record_mac and never connects", () => {
  // Flip a bit in the last ciphertext byte before the tag: the AEAD rejects it (bad_record_mac).
  const flight = hex(RFC8448.serverFlightRecord);
  flight[flight.length - 20]! ^= 1;
  const { e, sent, state } = engine();
  e.start();
  e.receive(hex(RFC8448.serverHelloRecord));
  assert.throws(() => e.receive(flight), (err: unknown) => err instanceof TlsError && err.alert === "bad_record_mac");
  assert.equal(state().connected, false);
  assert.equal(sent.length, 2); // ClientHello, then an encrypted alert
});

test("RFC 8448 §3: a certificate callback failure aborts before CertificateVerify", () => {
  const { e, state } = engine({
    verify: () => {
      throw new TlsError("nope", { alert: "bad_certificate" });
    },
  });
  e.start();
  e.receive(hex(RFC8448.serverHelloRecord));
  assert.throws(() => e.receive(hex(RFC8448.serverFlightRecord)), (err: unknown) => err instanceof TlsError && err.alert === "bad_certificate");
  assert.equal(state().connected, false);
});
