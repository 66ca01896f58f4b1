/**
 * The parallel project's longest files, longest first, as measured in a full run on the 2-core
 * machine (seconds, docs/TESTING.md "Measured"). vitest.config.ts's sequencer starts these first:
 * on a plain clone vitest has no durations of its own yet and runs the largest files first, so
 * the simulator (a small file that runs 35 to 65 s) started last and ran alone at the end while
 * the other worker had nothing left. Longest first, two workers end within about the shortest
 * file of each other. A file missing here only runs in vitest's order; a wrong figure only costs
 * time, never correctness.
 */
export const slowFilesFirst = [
  'test/simulator.test.ts', // 65
  'subgraphs/transaction/test/int/bank.test.ts', // 32
  'test/bench-smoke.test.ts', // 31
  'test/shard-unavailable.test.ts', // 29
  'subgraphs/shared/test/int/startup-config.test.ts', // 26
  'subgraphs/transaction/test/int/crash.test.ts', // 35 before its rows were made due at once
  'gateway/test/subscriptions.test.ts', // 23
  'subgraphs/webhooks/test/int/resilience.test.ts', // 22
  'subgraphs/shared/test/int/shard-faults.test.ts', // 15
  'subgraphs/account/test/int/statement-performance.test.ts', // 14
  'test/scripts.test.ts', // 13
  'gateway/test/tokens.test.ts', // 12
  'subgraphs/transaction/test/int/marketplace.test.ts', // 12
  'test/node-options.test.ts', // 12
  'subgraphs/transaction/test/int/legs-crash.test.ts', // 36 before its rows were made due at once
] as const;
