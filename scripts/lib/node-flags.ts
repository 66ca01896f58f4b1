/**
 * The V8 flags every paygraph server process runs with: `npm start` and the benchmark pass them
 * on the command line, the Docker image in NODE_OPTIONS (Dockerfile; test/node-flags.test.ts
 * keeps the two equal).
 *
 * --max-semi-space-size: each request allocates a few hundred KiB that die young (parsed bodies,
 * Apollo's operation and query-plan objects, result shaping). With V8's default semi-spaces
 * (16 MiB on 64-bit) the young generation fills every few dozen requests, and objects that are
 * still waiting on a subgraph or MySQL when a scavenge comes are copied, then promoted to the old
 * generation, which costs a mark-compact later. Garbage collection's share of busy time over
 * payments (`--only a --profile gateway,transaction`, one tree, runs 15-04-06Z, 15-06-10Z,
 * 15-10-17Z, 15-13-24Z on a loaded machine), gateway / transaction subgraph: V8's default 5.8% /
 * 7.8% and 5.0% / 6.1%; 32 MiB 3.9% / 3.7%; 64 MiB 3.6% / 3.4%. 32 takes most of the gain for
 * half the memory: at most 32 MiB more young generation per process (two semi-spaces of 16 MiB
 * more), reached under load and kept, so the soak's verdict (growth, not size) is unchanged.
 */
export const youngGenerationSemiSpaceMiB = 32;

export const serverNodeFlags: readonly string[] = [`--max-semi-space-size=${youngGenerationSemiSpaceMiB}`];
