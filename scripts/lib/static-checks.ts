import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { setPriority } from 'node:os';
import { dirname, join } from 'node:path';
import { typecheckAll, type TypecheckOptions, type TypecheckResult } from './typecheck';

/** What a check prints for a tree full of findings still fits; beyond this execFile gives up. */
const outputBytesMax = 64 * 1024 * 1024;

/**
 * The tree's formatting and lint, run by `npm test` after the typecheck (each at the typecheck's
 * niceness, one after another: beside vitest they take the CPU its workers leave). Both keep a
 * cache under node_modules/.cache, so an unchanged tree checks in a second or two; a clean clone
 * pays about 20 s of CPU each (2026-11-25, this 2-core machine).
 */
const checks = [
  {
    name: 'format (prettier --check; `npm run format` rewrites)',
    tool: 'prettier',
    args: ['--check', '--cache', '--cache-location', 'node_modules/.cache/paygraph/prettier', '**/*.ts'],
  },
  {
    name: 'lint (eslint)',
    tool: 'eslint',
    args: ['--cache', '--cache-location', 'node_modules/.cache/paygraph/eslint', '--max-warnings', '0', '.'],
  },
] as const;

/** A package's command, from its package.json's `bin` (eslint's exports hide the file from resolve()). */
function binOf(tool: string): string {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve(`${tool}/package.json`);
  const { bin } = require(manifest) as { bin: string | Record<string, string> };
  return join(dirname(manifest), typeof bin === 'string' ? bin : bin[tool]!);
}

function runTool(root: string, check: (typeof checks)[number], options: TypecheckOptions): Promise<TypecheckResult> {
  const bin = binOf(check.tool);
  const started = Date.now();
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [bin, ...check.args],
      { cwd: root, maxBuffer: outputBytesMax },
      (error, stdout, stderr) => {
        if (error === null) return resolve({ ok: true, ms: Date.now() - started });
        resolve({ ok: false, output: `${check.name} failed:\n${`${stdout}${stderr}`.trimEnd()}` });
      },
    );
    if (options.niceness !== undefined && child.pid !== undefined) {
      try {
        setPriority(child.pid, options.niceness);
      } catch {
        // A system that refuses only makes the check compete with the tests at normal priority.
      }
    }
  });
}

/** The typecheck of every project, then the format check, then the lint; the first failure ends it. */
export async function staticChecks(
  root: string,
  projects: readonly string[],
  options: TypecheckOptions = {},
): Promise<TypecheckResult> {
  const types = await typecheckAll(projects, options);
  if (!types.ok) return types;
  let ms = types.ms;
  for (const check of checks) {
    const result = await runTool(root, check, options);
    if (!result.ok) return result;
    ms += result.ms;
  }
  return { ok: true, ms };
}
