/**
 * Counts the MongoDB wire messages on one proxied connection, per command name
 * and direction, from the bytes as they pass (the proxy never changes them).
 *
 * A request is named by its command: the first key of an OP_MSG's kind-0
 * section, of an OP_QUERY's query (the driver's first handshake), or of the
 * message inside an OP_COMPRESSED (zlib only; snappy and zstd are counted as
 * `compressed`). A reply is counted under the command it answers (its
 * `responseTo`); a reply flagged `moreToCome` (an exhaust stream, such as the
 * driver's streaming `hello`) names its own request id as the next reply's.
 * Only the first bytes of each message are kept, so a 16 MB batch costs no copy.
 */
import { inflateSync } from 'node:zlib';

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_COMPRESSED = 2012;
const OP_MSG = 2013;
const HEADER_BYTES = 16;
/** Enough for the header, flags and the first key of the command (or an OP_QUERY's namespace and first key). */
const HEAD_BYTES = 512;
const MORE_TO_COME = 1 << 1;
const ZLIB = 2;

export interface CommandCount {
  /** Client → server messages naming this command (round trips, when each has a reply). */
  requests: number;
  /** Server → client messages answering it. */
  replies: number;
  bytesToServer: number;
  bytesToClient: number;
}

export type CommandCounts = Record<string, CommandCount>;

/** The first key of the BSON document at `offset`, or undefined if it does not fit in `buf`. */
function firstKey(buf: Buffer, offset: number): string | undefined {
  const keyAt = offset + 4 + 1; // document length, element type
  if (keyAt >= buf.length || buf[offset + 4] === 0) return undefined;
  const end = buf.indexOf(0, keyAt);
  return end < 0 ? undefined : buf.toString('utf8', keyAt, end);
}

/** The command a request names, from its first bytes (or the whole message, for OP_COMPRESSED). */
export function requestName(msg: Buffer): string {
  const opCode = msg.readInt32LE(12);
  if (opCode === OP_MSG) {
    // flags, then sections; the driver sends the kind-0 body first.
    return msg[HEADER_BYTES + 4] === 0 ? (firstKey(msg, HEADER_BYTES + 5) ?? 'unknown') : 'unknown';
  }
  if (opCode === OP_QUERY) {
    const nsEnd = msg.indexOf(0, HEADER_BYTES + 4);
    if (nsEnd < 0) return 'unknown';
    const queryAt = nsEnd + 1 + 8; // numberToSkip, numberToReturn
    const key = firstKey(msg, queryAt);
    // Legacy wrapping: { $query: { hello: 1 }, $readPreference: ... }; the inner document starts after "$query\0".
    if (key === '$query') return firstKey(msg, queryAt + 4 + 1 + '$query'.length + 1) ?? 'unknown';
    return key ?? 'unknown';
  }
  if (opCode === OP_COMPRESSED) {
    const inner = decompress(msg);
    return inner ? requestName(inner) : 'compressed';
  }
  return `opcode ${opCode}`;
}

/** The original message of an OP_COMPRESSED, rebuilt with its own header; undefined unless zlib. */
function decompress(msg: Buffer): Buffer | undefined {
  if (msg.length < HEADER_BYTES + 9 || msg[HEADER_BYTES + 8] !== ZLIB) return undefined;
  try {
    const body = inflateSync(msg.subarray(HEADER_BYTES + 9));
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeInt32LE(HEADER_BYTES + body.length, 0);
    header.writeInt32LE(msg.readInt32LE(4), 4);
    header.writeInt32LE(msg.readInt32LE(8), 8);
    header.writeInt32LE(msg.readInt32LE(HEADER_BYTES), 12); // originalOpcode
    return Buffer.concat([header, body]);
  } catch {
    return undefined;
  }
}

function flagsOf(msg: Buffer): number {
  const opCode = msg.readInt32LE(12);
  if (opCode === OP_MSG && msg.length >= HEADER_BYTES + 4) return msg.readUInt32LE(HEADER_BYTES);
  if (opCode === OP_COMPRESSED) {
    const inner = decompress(msg);
    return inner ? flagsOf(inner) : 0;
  }
  return 0;
}

/** One direction of one connection: splits the byte stream into messages and hands each to `onMessage`. */
class Framer {
  #head = Buffer.alloc(0);
  /** The whole message, kept only for OP_COMPRESSED (its name is inside the compressed body). */
  #whole: Buffer[] | undefined;
  #length = 0;
  #seen = 0;
  readonly #onMessage: (head: Buffer, length: number) => void;

  constructor(onMessage: (head: Buffer, length: number) => void) {
    this.#onMessage = onMessage;
  }

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#seen < HEADER_BYTES) {
        const take = Math.min(HEADER_BYTES - this.#seen, chunk.length - at);
        this.#head = Buffer.concat([this.#head, chunk.subarray(at, at + take)]);
        this.#seen += take;
        at += take;
        if (this.#seen < HEADER_BYTES) return;
        this.#length = this.#head.readInt32LE(0);
        if (this.#length < HEADER_BYTES) this.#length = HEADER_BYTES; // not MongoDB; count it and carry on
        this.#whole = this.#head.readInt32LE(12) === OP_COMPRESSED ? [this.#head] : undefined;
      }
      const take = Math.min(this.#length - this.#seen, chunk.length - at);
      const part = chunk.subarray(at, at + take);
      if (this.#whole) this.#whole.push(part);
      else if (this.#head.length < HEAD_BYTES) this.#head = Buffer.concat([this.#head, part.subarray(0, HEAD_BYTES - this.#head.length)]);
      this.#seen += take;
      at += take;
      if (this.#seen === this.#length) {
        this.#onMessage(this.#whole ? Buffer.concat(this.#whole) : this.#head, this.#length);
        this.#head = Buffer.alloc(0);
        this.#whole = undefined;
        this.#seen = 0;
        this.#length = 0;
      }
    }
  }
}

/** Both directions of one connection, adding into a shared table of counts. */
export class ConnectionCounter {
  /** Request id → command name, for requests whose reply has not come yet. */
  readonly #pending = new Map<number, string>();
  readonly #table: () => CommandCounts;
  readonly #toServer: Framer;
  readonly #toClient: Framer;

  /** `table` gives the table to add to (the link may start a new one). */
  constructor(table: () => CommandCounts) {
    this.#table = table;
    this.#toServer = new Framer((head, length) => this.#request(head, length));
    this.#toClient = new Framer((head, length) => this.#reply(head, length));
  }

  fromClient(chunk: Buffer): void {
    this.#toServer.push(chunk);
  }

  fromServer(chunk: Buffer): void {
    this.#toClient.push(chunk);
  }

  #count(name: string): CommandCount {
    const table = this.#table();
    let c = table[name];
    if (!c) {
      c = { requests: 0, replies: 0, bytesToServer: 0, bytesToClient: 0 };
      table[name] = c;
    }
    return c;
  }

  #request(head: Buffer, length: number): void {
    const name = requestName(head);
    const c = this.#count(name);
    c.requests += 1;
    c.bytesToServer += length;
    if ((flagsOf(head) & MORE_TO_COME) === 0) this.#pending.set(head.readInt32LE(4), name);
  }

  #reply(head: Buffer, length: number): void {
    const responseTo = head.readInt32LE(8);
    const name = this.#pending.get(responseTo) ?? 'unmatched reply';
    this.#pending.delete(responseTo);
    const c = this.#count(name);
    c.replies += 1;
    c.bytesToClient += length;
    const opCode = head.readInt32LE(12);
    // Exhaust: the next reply answers this one.
    if (opCode !== OP_REPLY && (flagsOf(head) & MORE_TO_COME) !== 0) this.#pending.set(head.readInt32LE(4), name);
  }
}
