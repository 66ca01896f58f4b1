import type { ReportRow } from '../db/schema/settlement';

/** A stored report as GraphQL reads it: its discrepancies parsed back (amounts stay decimal strings). */
export function reportFromRow(row: ReportRow) {
  return { ...row, discrepancies: JSON.parse(row.discrepancies) as Array<Record<string, unknown>> };
}
