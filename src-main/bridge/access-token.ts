/**
 * The web bridge's access token: random, made at each start, carried in the
 * URL the bridge prints and, after the first page load, in a cookie. Compared
 * in constant time; a refusal says what to open instead.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The query parameter of the printed URL. */
export const TOKEN_PARAM = 'token';

export const REFUSED_TEXT = {
  missing: 'This dashboard needs its access token. Open the full address TillSync printed when it started (it ends with ?token=...).\n',
  wrong:
    'The access token in this address is not the one this dashboard expects (TillSync makes a new one at each start). Open the address it printed last.\n',
} as const;

export type Access = 'ok' | keyof typeof REFUSED_TEXT;

/** The token in a request's query string, if it has one. */
export function tokenInQuery(url: string | undefined): string | undefined {
  const at = (url ?? '').indexOf('?');
  return at === -1 ? undefined : (new URLSearchParams(url!.slice(at + 1)).get(TOKEN_PARAM) ?? undefined);
}

function fromCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Checks the token a request carries, in its query or its cookie, in constant time. */
export function tokenCheck(token: string, cookieName: string): (req: IncomingMessage) => Access {
  const expected = Buffer.from(token);
  const matches = (given: string): boolean => {
    const bytes = Buffer.from(given);
    return bytes.length === expected.length && timingSafeEqual(bytes, expected);
  };
  return (req) => {
    const given = tokenInQuery(req.url) ?? fromCookie(req.headers.cookie, cookieName);
    if (given === undefined) return 'missing';
    return matches(given) ? 'ok' : 'wrong';
  };
}
