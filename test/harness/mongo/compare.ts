/**
 * MongoDB's comparison order for sorting values of mixed BSON types
 * (https://www.mongodb.com/docs/manual/reference/bson-type-comparison-order/).
 */
import type { Document } from 'bson';
import { collated, type Collation } from './collation.ts';
import { getPath } from './values.ts';

type Tagged = { _bsontype?: string };

function rank(v: unknown): number {
  if (v === undefined || v === null) return 2;
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return 3;
    case 'string':
      return 4;
    case 'boolean':
      return 9;
    default:
      break;
  }
  if (v instanceof Date) return 10;
  if (v instanceof RegExp) return 12;
  if (Array.isArray(v)) return 6;
  switch ((v as Tagged)._bsontype) {
    case 'MinKey':
      return 1;
    case 'Long':
    case 'Int32':
    case 'Double':
    case 'Decimal128':
      return 3;
    case 'BSONSymbol':
      return 4;
    case 'Binary':
    case 'UUID':
      return 7;
    case 'ObjectId':
      return 8;
    case 'Timestamp':
      return 11;
    case 'BSONRegExp':
      return 12;
    case 'MaxKey':
      return 13;
    default:
      return 5;
  }
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(String(v));
}

export function compareValues(a: unknown, b: unknown): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 1:
    case 2:
    case 13:
      return 0;
    case 3:
      return num(a) - num(b);
    case 4: {
      const sa = String(a);
      const sb = String(b);
      return sa < sb ? -1 : sa > sb ? 1 : 0;
    }
    case 5: {
      const ea = Object.entries(a as Document);
      const eb = Object.entries(b as Document);
      for (let i = 0; i < Math.min(ea.length, eb.length); i += 1) {
        const [ka, va] = ea[i] as [string, unknown];
        const [kb, vb] = eb[i] as [string, unknown];
        const byType = rank(va) - rank(vb);
        if (byType !== 0) return byType;
        if (ka !== kb) return ka < kb ? -1 : 1;
        const c = compareValues(va, vb);
        if (c !== 0) return c;
      }
      return ea.length - eb.length;
    }
    case 6: {
      const xa = a as unknown[];
      const xb = b as unknown[];
      for (let i = 0; i < Math.min(xa.length, xb.length); i += 1) {
        const c = compareValues(xa[i], xb[i]);
        if (c !== 0) return c;
      }
      return xa.length - xb.length;
    }
    case 7: {
      const ba = a as { buffer: Uint8Array; sub_type: number };
      const bb = b as { buffer: Uint8Array; sub_type: number };
      if (ba.buffer.length !== bb.buffer.length) return ba.buffer.length - bb.buffer.length;
      if (ba.sub_type !== bb.sub_type) return ba.sub_type - bb.sub_type;
      return Buffer.compare(Buffer.from(ba.buffer), Buffer.from(bb.buffer));
    }
    case 8: {
      const ha = (a as { toHexString(): string }).toHexString();
      const hb = (b as { toHexString(): string }).toHexString();
      return ha < hb ? -1 : ha > hb ? 1 : 0;
    }
    case 9:
      return Number(a) - Number(b);
    case 10:
      return (a as Date).getTime() - (b as Date).getTime();
    case 11: {
      const ta = a as { high: number; low: number };
      const tb = b as { high: number; low: number };
      return (ta.high >>> 0) - (tb.high >>> 0) || (ta.low >>> 0) - (tb.low >>> 0);
    }
    default:
      return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
  }
}

/** The value a document sorts by on `path`: an array sorts by its least (ascending) or greatest (descending) element. */
function sortKey(doc: Document, path: string, direction: number, collation: Collation | undefined): unknown {
  const raw = getPath(doc, path);
  const v = collation ? collated(raw, collation) : raw;
  if (!Array.isArray(v)) return v;
  if (v.length === 0) return undefined;
  return v.reduce((best, x) => (compareValues(x, best) * direction < 0 ? x : best));
}

/** A stable sort of `docs` by a MongoDB sort specification (strings by their collation key when there is one). */
export function sortDocuments(docs: Document[], spec: Document, collation?: Collation): Document[] {
  const keys = Object.entries(spec).map(([path, dir]) => [path, Number(dir) < 0 ? -1 : 1] as const);
  return docs
    .map((doc, index) => ({ doc, index, keys: keys.map(([path, dir]) => sortKey(doc, path, dir, collation)) }))
    .sort((x, y) => {
      for (let i = 0; i < keys.length; i += 1) {
        const c = compareValues(x.keys[i], y.keys[i]) * (keys[i] as readonly [string, number])[1];
        if (c !== 0) return c;
      }
      return x.index - y.index;
    })
    .map((row) => row.doc);
}
