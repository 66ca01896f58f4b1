import { accountPart } from '../../subgraphs/account/src/part';
import { transactionPart } from '../../subgraphs/transaction/src/part';
import { settlementPart } from '../../subgraphs/settlement/src/part';
import { gatewayPart } from '../../gateway/src/part';
import { webhooksPart } from '../../subgraphs/webhooks/src/part';

/**
 * The parts of paygraph, each as it declares itself in its src/part.ts (shared/src/part.ts):
 * the one list that migrate, codegen, compose, the connection budget, the start plan, the build,
 * the benchmark's stack and the test stacks read. A new part is a folder with its part.ts, and
 * one more line here; test/parts.test.ts fails when a part is written anywhere else by hand.
 *
 * The order is the order migration sets apply in (after the ledger's): the gateway's after
 * transaction's, since databases migrated before the gateway owned audit_events got the table
 * from the transaction set (0002, 0005), whose CREATE TABLE has no IF NOT EXISTS; the gateway's
 * own first migration does, so it is a no-op there. Subgraphs start in this order, the gateway
 * after them (it composes the supergraph from them).
 */
export const parts = [accountPart, transactionPart, settlementPart, gatewayPart, webhooksPart] as const;

export type Part = (typeof parts)[number];
export type PartName = Part['name'];

/** The subgraphs, in the list's order: what the gateway composes and serves. */
export const subgraphParts: readonly Part[] = parts.filter((part) => part.kind === 'subgraph');
export type SubgraphName = Exclude<PartName, 'gateway'>;
export const subgraphNames = subgraphParts.map((part) => part.name) as SubgraphName[];

/** The folder a part lives in: gateway/ for the gateway, subgraphs/<name>/ for a subgraph. */
export function folderOf(part: Part): string {
  return part.kind === 'gateway' ? part.name : `subgraphs/${part.name}`;
}
