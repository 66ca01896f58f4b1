import mysql from 'mysql2/promise';

/**
 * The database server a shard's URL names, as a URL of its own: the same host, port and credentials, no database (the
 * server's variables and status, its process list, a database to drop, none of which a database's connection needs).
 */
export function serverUriOf(shardUrl: string): string {
  const url = new URL(shardUrl);
  url.pathname = '/';
  return url.toString();
}

/** One connection to the server a shard's URL names, for `use` alone: closed after it, whatever it answers. */
export async function withServer<T>(shardUrl: string, use: (conn: mysql.Connection) => Promise<T>): Promise<T> {
  const conn = await mysql.createConnection({ uri: serverUriOf(shardUrl) });
  try {
    return await use(conn);
  } finally {
    await conn.end();
  }
}
