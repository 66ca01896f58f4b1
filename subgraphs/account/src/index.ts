/**
 * The account subgraph's door: what another part may use of it (test/table-ownership.test.ts
 * fails on an import of anything else). The webhooks subgraph writes an account event's cursor
 * as the balanceChanged stream does, so that a partner resumes the stream from a webhook's cursor.
 */
export { encodeBalanceCursor } from './domain/balance-cursor';
