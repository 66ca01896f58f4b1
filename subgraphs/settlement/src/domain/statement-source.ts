/**
 * A bank's file as the parsers read it: the whole text (`content` sent inline) or its chunks in
 * order (an upload read back from storage). The parsers consume it once, front to back, and keep
 * no more of it than the piece they are reading, so a 100 MB upload is never held as a whole.
 */
export type StatementSource = string | AsyncIterable<string>;

export async function* chunksOf(source: StatementSource): AsyncGenerator<string> {
  if (typeof source === 'string') {
    yield source;
    return;
  }
  yield* source;
}

/** A line of a text file, 1-based, without its line end (LF or CRLF). */
export interface SourceLine {
  number: number;
  text: string;
}

/**
 * The source's lines, split as they arrive. A piece after the last line end waits for the next
 * chunk (so a CRLF split over two chunks is one line end); a line longer than `lineLengthMax`
 * refuses the file at once (`overlong` is answered), so one endless line cannot make the waiting
 * piece, and the time spent joining chunks to it, grow without bound.
 */
export async function* linesOf(
  source: StatementSource,
  lineLengthMax: number,
): AsyncGenerator<SourceLine | { overlong: number }> {
  let carry = '';
  let number = 0;
  let first = true;
  for await (const chunk of chunksOf(source)) {
    let text = carry + chunk;
    if (first && text.length > 0) {
      text = text.replace(/^\uFEFF/, '');
      first = false;
    }
    let from = 0;
    for (let end = text.indexOf('\n', from); end >= 0; end = text.indexOf('\n', from)) {
      number++;
      const line = text.slice(from, end);
      if (line.length > lineLengthMax + 1) {
        yield { overlong: number };
        return;
      }
      yield { number, text: line.endsWith('\r') ? line.slice(0, -1) : line };
      from = end + 1;
    }
    carry = text.slice(from);
    if (carry.length > lineLengthMax + 1) {
      yield { overlong: number + 1 };
      return;
    }
  }
  if (carry !== '') yield { number: number + 1, text: carry.endsWith('\r') ? carry.slice(0, -1) : carry };
}
