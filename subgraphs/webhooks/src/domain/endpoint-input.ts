import { parseId } from '@paygraph/shared/ids';
import { err, ok, type Result } from '@paygraph/shared/result';
import { isEventType, type EventType } from './event-types';
import { endpointAccountIdsMax, endpointDescriptionCharsMax, endpointUrlCharsMax } from '../limits';

export interface CreateEndpointInput {
  url: string;
  eventTypes: readonly string[];
  accountIds?: readonly string[] | null;
  description?: string | null;
}

/** A registration that passed every check: what is stored. */
export interface EndpointPlan {
  url: string;
  eventTypes: EventType[];
  /** null: every account the owner may read, later ones too. */
  accountIds: string[] | null;
  description: string | null;
}

export type InputRefusal = { kind: 'InvalidInput'; field: string; message: string };

/** The destination rules' verdict on a URL (services/destination.ts): the URL, or why not. */
export type UrlVerdict = (raw: string) => Result<URL, { reason: string }>;

function refuse(field: string, message: string): Result<never, InputRefusal> {
  return err({ kind: 'InvalidInput', field, message });
}

/** Checks a registration before anything is read or written: a malformed request writes nothing. */
export function decideEndpointInput(
  input: CreateEndpointInput,
  judgeUrl: UrlVerdict,
): Result<EndpointPlan, InputRefusal> {
  if (input.url.length > endpointUrlCharsMax)
    return refuse('url', `url is longer than ${endpointUrlCharsMax} characters`);
  const url = judgeUrl(input.url);
  if (!url.ok) return refuse('url', `url ${url.error.reason}`);
  // What is stored is the URL as WHATWG writes it: percent-encoding can make it several times longer than sent.
  if (url.value.toString().length > endpointUrlCharsMax)
    return refuse('url', `url is longer than ${endpointUrlCharsMax} characters once percent-encoded`);
  if (input.eventTypes.length === 0) return refuse('eventTypes', 'eventTypes is empty: name at least one event type');
  const unknown = input.eventTypes.find((t) => !isEventType(t));
  if (unknown !== undefined) return refuse('eventTypes', `unknown event type "${unknown}"`);
  const types = [...new Set(input.eventTypes as EventType[])];
  let accountIds: string[] | null = null;
  if (input.accountIds !== undefined && input.accountIds !== null) {
    if (input.accountIds.length === 0)
      return refuse('accountIds', 'accountIds is empty: omit it to follow every account you may read');
    if (input.accountIds.length > endpointAccountIdsMax)
      return refuse('accountIds', `at most ${endpointAccountIdsMax} accounts per endpoint`);
    const malformed = input.accountIds.find((id) => parseId('account', id) === null);
    if (malformed !== undefined) return refuse('accountIds', `"${malformed}" is not an account id`);
    accountIds = [...new Set(input.accountIds)];
  }
  const description = input.description ?? null;
  if (description !== null && description.length > endpointDescriptionCharsMax) {
    return refuse('description', `description is longer than ${endpointDescriptionCharsMax} characters`);
  }
  return ok({ url: url.value.toString(), eventTypes: types, accountIds, description });
}
