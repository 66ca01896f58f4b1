import { writeResolverTypes } from './lib/resolver-types';
import { writeTypescriptClient } from './lib/typescript-client';

/**
 * `npm run codegen`: each subgraph's resolver and context types from its schema
 * (scripts/lib/resolver-types.ts), and the typed client's documents and manifest from the
 * contract (scripts/lib/typescript-client.ts).
 */
await writeResolverTypes();
await writeTypescriptClient();
