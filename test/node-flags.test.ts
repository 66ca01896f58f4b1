import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { serverNodeFlags } from '../scripts/lib/node-flags';

/**
 * The server processes' V8 flags are given in two places: on the command line by `npm start` and
 * the benchmark (scripts/lib/node-flags.ts), and in the Docker image's NODE_OPTIONS.
 */
const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const run = promisify(execFile);

describe("the server processes' V8 flags", () => {
  it('are the Docker image\'s NODE_OPTIONS', () => {
    const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
    const nodeOptions = /^ENV NODE_OPTIONS=(.*)$/m.exec(dockerfile)?.[1];
    expect(nodeOptions).toBe(serverNodeFlags.join(' '));
  });

  it('are accepted by node, on the command line and in NODE_OPTIONS', async () => {
    // An unknown flag, or one NODE_OPTIONS does not allow, stops node before it runs anything.
    const probe = "process.stdout.write('started')";
    await expect(run(process.execPath, [...serverNodeFlags, '-e', probe])).resolves.toMatchObject({ stdout: 'started' });
    await expect(run(process.execPath, ['-e', probe], { env: { ...process.env, NODE_OPTIONS: serverNodeFlags.join(' ') } })).resolves.toMatchObject({ stdout: 'started' });
  });
});
