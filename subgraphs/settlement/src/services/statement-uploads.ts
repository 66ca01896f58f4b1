import { createHash } from 'node:crypto';
import type { Forbidden } from '@paygraph/shared/authorization';
import type { Identity } from '@paygraph/shared/identity';
import { ulid } from '@paygraph/shared/ids';
import { log } from '@paygraph/shared/log';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { assert, err, ok, type Result } from '@paygraph/shared/result';
import { startWorker, type Worker } from '@paygraph/shared/worker';
import {
  completeUpload,
  countPiece,
  deleteUpload,
  expiredUploads,
  insertPiece,
  insertUpload,
  lockOperatorUploads,
  pieceOf,
  uploadById,
} from '../db/upload-store';
import type { StatementUploadRow } from '../db/schema/settlement';
import { utf8Text } from '../domain/upload-text';
import {
  uploadBytesMax,
  uploadBytesPerOperatorMax,
  uploadChunkBytesMax,
  uploadPurgeChunksMax,
  uploadPurgeIntervalMs,
  uploadPurgeUploadsMax,
  uploadsInFlightMax,
  uploadsPerOperatorMax,
  uploadTtlMs,
} from '../limits';
import { mayOperate } from './access';
import { controlShard } from './settle';

/**
 * Statement uploads (`POST /uploads/statements`, through the gateway): a bank's file too large for a GraphQL request,
 * stored on the control shard in pieces as it arrives, then imported by importBankStatement({ uploadId }) within an
 * hour. Only the operator who uploaded a file may import it (an id seen in a log or a screen share is worth nothing
 * to another token), and an operator holds at most uploadsPerOperatorMax uploads and uploadBytesPerOperatorMax bytes
 * at once. Memory: a process receives at most uploadsInFlightMax uploads at once, each holding about one piece
 * (limits.ts), whatever the file's size.
 */
export type UploadRefusal =
  | { kind: 'UploadTooLarge'; bytesMax: number }
  | { kind: 'UploadQuotaExceeded'; message: string }
  | { kind: 'UploadsBusy'; inFlightMax: number };

export interface StoredUpload {
  uploadId: string;
  bytes: number;
  sha256: string;
  expiresAt: Date;
}

/** What the transport hands over: the Content-Length when one was sent, and the body as it arrives. */
export interface UploadRequest {
  declaredBytes: number | null;
  body: AsyncIterable<Uint8Array>;
}

export interface StatementUploads {
  receive(identity: Identity, request: UploadRequest): Promise<Result<StoredUpload, UploadRefusal | Forbidden>>;
}

/** The uploads one process receives; it counts those in flight (uploadsInFlightMax). */
export function statementUploads(shards: ShardSet, now: () => Date): StatementUploads {
  let inFlight = 0;
  return {
    async receive(identity, request) {
      const refused = mayOperate(identity, 'upload statements');
      if (refused) return err(refused);
      if (request.declaredBytes !== null && request.declaredBytes > uploadBytesMax) return err(tooLarge);
      if (inFlight >= uploadsInFlightMax) return err({ kind: 'UploadsBusy', inFlightMax: uploadsInFlightMax });
      inFlight += 1;
      try {
        return await receiveUpload(shards, identity.sub, request, now);
      } finally {
        inFlight -= 1;
      }
    },
  };
}

const tooLarge: UploadRefusal = { kind: 'UploadTooLarge', bytesMax: uploadBytesMax };

/** Opens the upload's row, stores its body, completes it; anything short of that deletes what was stored. */
async function receiveUpload(
  shards: ShardSet,
  operator: string,
  request: UploadRequest,
  now: () => Date,
): Promise<Result<StoredUpload, UploadRefusal>> {
  const uploadId = `upl_${ulid()}`;
  const opened = await openUpload(shards, { uploadId, operator, declaredBytes: request.declaredBytes ?? 0 }, now());
  if (!opened.ok) return opened;
  let kept = false;
  try {
    const stored = await storeBody(shards, { uploadId, operator }, request.body, now);
    if (!stored.ok) return stored;
    const completedAt = now();
    const expiresAt = new Date(completedAt.getTime() + uploadTtlMs);
    await completeUpload(controlShard(shards).db, uploadId, { ...stored.value, completedAt, expiresAt });
    kept = true;
    return ok({ uploadId, ...stored.value, expiresAt });
  } finally {
    // A refusal, a sender gone mid-body or a failed write: nothing of the upload stays. Should this delete fail too,
    // the purge removes the rest within uploadTtlMs of its last piece.
    if (!kept)
      await deleteUpload(controlShard(shards).db, uploadId, uploadPurgeChunksMax).catch((error: unknown) =>
        log().error({ err: error }, `upload ${uploadId}: deleting what was stored of it failed; the purge will`),
      );
  }
}

/** The upload's row, if the operator's quota has room for one more upload of the bytes it declared. */
async function openUpload(
  shards: ShardSet,
  upload: { uploadId: string; operator: string; declaredBytes: number },
  at: Date,
): Promise<Result<null, UploadRefusal>> {
  return inTransaction(controlShard(shards), async (tx) => {
    const held = await lockOperatorUploads(tx, upload.operator, at);
    if (held.uploads + 1 > uploadsPerOperatorMax || held.bytes + upload.declaredBytes > uploadBytesPerOperatorMax)
      return err(overQuota(held));
    const expiresAt = new Date(at.getTime() + uploadTtlMs);
    await insertUpload(tx, { id: upload.uploadId, uploadedBy: upload.operator, bytes: 0, createdAt: at, expiresAt });
    return ok(null);
  });
}

function overQuota(held: { uploads: number; bytes: number }): UploadRefusal {
  return {
    kind: 'UploadQuotaExceeded',
    message: `you hold ${held.uploads} uploads of ${held.bytes} bytes, and may hold ${uploadsPerOperatorMax} uploads of ${uploadBytesPerOperatorMax} bytes at once: each is kept for an hour after it was stored`,
  };
}

/**
 * Reads the body and writes it in pieces of uploadChunkBytesMax as they fill, each before more is read, so that a
 * process holds about one piece of it (filled in place: one buffer per upload, reused for every piece). The body's
 * iterator is never closed early: closing a request's stream resets its connection, and the refusal is still to be
 * answered on it.
 */
async function storeBody(
  shards: ShardSet,
  upload: { uploadId: string; operator: string },
  body: AsyncIterable<Uint8Array>,
  now: () => Date,
): Promise<Result<{ bytes: number; sha256: string }, UploadRefusal>> {
  const iterator = body[Symbol.asyncIterator]();
  const hash = createHash('sha256');
  const piece = Buffer.allocUnsafe(uploadChunkBytesMax);
  let filled = 0;
  let stored = 0;
  let sequence = 0;
  const flush = async (): Promise<Result<null, UploadRefusal>> => {
    const data = piece.subarray(0, filled);
    const written = await writePiece(shards, upload, { sequence, data, bytesSoFar: stored + filled }, now());
    if (!written.ok) return written;
    stored += filled;
    sequence += 1;
    filled = 0;
    return ok(null);
  };
  for (;;) {
    const next = await iterator.next();
    if (next.done) break;
    const data = next.value;
    if (stored + filled + data.byteLength > uploadBytesMax) return err(tooLarge);
    hash.update(data);
    for (let offset = 0; offset < data.byteLength;) {
      const taken = Math.min(piece.length - filled, data.byteLength - offset);
      piece.set(data.subarray(offset, offset + taken), filled);
      filled += taken;
      offset += taken;
      if (filled === piece.length) {
        const flushed = await flush();
        if (!flushed.ok) return flushed;
      }
    }
  }
  if (filled > 0) {
    const flushed = await flush();
    if (!flushed.ok) return flushed;
  }
  return ok({ bytes: stored, sha256: hash.digest('hex') });
}

/**
 * One piece, if the operator's bytes stay within the quota with it: counted first (under the operator's lock), then
 * stored. Should the store fail, the upload is deleted whole, its count with it.
 */
async function writePiece(
  shards: ShardSet,
  upload: { uploadId: string; operator: string },
  piece: { sequence: number; data: Buffer; bytesSoFar: number },
  at: Date,
): Promise<Result<null, UploadRefusal>> {
  const counted = await inTransaction(controlShard(shards), async (tx) => {
    const held = await lockOperatorUploads(tx, upload.operator, at);
    if (held.bytes + piece.data.length > uploadBytesPerOperatorMax) return err(overQuota(held));
    await countPiece(tx, upload.uploadId, {
      bytesSoFar: piece.bytesSoFar,
      expiresAt: new Date(at.getTime() + uploadTtlMs),
    });
    return ok(null);
  });
  if (!counted.ok) return counted;
  await insertPiece(controlShard(shards), upload.uploadId, piece.sequence, piece.data);
  return ok(null);
}

/** An upload importBankStatement may not read, as its INVALID_INPUT names it. */
export interface UploadUnreadable {
  kind: 'InvalidInput';
  field: 'uploadId';
  message: string;
}

/** An upload's text as the parsers read it: UTF-8 decoded piece by piece (domain/upload-text.ts). */
export interface UploadedText {
  uploadId: string;
  bytes: number;
  pieces: AsyncIterable<string>;
}

/** Thrown while an upload is read when its pieces went (it expired and was purged meanwhile). */
export class UploadGone extends Error {
  override name = 'UploadGone';
  constructor(readonly uploadId: string) {
    super(`upload ${uploadId} expired while it was read: upload the file again`);
  }
}

/**
 * The seam importBankStatement reads an upload through: the uploader's own, completed, unexpired upload, read one
 * piece at a time (a piece's 1 MiB in memory, not the file). Another operator's upload is answered as unknown.
 */
export async function readUpload(
  shards: ShardSet,
  uploadId: string,
  reader: string,
  now: Date,
): Promise<Result<UploadedText, UploadUnreadable>> {
  const row = await uploadById(controlShard(shards).db, uploadId);
  if (!row || row.uploadedBy !== reader)
    return err(unreadable(`no upload ${uploadId} of yours: POST the file to /uploads/statements first`));
  if (row.completedAt === null) return err(unreadable(`upload ${uploadId} is still being received`));
  if (row.expiresAt.getTime() <= now.getTime())
    return err(unreadable(`upload ${uploadId} expired at ${row.expiresAt.toISOString()}: upload the file again`));
  return ok({ uploadId, bytes: row.bytes, pieces: utf8Text(storedPieces(shards, row)) });
}

function unreadable(message: string): UploadUnreadable {
  return { kind: 'InvalidInput', field: 'uploadId', message };
}

/** The stored pieces in order; what was read must be what was stored (bytes and SHA-256), or it is a bug. */
async function* storedPieces(shards: ShardSet, row: StatementUploadRow): AsyncGenerator<Buffer, void, undefined> {
  const hash = createHash('sha256');
  let bytes = 0;
  for (let sequence = 0; bytes < row.bytes; sequence++) {
    const piece = await pieceOf(controlShard(shards).db, row.id, sequence);
    if (piece === undefined) throw new UploadGone(row.id);
    hash.update(piece);
    bytes += piece.length;
    yield piece;
  }
  assert(bytes === row.bytes, `upload ${row.id}: read ${bytes} bytes, stored ${row.bytes}`);
  assert(hash.digest('hex') === row.sha256, `upload ${row.id}: what was read is not what was stored (SHA-256)`);
}

/** Deletes uploads expired at `now`, at most uploadPurgeUploadsMax a pass; answers how many. */
export async function purgeExpiredUploads(shards: ShardSet, now: Date): Promise<number> {
  const db = controlShard(shards).db;
  let purged = 0;
  for (const uploadId of await expiredUploads(db, now, uploadPurgeUploadsMax)) {
    if (await deleteUpload(db, uploadId, uploadPurgeChunksMax)) purged += 1;
  }
  return purged;
}

/** The purge of expired uploads; every replica may run it (a delete twice deletes nothing the second time). */
export function startUploadPurge(shards: ShardSet, now: () => Date = () => new Date()): Worker {
  return startWorker({
    name: 'statement upload purge',
    intervalMs: uploadPurgeIntervalMs,
    pass: () => purgeExpiredUploads(shards, now()),
  });
}
