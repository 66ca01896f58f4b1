import { contractOperation, gql, type GraphQLResponse } from '../support/graphql';

/**
 * Sends the simulator's requests through the gateway, with the contract's documents where it has
 * one, and reduces each answer to what the model predicts: a success (with its id, status and
 * discount), a typed error's code, FORBIDDEN, or anything else (a bug: reported as it came).
 */
export const docs = {
  openAccount: contractOperation('OpenAccount'),
  deposit: contractOperation('Deposit'),
  withdraw: contractOperation('Withdraw'),
  createPayment: contractOperation('CreatePayment'),
  marketplacePayment: contractOperation('CreateMarketplacePayment'),
  refund: contractOperation('RefundPayment'),
  createHold: contractOperation('CreateHold'),
  captureHold: contractOperation('CaptureHold'),
  voidHold: contractOperation('VoidHold'),
  createCampaign: contractOperation('CreateCampaign'),
  setFxRate: contractOperation('SetFxRate'),
  createFxQuote: contractOperation('CreateFxQuote'),
  runSettlement: contractOperation('RunSettlement'),
  ledgerHealth: contractOperation('LedgerHealth'),
  getPayment: contractOperation('GetPayment'),
  setCreditLimit: contractOperation('SetCreditLimit'),
  creditExposure: contractOperation('CreditExposure'),
  setAdvanceTerms: contractOperation('SetAdvanceTerms'),
  advanceOffer: contractOperation('AdvanceOffer'),
  advanceSettlement: contractOperation('AdvanceSettlement'),
  /** Not in the contract: many payments in one request. */
  createPayments: `mutation CreatePayments($inputs: [CreatePaymentInput!]!) {
    createPayments(inputs: $inputs) { __typename ... on Payment { id status amount } ... on UserError { code message } } }`,
  /** Not in the contract: a refund's own status, to wait for one answered PROCESSING. */
  refundStatus: `query RefundStatus($id: ID!) { payment(id: $id) { refunds { id status } } }`,
};

export type Answer =
  | { kind: 'ok'; id: string; status: string | null; discount: bigint | null; raw: Record<string, any> }
  | { kind: 'error'; code: string; message: string }
  | { kind: 'forbidden' }
  | { kind: 'other'; response: GraphQLResponse<Record<string, any>> };

/** The answer of one root field (a mutation's union). */
export function answerOf(response: GraphQLResponse<Record<string, any>>, field: string): Answer {
  const codes = (response.errors ?? []).map((e) => e.extensions?.code);
  if (codes.length > 0 && codes.every((c) => c === 'FORBIDDEN')) return { kind: 'forbidden' };
  const value = response.data?.[field];
  if (response.errors || !value) return { kind: 'other', response };
  return unionAnswer(value);
}

export function unionAnswer(value: Record<string, any>): Answer {
  if (typeof value.code === 'string') return { kind: 'error', code: value.code, message: value.message };
  return {
    kind: 'ok',
    id: value.id,
    status: value.status ?? null,
    discount: value.discountAmount === undefined ? null : BigInt(value.discountAmount),
    raw: value,
  };
}

export interface Sender {
  send(doc: string, variables: Record<string, unknown>, bearer: string): Promise<GraphQLResponse<Record<string, any>>>;
}

export function sender(url: string): Sender {
  return { send: (doc, variables, bearer) => gql(url, doc, variables, bearer) };
}

/** How long a payment or refund answered PROCESSING may take to end before the run calls it stuck. */
export const processingWaitMs = 20_000;

/**
 * A payment or refund answered PROCESSING is finished by the relay: waits for its end (the model
 * knows only ends). Polls, since the end has no event a client can wait on here.
 */
export async function settledStatus(
  s: Sender,
  bearer: string,
  kind: 'payment' | 'refund',
  id: string,
  paymentId: string,
): Promise<string> {
  const deadline = Date.now() + processingWaitMs;
  for (;;) {
    const response =
      kind === 'payment'
        ? await s.send(docs.getPayment, { id }, bearer)
        : await s.send(docs.refundStatus, { id: paymentId }, bearer);
    const status =
      kind === 'payment'
        ? response.data?.payment?.status
        : (response.data?.payment?.refunds as Array<{ id: string; status: string }> | undefined)?.find(
            (r) => r.id === id,
          )?.status;
    if (status !== 'PROCESSING' || Date.now() > deadline) return status ?? 'MISSING';
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
