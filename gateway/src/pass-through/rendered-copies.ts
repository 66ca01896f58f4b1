import type { Identity } from '@paygraph/shared/identity';
import { PerReaderCache } from '@paygraph/shared/per-reader-cache';
import { renderedSameHeader, renderedTagHeader } from '@paygraph/shared/server/subgraph-lane';
import type { RenderedCopy } from '../context';
import {
  renderedCopiesBytesMax,
  renderedCopiesBytesPerReaderMax,
  renderedCopiesPerReaderMax,
  renderedCopyBytesMax,
} from '../limits';
import type { Metrics } from '../metrics';
import type { ForwardOutcome } from './gateway';

/**
 * The express lane's copies of the subgraphs' kept answers (docs/PERFORMANCE.md, "Reads"). The account subgraph
 * answers a GetAccount again with the text it kept while the account's row is at the state that text shows; each kept
 * text has a tag no other has (shared/src/server/subgraph-lane.ts renderedTagHeader). The lane keeps a text that came
 * with a tag, and when the same reader sends the same request again it sends the tag: if the subgraph's answer is still
 * that text, it answers "the same" with no body, and the lane writes its copy. A page of 100 entries is 29 kB that the
 * subgraph no longer writes and the gateway no longer reads, decodes and collects.
 *
 * What a copy may be served for is the subgraph's decision, made as for any read (the caller's identity, the row's
 * state): the tag names one text, so a copy is written only when the subgraph has judged that this request's answer
 * is exactly it. The lane's key (the reader, the document, the variables as sent) only finds the copy to ask about;
 * copies are bounded per reader and in all (limits.ts renderedCopies*), so one tenant cannot hold the others' room.
 */
export interface RenderedCopies {
  /** The copy held for this request, to ask the subgraph about. */
  held(identity: Identity, key: string): RenderedCopy | undefined;
  /** After the call: keeps an answer of data alone the subgraph named with a tag, and counts an answer "the same". */
  after(identity: Identity, key: string, outcome: ForwardOutcome, body: string | Buffer | undefined): void;
}

export function renderedCopies(metrics: Metrics): RenderedCopies {
  const copies = new PerReaderCache<RenderedCopy>(
    {
      answersPerReader: renderedCopiesPerReaderMax,
      bytesPerReader: renderedCopiesBytesPerReaderMax,
      bytes: renderedCopiesBytesMax,
      bytesOfOne: renderedCopyBytesMax,
    },
    (copy) => copy.bytes.length,
  );
  return {
    held: (identity, key) => copies.get(readerOf(identity), key),
    after(identity, key, outcome, body) {
      if (!outcome.ok || body === undefined) return;
      const headers = outcome.response.http?.headers;
      if (headers?.get(renderedSameHeader) != null) return metrics.recordRenderedCopy('same');
      const tag = headers?.get(renderedTagHeader);
      if (tag == null || tag === '') return;
      // Kept as its UTF-8 bytes: written as they are (raw-answer.ts answerBodyOfCopy), outside V8's heap.
      const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
      if (copies.set(readerOf(identity), key, { tag, bytes })) metrics.recordRenderedCopy('kept');
    },
  };
}

/** The request's key: the document (manifest hash, operation name) and the variables as sent. */
export function copyKeyOf(hash: string, sent: { operationName?: string | undefined; variables?: unknown }): string {
  return `${hash}\n${sent.operationName ?? ''}\n${JSON.stringify(sent.variables ?? {})}`;
}

function readerOf(identity: Identity): string {
  return `${identity.role}\u0000${identity.sub}`;
}

/**
 * The answer of a call whose subgraph answered "the same" (renderedSameHeader): the bytes of the copy asked about, which
 * must be the one the subgraph names. Anything else is a bug of the subgraph or ours: thrown, the call fails.
 */
export function sameAnswerBytes(tag: string, copy: RenderedCopy | undefined): Buffer {
  if (copy === undefined || copy.tag !== tag)
    throw new Error(`a subgraph answered "the same" as copy ${tag}, which this call did not ask about`);
  return copy.bytes;
}
