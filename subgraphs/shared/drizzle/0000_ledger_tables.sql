CREATE TABLE `accounts` (
	`id` varchar(33) NOT NULL,
	`owner_id` varchar(64) NOT NULL,
	`type` enum('PERSONAL','MERCHANT','SYSTEM') NOT NULL,
	`system_kind` enum('RESERVE','CLEARING','FEE_INCOME'),
	`parent_id` varchar(33),
	`currency` char(3) NOT NULL,
	`status` enum('ACTIVE','FROZEN','CLOSED') NOT NULL DEFAULT 'ACTIVE',
	`available` bigint NOT NULL DEFAULT 0,
	`frozen` bigint NOT NULL DEFAULT 0,
	`pending` bigint NOT NULL DEFAULT 0,
	`last_sequence` bigint NOT NULL DEFAULT 0,
	`version` bigint NOT NULL DEFAULT 0,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	`updated_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `accounts_id` PRIMARY KEY(`id`),
	CONSTRAINT `accounts_system_uq` UNIQUE(`system_kind`,`currency`),
	CONSTRAINT `accounts_parent_uq` UNIQUE(`parent_id`)
);
--> statement-breakpoint
CREATE TABLE `ledger_entries` (
	`account_id` varchar(33) NOT NULL,
	`sequence` bigint NOT NULL,
	`id` varchar(33) NOT NULL,
	`posting_id` varchar(33) NOT NULL,
	`bucket` enum('AVAILABLE','FROZEN','PENDING') NOT NULL,
	`amount` bigint NOT NULL,
	`direction` enum('DEBIT','CREDIT') NOT NULL,
	`balance_after` bigint NOT NULL,
	`currency` char(3) NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `ledger_entries_account_id_sequence_pk` PRIMARY KEY(`account_id`,`sequence`),
	CONSTRAINT `ledger_entries_id_uq` UNIQUE(`id`)
);
--> statement-breakpoint
CREATE TABLE `postings` (
	`id` varchar(33) NOT NULL,
	`kind` varchar(24) NOT NULL,
	`ref_id` varchar(33),
	`dedupe_key` varchar(191),
	`currency` char(3) NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `postings_id` PRIMARY KEY(`id`),
	CONSTRAINT `postings_dedupe_uq` UNIQUE(`dedupe_key`)
);
--> statement-breakpoint
CREATE INDEX `accounts_owner_idx` ON `accounts` (`owner_id`,`id`);--> statement-breakpoint
CREATE INDEX `ledger_entries_posting_idx` ON `ledger_entries` (`posting_id`);--> statement-breakpoint
CREATE INDEX `postings_ref_idx` ON `postings` (`ref_id`);