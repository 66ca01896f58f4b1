import { writeFileSync } from 'node:fs';
import { composeSupergraph, supergraphPath } from '../gateway/src/compose';

writeFileSync(supergraphPath, composeSupergraph());
console.log(`wrote ${supergraphPath}`);
