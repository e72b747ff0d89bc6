import { afterEach } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Fails each test of the calling file after which an unhandled promise rejection was seen
 * (checked `settleMs` after the test, so that late rejections are caught too). Call once, at the
 * top level of a test file. Returns the rejections seen since the last check, for tests that
 * assert on them midway.
 */
export function failOnUnhandledRejections(settleMs = 20): readonly unknown[] {
  const unhandled: unknown[] = [];
  process.on("unhandledRejection", (reason) => {
    unhandled.push(reason);
  });
  afterEach(async () => {
    if (settleMs > 0) await sleep(settleMs);
    assert.deepEqual(unhandled.splice(0).map(String), [], "unhandled rejections");
  });
  return unhandled;
}
