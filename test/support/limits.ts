/**
 * The test run's own budgets: what npm test and its files may take of the machine, kept out of
 * production's limits.ts (docs/TESTING.md "Connection budget").
 */

/**
 * The most connections a full `npm test` run holds at once (measured peak 37, with ten to spare), budgeted beside two
 * stacks.
 */
export const testRunConnectionsMax = 47;
