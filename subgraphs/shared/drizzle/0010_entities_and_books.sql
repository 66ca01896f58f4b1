CREATE TABLE `entities` (
	`code` varchar(16) NOT NULL,
	`name` varchar(200) NOT NULL,
	`country` char(2) NOT NULL,
	`functional_currency` char(3) NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `entities_code` PRIMARY KEY(`code`)
);
--> statement-breakpoint
CREATE TABLE `gl_codes` (
	`entity` varchar(16) NOT NULL,
	`ledger_class` varchar(32) NOT NULL,
	`gl_code` varchar(32) NOT NULL,
	`updated_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `gl_codes_entity_ledger_class_pk` PRIMARY KEY(`entity`,`ledger_class`)
);
--> statement-breakpoint
CREATE TABLE `gl_exports` (
	`entity` varchar(16) NOT NULL,
	`business_date` date NOT NULL,
	`lines_json` mediumtext NOT NULL,
	`csv` mediumtext NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `gl_exports_entity_business_date_pk` PRIMARY KEY(`entity`,`business_date`)
);
--> statement-breakpoint
CREATE TABLE `ledger_class_days` (
	`entity` varchar(16) NOT NULL,
	`business_date` date NOT NULL,
	`ledger_class` varchar(32) NOT NULL,
	`counterparty_entity` varchar(16) NOT NULL DEFAULT '',
	`currency` char(3) NOT NULL,
	`slot` tinyint NOT NULL,
	`debits` decimal(38,0) NOT NULL DEFAULT 0,
	`credits` decimal(38,0) NOT NULL DEFAULT 0,
	`debit_postings` bigint NOT NULL DEFAULT 0,
	`credit_postings` bigint NOT NULL DEFAULT 0,
	CONSTRAINT `ledger_class_days_pk` PRIMARY KEY(`entity`,`business_date`,`ledger_class`,`counterparty_entity`,`currency`,`slot`)
);
--> statement-breakpoint
ALTER TABLE `accounts` DROP INDEX `accounts_system_uq`;--> statement-breakpoint
ALTER TABLE `accounts` MODIFY COLUMN `system_kind` enum('RESERVE','CLEARING','FEE_INCOME','FX_POSITION','FEE_EXPENSE','LOSS','INTERCOMPANY_DUE_TO','INTERCOMPANY_DUE_FROM');--> statement-breakpoint
ALTER TABLE `accounts` ADD `entity` varchar(16) DEFAULT 'PLATFORM' NOT NULL;--> statement-breakpoint
ALTER TABLE `accounts` ADD `counterparty_entity` varchar(16) DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `accounts` ADD CONSTRAINT `accounts_system_entity_uq` UNIQUE(`entity`,`system_kind`,`currency`,`counterparty_entity`);--> statement-breakpoint
CREATE INDEX `accounts_entity_idx` ON `accounts` (`entity`,`type`,`system_kind`,`currency`);--> statement-breakpoint
INSERT IGNORE INTO `entities` (`code`, `name`, `country`, `functional_currency`) VALUES ('PLATFORM', 'Platform', 'US', 'USD');