import type http from 'node:http';
import type { GatewayRoute } from '@paygraph/shared/server/subgraph';
import { BodyCutShort, bodyPieces, drainBody, sendJson } from '@paygraph/shared/server/http';
import type { StatementUploads } from '../services/statement-uploads';

/**
 * `POST /uploads/statements` as the gateway forwards it (it verified the operator's token, streams the body and
 * relays this answer): parse the headers, hand the body to the service as it arrives, map its answer to HTTP. The
 * gateway's secret and identity were checked before this runs (server/subgraph.ts), before any byte was read.
 *   201 { uploadId, bytes, sha256, expiresAt }
 *   400 BAD_REQUEST, 403 FORBIDDEN, 405, 413 UPLOAD_TOO_LARGE, 429 UPLOAD_QUOTA_EXCEEDED, 503 UPLOADS_BUSY (retryable)
 */
export function statementUploadRoute(uploads: StatementUploads): GatewayRoute {
  return async (req, res, { identity, log }) => {
    if (req.method !== 'POST') return refuse(req, res, 405, 'METHOD_NOT_ALLOWED', 'POST the file', { allow: 'POST' });
    const declaredBytes = declaredBytesOf(req);
    if (declaredBytes === 'invalid') return refuse(req, res, 400, 'BAD_REQUEST', 'content-length is not a number');
    let result: Awaited<ReturnType<StatementUploads['receive']>>;
    try {
      result = await uploads.receive(identity, { declaredBytes, body: bodyPieces(req) });
    } catch (error) {
      // The sender went away mid-body: the service deleted what it had stored, and there is nobody to answer.
      if (error instanceof BodyCutShort) return log.info('an upload was cut short by its sender; nothing was kept');
      throw error;
    }
    if (result.ok) {
      const { uploadId, bytes, sha256, expiresAt } = result.value;
      return sendJson(res, 201, { uploadId, bytes, sha256, expiresAt: expiresAt.toISOString() });
    }
    const refusal = result.error;
    switch (refusal.kind) {
      case 'Forbidden':
        return refuse(req, res, 403, 'FORBIDDEN', refusal.message);
      case 'UploadTooLarge':
        return refuse(req, res, 413, 'UPLOAD_TOO_LARGE', `the file is larger than ${refusal.bytesMax} bytes`);
      case 'UploadQuotaExceeded':
        return refuse(req, res, 429, 'UPLOAD_QUOTA_EXCEEDED', refusal.message);
      case 'UploadsBusy':
        return refuse(req, res, 503, 'UPLOADS_BUSY', `${refusal.inFlightMax} uploads are being received: retry`, {
          'retry-after': '1',
        });
    }
  };
}

/** The Content-Length as a number, null when the body is chunked. */
function declaredBytesOf(req: http.IncomingMessage): number | null | 'invalid' {
  const header = req.headers['content-length'];
  if (header === undefined) return null;
  return /^\d{1,15}$/.test(header) ? Number(header) : 'invalid';
}

/**
 * A refusal ends the connection. A body still arriving (a refusal halfway: over the limit, over the quota) is first
 * read and dropped for a moment (drainBody): the gateway, which stops sending at the limit, then reads the answer
 * rather than a reset; a body that goes on past the moment is cut.
 */
async function refuse(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): Promise<void> {
  const ended = await drainBody(req);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('connection', 'close');
  if (!ended) res.once('finish', () => req.destroy());
  sendJson(res, status, { error: { code, message } });
}
