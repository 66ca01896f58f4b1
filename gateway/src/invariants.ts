import type { Experimental_DidResolveQueryPlanCallback } from '@apollo/gateway';
import { isRole, type Identity } from '@paygraph/shared/identity';
import {
  commitOutcomeWaitMs,
  lockRetryWaitSeconds,
  lockWaitSeconds,
  ownerIdLengthMax,
  requestBodyBytesMax,
  shardProbeTimeoutMs,
  shardStatementProbeAfterMs,
  statementBytesMax,
  statementRequestVariablesBytesMax,
} from '@paygraph/shared/limits';
import { assert } from '@paygraph/shared/result';
import { documentBytesMax, planFetchesMax, subgraphRequestTimeoutMs } from './limits';

/**
 * The gateway's invariants, asserted where TigerBeetle would: at start-up (the timing rules its
 * limits rely on), on every query plan (its subgraph calls are bounded) and on every verified
 * token (its principal is complete). A failure is a bug, never a client's doing.
 */

type QueryPlan = Parameters<Experimental_DidResolveQueryPlanCallback>[0]['queryPlan'];
type PlanNode = NonNullable<QueryPlan['node']>;

/** The subgraph calls (fetch nodes) of a plan: a fetch under a list is one batched call. */
export function fetchesOf(node: PlanNode | undefined): number {
  if (node === undefined) return 0;
  switch (node.kind) {
    case 'Fetch':
      return 1;
    case 'Sequence':
    case 'Parallel':
      return node.nodes.reduce((sum, child) => sum + fetchesOf(child), 0);
    case 'Flatten':
      return fetchesOf(node.node);
    case 'Defer':
      return fetchesOf(node.primary.node) + node.deferred.reduce((sum, d) => sum + fetchesOf(d.node), 0);
    case 'Condition':
      return fetchesOf(node.ifClause) + fetchesOf(node.elseClause);
    case 'Subscription':
      return 1 + fetchesOf(node.rest);
  }
}

/** ApolloGateway's documented hook after planning: a plan past the bound is a planner bug. */
export const assertPlanBounded: Experimental_DidResolveQueryPlanCallback = ({ queryPlan }) => {
  const fetches = fetchesOf(queryPlan.node);
  assert(
    fetches <= planFetchesMax,
    `a query plan makes ${fetches} subgraph calls, more than planFetchesMax (${planFetchesMax})`,
  );
};

/** A verified token's principal: a subject of the allowed length and a known role, with a finite expiry. */
export function assertPrincipalComplete(identity: Identity, expiresAt: number): void {
  assert(
    typeof identity.sub === 'string' && identity.sub.length > 0 && identity.sub.length <= ownerIdLengthMax,
    `a verified token's subject is not 1–${ownerIdLengthMax} characters`,
  );
  assert(isRole(identity.role), `a verified token's role ${JSON.stringify(identity.role)} is not one of the roles`);
  assert(Number.isFinite(expiresAt) && expiresAt > 0, `a verified token's expiry ${expiresAt} is not a time`);
}

/** The limits the timing rules read, as one value so that a test can break one. */
export interface TimingLimits {
  lockWaitSeconds: number;
  lockRetryWaitSeconds: number;
  shardStatementProbeAfterMs: number;
  shardProbeTimeoutMs: number;
  subgraphRequestTimeoutMs: number;
  commitOutcomeWaitMs: number;
}

export const timingLimits: TimingLimits = {
  lockWaitSeconds,
  lockRetryWaitSeconds,
  shardStatementProbeAfterMs,
  shardProbeTimeoutMs,
  subgraphRequestTimeoutMs,
  commitOutcomeWaitMs,
};

/**
 * The timing rules of limits.ts (shared's and the gateway's), which otherwise only comments
 * state: a subgraph gives up on a held row lock (lockWaitSeconds plus a merged batch's lone
 * retry) and finds a dead shard (shardStatementProbeAfterMs + shardProbeTimeoutMs) before the
 * gateway stops waiting for it
 * (subgraphRequestTimeoutMs), so the client learns LOCK_TIMEOUT or SHARD_UNAVAILABLE and not that
 * the subgraph did not answer. Answers each broken rule.
 */
export function timingRuleProblems(t: TimingLimits): string[] {
  const problems: string[] = [];
  const lockBoundMs = (t.lockWaitSeconds + t.lockRetryWaitSeconds) * 1_000;
  if (lockBoundMs >= t.subgraphRequestTimeoutMs) {
    problems.push(
      `lock wait plus retry (${lockBoundMs} ms) must fit in the gateway's subgraph timeout (${t.subgraphRequestTimeoutMs} ms)`,
    );
  }
  const deadShardMs = t.shardStatementProbeAfterMs + t.shardProbeTimeoutMs;
  if (deadShardMs >= t.subgraphRequestTimeoutMs) {
    problems.push(
      `finding a dead shard (${deadShardMs} ms) must fit in the gateway's subgraph timeout (${t.subgraphRequestTimeoutMs} ms)`,
    );
  }
  // A posting whose COMMIT answer was lost reads its witness until then (posting-transaction.ts).
  if (t.commitOutcomeWaitMs >= t.subgraphRequestTimeoutMs) {
    problems.push(
      `resolving a lost COMMIT (${t.commitOutcomeWaitMs} ms) must fit in the gateway's subgraph timeout (${t.subgraphRequestTimeoutMs} ms)`,
    );
  }
  return problems;
}

/** Checked when the gateway starts: limits that break a rule are a bug in limits.ts. */
export function assertTimingRules(t: TimingLimits): void {
  const problems = timingRuleProblems(t);
  assert(problems.length === 0, `the limits break their timing rules: ${problems.join('; ')}`);
}

/** The limits the size rule reads, as one value so that a test can break one. */
export interface SizeLimits {
  requestBodyBytesMax: number;
  statementBytesMax: number;
  documentBytesMax: number;
  statementRequestVariablesBytesMax: number;
}

export const sizeLimits: SizeLimits = {
  requestBodyBytesMax,
  statementBytesMax,
  documentBytesMax,
  statementRequestVariablesBytesMax,
};

/**
 * The size rule of limits.ts (statementBytesMax's comment): a request carrying the largest
 * statement, JSON-escaped (at most twice its bytes), with the largest document and the other
 * variables, fits in the body limit, so a statement past its limit is refused by the service
 * (INVALID_STATEMENT) and never by the body's bound first. Answers the broken rule, if any.
 */
export function sizeRuleProblems(l: SizeLimits): string[] {
  const requestMax = 2 * l.statementBytesMax + l.documentBytesMax + l.statementRequestVariablesBytesMax;
  if (requestMax <= l.requestBodyBytesMax) return [];
  return [
    `an import of the largest statement (${requestMax} bytes as JSON with its document) must fit in the request body limit (${l.requestBodyBytesMax} bytes)`,
  ];
}

/** Checked when the gateway starts, beside the timing rules. */
export function assertSizeRules(l: SizeLimits): void {
  const problems = sizeRuleProblems(l);
  assert(problems.length === 0, `the limits break their size rule: ${problems.join('; ')}`);
}
