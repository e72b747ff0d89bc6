/**
 * WebSocket frame opcodes (RFC 6455 §5.2, §11.8). 3–7 and 11–15 are reserved; a peer that
 * sends them breaks the protocol (close code 1002).
 */
export const Opcode = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 } as const;

/** One of the defined opcode values. */
export type OpcodeValue = (typeof Opcode)[keyof typeof Opcode];

/** Control frames have the high bit of the 4-bit opcode set (RFC 6455 §5.5). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x08) !== 0;
}
