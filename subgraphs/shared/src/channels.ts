import { channelLengthMax } from './limits';

/**
 * A channel names the bank or card integration money moved through ("bank-a"): deposits and
 * withdrawals carry it, and reconciliation matches a channel's statements to that channel's
 * movements. One spelling everywhere, so that the two sides agree on what a channel is.
 */
export const channelPattern = new RegExp(`^[A-Za-z0-9_.-]{1,${channelLengthMax}}$`);

export function isChannel(value: string): boolean {
  return channelPattern.test(value);
}
