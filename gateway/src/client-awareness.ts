import type { GraphQLRequest } from '@apollo/server';
import { clientLabelCharsMax, clientNamesMax } from './limits';
import { trustedDocumentOf } from './security/trusted-documents';

/**
 * Which client sent a request, as Apollo's client awareness names it: the
 * `apollographql-client-name` and `apollographql-client-version` headers, or, without a name
 * header, the client whose manifest holds the trusted document it ran. The pair labels the
 * gateway's request metrics and its audit lines. Header values come from anyone, so at most
 * clientNamesMax distinct pairs are kept per gateway (first come, first kept) and every later one
 * is `other`; each value is cut to clientLabelCharsMax characters.
 */
export const clientNameHeader = 'apollographql-client-name';
export const clientVersionHeader = 'apollographql-client-version';
/** A request that names no client (and ran no client manifest's document). */
export const clientUnknown = 'unknown';
/** Every client past the first clientNamesMax. */
export const clientOther = 'other';

export interface ClientLabel {
  name: string;
  version: string;
}

export class ClientLabels {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number = clientNamesMax) {}

  /** The request's client, bounded: `other` once max distinct pairs have been seen. */
  of(request: GraphQLRequest): ClientLabel {
    const headers = request.http?.headers;
    return this.ofParts(headers?.get(clientNameHeader), headers?.get(clientVersionHeader), trustedDocumentOf(request));
  }

  /** The same from the two headers' values and the trusted document run (its manifest's client), if any. */
  ofParts(
    nameHeader: string | undefined,
    versionHeader: string | undefined,
    trusted: { client: string } | undefined,
  ): ClientLabel {
    const name = label(nameHeader) ?? trusted?.client ?? clientUnknown;
    const version = label(versionHeader) ?? clientUnknown;
    const key = JSON.stringify([name, version]);
    if (this.seen.has(key)) return { name, version };
    if (this.seen.size >= this.max) return { name: clientOther, version: clientOther };
    this.seen.add(key);
    return { name, version };
  }
}

/**
 * Printable ASCII only (a label goes into metrics and log lines), cut to clientLabelCharsMax; null when nothing is
 * left.
 */
function label(value: string | undefined): string | null {
  if (value === undefined) return null;
  const cleaned = value
    .replace(/[^\x20-\x7e]/g, '')
    .trim()
    .slice(0, clientLabelCharsMax);
  return cleaned === '' ? null : cleaned;
}
