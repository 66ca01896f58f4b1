ALTER TABLE `fx_quotes` MODIFY COLUMN `sell_currency` varchar(8) NOT NULL, MODIFY COLUMN `buy_currency` varchar(8) NOT NULL, MODIFY COLUMN `rate_base_currency` varchar(8) NOT NULL;--> statement-breakpoint
ALTER TABLE `fx_rates` MODIFY COLUMN `pair_key` varchar(17) NOT NULL, MODIFY COLUMN `base_currency` varchar(8) NOT NULL, MODIFY COLUMN `quote_currency` varchar(8) NOT NULL;--> statement-breakpoint
ALTER TABLE `payment_fx` MODIFY COLUMN `rate_base_currency` varchar(8) NOT NULL, MODIFY COLUMN `sell_currency` varchar(8) NOT NULL, MODIFY COLUMN `buy_currency` varchar(8) NOT NULL;--> statement-breakpoint
ALTER TABLE `refund_fx` MODIFY COLUMN `buy_currency` varchar(8) NOT NULL;--> statement-breakpoint
ALTER TABLE `campaigns` MODIFY COLUMN `currency` varchar(8) NOT NULL;--> statement-breakpoint
ALTER TABLE `external_transfers` MODIFY COLUMN `currency` varchar(8) NOT NULL;--> statement-breakpoint
ALTER TABLE `holds` MODIFY COLUMN `currency` varchar(8) NOT NULL;--> statement-breakpoint
ALTER TABLE `payment_legs` MODIFY COLUMN `currency` varchar(8) NOT NULL;--> statement-breakpoint
ALTER TABLE `payments` MODIFY COLUMN `currency` varchar(8) NOT NULL;--> statement-breakpoint
ALTER TABLE `refunds` MODIFY COLUMN `currency` varchar(8) NOT NULL;--> statement-breakpoint
ALTER TABLE `sweeps` MODIFY COLUMN `currency` varchar(8) NOT NULL;
