import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { compiledNodeArgs } from '../../../../test/support/processes';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
/** The process must stop at once: long before it could serve a request. */
const refusalTimeoutMs = 20_000;

describe('settlement configuration', () => {
  it('stops at start-up, naming SETTLEMENT_FEE_BPS, when the fee rate is out of range', async () => {
    // Compiled, as npm start runs it (dist/settlement.js; npm test builds it when stale).
    const started = run(process.execPath, compiledNodeArgs('settlement'), {
      cwd: repoRoot,
      env: { ...process.env, NODE_OPTIONS: '', SETTLEMENT_FEE_BPS: '20000', SETTLEMENT_PORT: '0' },
      timeout: refusalTimeoutMs,
    });
    await expect(started).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/SETTLEMENT_FEE_BPS must be between 0 and 10000, got 20000/),
    });
  });
});
