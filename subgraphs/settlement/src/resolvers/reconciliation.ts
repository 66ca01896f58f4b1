import type { ReportRow } from '../db/schema/settlement';
import { discrepanciesFromJson } from '../domain/discrepancies';

/** A stored report as GraphQL reads it: its discrepancies parsed back (amounts stay decimal strings). */
export function reportFromRow(row: ReportRow) {
  return { ...row, discrepancies: discrepanciesFromJson(row.discrepancies) };
}
