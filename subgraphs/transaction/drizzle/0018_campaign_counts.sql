CREATE TABLE `campaign_counts` (
	`funding_account_id` varchar(33) NOT NULL,
	`campaigns` int unsigned NOT NULL,
	CONSTRAINT `campaign_counts_funding_account_id` PRIMARY KEY(`funding_account_id`)
);
--> statement-breakpoint
INSERT INTO `campaign_counts` (`funding_account_id`, `campaigns`) SELECT `funding_account_id`, COUNT(*) FROM `campaigns` GROUP BY `funding_account_id`;
