ALTER TABLE `postings` ADD `business_date` date DEFAULT '1970-01-01' NOT NULL;--> statement-breakpoint
CREATE INDEX `postings_business_date_idx` ON `postings` (`business_date`);