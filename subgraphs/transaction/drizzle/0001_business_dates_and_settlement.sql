ALTER TABLE `external_transfers` ADD `business_date` date DEFAULT '1970-01-01' NOT NULL;--> statement-breakpoint
ALTER TABLE `payments` ADD `business_date` date DEFAULT '1970-01-01' NOT NULL;--> statement-breakpoint
ALTER TABLE `payments` ADD `settlement_id` varchar(33);--> statement-breakpoint
ALTER TABLE `refunds` ADD `payee_account_id` varchar(33) DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `refunds` ADD `business_date` date DEFAULT '1970-01-01' NOT NULL;--> statement-breakpoint
ALTER TABLE `refunds` ADD `settlement_id` varchar(33);--> statement-breakpoint
CREATE INDEX `external_transfers_date_idx` ON `external_transfers` (`business_date`);--> statement-breakpoint
CREATE INDEX `payments_settle_idx` ON `payments` (`payee_account_id`,`settlement_id`,`business_date`);--> statement-breakpoint
CREATE INDEX `payments_settlement_idx` ON `payments` (`settlement_id`);--> statement-breakpoint
CREATE INDEX `refunds_settle_idx` ON `refunds` (`payee_account_id`,`settlement_id`,`business_date`);