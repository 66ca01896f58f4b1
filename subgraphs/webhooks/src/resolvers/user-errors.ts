import type { Forbidden } from '@paygraph/shared/authorization';
import { unreachable } from '@paygraph/shared/result';
import type { CreateEndpointError, ManageEndpointError } from '../services/endpoints';

/** GraphQL union members for business failures; __typename picks the member. */
function invalidInput(field: string, message: string, code = 'INVALID_INPUT') {
  return { __typename: 'InvalidInput' as const, code, message, field };
}

export function createError(error: Exclude<CreateEndpointError, Forbidden>) {
  switch (error.kind) {
    case 'InvalidInput':
      return invalidInput(error.field, error.message);
    case 'AccountNotFound':
      // Only an operator learns this: anyone else is refused an account that is not theirs, found or not.
      return invalidInput('accountIds', `no account ${error.accountId}`, 'ACCOUNT_NOT_FOUND');
    default:
      return unreachable(error);
  }
}

export function manageError(error: Exclude<ManageEndpointError, Forbidden>) {
  switch (error.kind) {
    case 'InvalidInput':
      return invalidInput(error.field, error.message);
    case 'WebhookEndpointNotFound':
      return {
        __typename: 'WebhookEndpointNotFound' as const,
        code: 'WEBHOOK_ENDPOINT_NOT_FOUND',
        message: `no webhook endpoint ${error.endpointId}`,
        endpointId: error.endpointId,
      };
    case 'RotationRaced':
      return invalidInput(
        'endpointId',
        `webhook endpoint ${error.endpointId}'s secret was rotated by a concurrent request; nothing changed: the secret that rotation answered signs`,
      );
    default:
      return unreachable(error);
  }
}
