ALTER TABLE `posting_rejections` ADD `anchor_id` varchar(33) DEFAULT '' NOT NULL;
