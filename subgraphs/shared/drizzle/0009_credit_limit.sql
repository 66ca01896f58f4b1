ALTER TABLE `accounts` ADD `credit_limit` bigint;--> statement-breakpoint
CREATE INDEX `accounts_credit_idx` ON `accounts` (`credit_limit`);