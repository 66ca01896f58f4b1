CREATE TABLE `posting_rejections` (
	`dedupe_key` varchar(191) NOT NULL,
	`code` varchar(40) NOT NULL,
	`detail` varchar(1000) NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `posting_rejections_dedupe_key` PRIMARY KEY(`dedupe_key`)
);
