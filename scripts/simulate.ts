import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/**
 * `npm run simulate -- --seed S --steps N [--seeds S1,S2,…] [--clean]`: the adversarial simulator
 * (test/simulator.test.ts) for longer than CI runs it. It goes through npm test
 * (scripts/test.ts), which typechecks, finds or starts MySQL and Redis, migrates the test shards
 * and stops what it started, with TEST_SEED and SIMULATOR_STEPS set. --clean leaves out the
 * campaign and FX refund shapes of issue 31 (to check the rest of the model on older code).
 */
const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seeds: { type: 'string' },
    steps: { type: 'string', default: '2000' },
    clean: { type: 'boolean', default: false },
  },
});
if (values.seed !== undefined && !/^[0-9]+$/.test(values.seed))
  throw new Error(`--seed must be a decimal integer, got "${values.seed}"`);
if (values.seeds !== undefined && !/^[0-9]+(,[0-9]+)*$/.test(values.seeds))
  throw new Error(`--seeds must be decimal integers separated by commas, got "${values.seeds}"`);
if (!/^[1-9][0-9]*$/.test(values.steps!)) throw new Error(`--steps must be a positive integer, got "${values.steps}"`);
const child = spawn('npx', ['tsx', 'scripts/test.ts', 'test/simulator.test.ts'], {
  cwd: repoRoot,
  stdio: 'inherit',
  env: {
    ...process.env,
    ...(values.seed === undefined ? {} : { TEST_SEED: values.seed }),
    ...(values.seeds === undefined ? {} : { SIMULATOR_SEEDS: values.seeds }),
    SIMULATOR_STEPS: values.steps,
    ...(values.clean ? { SIMULATOR_CLEAN: '1' } : {}),
  },
});
child.once('exit', (code) => process.exit(code ?? 1));
