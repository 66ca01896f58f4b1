ALTER TABLE `accounts` ADD `last_entry_hash` char(64) DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `accounts` ADD `mac` char(64) DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `accounts` ADD `mac_key_id` varchar(32) DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `ledger_entries` ADD `prev_hash` char(64) DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `ledger_entries` ADD `hash` char(64) DEFAULT '' NOT NULL;