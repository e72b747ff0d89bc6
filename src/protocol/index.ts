// The sans-I/O protocol core (RFC 6455). No sockets, no timers.
export * from "./opcodes.js";
export * from "./mask.js";
export * from "./frame.js";
export * from "./close.js";
export * from "./utf8.js";
export * from "./parser.js";
export * from "./handshake.js";
export * from "./connection-state.js";
// extensions.ts (permessage-deflate negotiation) is exported below by its owner.
export * from "./extensions.js";
