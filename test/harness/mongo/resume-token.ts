/**
 * Resume tokens shaped like the server's (KeyString V1 as uppercase hex), so they
 * sort in stream order as strings. See shared/reference §2.4.
 *
 *   event: 82 <ts:8> 2B04 2C0100 <txnOpIndex> <fromInvalidate> 5A1004 <uuid:16> [<fragmentNum>] 04
 *   HWM:   82 <ts:8> 2B04 29     29          6E               14                               04
 *
 * A fragment of an event split by $changeStreamSplitLargeEvent carries its
 * 0-based fragment number last, so fragments sort after their event's own
 * position and before the next event.
 */
import type { UUID } from 'bson';
import { CommandError } from './errors.ts';
import type { ClusterTime } from './cluster-time.ts';

export interface DecodedToken {
  ts: ClusterTime;
  /** High-water mark: a position, not an event. */
  hwm: boolean;
  txnOpIndex: number;
  fromInvalidate: boolean;
  /** Which fragment of a split event (0-based); undefined for a whole event. */
  fragmentNum: number | undefined;
}

function encodeInt(n: number): string {
  if (n === 0) return '29';
  const shifted = BigInt(n) << 1n;
  let hex = shifted.toString(16).toUpperCase();
  if (hex.length % 2) hex = `0${hex}`;
  const bytes = hex.length / 2;
  return (0x2a + bytes).toString(16).toUpperCase() + hex;
}

function tsHex(ts: ClusterTime): string {
  return ts.toString(16).toUpperCase().padStart(16, '0');
}

export function eventToken(
  ts: ClusterTime,
  txnOpIndex: number,
  uuid: UUID | undefined,
  fromInvalidate = false,
  fragmentNum?: number,
): { _data: string } {
  const uuidHex = uuid ? `5A1004${uuid.toHexString(false).toUpperCase()}` : '14';
  const fragment = fragmentNum === undefined ? '' : encodeInt(fragmentNum);
  return { _data: `82${tsHex(ts)}2B042C0100${encodeInt(txnOpIndex)}${fromInvalidate ? '6F' : '6E'}${uuidHex}${fragment}04` };
}

/** The token of fragment `fragmentNum` of the event whose token is `token`. */
export function fragmentToken(token: { _data: string }, fragmentNum: number): { _data: string } {
  return { _data: `${token._data.slice(0, -2)}${encodeInt(fragmentNum)}04` };
}

export function highWaterMarkToken(ts: ClusterTime): { _data: string } {
  return { _data: `82${tsHex(ts)}2B0429296E1404` };
}

function readInt(hex: string, at: number): { value: number; next: number } {
  const type = parseInt(hex.slice(at, at + 2), 16);
  if (type === 0x29) return { value: 0, next: at + 2 };
  const bytes = type - 0x2a;
  if (bytes < 1 || bytes > 8) throw new Error(`unexpected type byte ${type.toString(16)}`);
  const raw = BigInt(`0x${hex.slice(at + 2, at + 2 + bytes * 2)}`);
  return { value: Number(raw >> 1n), next: at + 2 + bytes * 2 };
}

/** Decodes a token the client sent back; errors are the server's (40647, 9, 260). */
export function decodeToken(token: unknown): DecodedToken {
  const data = (token as { _data?: unknown } | null)?._data;
  if (typeof data !== 'string') {
    throw new CommandError(40647, 'Bad resume token: _data of missing or of wrong type. Expected string');
  }
  if (!/^([0-9A-Fa-f]{2})*$/.test(data)) {
    throw new CommandError(9, `resume token string was not a valid hex string: ${data}`);
  }
  const hex = data.toUpperCase();
  try {
    if (!hex.startsWith('82') || hex.length < 2 + 16 + 4) throw new Error('no cluster time');
    const ts = BigInt(`0x${hex.slice(2, 18)}`);
    const version = readInt(hex, 18);
    if (version.value !== 2) throw new Error(`version ${version.value}`);
    const tokenType = readInt(hex, version.next);
    const opIndex = readInt(hex, tokenType.next);
    const flag = hex.slice(opIndex.next, opIndex.next + 2);
    if (flag !== '6E' && flag !== '6F') throw new Error('no fromInvalidate flag');
    let at = opIndex.next + 2;
    if (hex.startsWith('5A1004', at)) at += 6 + 32;
    else if (hex.startsWith('14', at)) at += 2;
    const fragmentNum = at < hex.length - 2 ? readInt(hex, at).value : undefined;
    return { ts, hwm: tokenType.value === 0, txnOpIndex: opIndex.value, fromInvalidate: flag === '6F', fragmentNum };
  } catch (err) {
    throw new CommandError(260, `Invalid resume token: ${(err as Error).message}`);
  }
}
