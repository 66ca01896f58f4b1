import { describe, expect, it } from 'vitest';
import { type Account, type PostingSpec } from '../../src/ledger/index';
import { assertWritesMatchPlan, balancesBefore } from '../../src/ledger/rules/plan-check';
import { applyPosting } from '../../src/ledger/rules/posting-rules';
import { newId, toLogicalShard } from '../../src/ids';
import { InvariantViolation } from '../../src/result';
import { postingBatchSizeMax } from '../../src/limits';

/**
 * The ledger's pair assertion without a database: what applyPosting plans passes, and each way
 * the rows about to be written could differ from the plan (an entry lost, an amount changed, a
 * balance or a sequence off) is caught before anything is written.
 */
/**
 * On an idle machine the linear check of the batch below took 55 ms, the quadratic one 2,081 ms. Counted in this
 * process's CPU time, not wall time: in a full npm test on two cores the linear check once waited 543 ms for a core.
 */
const planCheckOfFullBatchCpuMsMax = 500;
const a = newId('account', toLogicalShard(1));
const b = newId('account', toLogicalShard(1));

function account(id: string, available: bigint): Account {
  return {
    id,
    ownerId: 'o',
    type: 'PERSONAL',
    systemKind: null,
    parentId: null,
    stripeShards: 0n,
    currency: 'EUR',
    status: 'ACTIVE',
    available,
    frozen: 0n,
    pending: 0n,
    lastSequence: 7n,
    lastEntryHash: '',
    version: 1n,
    creditLimit: null,
    createdAt: new Date(0),
  } as Account;
}

const spec: PostingSpec = {
  id: newId('posting', toLogicalShard(1)),
  kind: 'PAYMENT',
  refId: 'pay_1',
  dedupeKey: 'pay_1',
  currency: 'EUR',
  legs: [
    { accountId: a, bucket: 'AVAILABLE', amount: -300n },
    { accountId: b, bucket: 'AVAILABLE', amount: 300n },
  ],
};

function planned() {
  const states = new Map([
    [a, account(a, 1_000n)],
    [b, account(b, 50n)],
  ]);
  const before = balancesBefore(states);
  const applied = applyPosting(states, spec);
  if (!applied.ok) throw new Error('the posting should apply');
  const touched = [states.get(a)!, states.get(b)!];
  return { states, before, entries: applied.value, touched };
}

describe('assertWritesMatchPlan', () => {
  it('checks a full merged batch on one hot account in linear time', () => {
    // postingBatchSizeMax postings of legsPerPosting legs each, all on one account but the last:
    // grouping by copying the account's list per entry took 2.5 s for 20,000 entries on one
    // account (a stall of a test process that failed a shard probe); a linear check takes ms.
    const legsPerPosting = 20;
    const states = new Map([
      [a, account(a, 10n ** 12n)],
      [b, account(b, 0n)],
    ]);
    const before = balancesBefore(states);
    const legs = [
      ...Array.from({ length: legsPerPosting - 1 }, () => ({
        accountId: a,
        bucket: 'AVAILABLE' as const,
        amount: -1n,
      })),
      { accountId: b, bucket: 'AVAILABLE' as const, amount: BigInt(legsPerPosting - 1) },
    ];
    const specs = Array.from({ length: postingBatchSizeMax }, (): PostingSpec => ({
      ...spec,
      id: newId('posting', toLogicalShard(1)),
      dedupeKey: null,
      legs,
    }));
    const entries = specs.flatMap((s) => {
      const applied = applyPosting(states, s);
      if (!applied.ok) throw new Error('the posting should apply');
      return applied.value;
    });
    const started = process.cpuUsage();
    assertWritesMatchPlan(specs, entries, [states.get(a)!, states.get(b)!], before);
    const spent = process.cpuUsage(started);
    expect((spent.user + spent.system) / 1_000).toBeLessThan(planCheckOfFullBatchCpuMsMax);
  });

  it('passes what the posting planned', () => {
    const { before, entries, touched } = planned();
    expect(() => assertWritesMatchPlan([spec], entries, touched, before)).not.toThrow();
  });

  it('catches an entry lost, an amount changed, a balance or a sequence off, and a posting with no entries', () => {
    const broken: Array<[string, (p: ReturnType<typeof planned>) => Parameters<typeof assertWritesMatchPlan>]> = [
      ['an entry lost', (p) => [[spec], p.entries.slice(1), p.touched, p.before]],
      [
        'an amount changed',
        (p) => [[spec], p.entries.map((e, i) => (i === 0 ? { ...e, amount: -299n } : e)), p.touched, p.before],
      ],
      [
        'a balance off',
        (p) => [
          [spec],
          p.entries,
          p.touched.map((s, i) => (i === 1 ? { ...s, available: s.available + 1n } : s)),
          p.before,
        ],
      ],
      [
        'a sequence off',
        (p) => [
          [spec],
          p.entries,
          p.touched.map((s, i) => (i === 0 ? { ...s, lastSequence: s.lastSequence + 1n } : s)),
          p.before,
        ],
      ],
      [
        'a posting applied twice in the plan',
        (p) => [[spec, { ...spec, id: newId('posting', toLogicalShard(1)) }], p.entries, p.touched, p.before],
      ],
      [
        'a balance written without entries',
        (p) => [[spec], p.entries, [...p.touched, account(newId('account', toLogicalShard(1)), 0n)], p.before],
      ],
    ];
    for (const [name, breakIt] of broken) {
      expect(() => assertWritesMatchPlan(...breakIt(planned())), name).toThrow(InvariantViolation);
    }
  });
});
