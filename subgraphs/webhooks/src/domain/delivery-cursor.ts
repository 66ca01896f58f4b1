import { err, ok, type Result } from '@paygraph/shared/result';

/**
 * Where a page of an endpoint's deliveries stopped: the last row's event instant and id (pages
 * go newest first). A cursor is base64url of "deliveries:<ISO instant>|<delivery id>".
 */
export interface DeliveryPosition {
  createdAt: Date;
  id: string;
}

export function encodeDeliveryCursor(position: DeliveryPosition): string {
  return Buffer.from(`deliveries:${position.createdAt.toISOString()}|${position.id}`, 'utf8').toString('base64url');
}

export function decodeDeliveryCursor(cursor: string): Result<DeliveryPosition, { kind: 'CursorMalformed' }> {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^deliveries:([^|]+)\|(whd_[0-9A-Z]{26}_[0-9a-f]{2})$/.exec(text);
  const createdAt = match ? new Date(match[1]!) : null;
  if (!match || createdAt === null || Number.isNaN(createdAt.getTime())) return err({ kind: 'CursorMalformed' });
  return ok({ createdAt, id: match[2]! });
}
