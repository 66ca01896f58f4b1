CREATE TABLE `assets` (
	`code` varchar(8) NOT NULL,
	`exponent` tinyint NOT NULL,
	`name` varchar(200) NOT NULL,
	`created_by` varchar(64) NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `assets_code` PRIMARY KEY(`code`)
);
--> statement-breakpoint
ALTER TABLE `accounts` MODIFY COLUMN `currency` varchar(8) NOT NULL;--> statement-breakpoint
ALTER TABLE `ledger_class_days` MODIFY COLUMN `currency` varchar(8) NOT NULL;--> statement-breakpoint
ALTER TABLE `ledger_entries` MODIFY COLUMN `currency` varchar(8) NOT NULL;--> statement-breakpoint
ALTER TABLE `postings` MODIFY COLUMN `currency` varchar(8) NOT NULL;