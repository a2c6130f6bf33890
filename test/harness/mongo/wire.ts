/**
 * MongoDB wire framing: OP_QUERY (the first handshake), OP_REPLY (its answer),
 * OP_MSG (everything else). See shared/reference §1.1.
 */
import { deserialize, serialize, type Document } from 'bson';
import { ProtocolError } from './errors.ts';

export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_COMPRESSED = 2012;
export const OP_MSG = 2013;

export const MAX_MESSAGE_BYTES = 48_000_000;
export const MAX_BSON_BYTES = 16 * 1024 * 1024;
const HEADER_BYTES = 16;

const FLAG_CHECKSUM = 1 << 0;
const FLAG_MORE_TO_COME = 1 << 1;
const FLAG_EXHAUST_ALLOWED = 1 << 16;

export interface WireRequest {
  requestId: number;
  opCode: number;
  /** The command document, with kind-1 sequences merged in as arrays. */
  body: Document;
  /** `moreToCome`: the client wants no reply (w:0). */
  moreToCome: boolean;
  exhaustAllowed: boolean;
  /** Came as OP_QUERY: answer with OP_REPLY. */
  legacy: boolean;
  /** Size of a document in it over what the server accepts (16 MB + 16 KB): the command fails with BSONObjectTooLarge. */
  oversized?: number;
}

/** The largest document the server reads off the wire (BSONObjMaxInternalSize). */
export const MAX_WIRE_DOCUMENT_BYTES = MAX_BSON_BYTES + 16 * 1024;

const BSON_OPTIONS = { promoteValues: true, promoteLongs: true, promoteBuffers: false } as const;

function readDocument(buf: Buffer, offset: number, end: number, what: string): { doc: Document; next: number; size: number } {
  if (offset + 5 > end) throw new ProtocolError(`${what}: truncated BSON document`);
  const size = buf.readInt32LE(offset);
  if (size < 5 || offset + size > end) throw new ProtocolError(`${what}: BSON document size ${size} does not fit the message`);
  let doc: Document;
  try {
    doc = deserialize(buf.subarray(offset, offset + size), BSON_OPTIONS);
  } catch (err) {
    throw new ProtocolError(`${what}: invalid BSON (${(err as Error).message})`);
  }
  return { doc, next: offset + size, size };
}

function readCString(buf: Buffer, offset: number, end: number, what: string): { value: string; next: number } {
  const zero = buf.indexOf(0, offset);
  if (zero < 0 || zero >= end) throw new ProtocolError(`${what}: unterminated string`);
  return { value: buf.toString('utf8', offset, zero), next: zero + 1 };
}

/** Reads the total length of the message at the start of `buf`, validating it. */
export function messageLength(buf: Buffer): number {
  const length = buf.readInt32LE(0);
  if (length < HEADER_BYTES || length > MAX_MESSAGE_BYTES) {
    throw new ProtocolError(`message length ${length} is outside ${HEADER_BYTES}..${MAX_MESSAGE_BYTES} bytes`);
  }
  return length;
}

/**
 * Cuts a connection's byte stream into whole messages. Chunks are joined once
 * a message is complete, not on every chunk: a 16 MB message arrives in
 * hundreds of chunks, and joining each time copied gigabytes.
 */
export class MessageReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Length of the message being collected; 0 until its header has arrived. */
  #needed = 0;

  /** Adds bytes; returns the messages they complete (throws ProtocolError on a bad length). */
  push(chunk: Buffer): Buffer[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const messages: Buffer[] = [];
    for (;;) {
      if (this.#needed === 0) {
        if (this.#buffered < 4) break;
        if ((this.#chunks[0] as Buffer).length < 4) this.#chunks = [Buffer.concat(this.#chunks, this.#buffered)];
        this.#needed = messageLength(this.#chunks[0] as Buffer);
      }
      if (this.#buffered < this.#needed) break;
      const all = this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks, this.#buffered);
      messages.push(all.subarray(0, this.#needed));
      const rest = all.subarray(this.#needed);
      this.#chunks = rest.length > 0 ? [rest] : [];
      this.#buffered = rest.length;
      this.#needed = 0;
    }
    return messages;
  }
}

/** Parses one complete message (header included). */
export function parseMessage(msg: Buffer): WireRequest {
  const requestId = msg.readInt32LE(4);
  const opCode = msg.readInt32LE(12);
  const end = msg.length;
  if (opCode === OP_MSG) {
    const flags = msg.readUInt32LE(HEADER_BYTES);
    const sectionsEnd = flags & FLAG_CHECKSUM ? end - 4 : end;
    let offset = HEADER_BYTES + 4;
    let body: Document | undefined;
    let oversized: number | undefined;
    const sequences: Array<[string, Document[]]> = [];
    while (offset < sectionsEnd) {
      const kind = msg.readUInt8(offset);
      offset += 1;
      if (kind === 0) {
        if (body) throw new ProtocolError('OP_MSG has more than one kind-0 section');
        const read = readDocument(msg, offset, sectionsEnd, 'OP_MSG body');
        body = read.doc;
        offset = read.next;
        if (read.size > MAX_WIRE_DOCUMENT_BYTES) oversized ??= read.size;
      } else if (kind === 1) {
        if (offset + 4 > sectionsEnd) throw new ProtocolError('OP_MSG kind-1 section is truncated');
        const size = msg.readInt32LE(offset);
        const sectionEnd = offset + size;
        if (size < 5 || sectionEnd > sectionsEnd) throw new ProtocolError(`OP_MSG kind-1 section size ${size} does not fit`);
        const id = readCString(msg, offset + 4, sectionEnd, 'OP_MSG sequence identifier');
        const docs: Document[] = [];
        let at = id.next;
        while (at < sectionEnd) {
          const read = readDocument(msg, at, sectionEnd, `OP_MSG sequence "${id.value}"`);
          docs.push(read.doc);
          at = read.next;
          if (read.size > MAX_WIRE_DOCUMENT_BYTES) oversized ??= read.size;
        }
        sequences.push([id.value, docs]);
        offset = sectionEnd;
      } else {
        throw new ProtocolError(`OP_MSG section kind ${kind} is unknown (expected 0 or 1)`);
      }
    }
    if (!body) throw new ProtocolError('OP_MSG has no kind-0 section');
    for (const [name, docs] of sequences) body[name] = docs;
    return {
      requestId,
      opCode,
      body,
      moreToCome: (flags & FLAG_MORE_TO_COME) !== 0,
      exhaustAllowed: (flags & FLAG_EXHAUST_ALLOWED) !== 0,
      legacy: false,
      oversized,
    };
  }
  if (opCode === OP_QUERY) {
    let offset = HEADER_BYTES + 4; // flags
    const ns = readCString(msg, offset, end, 'OP_QUERY namespace');
    offset = ns.next + 8; // numberToSkip, numberToReturn
    if (!ns.value.endsWith('.$cmd')) throw new ProtocolError(`OP_QUERY on "${ns.value}" is not supported (only <db>.$cmd commands)`);
    const read = readDocument(msg, offset, end, 'OP_QUERY query');
    let body = read.doc;
    // Legacy wrapping: { $query: {...}, $readPreference: ... }
    if (body.$query && typeof body.$query === 'object') body = body.$query as Document;
    if (body.$db === undefined) body.$db = ns.value.slice(0, -'.$cmd'.length);
    return { requestId, opCode, body, moreToCome: false, exhaustAllowed: false, legacy: true };
  }
  if (opCode === OP_COMPRESSED) throw new ProtocolError('OP_COMPRESSED received but compression was not negotiated');
  throw new ProtocolError(`opcode ${opCode} is not supported (expected OP_MSG 2013 or OP_QUERY 2004)`);
}

let nextResponseId = 1;

/**
 * Encodes a reply to `responseTo` as OP_MSG, or OP_REPLY for a legacy request.
 * `moreToCome`: another reply follows without a request (exhaust).
 */
export function encodeReply(responseTo: number, doc: Document, legacy: boolean, moreToCome = false): Buffer {
  const payload = serialize(doc, { ignoreUndefined: true });
  const requestId = nextResponseId++ & 0x7fffffff;
  if (legacy) {
    const out = Buffer.allocUnsafe(HEADER_BYTES + 20 + payload.length);
    out.writeInt32LE(out.length, 0);
    out.writeInt32LE(requestId, 4);
    out.writeInt32LE(responseTo, 8);
    out.writeInt32LE(OP_REPLY, 12);
    out.writeInt32LE(8, 16); // AwaitCapable
    out.writeBigInt64LE(0n, 20); // cursorID
    out.writeInt32LE(0, 28); // startingFrom
    out.writeInt32LE(1, 32); // numberReturned
    out.set(payload, 36);
    return out;
  }
  const out = Buffer.allocUnsafe(HEADER_BYTES + 5 + payload.length);
  out.writeInt32LE(out.length, 0);
  out.writeInt32LE(requestId, 4);
  out.writeInt32LE(responseTo, 8);
  out.writeInt32LE(OP_MSG, 12);
  out.writeUInt32LE(moreToCome ? FLAG_MORE_TO_COME : 0, 16);
  out.writeUInt8(0, 20);
  out.set(payload, 21);
  return out;
}
