import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root, with a trailing slash. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Every .ts file under a folder, node_modules left out; none when the folder does not exist. */
export function sourcesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourcesUnder(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every folder under subgraphs/ (the shared library included), a new one too. */
function subgraphFolders(): string[] {
  return readdirSync(join(repoRoot, 'subgraphs'), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => join(repoRoot, 'subgraphs', e.name));
}

/** Every TypeScript file that runs in production: the gateway's, each subgraph's src/ and scripts/. */
export function productionSources(): string[] {
  const subgraphs = subgraphFolders().map((dir) => join(dir, 'src'));
  return [join(repoRoot, 'gateway', 'src'), ...subgraphs, join(repoRoot, 'scripts')].flatMap(sourcesUnder);
}
