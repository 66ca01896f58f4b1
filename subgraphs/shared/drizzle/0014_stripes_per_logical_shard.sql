ALTER TABLE `accounts` DROP INDEX `accounts_parent_uq`;--> statement-breakpoint
CREATE INDEX `accounts_parent_idx` ON `accounts` (`parent_id`);