import { seededRandom, type SeededRandom } from '../../test/support/seeded-random';

/**
 * Bank files of a payment company's size for `npm run bench:statements`, valid and adding up: a camt.053 of one
 * account's day shaped as Deutsche Bank's month in ../shared/fixtures (each entry with its references, parties,
 * agents and remittance text, about 1,700 bytes), and an MT940 of many days (:61: and :86: per entry, about 150
 * bytes). Amounts are seeded; each statement's closing balance is its opening plus its entries.
 */
export interface GeneratedFile {
  format: 'CAMT053' | 'MT940';
  text: Buffer;
  entries: number;
  statements: number;
  /** Each statement's date, in order. */
  dates: string[];
}

const names = ['Vertex Ltd', 'Zeta NV', 'Delta Corp', 'Alpha GmbH', 'Omega SARL', 'Nordwind AG', 'Kappa BV'];
const ibans = ['BE95731421172658', 'DE89370400440532013000', 'NL91ABNA0417164300', 'FR1420041010050500013M02606'];

interface Entry {
  cents: number;
  credit: boolean;
  ref: string;
}

function entries(random: SeededRandom, count: number, prefix: string): Entry[] {
  return Array.from({ length: count }, (_, i) => ({
    cents: random.between(1, 5_000_000),
    credit: random.next() < 0.6,
    ref: `${prefix}${String(i).padStart(9, '0')}`,
  }));
}

const euros = (cents: number) =>
  `${Math.floor(Math.abs(cents) / 100)}.${String(Math.abs(cents) % 100).padStart(2, '0')}`;
const sumOf = (list: readonly Entry[]) => list.reduce((sum, e) => sum + (e.credit ? e.cents : -e.cents), 0);

function camtEntry(e: Entry, date: string, random: SeededRandom): string {
  const [debtor, creditor] = [random.pick(names), random.pick(names)];
  return `      <Ntry>
        <Amt Ccy="EUR">${euros(e.cents)}</Amt>
        <CdtDbtInd>${e.credit ? 'CRDT' : 'DBIT'}</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt>
          <Dt>${date}</Dt>
        </BookgDt>
        <AcctSvcrRef>BANK-${e.ref}</AcctSvcrRef>
        <BkTxCd>
          <Domn>
            <Cd>PMNT</Cd>
            <Fmly>
              <Cd>${e.credit ? 'RCDT' : 'ICDT'}</Cd>
              <SubFmlyCd>ESCT</SubFmlyCd>
            </Fmly>
          </Domn>
        </BkTxCd>
        <NtryDtls>
          <TxDtls>
            <Refs>
              <EndToEndId>${e.ref}</EndToEndId>
            </Refs>
            <AmtDtls>
              <TxAmt>
                <Amt Ccy="EUR">${euros(e.cents)}</Amt>
              </TxAmt>
            </AmtDtls>
            <RltdPties>
              <Dbtr>
                <Nm>${debtor}</Nm>
              </Dbtr>
              <DbtrAcct>
                <Id>
                  <IBAN>${random.pick(ibans)}</IBAN>
                </Id>
              </DbtrAcct>
              <Cdtr>
                <Nm>${creditor}</Nm>
              </Cdtr>
              <CdtrAcct>
                <Id>
                  <IBAN>${random.pick(ibans)}</IBAN>
                </Id>
              </CdtrAcct>
            </RltdPties>
            <RltdAgts>
              <DbtrAgt>
                <FinInstnId>
                  <BIC>DEUTBEB4NDX</BIC>
                </FinInstnId>
              </DbtrAgt>
              <CdtrAgt>
                <FinInstnId>
                  <BIC>RABOBEI9</BIC>
                </FinInstnId>
              </CdtrAgt>
            </RltdAgts>
            <RmtInf>
              <Ustrd>Invoice ${e.ref} customer ${random.between(10_000, 99_999)}</Ustrd>
            </RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
`;
}

function camtBalance(code: string, cents: number, date: string): string {
  return `      <Bal>
        <Tp><CdOrPrtry><Cd>${code}</Cd></CdOrPrtry></Tp>
        <Amt Ccy="EUR">${euros(cents)}</Amt>
        <CdtDbtInd>${cents < 0 ? 'DBIT' : 'CRDT'}</CdtDbtInd>
        <Dt><Dt>${date}</Dt></Dt>
      </Bal>
`;
}

/** One account's day of `count` entries, camt.053.001.02. */
export function generatedCamt053(count: number, seed: number, date = '2026-03-02'): GeneratedFile {
  const random = seededRandom(seed);
  const list = entries(random, count, 'E2E');
  const opening = 1_000_000_000;
  const parts = [
    `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr>
      <MsgId>BENCH-${seed}</MsgId>
      <CreDtTm>${date}T23:59:00</CreDtTm>
    </GrpHdr>
    <Stmt>
      <Id>STMT-${seed}</Id>
      <CreDtTm>${date}T23:59:00</CreDtTm>
      <Acct>
        <Id><IBAN>BE68793230773034</IBAN></Id>
        <Ccy>EUR</Ccy>
      </Acct>
`,
    camtBalance('OPBD', opening, date),
    camtBalance('CLBD', opening + sumOf(list), date),
    ...list.map((e) => camtEntry(e, date, random)),
    `    </Stmt>
  </BkToCstmrStmt>
</Document>
`,
  ];
  return { format: 'CAMT053', text: Buffer.from(parts.join(''), 'utf8'), entries: count, statements: 1, dates: [date] };
}

const yymmdd = (date: string) => date.slice(2).replaceAll('-', '');

function mtBalance(tag: string, cents: number, date: string): string {
  return `:${tag}:${cents < 0 ? 'D' : 'C'}${yymmdd(date)}EUR${euros(cents).replace('.', ',')}`;
}

/** `count` entries over `days` consecutive dates from `firstDate`, a statement (:20:, :28C: n/1) per date. */
export function generatedMt940(count: number, days: number, seed: number, firstDate = '2026-03-02'): GeneratedFile {
  const random = seededRandom(seed);
  const list = entries(random, count, 'REF');
  const perDay = Math.ceil(count / days);
  const lines: string[] = [];
  const dates: string[] = [];
  let balance = 1_000_000_000;
  for (let day = 0; day * perDay < count; day++) {
    const date = new Date(Date.parse(`${firstDate}T00:00:00Z`) + day * 86_400_000).toISOString().slice(0, 10);
    dates.push(date);
    const ofDay = list.slice(day * perDay, (day + 1) * perDay);
    lines.push(`:20:BENCH${seed}D${day}`, ':25:DE89370400440532013000/EUR', `:28C:${day + 1}/1`);
    lines.push(mtBalance('60F', balance, date));
    for (const e of ofDay) {
      const amount = euros(e.cents).replace('.', ',');
      lines.push(
        `:61:${yymmdd(date)}${date.slice(5).replace('-', '')}${e.credit ? 'C' : 'D'}${amount}NTRF${e.ref}//B${e.ref.slice(-10)}`,
        `:86:/EREF/${e.ref}/REMI/Invoice ${e.ref} customer ${random.between(10_000, 99_999)}`,
      );
    }
    balance += sumOf(ofDay);
    lines.push(mtBalance('62F', balance, date), '-');
  }
  return {
    format: 'MT940',
    text: Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8'),
    entries: count,
    statements: dates.length,
    dates,
  };
}
