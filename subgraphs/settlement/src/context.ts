import type { BaseSubgraphContext } from '@paygraph/shared/server/subgraph';

export interface SettlementContext extends BaseSubgraphContext {
  now: () => Date;
}

export function extendContext(base: BaseSubgraphContext, now: () => Date = () => new Date()): SettlementContext {
  return { ...base, now };
}
