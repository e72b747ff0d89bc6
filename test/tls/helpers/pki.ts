/**
 * Certificate shapes for masq's TLS engine tests, made with the `openssl` CLI into a temp dir
 * (removed at exit). `openssl ca` is used for every signature so that validity dates, key usage
 * and basic constraints can be set exactly.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeCaConfig } from "../../helpers/certs.js";

export type KeyKind = "ec256" | "ec384" | "rsa" | "rsa1024" | "rsapss" | "ed25519";

export interface Issued {
  name: string;
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
}

export interface IssueOptions {
  name: string;
  /** Signer; omitted = self-signed. */
  issuer?: Issued;
  key?: KeyKind;
  cn?: string;
  san?: string;
  /** basicConstraints: true = CA:TRUE, false = CA:FALSE, undefined = no extension. */
  ca?: boolean | undefined;
  pathLen?: number;
  keyUsage?: string | null;
  extKeyUsage?: string | null;
  /** More extension lines for the openssl config (e.g. "nameConstraints = critical, permitted;DNS:x"). */
  extra?: string[];
  /** Signature digest (default sha256). */
  md?: string;
  /** openssl ca dates, YYYYMMDDHHMMSSZ. */
  start?: string;
  end?: string;
}

export const LOCAL_SAN = "DNS:localhost,IP:127.0.0.1,IP:::1";

function keyArgs(kind: KeyKind): string[] {
  switch (kind) {
    case "ec256":
      return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    case "ec384":
      return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp384r1"];
    case "rsa":
      return ["-newkey", "rsa:2048"];
    case "rsa1024":
      return ["-newkey", "rsa:1024"];
    case "rsapss":
      return ["-newkey", "rsa-pss", "-pkeyopt", "rsa_keygen_bits:2048"];
    case "ed25519":
      return ["-newkey", "ed25519"];
  }
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
}

export class Pki {
  readonly dir: string;
  #serial = 0x1000;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "masq-tls-pki-"));
    const dir = this.dir;
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "index.txt"), "");
  }

  #run(args: string[]): void {
    try {
      execFileSync("openssl", args, { cwd: this.dir, stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      const e = err as { stderr?: Buffer; message: string };
      throw new Error(`openssl ${args.join(" ")} failed: ${e.stderr?.toString() ?? e.message}`);
    }
  }

  /** A DER OCSP response ("good", signed by `issuer`, valid a day) for `leaf`; returns its path. */
  ocspResponse(leaf: Issued, issuer: Issued): string {
    const out = `${leaf.name}.ocsp.der`;
    this.#run(["ocsp", "-issuer", issuer.certPath, "-cert", leaf.certPath, "-reqout", `${leaf.name}.ocspreq.der`, "-no_nonce"]);
    this.#run(["ocsp", "-index", "index.txt", "-rsigner", issuer.certPath, "-rkey", issuer.keyPath, "-CA", issuer.certPath, "-reqin", `${leaf.name}.ocspreq.der`, "-respout", out, "-ndays", "1"]);
    return join(this.dir, out);
  }

  issue(o: IssueOptions): Issued {
    const d = this.dir;
    const n = o.name;
    const ext: string[] = [];
    if (o.ca !== undefined) ext.push(`basicConstraints = critical, CA:${o.ca ? "TRUE" : "FALSE"}${o.pathLen !== undefined ? `, pathlen:${o.pathLen}` : ""}`);
    const defaultKu = o.ca ? "critical, keyCertSign, cRLSign" : "critical, digitalSignature, keyEncipherment";
    if (o.keyUsage !== null) ext.push(`keyUsage = ${o.keyUsage ?? defaultKu}`);
    const defaultEku = o.ca ? null : "serverAuth";
    const eku = o.extKeyUsage === undefined ? defaultEku : o.extKeyUsage;
    if (eku) ext.push(`extendedKeyUsage = ${eku}`);
    ext.push(...(o.extra ?? []));
    ext.push("subjectKeyIdentifier = hash");
    if (o.issuer) ext.push("authorityKeyIdentifier = keyid");
    const san = o.san ?? (o.ca ? undefined : LOCAL_SAN);
    if (san) ext.push(`subjectAltName = ${san}`);
    writeFileSync(join(d, `${n}.ext`), ["[ v3 ]", ...ext, ""].join("\n"));
    writeFileSync(join(d, "serial"), (this.#serial++).toString(16) + "\n");
    writeCaConfig(d);
    const cn = o.cn ?? (o.ca ? `masq tls test ${n}` : "localhost");
    this.#run(["req", "-new", ...keyArgs(o.key ?? "ec256"), "-nodes", "-keyout", `${n}.key`, "-out", `${n}.csr`, "-subj", `/CN=${cn}`]);
    const now = Date.now();
    const start = o.start ?? stamp(new Date(now - 3600_000));
    const end = o.end ?? stamp(new Date(now + 30 * 86400_000));
    const signer = o.issuer ? ["-cert", o.issuer.certPath, "-keyfile", o.issuer.keyPath] : ["-selfsign", "-keyfile", `${n}.key`];
    const md = o.key === "ed25519" || o.issuer?.name.includes("ed25519") ? [] : ["-md", o.md ?? "sha256"];
    this.#run([
      "ca", "-batch", "-config", "ca.cnf", ...signer, ...md, "-in", `${n}.csr`, "-out", `${n}.pem`,
      "-startdate", start, "-enddate", end, "-extfile", `${n}.ext`, "-extensions", "v3", "-notext",
    ]);
    const certPath = join(d, `${n}.pem`);
    const keyPath = join(d, `${n}.key`);
    return { name: n, cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8"), certPath, keyPath };
  }
}

/** The shapes the TLS tests use, generated once per process. */
export interface TlsTestPki {
  pki: Pki;
  root: Issued;
  inter: Issued;
  /** EC P-256 leaf signed by root. */
  leaf: Issued;
  leafP384: Issued;
  leafRsa: Issued;
  leafRsaPss: Issued;
  /** RSA-1024 leaf (valid chain, key too small for TLS 1.2 per masq's floor). */
  leafRsa1024: Issued;
  leafEd25519: Issued;
  /** Leaf signed by the intermediate (send `leafViaInter.cert + inter.cert`). */
  leafViaInter: Issued;
  expired: Issued;
  notYetValid: Issued;
  wrongHost: Issued;
  selfSigned: Issued;
  otherRoot: Issued;
  unknownCaLeaf: Issued;
  interNoCa: Issued;
  leafViaInterNoCa: Issued;
  clientAuthOnly: Issued;
  interPathLen0: Issued;
  inter2: Issued;
  leafViaPathLen: Issued;
}

let cached: TlsTestPki | undefined;

export function tlsTestPki(): TlsTestPki {
  if (cached) return cached;
  const pki = new Pki();
  const root = pki.issue({ name: "root", ca: true });
  const inter = pki.issue({ name: "inter", ca: true, issuer: root });
  const otherRoot = pki.issue({ name: "other-root", ca: true });
  const interNoCa = pki.issue({ name: "inter-noca", ca: false, keyUsage: "critical, keyCertSign, digitalSignature", extKeyUsage: null, issuer: root, cn: "masq tls test inter-noca" });
  const interPathLen0 = pki.issue({ name: "inter-pl0", ca: true, pathLen: 0, issuer: root });
  const inter2 = pki.issue({ name: "inter2", ca: true, issuer: interPathLen0 });
  cached = {
    pki,
    root,
    inter,
    leaf: pki.issue({ name: "leaf", issuer: root }),
    leafP384: pki.issue({ name: "leaf-p384", key: "ec384", issuer: root }),
    leafRsa: pki.issue({ name: "leaf-rsa", key: "rsa", issuer: root }),
    leafRsaPss: pki.issue({ name: "leaf-rsapss", key: "rsapss", issuer: root }),
    leafRsa1024: pki.issue({ name: "leaf-rsa1024", key: "rsa1024", issuer: root }),
    leafEd25519: pki.issue({ name: "leaf-ed25519", key: "ed25519", issuer: root }),
    leafViaInter: pki.issue({ name: "leaf-via-inter", issuer: inter }),
    expired: pki.issue({ name: "expired", issuer: root, start: "20200101000000Z", end: "20200102000000Z" }),
    notYetValid: pki.issue({ name: "not-yet-valid", issuer: root, start: "20990101000000Z", end: "20991231000000Z" }),
    wrongHost: pki.issue({ name: "wrong-host", issuer: root, san: "DNS:wrong.example", cn: "wrong.example" }),
    selfSigned: pki.issue({ name: "self-signed", ca: false }),
    otherRoot,
    unknownCaLeaf: pki.issue({ name: "unknown-ca-leaf", issuer: otherRoot }),
    interNoCa,
    leafViaInterNoCa: pki.issue({ name: "leaf-via-inter-noca", issuer: interNoCa }),
    clientAuthOnly: pki.issue({ name: "client-auth-only", issuer: root, extKeyUsage: "clientAuth" }),
    interPathLen0,
    inter2,
    leafViaPathLen: pki.issue({ name: "leaf-via-pathlen", issuer: inter2 }),
  };
  return cached;
}
