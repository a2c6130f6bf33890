/** Open cursors: a find/aggregate result being paged, or a change stream. */
import type { Document } from 'bson';
import type { ChangeStream } from './change-stream.ts';

export interface FindCursor {
  kind: 'find';
  id: number;
  ns: string;
  docs: Document[];
  pos: number;
  lastUsed: number;
}

export interface ChangeStreamCursor {
  kind: 'changeStream';
  id: number;
  ns: string;
  stream: ChangeStream;
  lastUsed: number;
}

export type Cursor = FindCursor | ChangeStreamCursor;

/** Cursors idle this long are closed, as the server's cursor timeout does. */
export const CURSOR_IDLE_MS = 10 * 60 * 1000;
