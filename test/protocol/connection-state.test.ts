// The connection's rules in memory, event by event (issue 16): no socket, no timer. Every phase
// transition, the order of close frames, the close code chosen for each failure, pong coalescing,
// manual fragmentation and the final error every waiter gets.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConnectionPhase, ConnectionState, PingAction, type ConnectionRules } from "../../src/protocol/connection-state.js";
import { Opcode } from "../../src/protocol/opcodes.js";
import { ProtocolError, WebSocketClosed, WebSocketError } from "../../src/errors.js";

const DEFAULTS: ConnectionRules = { autoclose: true, drainOnError: false };
const make = (rules: Partial<ConnectionRules> = {}): ConnectionState => new ConnectionState({ ...DEFAULTS, ...rules });
const buf = (s: string): Buffer => Buffer.from(s);

describe("connection state: open", () => {
  test("a new connection is open, may send, and has no close code or failure", () => {
    const cs = make();
    assert.equal(cs.phase, ConnectionPhase.Open);
    assert.equal(cs.sendBlocked(), undefined);
    assert.equal(cs.closeCode, undefined);
    assert.equal(cs.closeReason, "");
    assert.equal(cs.failure, undefined);
    assert.equal(cs.closeSent, false);
    assert.equal(cs.closeReceived, false);
  });
});

describe("connection state: manual fragmentation (RFC 6455 §5.4)", () => {
  test("whole messages keep their opcode", () => {
    const cs = make();
    assert.equal(cs.dataOpcode(Opcode.TEXT, false), Opcode.TEXT);
    assert.equal(cs.dataOpcode(Opcode.BINARY, false), Opcode.BINARY);
    assert.equal(cs.fragmenting, false);
  });

  test("the first chunk carries the type, the rest are continuations, the last ends the message", () => {
    const cs = make();
    assert.equal(cs.dataOpcode(Opcode.BINARY, true), Opcode.BINARY);
    assert.equal(cs.fragmenting, true);
    assert.equal(cs.dataOpcode(Opcode.BINARY, true), Opcode.CONT);
    assert.equal(cs.dataOpcode(Opcode.BINARY, false), Opcode.CONT);
    assert.equal(cs.fragmenting, false);
    assert.equal(cs.dataOpcode(Opcode.TEXT, false), Opcode.TEXT, "a new message starts afresh");
  });

  test("a chunk of the other type is refused (code 0) and the message in progress is kept", () => {
    const cs = make();
    cs.dataOpcode(Opcode.TEXT, true);
    assert.throws(
      () => cs.dataOpcode(Opcode.BINARY, false),
      (e: unknown) => e instanceof WebSocketError && e.code === 0 && /BINARY chunk cannot continue the TEXT message/.test(e.message),
    );
    assert.equal(cs.fragmenting, true);
    assert.equal(cs.dataOpcode(Opcode.TEXT, false), Opcode.CONT);
  });
});

describe("connection state: ping and pong (RFC 6455 §5.5.2, §5.5.3)", () => {
  test("a ping is answered at once when no pong is in flight", () => {
    const cs = make();
    assert.equal(cs.receivePing(buf("a")), PingAction.Send);
    assert.equal(cs.pongOwed, false);
    assert.equal(cs.pongWritten(), undefined, "nothing owed behind it");
    assert.equal(cs.receivePing(buf("b")), PingAction.Send, "the next ping is answered at once again");
  });

  test("pings while a pong is in flight coalesce into one owed pong with the latest payload", () => {
    const cs = make();
    assert.equal(cs.receivePing(buf("1")), PingAction.Send);
    const shared = buf("2");
    assert.equal(cs.receivePing(shared), PingAction.Coalesced);
    assert.equal(cs.receivePing(buf("3")), PingAction.Coalesced);
    assert.equal(cs.receivePing(buf("4")), PingAction.Coalesced);
    assert.equal(cs.pongOwed, true);
    const next = cs.pongWritten();
    assert.deepEqual(next, buf("4"), "only the most recent ping is answered");
    assert.equal(cs.pongOwed, false);
    // The owed pong is now in flight: a further ping waits behind it.
    assert.equal(cs.receivePing(buf("5")), PingAction.Coalesced);
    assert.deepEqual(cs.pongWritten(), buf("5"));
    assert.equal(cs.pongWritten(), undefined);
    assert.equal(cs.receivePing(buf("6")), PingAction.Send);
  });

  test("a coalesced payload is a copy: the received buffer may be reused", () => {
    const cs = make();
    cs.receivePing(buf("x"));
    const view = buf("abc");
    cs.receivePing(view);
    view.fill(0);
    assert.deepEqual(cs.pongWritten(), buf("abc"));
  });

  test("an empty ping is owed an empty pong", () => {
    const cs = make();
    cs.receivePing(buf("x"));
    assert.equal(cs.receivePing(Buffer.alloc(0)), PingAction.Coalesced);
    assert.equal(cs.pongWritten()?.length, 0);
  });

  test("no pong after our close frame went out, and an owed one is dropped (§5.5.1)", () => {
    const cs = make();
    cs.receivePing(buf("1"));
    cs.receivePing(buf("2"));
    cs.requestClose();
    assert.equal(cs.receivePing(buf("3")), PingAction.Ignore);
    assert.equal(cs.pongWritten(), undefined);
  });

  test("no pong after a failure", () => {
    const cs = make();
    cs.fail(new ProtocolError("bad", 1002), 1002, true);
    assert.equal(cs.receivePing(buf("1")), PingAction.Ignore);
  });
});

describe("connection state: close() (RFC 6455 §7.1.2)", () => {
  test("open -> closing: our close frame goes out once and we wait for the peer's", () => {
    const cs = make();
    assert.deepEqual(cs.requestClose(), { sendClose: true, awaitPeer: true });
    assert.equal(cs.phase, ConnectionPhase.Closing);
    assert.equal(cs.closeSent, true);
    const blocked = cs.sendBlocked();
    assert.ok(blocked instanceof WebSocketClosed && /closing/.test(blocked.message) && blocked.code === 1000);
    assert.deepEqual(cs.requestClose(), { sendClose: false, awaitPeer: true }, "a second call sends nothing more");
  });

  test("closing -> the peer answers -> the handshake completes: closed with the peer's code", () => {
    const cs = make();
    cs.requestClose();
    const { closed, reply } = cs.receiveClose(1000, "bye");
    assert.equal(reply, undefined, "our close frame is out already: no echo");
    assert.equal(closed.code, 1000);
    assert.equal(closed.reason, "bye");
    assert.equal(cs.failure, closed, "a clean close is the sticky answer");
    const end = cs.closeCompleted(1000)!;
    assert.equal(cs.phase, ConnectionPhase.Closed);
    assert.equal(end.error, closed);
    assert.equal(end.drain, true);
    assert.equal(cs.closeCode, 1000);
    assert.equal(cs.closeReason, "bye");
  });

  test("closing -> no answer in time: closed with 1006, not failed", () => {
    const cs = make();
    cs.requestClose();
    const end = cs.closeTimedOut(3000)!;
    assert.ok(end.error instanceof WebSocketClosed);
    assert.equal(end.error.code, 1006);
    assert.match(end.error.message, /no close frame from the peer within 3000 ms/);
    assert.equal(end.drain, true);
    assert.equal(cs.closeCode, 1006);
    assert.equal(cs.phase, ConnectionPhase.Closed);
  });

  test("closing -> the peer drops TCP without a close frame: closed (1006), not lost", () => {
    const cs = make();
    cs.requestClose();
    const end = cs.socketClosed(undefined)!;
    assert.ok(end.error instanceof WebSocketClosed);
    assert.match(end.error.message, /without a close frame/);
    assert.equal(end.error.code, 1006);
    assert.equal(end.drain, true);
  });

  test("close() after the peer's close frame (no autoclose): our frame goes out, nothing to wait for", () => {
    const cs = make({ autoclose: false });
    const { reply } = cs.receiveClose(4001, "app");
    assert.equal(reply, undefined);
    assert.equal(cs.failure, undefined, "still open for sends until we close");
    assert.equal(cs.sendBlocked(), undefined);
    assert.deepEqual(cs.requestClose(), { sendClose: true, awaitPeer: false });
    assert.equal(cs.closeCompleted(1000)!.error.code, 4001, "the peer's code is the connection's");
  });

  test("close() when already ended does nothing", () => {
    const failed = make();
    failed.fail(new ProtocolError("bad", 1002), 1002, true);
    assert.equal(failed.requestClose(), null);
    const closedByPeer = make();
    closedByPeer.receiveClose(1000, "");
    assert.equal(closedByPeer.requestClose(), null, "autoclose answered already");
    const terminated = make();
    terminated.terminate();
    assert.equal(terminated.requestClose(), null);
  });

  test("closeCompleted without a peer code uses ours", () => {
    const cs = make({ autoclose: false });
    cs.requestClose();
    // The peer closed TCP after our frame, no close code learnt: the code we sent is reported.
    const end = cs.closeCompleted(4000)!;
    assert.equal(end.error.code, 4000);
    assert.match(end.error.message, /closed \(4000\)/);
  });
});

describe("connection state: the peer's close frame (RFC 6455 §5.5.1)", () => {
  test("autoclose echoes the peer's code and the state is closing", () => {
    const cs = make();
    const { closed, reply } = cs.receiveClose(4000, "done");
    assert.equal(reply, 4000);
    assert.equal(cs.phase, ConnectionPhase.Closing);
    assert.equal(cs.closeSent, true);
    assert.equal(cs.closeReceived, true);
    assert.equal(cs.failure, closed);
    assert.equal(cs.sendBlocked(), closed, "sends get the clean close");
    assert.match(closed.message, /the peer closed the connection \(4000 done\)/);
  });

  test("an empty close frame (1005) is echoed as 1000: 1005 may never be sent (§7.4.1)", () => {
    const cs = make();
    const { closed, reply } = cs.receiveClose(1005, "");
    assert.equal(reply, 1000);
    assert.equal(closed.code, 1005);
    assert.match(closed.message, /\(1005\)$/);
  });

  test("without autoclose nothing is echoed and the connection stays open", () => {
    const cs = make({ autoclose: false });
    assert.equal(cs.receiveClose(1001, "").reply, undefined);
    assert.equal(cs.phase, ConnectionPhase.Open);
    assert.equal(cs.closeSent, false);
  });

  test("after the peer's close frame the socket closing ends cleanly with the close error", () => {
    const cs = make();
    const { closed } = cs.receiveClose(1000, "ok");
    const end = cs.socketClosed(new Error("ECONNRESET"))!;
    assert.equal(end.error, closed, "a reset after the close handshake is not a failure");
    assert.equal(end.drain, true);
    assert.equal(cs.phase, ConnectionPhase.Closed);
  });

  test("no autoclose, peer closed, socket ends: a WebSocketClosed with the peer's code", () => {
    const cs = make({ autoclose: false });
    cs.receiveClose(4002, "x");
    const end = cs.socketClosed(undefined)!;
    assert.ok(end.error instanceof WebSocketClosed);
    assert.equal(end.error.code, 4002);
    assert.equal(end.error.reason, "x");
  });
});

describe("connection state: failures and their close codes (RFC 6455 §7.1.7, §7.4.1)", () => {
  for (const code of [1002, 1007, 1009, 1011]) {
    test(`a failure with ${code} sends a close frame with ${code}`, () => {
      const cs = make();
      const err = new ProtocolError("why", code);
      const steps = cs.fail(err, code, true)!;
      assert.equal(steps.sendClose, code);
      assert.equal(steps.ending.error, err);
      assert.equal(steps.ending.drain, false);
      assert.equal(cs.closeCode, code);
      assert.equal(cs.phase, ConnectionPhase.Closed);
      assert.equal(cs.sendBlocked(), err, "the failure is sticky");
    });
  }

  for (const code of [1005, 1006, 1015, 0, 999, 2000]) {
    test(`a failure with ${code} sends no close frame (not a code that may be sent)`, () => {
      const cs = make();
      const steps = cs.fail(new WebSocketError("local", code), code, true)!;
      assert.equal(steps.sendClose, undefined);
      assert.equal(cs.closeCode, code);
    });
  }

  test("no close frame when the socket can no longer write, or when ours went out already", () => {
    const gone = make();
    assert.equal(gone.fail(new ProtocolError("x", 1002), 1002, false)!.sendClose, undefined);
    const closing = make();
    closing.requestClose();
    assert.equal(closing.fail(new ProtocolError("x", 1002), 1002, true)!.sendClose, undefined);
  });

  test("drainOnError decides whether queued messages come before the error", () => {
    assert.equal(make({ drainOnError: true }).fail(new ProtocolError("x", 1002), 1002, true)!.ending.drain, true);
    assert.equal(make({ drainOnError: false }).fail(new ProtocolError("x", 1002), 1002, true)!.ending.drain, false);
  });

  test("a failure after the end changes nothing; the first error stays", () => {
    const cs = make();
    const first = new ProtocolError("first", 1002);
    cs.fail(first, 1002, true);
    assert.equal(cs.fail(new ProtocolError("second", 1007), 1007, true), null);
    assert.equal(cs.failure, first);
    assert.equal(cs.closeCode, 1002);
    assert.equal(cs.socketClosed(undefined), undefined);
    assert.equal(cs.terminate(), undefined);
  });

  test("a failure while closing after the peer's close keeps the clean close as the answer", () => {
    // autoclose answered; then e.g. compression failed: the sticky error is still the close.
    const cs = make();
    const { closed } = cs.receiveClose(1000, "");
    const steps = cs.fail(new WebSocketError("late", 1011), 1011, true)!;
    assert.equal(steps.sendClose, undefined, "our close frame is out already");
    assert.equal(steps.ending.error, closed);
    assert.equal(cs.closeCode, 1000, "the peer's code stays");
  });
});

describe("connection state: the socket ends (RFC 6455 §7.1.5)", () => {
  test("while open, without a close frame: lost, 1006, the socket's error as the cause", () => {
    const cs = make();
    const cause = new Error("read ECONNRESET");
    const end = cs.socketClosed(cause)!;
    assert.ok(!(end.error instanceof WebSocketClosed));
    assert.equal(end.error.code, 1006);
    assert.equal(end.error.message, "the connection was lost: read ECONNRESET");
    assert.equal(end.error.cause, cause);
    assert.equal(end.drain, false);
    assert.equal(cs.closeCode, 1006);
  });

  test("while open, no socket error: 'without a close frame'; drainOnError applies", () => {
    const end = make({ drainOnError: true }).socketClosed(undefined)!;
    assert.equal(end.error.message, "the connection was lost without a close frame");
    assert.equal(end.drain, true);
  });

  test("closing but failed with a non-close error: the socket's end reports the loss, not a close", () => {
    // Our close frame went out because of a failure: fail() already ended the connection, so
    // the socket's end changes nothing and the failure stays the answer.
    const cs = make();
    const err = new ProtocolError("bad frame", 1002);
    cs.fail(err, 1002, true);
    assert.equal(cs.socketClosed(undefined), undefined);
    assert.equal(cs.failure, err);
  });
});

describe("connection state: terminate()", () => {
  test("open -> closed with a WebSocketClosed 1006; queued messages stay readable", () => {
    const cs = make();
    const end = cs.terminate()!;
    assert.ok(end.error instanceof WebSocketClosed);
    assert.equal(end.error.code, 1006);
    assert.equal(end.error.message, "the connection was terminated");
    assert.equal(end.drain, true);
    assert.equal(cs.closeCode, 1006);
    assert.equal(cs.phase, ConnectionPhase.Closed);
  });

  test("after the peer's close frame (no autoclose) it carries the peer's code and reason", () => {
    const cs = make({ autoclose: false });
    cs.receiveClose(4003, "r");
    const end = cs.terminate()!;
    assert.equal(end.error.code, 4003);
    assert.equal((end.error as WebSocketClosed).reason, "r");
  });

  test("while closing (our close frame out, no answer yet): closed with 1006", () => {
    const cs = make();
    cs.requestClose();
    const end = cs.terminate()!;
    assert.ok(end.error instanceof WebSocketClosed);
    assert.equal(end.error.code, 1006);
    assert.equal(cs.phase, ConnectionPhase.Closed);
    assert.equal(cs.closeTimedOut(100), undefined, "the close timer firing later changes nothing");
    assert.equal(cs.closeCompleted(1000), undefined);
  });

  test("while closing after autoclose, the clean close stays the error", () => {
    const cs = make();
    const { closed } = cs.receiveClose(1000, "");
    assert.equal(cs.terminate()!.error, closed);
  });
});

describe("connection state: the error after the close item", () => {
  test("is the clean close when there was one, else a description with the code", () => {
    const cs = make();
    const { closed } = cs.receiveClose(1001, "away");
    assert.equal(cs.closedError(), closed);
    const open = make({ autoclose: false });
    open.receiveClose(1001, "away");
    const e = open.closedError();
    assert.equal(e.code, 1001);
    assert.equal(e.reason, "away");
    assert.match(e.message, /closed \(1001\)/);
    const fresh = make();
    assert.equal(fresh.closedError().code, 1005);
  });

  test("finish records the first error only", () => {
    const cs = make();
    const a = new WebSocketError("a");
    assert.equal(cs.finish(a, false)!.error, a);
    assert.equal(cs.finish(new WebSocketError("b"), true), undefined);
    assert.equal(cs.failure, a);
  });
});

describe("connection state: the clean close's error is built once", () => {
  test("our close, then the peer's: one WebSocketClosed (code, reason) for the close, the end, later sends and receives", () => {
    const cs = make();
    cs.requestClose();
    const { closed } = cs.receiveClose(1000, "bye");
    assert.ok(closed instanceof WebSocketClosed && closed instanceof WebSocketError && closed instanceof Error);
    assert.equal(closed.name, "WebSocketClosed");
    assert.equal(closed.code, 1000);
    assert.equal(closed.reason, "bye");
    assert.equal(closed.message, "the peer closed the connection (1000 bye)");
    assert.equal(cs.socketClosed(undefined)?.error ?? cs.failure, closed);
    assert.equal(cs.closeCompleted(1000), undefined, "already ended by the socket's close");
    assert.equal(cs.closedError(), closed);
    assert.equal(cs.sendBlocked(), closed);
    // Built without capturing a stack trace (masq's own read path, never the caller's).
    assert.equal(closed.stack, "WebSocketClosed: the peer closed the connection (1000 bye)");
  });

  test("the handshake completing after the peer's frame reuses that error", () => {
    const cs = make();
    cs.requestClose();
    const { closed } = cs.receiveClose(4001, "app");
    const end = cs.closeCompleted(1000)!;
    assert.equal(end.error, closed, "no second error");
    assert.equal(end.drain, true);
  });

  test("completed without the peer's code: our code, a WebSocketClosed with a one-line stack", () => {
    const cs = make({ autoclose: false });
    cs.requestClose();
    const end = cs.closeCompleted(3001)!;
    assert.ok(end.error instanceof WebSocketClosed);
    assert.equal(end.error.code, 3001);
    assert.equal(end.error.stack, "WebSocketClosed: the connection was closed (3001)");
    assert.equal(cs.failure, end.error);
  });

  test("failures still capture their stack trace", () => {
    const cs = make();
    const end = cs.fail(new ProtocolError("bad", 1002), 1002, true)!;
    assert.match(end.ending.error.stack ?? "", /\n\s+at /);
    const limit = Error.stackTraceLimit;
    make().receiveClose(1000, "");
    assert.equal(Error.stackTraceLimit, limit, "the global limit is restored");
  });
});
