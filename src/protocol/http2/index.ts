// The sans-I/O HTTP/2 client (RFC 9113, RFC 7541, RFC 8441). No sockets, no timers.
export * from "./frames.js";
export * from "./huffman.js";
export * from "./hpack.js";
export { STATIC_TABLE } from "./hpack-table.js";
export * from "./connection.js";
export { HeaderBlockAssembler, type HeaderBlock } from "./header-block.js";
export { parseSettings } from "./settings.js";
