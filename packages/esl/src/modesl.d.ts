/**
 * The part of modesl 1.2.1 (CommonJS, no published typings) that client.ts uses, read from its source:
 * lib/esl/Connection.js, Parser.js and Event.js.
 */
declare module 'modesl' {
  import type { Socket } from 'node:net';

  interface ModeslHeader {
    name: string;
    value: unknown;
  }

  class Event {
    headers: ModeslHeader[];
    body: string;
    getHeader(name: string): unknown;
    getBody(): string;
    getType(): string;
  }

  /** Splits the socket's bytes into frames; guarded per connection by client.ts (safe decode, contained errors). */
  interface Parser {
    buffer: Buffer;
    _parseHeaderText(text: string): Record<string, string | number>;
  }

  type Listener = (...args: unknown[]) => void;

  class Connection {
    /** Inbound mode: connects at once, answers `auth/request` with `auth <password>`. */
    constructor(host: string, port: number, password: string, ready?: () => void);
    socket: Socket | null;
    parser: Parser | undefined;
    authed: boolean;
    on(event: string, listener: Listener): this;
    once(event: string, listener: Listener): this;
    off(event: string, listener: Listener): this;
    removeAllListeners(event?: string): this;
    send(command: string, headers?: Record<string, string>): void;
    sendRecv(command: string, headers: Record<string, string> | null, callback: (event: Event) => void): void;
    sendRecv(command: string, callback: (event: Event) => void): void;
    disconnect(): void;
  }

  const modesl: { Connection: typeof Connection; Event: typeof Event };
  export default modesl;
}
