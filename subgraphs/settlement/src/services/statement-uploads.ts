import type { ShardSet } from '@paygraph/shared/shards/pool';
import { err, type Result } from '@paygraph/shared/result';

/**
 * SEAM for issue 45's upload store (POST /uploads/statements): the text of an upload, as the
 * chunks it was stored in, for the operator who imports it. The upload part replaces this body
 * with its store's read (an unknown, expired or another operator's upload stays this refusal);
 * until it lands, no upload exists and every uploadId is unknown.
 */
export async function readUpload(
  _shards: ShardSet,
  _uploadId: string,
  _operator: string,
  _now: Date,
): Promise<Result<AsyncIterable<string>, { field: 'uploadId'; message: string }>> {
  return err({ field: 'uploadId', message: 'unknown upload' });
}
