-- A bank file's statement stored before spans were kept (0013) was given its closing date as its opening date: a month
-- or an MT940 record opening the day before reads as one day, and an import of the same file beside it kept both, the
-- stored one counted first (domain/booked-lines.ts), so a corrected file could not remove a wrong line. Such a row's
-- span is unknown (NULL) and an import of its channel, account, closing date and currency replaces it. A CSV's span is
-- its one day, and a row opening before it closes was stored with its span: both are known. A bank file's one-day
-- statement stored since 0013 cannot be told from one stored before it and is marked unknown too: the next import of
-- its closing date replaces it whatever that import's span (a month closing that day holds that day's bookings).
ALTER TABLE `statements` ADD `span_known` boolean;--> statement-breakpoint
UPDATE `statements` SET `span_known` = true WHERE `format` = 'CSV' OR `opening_date` <> `business_date`;
