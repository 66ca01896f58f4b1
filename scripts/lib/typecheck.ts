import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { setPriority } from 'node:os';
import { dirname, normalize } from 'node:path';

/** tsc's exit code for "type errors found"; any other failure to run tsc is reported as is. */
const typeErrorsExitCode = 2;
/** tsc's output for a tree full of errors still fits; beyond this execFile gives up. */
const outputBytesMax = 64 * 1024 * 1024;

export type TypecheckResult = { ok: true; ms: number } | { ok: false; output: string };

/**
 * Runs `tsc -p <project> --noEmit`. The repository's tsconfig is incremental with its build
 * info under node_modules/.cache, so an unchanged tree checks in a few seconds. `npm test`
 * runs this while it prepares the databases and while vitest runs, and fails on a type error.
 */
export function typecheck(project: string, options: TypecheckOptions = {}): Promise<TypecheckResult> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const started = Date.now();
  const args = [tsc, '-p', project, '--noEmit'];
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      args,
      { cwd: dirname(project), maxBuffer: outputBytesMax },
      (error, stdout, stderr) => {
        if (error === null) return resolve({ ok: true, ms: Date.now() - started });
        const reason = (error as { code?: unknown }).code === typeErrorsExitCode ? 'type errors' : error.message;
        resolve({ ok: false, output: `typecheck failed (${reason}):\n${`${stdout}${stderr}`.trimEnd()}` });
      },
    );
    if (options.niceness !== undefined && child.pid !== undefined) lowerPriority(child.pid, options.niceness);
  });
}

export interface TypecheckOptions {
  /** The tsc process's nice value (0 to 19): npm test runs it beside vitest's workers, on the CPU they leave idle. */
  niceness?: number;
}

function lowerPriority(pid: number, niceness: number): void {
  try {
    setPriority(pid, niceness);
  } catch {
    // A system that refuses only makes tsc compete with the tests at normal priority.
  }
}

/**
 * The projects `npm test` and `npm run typecheck` check, one after the other: the tree (Node) and
 * the Explorer's browser code, which has DOM types instead of Node's.
 */
export const typecheckProjects = ['tsconfig.json', 'gateway/explorer/tsconfig.json'] as const;

/** Typechecks each project in turn (two tsc at once would only compete for the CPU); the first failure ends it. */
export async function typecheckAll(
  projects: readonly string[],
  options: TypecheckOptions = {},
): Promise<TypecheckResult> {
  let ms = 0;
  for (const project of projects) {
    const result = await typecheck(project, options);
    if (!result.ok) return result;
    ms += result.ms;
  }
  return { ok: true, ms };
}

/** The files the project's `include` takes in (relative to it), from `tsc --showConfig`, which builds no program. */
export function typecheckedFiles(project: string): Promise<string[]> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [tsc, '-p', project, '--showConfig'],
      { cwd: dirname(project), maxBuffer: outputBytesMax },
      (error, stdout) => {
        if (error !== null) return reject(error);
        const shown = JSON.parse(stdout) as { files?: string[] };
        resolve((shown.files ?? []).map((file) => normalize(file)));
      },
    );
  });
}
