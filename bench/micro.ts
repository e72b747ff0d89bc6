/**
 * Floors that bound masq's per-message and per-record costs, measured without masq:
 *
 *   taskset -c 0 npx tsx bench/micro.ts
 *
 * - `await` of an already-resolved promise and one `for await` step: the least an awaited
 *   `send()` or a `for await` receive can cost per message;
 * - `Buffer.from(arrayBuffer, offset, length)`: the zero-copy view each small received message is;
 * - one 16 KiB AES-128-GCM TLS record through node:crypto (cipher object, AAD, update, final,
 *   tag) and the cipher object alone: what masq's own TLS engine pays per record
 *   (compare `openssl speed -evp aes-128-gcm -bytes 16384`).
 */
import { createCipheriv, createSecretKey, randomBytes } from "node:crypto";

function report(name: string, ns: number): void {
  console.log(`${name.padEnd(44)} ${ns.toFixed(1).padStart(8)} ns`);
}

async function timeAsync(name: string, n: number, body: (n: number) => Promise<void>): Promise<void> {
  await body(n / 10); // warm-up
  const t = process.hrtime.bigint();
  await body(n);
  report(name, Number(process.hrtime.bigint() - t) / n);
}

function timeSync(name: string, n: number, body: (i: number) => unknown): void {
  let sink = 0;
  for (let i = 0; i < n / 10; i++) sink += body(i) ? 1 : 0;
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sink += body(i) ? 1 : 0;
  report(name, Number(process.hrtime.bigint() - t) / n);
  if (sink < 0) console.log(sink);
}

const resolved = Promise.resolve();
await timeAsync("await of a resolved promise", 5e6, async (n) => {
  for (let i = 0; i < n; i++) await resolved;
});
const value = Buffer.alloc(16);
await timeAsync("for await step (next() = Promise.resolve)", 5e6, async (n) => {
  const it = { [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve({ value, done: false as const }) }) };
  let i = 0;
  for await (const v of it) if (++i >= n || v.length === 0) break;
});

const chunk = Buffer.allocUnsafe(65536);
timeSync("Buffer.from(arrayBuffer, offset, 16)", 5e6, (i) => Buffer.from(chunk.buffer, chunk.byteOffset + ((i * 16) & 0xffef), 16));

const key = createSecretKey(randomBytes(16));
const iv = randomBytes(12);
const record = randomBytes(16384);
const aad = Buffer.alloc(5);
timeSync("AES-128-GCM record of 16 KiB (node:crypto)", 2e4, () => {
  const c = createCipheriv("aes-128-gcm", key, iv);
  c.setAAD(aad);
  c.update(record);
  c.final();
  return c.getAuthTag();
});
timeSync("createCipheriv alone", 2e4, () => createCipheriv("aes-128-gcm", key, iv));
