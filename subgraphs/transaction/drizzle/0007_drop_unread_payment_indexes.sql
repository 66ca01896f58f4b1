DROP INDEX `payments_payee_idx` ON `payments`;--> statement-breakpoint
DROP INDEX `payments_settlement_idx` ON `payments`;