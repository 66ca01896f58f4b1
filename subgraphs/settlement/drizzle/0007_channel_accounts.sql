CREATE TABLE `channel_accounts` (
	`account_identification` varchar(35) NOT NULL,
	`channel` varchar(64) NOT NULL,
	`currency` char(3) NOT NULL,
	`registered_by` varchar(64) NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `channel_accounts_account_identification` PRIMARY KEY(`account_identification`)
);
--> statement-breakpoint
ALTER TABLE `statements` DROP INDEX `statements_channel_date_currency_uq`;--> statement-breakpoint
ALTER TABLE `statements` ADD `account` varchar(35) DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `statements` ADD CONSTRAINT `statements_channel_account_date_currency_uq` UNIQUE(`channel`,`account`,`business_date`,`currency`);--> statement-breakpoint
CREATE INDEX `channel_accounts_channel_idx` ON `channel_accounts` (`channel`);--> statement-breakpoint
CREATE INDEX `statements_channel_date_idx` ON `statements` (`channel`,`business_date`);