/**
 * Test certificates, made at test time with the `openssl` CLI (Debian's `openssl` package) into a
 * temporary directory that is removed when the process exits. Generated once per process and cached.
 *
 * ```ts
 * import { testCerts } from "../helpers/certs.js";
 * const c = testCerts();
 * tls.createServer({ cert: c.leaf.cert, key: c.leaf.key });          // trusted with { ca: c.ca.cert }
 * await openTransport(target, { verify: true, ca: c.ca.cert, ... });
 * ```
 *
 * | field        | what it is                                                                  |
 * |--------------|-----------------------------------------------------------------------------|
 * | `ca`         | a self-signed root CA ("masq test CA"); trust it with `ca: c.ca.cert`      |
 * | `leaf`       | ECDSA P-256 server cert for localhost, 127.0.0.1 and ::1, signed by `ca`    |
 * | `leafRsa`    | the same names with an RSA-2048 key, signed by `ca`                         |
 * | `expired`    | localhost/127.0.0.1/::1, signed by `ca`, valid 2020-01-01 .. 2020-01-02 -> CERT_HAS_EXPIRED |
 * | `wrongHost`  | only `wrong.example`, signed by `ca` -> ERR_TLS_CERT_ALTNAME_INVALID       |
 * | `selfSigned` | localhost/127.0.0.1/::1, self-signed (not by `ca`) -> DEPTH_ZERO_SELF_SIGNED_CERT |
 *
 * Every entry has PEM strings (`cert`, `key`) and file paths (`certPath`, `keyPath`) for peers that
 * read files (nginx, python, tinyproxy...). Leaf `cert`s hold only the leaf (the CA is not appended).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PemPair {
  /** PEM certificate. */
  cert: string;
  /** PEM private key (unencrypted PKCS#8). */
  key: string;
  certPath: string;
  keyPath: string;
}

export interface TestCerts {
  /** The temporary directory holding every file. */
  dir: string;
  ca: PemPair;
  leaf: PemPair;
  leafRsa: PemPair;
  expired: PemPair;
  wrongHost: PemPair;
  selfSigned: PemPair;
}

const LOCAL_SAN = "DNS:localhost,IP:127.0.0.1,IP:::1";
let cached: TestCerts | undefined;

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

function pair(dir: string, name: string): PemPair {
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}.key`);
  return { cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8"), certPath, keyPath };
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

function leafExtensions(dir: string, name: string, san: string): string {
  const path = join(dir, `${name}.ext`);
  writeFileSync(
    path,
    [
      "basicConstraints = critical, CA:FALSE",
      "keyUsage = critical, digitalSignature, keyEncipherment",
      "extendedKeyUsage = serverAuth",
      "subjectKeyIdentifier = hash",
      "authorityKeyIdentifier = keyid",
      `subjectAltName = ${san}`,
      "",
    ].join("\n"),
  );
  return path;
}

/** A CSR + key for `name`, then a certificate signed by the CA for `days` days. */
function signedLeaf(dir: string, name: string, cn: string, san: string, keyArgs: string[], days = 825): void {
  openssl(["req", "-new", ...keyArgs, "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`], dir);
  const ext = leafExtensions(dir, name, san);
  openssl(
    ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
     "-days", String(days), "-sha256", "-extfile", ext, "-out", `${name}.pem`],
    dir,
  );
}

/** A leaf signed by the CA with fixed validity dates in the past (`openssl ca` sets exact dates). */
function expiredLeaf(dir: string): void {
  const name = "expired";
  openssl(["req", "-new", ...EC, "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", "/CN=localhost"], dir);
  const ext = leafExtensions(dir, name, LOCAL_SAN);
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "serial"), "1000\n");
  writeCaConfig(dir);
  openssl(
    ["ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", `${name}.csr`,
     "-out", `${name}.pem`, "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
     "-extfile", ext, "-notext"],
    dir,
  );
}

/** The test certificates (generated on first call, then cached for the process). */
export function testCerts(): TestCerts {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), "masq-certs-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  openssl(
    ["req", "-x509", ...EC, "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650", "-sha256",
     "-subj", "/CN=masq test CA", "-addext", "basicConstraints=critical,CA:TRUE",
     "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    dir,
  );
  signedLeaf(dir, "leaf", "localhost", LOCAL_SAN, EC);
  signedLeaf(dir, "leaf-rsa", "localhost", LOCAL_SAN, ["-newkey", "rsa:2048"]);
  signedLeaf(dir, "wrong-host", "wrong.example", "DNS:wrong.example", EC);
  expiredLeaf(dir);
  openssl(
    ["req", "-x509", ...EC, "-nodes", "-keyout", "self-signed.key", "-out", "self-signed.pem", "-days", "825",
     "-sha256", "-subj", "/CN=localhost", "-addext", `subjectAltName=${LOCAL_SAN}`,
     "-addext", "basicConstraints=critical,CA:FALSE"],
    dir,
  );
  cached = {
    dir,
    ca: pair(dir, "ca"),
    leaf: pair(dir, "leaf"),
    leafRsa: pair(dir, "leaf-rsa"),
    expired: pair(dir, "expired"),
    wrongHost: pair(dir, "wrong-host"),
    selfSigned: pair(dir, "self-signed"),
  };
  return cached;
}

/** The `openssl ca` configuration both test PKIs sign with: `dir/ca.cnf`, database and serial in `dir`. */
export function writeCaConfig(dir: string): void {
  writeFileSync(
    join(dir, "ca.cnf"),
    [
      "[ ca ]",
      "default_ca = test_ca",
      "[ test_ca ]",
      `dir = ${dir}`,
      "database = $dir/index.txt",
      "new_certs_dir = $dir",
      "serial = $dir/serial",
      "default_md = sha256",
      "policy = policy_any",
      "unique_subject = no",
      "copy_extensions = none",
      "[ policy_any ]",
      "commonName = supplied",
      "",
    ].join("\n"),
  );
}
