-- The fence where the write happens (store/schema.ts, shard_fences): a client's account whose id names a fenced
-- logical shard (the id's last two characters, hex) takes no insert or update. System accounts belong to the database
-- and are never fenced.
CREATE TRIGGER `accounts_fence_insert` BEFORE INSERT ON `accounts` FOR EACH ROW
IF NEW.system_kind IS NULL AND EXISTS (SELECT 1 FROM shard_fences WHERE logical_shard = CONV(RIGHT(NEW.id, 2), 16, 10)) THEN
  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'SHARD_FENCED';
END IF;
--> statement-breakpoint
CREATE TRIGGER `accounts_fence_update` BEFORE UPDATE ON `accounts` FOR EACH ROW
IF NEW.system_kind IS NULL AND EXISTS (SELECT 1 FROM shard_fences WHERE logical_shard = CONV(RIGHT(NEW.id, 2), 16, 10)) THEN
  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'SHARD_FENCED';
END IF;
