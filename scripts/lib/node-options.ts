/**
 * The Node options every paygraph process (the gateway and each subgraph) runs with, the same
 * under `npm start` (scripts/start.ts), the benchmark (scripts/bench/processes.ts) and Docker
 * (the Dockerfile's CMD and every command of docker-compose.yml; test/docker-compose.test.ts
 * holds them to this list).
 *
 * The heap is capped at oldSpaceSizeMiBMax, chosen for how V8 sizes the old generation rather
 * than for the cap itself. After each major collection V8 lets the old generation grow to the
 * live size times a factor, and under load that factor is its maximum: 4 when the cap is V8's
 * default (4 GiB on our 24 GiB VM), 1.3 + 0.7 × (cap − 256 MiB) / 1792 MiB for a cap between
 * 256 MiB and 2 GiB, i.e. 1.6 at 1 GiB (V8's heap-controller.cc, MaxGrowingFactor; node
 * --trace-gc-verbose prints "[HeapController] factor 4.0" and "factor 1.6"). Uncapped, the
 * gateway (72 MiB live after every major collection, flat over the soak: no leak) went 100 s
 * after its start-up collection (35 MiB live) without another while its heap grew to 131 MiB,
 * and at 191 payments/s its resident size swung 241–316 MiB with collections up to a minute
 * apart, so a minute's lowest sample could come before that minute's collection: the soak's
 * floors moved +11.5% (docs/PERFORMANCE.md, "Memory").
 *
 * 1 GiB is 14× the gateway's live heap and 25× a subgraph's (about 40 MiB), room for every
 * bounded cache at its limit (the gateway's audit queue of auditQueueRowsMax rows, its token and
 * rate-limit caches, Apollo's document and query-plan caches); a process that needs more has
 * a leak, and stopping with an out-of-memory error (then restarted) beats growing until the
 * machine swaps.
 */
export const oldSpaceSizeMiBMax = 1_024;

/**
 * The young generation is held at semiSpaceSizeMiB per semi-space, from the start.
 *
 * Why this size: each request allocates a few hundred KiB that die young (parsed bodies, Apollo's
 * operation and query-plan objects, result shaping). With V8's default semi-spaces (16 MiB on
 * 64-bit) the young generation fills every few dozen requests, and objects still waiting on a
 * subgraph or MySQL when a scavenge comes are copied, then promoted, which costs a mark-compact
 * later. Garbage collection's share of busy time over payments (`--only a --profile
 * gateway,transaction`, one tree, runs 15-04-06Z, 15-06-10Z, 15-10-17Z, 15-13-24Z on a loaded
 * machine), gateway / transaction subgraph: V8's default 5.8% / 7.8% and 5.0% / 6.1%; 32 MiB
 * 3.9% / 3.7%; 64 MiB 3.6% / 3.4%. 32 takes most of the gain for half the memory.
 *
 * Why from the start: left to itself, V8 shrinks the semi-spaces to their initial 1–2 MiB
 * whenever a major collection finds the allocation rate low (the memory reducer's "Mark-Compact
 * (reduce)"; V8's SemiSpaceNewSpace::Shrink never goes below the initial size, which
 * --min-semi-space-size sets) and doubles them back within half a minute of load: in the gateway
 * that moved its resident size by 28 MiB of young generation, 42 MiB of RSS (225 → 183 → 214 MiB,
 * soak 2026-11-22T14-56-33Z), −15% of a floor, with no change in what it held. Under load the
 * semi-spaces reach this size anyway, so only an idle process pays (about 64 MiB).
 * --min-semi-space-size is not allowed in NODE_OPTIONS, so these are command-line flags
 * everywhere (the Dockerfile's CMD and docker-compose's commands too).
 */
export const semiSpaceSizeMiB = 32;

/**
 * V8's memory reducer is off (--no-memory-reducer). It watches for a process gone quiet: eight
 * seconds after a major collection that grew the old generation by 10 MiB or more, if the process
 * then allocates little, it runs two or three major collections in a row to give memory back. In a
 * payment flow the quiet ones are the subgraphs a payment does not call (account, settlement,
 * webhooks), and their collections (64–259 ms of a CPU each) land on a 2-core machine busy with
 * payments: at a fixed 300 payments/s (2026-12-01T04-28-57Z) the largest stall, half of the
 * requests at or over p99, began with the settlement's and webhooks' (67.5, 97.5 ms). A B A B
 * without it (04-34-59Z to 04-50-52Z): no idle subgraph collected in any window; a-70's p99 207.3,
 * 231.8 → 154.7, 117.7 ms; again (08-10-16Z to 08-22-27Z) 224.7, 152.0 → 132.1, 215.3 ms, within
 * this VM's swing, the reducer's 58–142 ms collections in A's windows and none in B's
 * (docs/PERFORMANCE.md, "a-70's tail"). What it costs: a quiet process keeps what it grew at
 * start-up. In soaks at 300 payments/s (A B A B, 06-15-23Z to 06-29-24Z) the three quiet subgraphs
 * held 303–307 MiB resident each from start to end; with the reducer each fell once, 2–3 minutes
 * after start-up, to 165–172 MiB, while the busy gateway and transaction subgraph held 317–327 MiB
 * either way: 140 MiB a quiet process, within the cap above, so that no quiet process's collections
 * land on the CPUs the busy ones need. Not allowed in NODE_OPTIONS either.
 */
export const memoryReducerOff = '--no-memory-reducer';

/**
 * The arguments to node before the entry script (dist/<name>.js). --enable-source-maps makes a
 * stack trace of the compiled code name the .ts file and line it came from (the build writes a
 * source map beside each file; scripts/lib/build.ts).
 */
export const processNodeArgs: readonly string[] = [
  `--max-old-space-size=${oldSpaceSizeMiBMax}`,
  `--max-semi-space-size=${semiSpaceSizeMiB}`,
  `--min-semi-space-size=${semiSpaceSizeMiB}`,
  memoryReducerOff,
  '--enable-source-maps',
];
