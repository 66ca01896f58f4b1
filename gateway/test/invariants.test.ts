import { describe, expect, it } from 'vitest';
import { InvariantViolation } from '@paygraph/shared/result';
import {
  assertPrincipalComplete,
  assertSizeRules,
  assertTimingRules,
  fetchesOf,
  sizeLimits,
  sizeRuleProblems,
  timingLimits,
  timingRuleProblems,
} from '../src/invariants';
import { planFetchesMax } from '../src/limits';

/** The gateway's invariants, without a server: each holds for what we ship, and a break is caught. */
describe("the gateway's invariants", () => {
  it('the limits keep their timing rules: lock wait plus retry, and finding a dead shard, fit in the subgraph timeout', () => {
    expect(timingRuleProblems(timingLimits)).toEqual([]);
    expect(() => assertTimingRules(timingLimits)).not.toThrow();
    // Were the lock wait raised past the gateway's patience, the gateway would not start.
    const broken = { ...timingLimits, lockWaitSeconds: timingLimits.subgraphRequestTimeoutMs / 1_000 };
    expect(timingRuleProblems(broken)).toEqual([
      expect.stringMatching(/^lock wait plus retry \(\d+ ms\) must fit in the gateway's subgraph timeout/),
    ]);
    expect(() => assertTimingRules(broken)).toThrow(InvariantViolation);
    const slowProbe = { ...timingLimits, shardProbeTimeoutMs: timingLimits.subgraphRequestTimeoutMs };
    expect(timingRuleProblems(slowProbe)).toEqual([expect.stringMatching(/^finding a dead shard/)]);
    const slowOutcome = { ...timingLimits, commitOutcomeWaitMs: timingLimits.subgraphRequestTimeoutMs };
    expect(timingRuleProblems(slowOutcome)).toEqual([expect.stringMatching(/^resolving a lost COMMIT/)]);
  });

  it('the limits keep their size rule: the largest statement, JSON-escaped with its document, fits in the request body limit', () => {
    expect(sizeRuleProblems(sizeLimits)).toEqual([]);
    expect(() => assertSizeRules(sizeLimits)).not.toThrow();
    // The limits as they were before: a 10 MB statement behind a 1 MB body could never be imported.
    const unreachable = { ...sizeLimits, statementBytesMax: 10 * sizeLimits.requestBodyBytesMax };
    expect(sizeRuleProblems(unreachable)).toEqual([
      expect.stringMatching(
        /^an import of the largest statement \(\d+ bytes as JSON with its document\) must fit in the request body limit/,
      ),
    ]);
    expect(() => assertSizeRules(unreachable)).toThrow(InvariantViolation);
    // One byte of statement more than the rule allows is caught too: the rule is tight, not approximate.
    const slack =
      sizeLimits.requestBodyBytesMax -
      2 * sizeLimits.statementBytesMax -
      sizeLimits.documentBytesMax -
      sizeLimits.statementRequestVariablesBytesMax;
    expect(
      sizeRuleProblems({ ...sizeLimits, statementBytesMax: sizeLimits.statementBytesMax + Math.floor(slack / 2) }),
    ).toEqual([]);
    expect(
      sizeRuleProblems({ ...sizeLimits, statementBytesMax: sizeLimits.statementBytesMax + Math.floor(slack / 2) + 1 }),
    ).toHaveLength(1);
  });

  it("counts a plan's subgraph calls through every kind of node, a fetch under a list once", () => {
    const fetch = { kind: 'Fetch', serviceName: 'account', operation: '{ x }', operationKind: 'query' } as const;
    const plan = {
      kind: 'Sequence',
      nodes: [
        fetch,
        {
          kind: 'Parallel',
          nodes: [
            { kind: 'Flatten', path: ['a', '@'], node: fetch },
            { kind: 'Condition', condition: 'c', ifClause: fetch, elseClause: fetch },
          ],
        },
        { kind: 'Defer', primary: { node: fetch }, deferred: [{ depends: [], queryPath: [], node: fetch }] },
      ],
    };
    expect(fetchesOf(plan as never)).toBe(6);
    expect(fetchesOf(undefined)).toBe(0);
    expect(planFetchesMax).toBeGreaterThan(0);
  });

  it("takes a token's principal only when complete: a subject, a role, an expiry", () => {
    expect(() => assertPrincipalComplete({ sub: 'alice', role: 'customer' }, 2_000_000_000)).not.toThrow();
    expect(() => assertPrincipalComplete({ sub: '', role: 'customer' }, 2_000_000_000)).toThrow(InvariantViolation);
    expect(() => assertPrincipalComplete({ sub: 'alice', role: 'admin' as never }, 2_000_000_000)).toThrow(
      InvariantViolation,
    );
    expect(() => assertPrincipalComplete({ sub: 'alice', role: 'customer' }, Number.NaN)).toThrow(InvariantViolation);
  });
});
