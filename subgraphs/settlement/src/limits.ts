import { uploadBytesMax } from '@paygraph/shared/limits';
import { assert } from '@paygraph/shared/result';

/**
 * The settlement subgraph's limits on statement uploads (`POST /uploads/statements`, services/statement-uploads.ts),
 * named with their units. The largest file is the shared uploadBytesMax (the contract's 100 MB), which the gateway
 * enforces too.
 */
export { uploadBytesMax };

/**
 * Bytes of one stored piece of an upload (a MEDIUMBLOB row of statement_upload_chunks). The body is cut into pieces of
 * this size as it arrives and each is written before more is read, so what a process holds of an upload is about one
 * piece being filled, the piece being written (mysql2 sends a BLOB parameter as escaped text: up to twice its size)
 * and the socket's buffer: about 4 MiB. Reading an upload back holds one piece at a time.
 */
export const uploadChunkBytesMax = 1024 * 1024;
/** Uploads one settlement process receives at once; one more is refused (503, retryable): 4 × 4 MiB held at most. */
export const uploadsInFlightMax = 4;
/**
 * What one operator may hold at once: uploads kept (received or being received, and not expired) and their bytes.
 * Past either the upload is refused (429, UPLOAD_QUOTA_EXCEEDED) until one expires: a token cannot fill the control
 * shard's disk.
 */
export const uploadsPerOperatorMax = 10;
export const uploadBytesPerOperatorMax = 3 * uploadBytesMax;
/** An upload is good for an hour (the contract) from when its last byte was stored; then the import refuses it. */
export const uploadTtlMs = 60 * 60 * 1000;
/**
 * Entries (statement lines) one uploaded file may hold: what a 100 MB MT940 file of the shortest entries carries, as
 * statementLinesMax is for a statement sent inline. (The benchmark's files: 60,000 camt.053 and 250,000 MT940 entries.)
 */
export const uploadEntriesMax = 1_000_000;
/** How often the purge worker looks for expired uploads, and how many it deletes per pass (with their pieces). */
export const uploadPurgeIntervalMs = 60_000;
export const uploadPurgeUploadsMax = 50;
/** Pieces one DELETE removes while purging: a 100 MB upload is 100 statements of about 1 MiB each, none of 100 MiB. */
export const uploadPurgeChunksMax = 8;

// A MEDIUMBLOB holds 16 MiB − 1 bytes, and MariaDB's max_allowed_packet is 16 MiB by default: a piece and its statement
// must fit both with room to spare.
assert(uploadChunkBytesMax * 2 < 16 * 1024 * 1024, 'an upload piece, escaped, must fit a 16 MiB packet');
assert(uploadBytesPerOperatorMax >= uploadBytesMax, 'an operator must be able to hold one upload of the largest size');
assert(uploadsPerOperatorMax >= 1, 'an operator must be able to hold an upload');
