ALTER TABLE `external_transfers` ADD `channel` varchar(64);--> statement-breakpoint
CREATE INDEX `external_transfers_channel_date_idx` ON `external_transfers` (`channel`,`business_date`);