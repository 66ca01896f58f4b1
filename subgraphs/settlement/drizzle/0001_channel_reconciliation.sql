CREATE TABLE `channel_matching_rules` (
	`channel` varchar(64) NOT NULL,
	`amount_tolerance_minor` bigint NOT NULL DEFAULT 0,
	`amount_tolerance_bps` int NOT NULL DEFAULT 0,
	`date_window_days` int NOT NULL DEFAULT 0,
	`allow_one_to_many` boolean NOT NULL DEFAULT false,
	`updated_by` varchar(64) NOT NULL,
	`updated_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `channel_matching_rules_channel` PRIMARY KEY(`channel`)
);
--> statement-breakpoint
CREATE TABLE `channel_reconciliations` (
	`id` varchar(40) NOT NULL,
	`channel` varchar(64) NOT NULL,
	`business_date` date NOT NULL,
	`body` text NOT NULL,
	`created_by` varchar(64) NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `channel_reconciliations_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `reconciliation_exception_events` (
	`exception_id` varchar(40) NOT NULL,
	`sequence` int NOT NULL,
	`event` enum('OPENED','CHANGED','RESOLVED') NOT NULL,
	`actor` varchar(64) NOT NULL,
	`detail` varchar(500) NOT NULL,
	`at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `reconciliation_exception_events_exception_id_sequence_pk` PRIMARY KEY(`exception_id`,`sequence`)
);
--> statement-breakpoint
CREATE TABLE `reconciliation_exceptions` (
	`id` varchar(40) NOT NULL,
	`channel` varchar(64) NOT NULL,
	`business_date` date NOT NULL,
	`subject` varchar(191) NOT NULL,
	`kind` enum('MISSING_INTERNAL','MISSING_EXTERNAL','AMOUNT_MISMATCH','IN_TRANSIT') NOT NULL,
	`external_ref` varchar(128),
	`movement_id` varchar(33),
	`amount` bigint NOT NULL,
	`currency` char(3) NOT NULL,
	`detail` varchar(500) NOT NULL,
	`status` enum('OPEN','RESOLVED') NOT NULL,
	`resolution` enum('BANK_FEE','TIMING','BANK_DUPLICATE','WRITE_OFF'),
	`note` varchar(500),
	`resolved_by` varchar(64),
	`resolved_at` datetime(6),
	`resolution_key` varchar(128),
	`posting_id` varchar(33),
	`detected_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	`updated_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `reconciliation_exceptions_id` PRIMARY KEY(`id`),
	CONSTRAINT `reconciliation_exceptions_subject_uq` UNIQUE(`channel`,`subject`)
);
--> statement-breakpoint
ALTER TABLE `statements` DROP INDEX `statements_channel_date_uq`;--> statement-breakpoint
ALTER TABLE `statements` ADD `format` enum('CSV','CAMT053','MT940') DEFAULT 'CSV' NOT NULL;--> statement-breakpoint
ALTER TABLE `statements` ADD `currency` char(3);--> statement-breakpoint
ALTER TABLE `statements` ADD `opening_balance` bigint;--> statement-breakpoint
ALTER TABLE `statements` ADD `closing_balance` bigint;--> statement-breakpoint
ALTER TABLE `statements` ADD CONSTRAINT `statements_channel_date_currency_uq` UNIQUE(`channel`,`business_date`,`currency`);--> statement-breakpoint
CREATE INDEX `channel_reconciliations_date_idx` ON `channel_reconciliations` (`channel`,`business_date`,`created_at`);--> statement-breakpoint
CREATE INDEX `reconciliation_exceptions_date_idx` ON `reconciliation_exceptions` (`channel`,`business_date`);--> statement-breakpoint
CREATE INDEX `reconciliation_exceptions_status_idx` ON `reconciliation_exceptions` (`status`,`detected_at`);