import { writeResolverTypes } from './lib/resolver-types';

/** `npm run codegen`: each subgraph's resolver and context types from its schema (scripts/lib/resolver-types.ts). */
await writeResolverTypes();
