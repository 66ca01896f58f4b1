import { configureLedger } from '@paygraph/shared/server/main';
import { testConfig } from './env';

/**
 * Runs before every test file (vitest.config.ts: setupFiles), as main.ts runs before a process
 * serves: the ledger's keys and business calendar from the test run's configuration, for the
 * parts tests start in process. A test that needs others sets its own and restores these.
 */
configureLedger(testConfig());
