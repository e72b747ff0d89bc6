/**
 * A minimal DER reader (ITU-T X.690) for the few X.509 extensions that node:crypto's
 * X509Certificate does not expose (basicConstraints pathLen, keyUsage bits, criticality).
 * Malformed input throws a plain Error; callers turn it into a certificate failure.
 */

export interface DerNode {
  tag: number;
  /** Content bytes (a view). */
  value: Buffer;
  /** Bytes consumed including tag and length. */
  size: number;
}

export function readDer(buf: Buffer, pos = 0): DerNode {
  if (pos + 2 > buf.length) throw new Error("DER: truncated");
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw new Error("DER: high tag numbers unsupported");
  let len = buf[pos + 1]!;
  let hdr = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || pos + 2 + n > buf.length) throw new Error("DER: bad length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + 2 + i]!;
    hdr += n;
  }
  if (pos + hdr + len > buf.length) throw new Error("DER: truncated value");
  return { tag, value: buf.subarray(pos + hdr, pos + hdr + len), size: hdr + len };
}

/** Children of a constructed value. */
export function derChildren(value: Buffer): DerNode[] {
  const out: DerNode[] = [];
  let pos = 0;
  while (pos < value.length) {
    const n = readDer(value, pos);
    out.push(n);
    pos += n.size;
    if (out.length > 10000) throw new Error("DER: too many children");
  }
  return out;
}

/** Dotted form of an OBJECT IDENTIFIER's content bytes. */
export function oidToString(v: Buffer): string {
  if (v.length === 0) throw new Error("DER: empty OID");
  const parts: number[] = [];
  const first = v[0]!;
  let acc = 0;
  let firstDone = false;
  for (let i = 0; i < v.length; i++) {
    acc = acc * 128 + (v[i]! & 0x7f);
    if ((v[i]! & 0x80) === 0) {
      if (!firstDone) {
        const a = first < 40 ? 0 : first < 80 ? 1 : 2;
        parts.push(a, acc - a * 40);
        firstDone = true;
      } else parts.push(acc);
      acc = 0;
    }
  }
  return parts.join(".");
}

export interface CertExtensions {
  /** extnID (dotted) -> { critical, value (the OCTET STRING content) } */
  byOid: Map<string, { critical: boolean; value: Buffer }>;
}

/** Extensions of a DER certificate (RFC 5280 §4.1). */
export function certificateExtensions(der: Buffer): CertExtensions {
  const cert = readDer(der);
  if (cert.tag !== 0x30) throw new Error("DER: certificate is not a SEQUENCE");
  const tbs = derChildren(cert.value)[0];
  if (!tbs || tbs.tag !== 0x30) throw new Error("DER: tbsCertificate missing");
  const byOid = new Map<string, { critical: boolean; value: Buffer }>();
  for (const field of derChildren(tbs.value)) {
    if (field.tag !== 0xa3) continue; // [3] EXPLICIT Extensions
    const seq = readDer(field.value);
    for (const ext of derChildren(seq.value)) {
      const parts = derChildren(ext.value);
      if (parts.length < 2 || parts[0]!.tag !== 0x06) throw new Error("DER: bad Extension");
      const oid = oidToString(parts[0]!.value);
      let critical = false;
      let valueNode = parts[1]!;
      if (valueNode.tag === 0x01) {
        critical = valueNode.value[0] !== 0;
        valueNode = parts[2]!;
      }
      if (!valueNode || valueNode.tag !== 0x04) throw new Error("DER: bad extnValue");
      if (byOid.has(oid)) throw new Error(`DER: duplicate extension ${oid}`);
      byOid.set(oid, { critical, value: valueNode.value });
    }
  }
  return { byOid };
}

export const OID = {
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  nameConstraints: "2.5.29.30",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  anyExtendedKeyUsage: "2.5.29.37.0",
} as const;

/** basicConstraints (RFC 5280 §4.2.1.9). */
export function parseBasicConstraints(v: Buffer): { ca: boolean; pathLen: number | undefined } {
  const seq = readDer(v);
  if (seq.tag !== 0x30) throw new Error("DER: bad basicConstraints");
  let ca = false;
  let pathLen: number | undefined;
  for (const c of derChildren(seq.value)) {
    if (c.tag === 0x01) ca = c.value[0] !== 0;
    else if (c.tag === 0x02) {
      if (c.value.length > 4 || (c.value[0]! & 0x80)) throw new Error("DER: bad pathLenConstraint");
      pathLen = 0;
      for (const b of c.value) pathLen = pathLen * 256 + b;
    }
  }
  return { ca, pathLen };
}

/** keyUsage bits (RFC 5280 §4.2.1.3): bit 0 = digitalSignature ... bit 5 = keyCertSign. */
export function parseKeyUsage(v: Buffer): number {
  const bits = readDer(v);
  if (bits.tag !== 0x03 || bits.value.length < 1) throw new Error("DER: bad keyUsage");
  let mask = 0;
  for (let i = 1; i < bits.value.length && i < 3; i++) {
    const byte = bits.value[i]!;
    for (let b = 0; b < 8; b++) if (byte & (0x80 >> b)) mask |= 1 << ((i - 1) * 8 + b);
  }
  return mask;
}

export const KeyUsageBit = { digitalSignature: 1 << 0, keyEncipherment: 1 << 2, keyAgreement: 1 << 4, keyCertSign: 1 << 5 } as const;

/** extKeyUsage purposes (RFC 5280 §4.2.1.12). */
export function parseExtKeyUsage(v: Buffer): string[] {
  const seq = readDer(v);
  if (seq.tag !== 0x30) throw new Error("DER: bad extKeyUsage");
  return derChildren(seq.value).map((c) => {
    if (c.tag !== 0x06) throw new Error("DER: bad KeyPurposeId");
    return oidToString(c.value);
  });
}

/** The outer signatureAlgorithm OID of a DER certificate (RFC 5280 §4.1.1.2). */
export function certificateSignatureOid(der: Buffer): string {
  const cert = readDer(der);
  const parts = derChildren(cert.value);
  const alg = parts[1];
  if (!alg || alg.tag !== 0x30) throw new Error("DER: signatureAlgorithm missing");
  const oid = derChildren(alg.value)[0];
  if (!oid || oid.tag !== 0x06) throw new Error("DER: bad AlgorithmIdentifier");
  return oidToString(oid.value);
}

/** Signature algorithms OpenSSL 3.0 refuses at security level 1 (MD5 and SHA-1 based). */
export const WEAK_SIGNATURE_OIDS: ReadonlySet<string> = new Set([
  "1.2.840.113549.1.1.4", // md5WithRSAEncryption
  "1.2.840.113549.1.1.5", // sha1WithRSAEncryption
  "1.2.840.10045.4.1", // ecdsa-with-SHA1
  "1.2.840.10040.4.3", // dsa-with-sha1
  "1.3.14.3.2.29", // sha1WithRSASignature (OIW)
]);

/** The dNSName and iPAddress entries of a subjectAltName value (RFC 5280 §4.2.1.6). */
export function parseSubjectAltName(v: Buffer): { dns: string[]; ips: Buffer[] } {
  const seq = readDer(v);
  if (seq.tag !== 0x30) throw new Error("DER: bad subjectAltName");
  const out = { dns: [] as string[], ips: [] as Buffer[] };
  for (const n of derChildren(seq.value)) {
    if (n.tag === 0x82) out.dns.push(n.value.toString("latin1"));
    else if (n.tag === 0x87) out.ips.push(n.value);
  }
  return out;
}

export interface NameSubtrees {
  dns: string[];
  /** address followed by mask (8 or 32 bytes). */
  ips: Buffer[];
  /** Subtrees of other name forms are present (not enforced for TLS server names). */
  other: number;
}

/** nameConstraints permitted/excluded dNSName and iPAddress subtrees (RFC 5280 §4.2.1.10). */
export function parseNameConstraints(v: Buffer): { permitted: NameSubtrees | undefined; excluded: NameSubtrees | undefined } {
  const seq = readDer(v);
  if (seq.tag !== 0x30) throw new Error("DER: bad nameConstraints");
  let permitted: NameSubtrees | undefined;
  let excluded: NameSubtrees | undefined;
  for (const part of derChildren(seq.value)) {
    const trees: NameSubtrees = { dns: [], ips: [], other: 0 };
    for (const subtree of derChildren(part.value)) {
      const base = derChildren(subtree.value)[0];
      if (!base) throw new Error("DER: empty GeneralSubtree");
      if (base.tag === 0x82) trees.dns.push(base.value.toString("latin1").toLowerCase());
      else if (base.tag === 0x87) trees.ips.push(base.value);
      else trees.other++;
    }
    if (part.tag === 0xa0) permitted = trees;
    else if (part.tag === 0xa1) excluded = trees;
  }
  return { permitted, excluded };
}

/** RFC 5280 §4.2.1.10 dNSName matching: the constraint is a suffix on label boundaries. */
export function dnsWithin(name: string, constraint: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, "");
  const c = constraint.replace(/\.$/, "");
  if (c === "") return true;
  if (c.startsWith(".")) return n.endsWith(c);
  return n === c || n.endsWith("." + c);
}

/** iPAddress matching: address and mask from the constraint, same family only. */
export function ipWithin(ip: Buffer, constraint: Buffer): boolean {
  if (constraint.length !== ip.length * 2) return false;
  for (let i = 0; i < ip.length; i++) {
    const mask = constraint[ip.length + i]!;
    if ((ip[i]! & mask) !== (constraint[i]! & mask)) return false;
  }
  return true;
}
