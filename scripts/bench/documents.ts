/**
 * The GraphQL documents the benchmark sends: the contract's own operations (contract/operations.graphql),
 * sent verbatim as clients send them, plus the bulk mutation, which the
 * contract does not list.
 */
export { contractOperation } from '../lib/contract';

export const createPaymentsDocument = `mutation CreatePayments($inputs: [CreatePaymentInput!]!) {
  createPayments(inputs: $inputs) {
    __typename
    ... on Payment { id status amount }
    ... on UserError { code message }
  }
}`;

/** A request body: the document and its variables, serialised once per request. */
export function requestBody(query: string, variables: Record<string, unknown>): string {
  return JSON.stringify({ query, variables });
}

/** `data.<field>` of a response, or undefined when the response has errors or no such field. */
export function dataField(response: unknown, field: string): unknown {
  if (typeof response !== 'object' || response === null) return undefined;
  const body = response as { data?: Record<string, unknown> | null; errors?: unknown[] };
  if (body.errors && body.errors.length > 0) return undefined;
  return body.data?.[field];
}

export function typenameOf(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null && '__typename' in value
    ? String((value as { __typename: unknown }).__typename)
    : undefined;
}
