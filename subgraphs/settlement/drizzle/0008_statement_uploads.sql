CREATE TABLE `statement_upload_chunks` (
	`upload_id` varchar(40) NOT NULL,
	`sequence` int NOT NULL,
	`data` mediumblob NOT NULL,
	CONSTRAINT `statement_upload_chunks_upload_id_sequence_pk` PRIMARY KEY(`upload_id`,`sequence`)
);
--> statement-breakpoint
CREATE TABLE `statement_upload_operators` (
	`uploaded_by` varchar(64) NOT NULL,
	CONSTRAINT `statement_upload_operators_uploaded_by` PRIMARY KEY(`uploaded_by`)
);
--> statement-breakpoint
CREATE TABLE `statement_uploads` (
	`id` varchar(40) NOT NULL,
	`uploaded_by` varchar(64) NOT NULL,
	`bytes` bigint NOT NULL DEFAULT 0,
	`sha256` char(64),
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	`completed_at` datetime(6),
	`expires_at` datetime(6) NOT NULL,
	CONSTRAINT `statement_uploads_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE INDEX `statement_uploads_operator_idx` ON `statement_uploads` (`uploaded_by`,`expires_at`);--> statement-breakpoint
CREATE INDEX `statement_uploads_expires_idx` ON `statement_uploads` (`expires_at`);