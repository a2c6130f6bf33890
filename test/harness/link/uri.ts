/**
 * Connection strings through a link: the server a `mongodb://` URI names, and
 * the same URI pointed at the link's port instead.
 */
import { LinkOptionError } from './proxy.ts';

const SCHEME = 'mongodb://';

function split(uri: string): { auth: string; hosts: string; path: string; query: URLSearchParams } {
  if (!uri.startsWith(SCHEME))
    throw new LinkOptionError(
      `a link needs a mongodb:// connection string with a host:port (a mongodb+srv:// one names no single server); got "${uri.split('@').pop()}"`,
    );
  const rest = uri.slice(SCHEME.length);
  const slash = rest.search(/[/?]/);
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const tail = slash < 0 ? '' : rest.slice(slash);
  const at = authority.lastIndexOf('@');
  const [path = '', query = ''] = tail.split('?', 2) as [string?, string?];
  return {
    auth: at < 0 ? '' : authority.slice(0, at + 1),
    hosts: at < 0 ? authority : authority.slice(at + 1),
    path: path === '' ? '/' : path,
    query: new URLSearchParams(query),
  };
}

/** The first server the URI names, as `host:port` (port 27017 when it gives none). */
export function linkTarget(uri: string): string {
  const first = split(uri).hosts.split(',')[0] as string;
  return /:\d+$/.test(first) ? first : `${first}:27017`;
}

/**
 * The URI through a link listening on `host:port`: a direct connection, so that the driver does not go
 * round the link to the members the server's `hello` names (a real replica set's hosts).
 */
export function linkedUri(uri: string, port: number, host = '127.0.0.1'): string {
  const { auth, path, query } = split(uri);
  query.delete('replicaSet');
  query.set('directConnection', 'true');
  return `${SCHEME}${auth}${host}:${port}${path}?${query.toString()}`;
}
