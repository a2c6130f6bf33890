/**
 * A version (`hlc.ts`) as the conflict log stores it: its wall time in 6
 * bytes, its counter in 2 and its device's characters after them, 10 bytes
 * less than the string with a till's default device id (issue 18). Nothing
 * compares these on the server (version records, which are compared there,
 * pack versions their own way: `version-record.ts`). A string that is not a
 * version exactly as `encodeVersion` writes it is stored as it is, and
 * records written before, with strings, read as they were. Pure.
 */
import { Binary } from 'mongodb';
import { decodeVersion, encodeVersion } from '../core/hlc.ts';

/** A version as stored: its bytes, or the string. */
export type VersionBytes = Binary | string;

const WALL_BYTES = 6;
const COUNTER_AT = WALL_BYTES;
const DEVICE_AT = WALL_BYTES + 2;

/** The version as the log stores it: `versionFromBytes` gives back exactly `v`. */
export function versionBytes(v: string): VersionBytes {
  let version;
  try {
    version = decodeVersion(v);
  } catch {
    return v;
  }
  if (encodeVersion(version) !== v) return v;
  const bytes = Buffer.alloc(DEVICE_AT + version.device.length);
  bytes.writeUIntBE(version.wall, 0, WALL_BYTES);
  bytes.writeUInt16BE(version.counter, COUNTER_AT);
  bytes.write(version.device, DEVICE_AT, 'latin1'); // device ids are ASCII (`isValidDeviceId`)
  return new Binary(bytes);
}

/** The version a stored value holds. */
export function versionFromBytes(stored: VersionBytes): string {
  if (typeof stored === 'string') return stored;
  const bytes = Buffer.from(stored.value());
  return encodeVersion({
    wall: bytes.readUIntBE(0, WALL_BYTES),
    counter: bytes.readUInt16BE(COUNTER_AT),
    device: bytes.toString('latin1', DEVICE_AT),
  });
}
