CREATE TABLE `give_back_counts` (
	`account_id` varchar(33) NOT NULL,
	`refunds` int unsigned NOT NULL,
	CONSTRAINT `give_back_counts_account_id` PRIMARY KEY(`account_id`)
);
