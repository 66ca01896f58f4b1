CREATE TABLE `account_days` (
	`account_id` varchar(33) NOT NULL,
	`business_date` date NOT NULL,
	`credits` decimal(38,0) NOT NULL DEFAULT 0,
	`debits` decimal(38,0) NOT NULL DEFAULT 0,
	`entry_count` bigint NOT NULL DEFAULT 0,
	`available_net` decimal(38,0) NOT NULL DEFAULT 0,
	`frozen_net` decimal(38,0) NOT NULL DEFAULT 0,
	`pending_net` decimal(38,0) NOT NULL DEFAULT 0,
	`first_sequence` bigint NOT NULL,
	`last_sequence` bigint NOT NULL,
	CONSTRAINT `account_days_account_id_business_date_pk` PRIMARY KEY(`account_id`,`business_date`)
);
--> statement-breakpoint
INSERT INTO `account_days` (`account_id`, `business_date`, `credits`, `debits`, `entry_count`, `available_net`, `frozen_net`, `pending_net`, `first_sequence`, `last_sequence`)
SELECT e.`account_id`, p.`business_date`,
	SUM(CASE WHEN e.`amount` > 0 THEN e.`amount` ELSE 0 END),
	-SUM(CASE WHEN e.`amount` < 0 THEN e.`amount` ELSE 0 END),
	COUNT(*),
	SUM(CASE WHEN e.`bucket` = 'AVAILABLE' THEN e.`amount` ELSE 0 END),
	SUM(CASE WHEN e.`bucket` = 'FROZEN' THEN e.`amount` ELSE 0 END),
	SUM(CASE WHEN e.`bucket` = 'PENDING' THEN e.`amount` ELSE 0 END),
	MIN(e.`sequence`), MAX(e.`sequence`)
FROM `ledger_entries` e JOIN `postings` p ON p.`id` = e.`posting_id`
GROUP BY e.`account_id`, p.`business_date`;
