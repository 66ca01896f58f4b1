import { writeFileSync } from 'node:fs';
import { composeSupergraph, supergraphPath } from '../gateway/src/compose';
import { writeResolverTypes } from './lib/resolver-types';
import { subgraphParts } from './lib/parts';

writeFileSync(supergraphPath, composeSupergraph(subgraphParts));
console.log(`wrote ${supergraphPath}`);
// A schema change changes the resolvers' types too (npm run codegen alone does only this).
await writeResolverTypes();
