import { TextDecoder } from 'node:util';

/**
 * An uploaded file's bytes as text, piece by piece, for the statement parsers: UTF-8 decoded as it streams (a
 * character whose bytes two pieces share comes out whole, with the later piece), a byte order mark dropped (the
 * decoder's default). A bank's file is text; bytes that are not UTF-8 (a file exported as ISO-8859-1, say) are refused
 * rather than read with U+FFFD in place of what they meant: a reference the matching compares must be the bank's.
 */
export class UploadNotUtf8 extends Error {
  override name = 'UploadNotUtf8';
  constructor(readonly byteOffsetMin: number) {
    super(`the file is not UTF-8 text (an invalid byte sequence at or after byte ${byteOffsetMin}): send it as UTF-8`);
  }
}

export async function* utf8Text(pieces: AsyncIterable<Uint8Array>): AsyncGenerator<string, void, undefined> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let offset = 0;
  for await (const piece of pieces) {
    const text = decodeAt(decoder, piece, offset);
    offset += piece.byteLength;
    if (text !== '') yield text;
  }
  // The end: a character cut short by the end of the file is an invalid sequence too.
  const rest = decodeAt(decoder, undefined, offset);
  if (rest !== '') yield rest;
}

/** The text of one more piece (undefined: the end), or UploadNotUtf8 naming where the piece began. */
function decodeAt(decoder: TextDecoder, piece: Uint8Array | undefined, offset: number): string {
  try {
    return piece === undefined ? decoder.decode() : decoder.decode(piece, { stream: true });
  } catch (error) {
    if (error instanceof TypeError) throw new UploadNotUtf8(Math.max(0, offset - 3));
    throw error;
  }
}
