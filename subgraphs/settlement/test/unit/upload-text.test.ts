import { describe, expect, it } from 'vitest';
import { UploadNotUtf8, utf8Text } from '../../src/domain/upload-text';
import { useSeededRandom } from '../../../../test/support/seeded-random';

/** An upload's bytes decoded as they stream: whatever the pieces' boundaries, the text is the file's. */
const random = useSeededRandom();

async function* piecesOf(bytes: Buffer, cuts: readonly number[]): AsyncGenerator<Uint8Array> {
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    yield bytes.subarray(from, cut);
    from = cut;
  }
}

async function textOf(pieces: AsyncIterable<Uint8Array>): Promise<string> {
  let text = '';
  for await (const piece of utf8Text(pieces)) text += piece;
  return text;
}

describe('utf8Text', () => {
  const text = ':86:/REMI/Jürgen Müller & Söhne, 100 € — 東京 🏦\n'.repeat(20);
  const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);

  it('drops a byte order mark and gives the same text for every cut of the bytes (seeded)', async () => {
    expect(await textOf(piecesOf(bytes, []))).toBe(text);
    for (let run = 0; run < 200; run++) {
      const cuts = Array.from({ length: random.between(1, 12) }, () => random.below(bytes.length)).sort(
        (a, b) => a - b,
      );
      expect(await textOf(piecesOf(bytes, cuts)), `cuts ${cuts.join(',')}`).toBe(text);
    }
    // Every boundary inside the four bytes of 🏦 and the three of €, one at a time.
    for (let cut = 1; cut < bytes.length; cut++) expect(await textOf(piecesOf(bytes, [cut]))).toBe(text);
  });

  it('refuses bytes that are not UTF-8, and a character cut short by the end of the file', async () => {
    const latin1 = Buffer.from('Jürgen', 'latin1');
    await expect(textOf(piecesOf(latin1, [3]))).rejects.toBeInstanceOf(UploadNotUtf8);
    const cutShort = Buffer.from('100 €', 'utf8').subarray(0, -1);
    await expect(textOf(piecesOf(cutShort, []))).rejects.toThrow(/not UTF-8 text/);
  });
});
