import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { typecheck, typecheckedFiles } from '../scripts/lib/typecheck';

/** npm test typechecks before vitest: what it checks, and what a type error looks like. */
const repoRoot = fileURLToPath(new URL('../', import.meta.url));

function testFilesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...testFilesUnder(path));
    else if (entry.name.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

describe('the typecheck npm test runs first', () => {
  it('covers every test file of the repository', async () => {
    const checked = new Set(await typecheckedFiles(join(repoRoot, 'tsconfig.json')));
    const tests = testFilesUnder(repoRoot).map((file) => relative(repoRoot, file));
    expect(tests.length).toBeGreaterThan(0);
    expect(tests.filter((file) => !checked.has(file))).toEqual([]);
  });

  it("fails with tsc's output naming the file and the error", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'paygraph-typecheck-'));
    try {
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { strict: true, noEmit: true, types: [] }, include: ['*.ts'] }),
      );
      writeFileSync(join(dir, 'wrong.ts'), "export const count: number = 'three';\n");
      const result = await typecheck(join(dir, 'tsconfig.json'));
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.output).toMatch(/type errors[\s\S]*wrong\.ts\(1,14\): error TS2322/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
