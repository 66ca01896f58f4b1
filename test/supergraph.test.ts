import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { composeSupergraph, supergraphPath } from '../gateway/src/compose';
import { subgraphParts } from '../scripts/lib/parts';

/** The gateway serves the committed supergraph, so it must be what the subgraph schemas compose to. */
describe('supergraph', () => {
  it('is the composition of schema/*.graphql', () => {
    expect(readFileSync(supergraphPath, 'utf8'), 'schema/supergraph.graphql is stale: run `npm run compose`').toBe(
      composeSupergraph(subgraphParts),
    );
  });
});
