CREATE TABLE `fx_quotes` (
	`id` varchar(33) NOT NULL,
	`created_by` varchar(64) NOT NULL,
	`sell_currency` char(3) NOT NULL,
	`buy_currency` char(3) NOT NULL,
	`sell_amount` bigint NOT NULL,
	`buy_amount` bigint NOT NULL,
	`rate_id` varchar(33) NOT NULL,
	`rate` varchar(32) NOT NULL,
	`rate_base_currency` char(3) NOT NULL,
	`spread_bps` int NOT NULL,
	`expires_at` datetime(6) NOT NULL,
	`payment_id` varchar(33),
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `fx_quotes_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `fx_rates` (
	`id` varchar(33) NOT NULL,
	`pair_key` char(7) NOT NULL,
	`base_currency` char(3) NOT NULL,
	`quote_currency` char(3) NOT NULL,
	`rate` varchar(32) NOT NULL,
	`spread_bps` int NOT NULL,
	`created_by` varchar(64) NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `fx_rates_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `payment_fx` (
	`payment_id` varchar(33) NOT NULL,
	`quote_id` varchar(33) NOT NULL,
	`rate` varchar(32) NOT NULL,
	`rate_base_currency` char(3) NOT NULL,
	`spread_bps` int NOT NULL,
	`sell_amount` bigint NOT NULL,
	`sell_currency` char(3) NOT NULL,
	`buy_amount` bigint NOT NULL,
	`buy_currency` char(3) NOT NULL,
	CONSTRAINT `payment_fx_payment_id` PRIMARY KEY(`payment_id`)
);
--> statement-breakpoint
CREATE TABLE `refund_fx` (
	`refund_id` varchar(33) NOT NULL,
	`payment_id` varchar(33) NOT NULL,
	`buy_amount` bigint NOT NULL,
	`buy_currency` char(3) NOT NULL,
	CONSTRAINT `refund_fx_refund_id` PRIMARY KEY(`refund_id`)
);
--> statement-breakpoint
CREATE INDEX `fx_rates_pair_idx` ON `fx_rates` (`pair_key`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `refund_fx_payment_idx` ON `refund_fx` (`payment_id`);