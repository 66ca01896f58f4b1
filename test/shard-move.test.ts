import { shardMoveSuite } from './support/shard-move-suite';

/**
 * Issue 50: shard moves on the test run's own server. Where it writes no ROW binlog (this machine's MariaDB), a move
 * fences its range for the whole copy; where it does (the private server npm test starts on a machine without one),
 * the move catches up from it, as in shard-move-catch-up.test.ts.
 */
shardMoveSuite({ server: () => Promise.resolve(null), catchUp: false });
