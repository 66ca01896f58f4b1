import { startScratchServer } from '../scripts/lib/mysql-server';
import { shardMoveSuite } from './support/shard-move-suite';

/**
 * Issue 50, item 2: shard moves on a private MariaDB server of this file's own that writes a ROW binlog, whatever
 * server the run otherwise uses: each range is copied while it takes writes, caught up from the binlog
 * (@vlasky/zongji), verified at a snapshot, and fenced only for the binlog's rest (at most shardMoveFenceMsMax).
 */
shardMoveSuite({ server: () => startScratchServer('move-catch-up', (line) => console.log(line)), catchUp: true });
