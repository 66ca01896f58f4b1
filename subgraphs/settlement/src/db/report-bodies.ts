import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { reportStoredBytesMax } from '../limits';

/**
 * A stored reconciliation report's JSON is kept gzipped: a bank's day of tens of thousands of lines is tens of MB of
 * JSON (ids, references, the same keys in every item), over a MEDIUMTEXT's 16 MiB and the server's max_allowed_packet,
 * so its run answered an internal error on the day an operator needed it. gzip runs on libuv's threads, not the event
 * loop. Reports stored as text before (migration 0011 kept their bytes) are read as they are.
 */
const gzipped = promisify(gzip);
const gunzipped = promisify(gunzip);

/** gzip's first two bytes (RFC 1952); a report's JSON starts with `{` or `[`. */
const gzipMagic = [0x1f, 0x8b] as const;

export async function packReport(json: string): Promise<Buffer> {
  const packed = await gzipped(Buffer.from(json, 'utf8'));
  if (packed.length > reportStoredBytesMax)
    throw new Error(
      `a reconciliation report of ${json.length} characters is ${packed.length} bytes gzipped, over reportStoredBytesMax (${reportStoredBytesMax}): not stored`,
    );
  return packed;
}

export async function unpackReport(stored: Buffer): Promise<string> {
  const isGzip = stored[0] === gzipMagic[0] && stored[1] === gzipMagic[1];
  return (isGzip ? await gunzipped(stored) : stored).toString('utf8');
}
