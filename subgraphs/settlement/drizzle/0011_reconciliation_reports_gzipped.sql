ALTER TABLE `channel_reconciliations` MODIFY COLUMN `body` mediumblob NOT NULL;--> statement-breakpoint
ALTER TABLE `reconciliation_reports` MODIFY COLUMN `discrepancies` mediumblob NOT NULL;