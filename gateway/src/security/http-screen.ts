import type { ScreenedRequest, ScreenRefusal } from '@paygraph/shared/server/http';
import { checkSource, defaultOperationLimits, type LimitViolation, type OperationLimits } from './operation-limits';

/**
 * What the gateway refuses before Apollo Server sees a request: batches (several operations in
 * one JSON array; Apollo Server refuses them too, as BAD_REQUEST, and this names the reason) and
 * documents too large or with too many tokens, so that they are never parsed or validated. checkText is checkSource,
 * or its verdict kept for a trusted document's text (document-analysis.ts).
 */
export function screenGraphQLRequest(
  request: ScreenedRequest,
  limits: OperationLimits = defaultOperationLimits,
  checkText: (text: string) => LimitViolation | null = (text) => checkSource(text, limits),
): ScreenRefusal | null {
  if (Array.isArray(request.body)) {
    return refusal(
      'BATCHING_DISABLED',
      'send one operation per request: batched requests (a JSON array) are not accepted',
    );
  }
  const query = queryOf(request);
  if (query === null) return null;
  const violation = checkText(query);
  if (!violation) return null;
  return refusal(violation.code, violation.message, { measured: violation.measured, limit: violation.limit });
}

function queryOf(request: ScreenedRequest): string | null {
  if (request.method === 'GET') return new URLSearchParams(request.search).get('query');
  const body = request.body;
  if (typeof body !== 'object' || body === null || !('query' in body)) return null;
  const query = (body as { query: unknown }).query;
  return typeof query === 'string' ? query : null;
}

function refusal(code: string, message: string, extra: Record<string, unknown> = {}): ScreenRefusal {
  return { status: 400, body: { errors: [{ message, extensions: { code, ...extra } }] } };
}
