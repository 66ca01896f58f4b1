CREATE TABLE `webhook_sources` (
	`source` varchar(32) NOT NULL,
	`scanned_until` datetime(6) NOT NULL,
	CONSTRAINT `webhook_sources_source` PRIMARY KEY(`source`)
);
--> statement-breakpoint
ALTER TABLE `webhook_deliveries` DROP INDEX `webhook_deliveries_event_uq`;--> statement-breakpoint
ALTER TABLE `webhook_deliveries` ADD `record_id` varchar(33) DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `webhook_deliveries` ADD CONSTRAINT `webhook_deliveries_event_uq` UNIQUE(`endpoint_id`,`stripe_id`,`sequence`,`event_type`,`record_id`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_record_idx` ON `webhook_deliveries` (`record_id`);