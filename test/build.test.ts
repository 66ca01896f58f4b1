import { readFileSync, statSync, utimesSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { subgraphSecretVariable } from '@paygraph/shared/gateway-trust';
import { compiledEntry, processEntries, repoRoot, staleReason, type ProcessName } from '../scripts/lib/build';
import { testSubgraphSecrets } from './support/env';
import { spawnCompiledService } from './support/processes';

/**
 * `npm run build` (scripts/lib/build.ts): npm test's global set-up has built dist/ when it was
 * stale; here the compiled code is what production runs, its stack traces lead to the .ts lines,
 * and a changed source makes the build stale.
 */
describe('the build (dist/)', () => {
  it('is fresh after the global set-up, and goes stale when a source it read changes', () => {
    expect(staleReason()).toBeNull();
    const source = join(repoRoot, processEntries.account);
    const { atime, mtime } = statSync(source);
    try {
      const later = new Date(Date.now() + 60_000);
      utimesSync(source, later, later);
      expect(staleReason()).toBe(`${processEntries.account} changed`);
    } finally {
      utimesSync(source, atime, mtime);
    }
    expect(staleReason()).toBeNull();
  });

  it('maps each compiled line back to its TypeScript source and line', () => {
    const compiled = readFileSync(join(repoRoot, compiledEntry('account')), 'utf8').split('\n');
    const map = new SourceMap(JSON.parse(readFileSync(join(repoRoot, `${compiledEntry('account')}.map`), 'utf8')));
    const sourceFile = 'subgraphs/shared/src/server/subgraph.ts';
    const sourceLine = readFileSync(join(repoRoot, sourceFile), 'utf8')
      .split('\n')
      .findIndex((line) => line.startsWith('export function readSchema('));
    const compiledLine = compiled.findIndex((line) => line.startsWith('function readSchema('));
    expect(sourceLine).toBeGreaterThan(0);
    expect(compiledLine).toBeGreaterThan(0);
    const entry = map.findEntry(compiledLine, 0) as { originalSource?: string; originalLine?: number };
    expect(entry.originalSource).toMatch(new RegExp(`${sourceFile.replaceAll('/', '\\/')}$`));
    expect(entry.originalLine).toBe(sourceLine);
  });

  it('runs the account subgraph compiled, with no TypeScript loader, and it answers health', async () => {
    const name: ProcessName = 'account';
    const child = await spawnCompiledService(name, {
      [subgraphSecretVariable(name)]: testSubgraphSecrets.account,
      MYSQL_POOL_SIZE: '2',
    });
    try {
      const response = await fetch(child.healthUrl.replace(/\/health$/, '/health/ready'));
      expect(response.status).toBe(200);
      expect(child.process.spawnargs.slice(1)).not.toContain('tsx');
      expect(child.process.spawnargs.at(-1)).toBe(compiledEntry(name));
    } finally {
      await child.kill();
    }
  });
});
