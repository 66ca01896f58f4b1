/**
 * Real-shaped bank files for tests and the benchmark: camt.053 (ISO 20022) and MT940 (SWIFT),
 * written from a list of entries as a bank would send them.
 */
export interface FileEntry {
  ref: string;
  /** Minor units, positive. */
  amount: bigint;
  direction: 'CREDIT' | 'DEBIT';
  bookingDate: string;
  /** camt.053 only: a batch entry's transactions, each a TxDtls of its reference and amount (the entry's direction). */
  parts?: ReadonlyArray<{ ref: string; amount: bigint }>;
}

export interface FileStatement {
  id: string;
  currency: string;
  /** Signed minor units. */
  opening: bigint;
  /** Defaults to opening + Σ entries; set it to make a statement that does not add up. */
  closing?: bigint;
  date: string;
  /** The opening balance's date (a month's first day); defaults to `date`, the closing balance's. */
  openingDate?: string;
  entries: FileEntry[];
}

const exponents: Record<string, number> = { USD: 2, EUR: 2, JPY: 0, KWD: 3, GBP: 2 };

/** Minor units as the bank's decimal text ("1234.56"; MT940 uses a comma). */
export function decimal(minor: bigint, currency: string, separator = '.'): string {
  const exponent = exponents[currency] ?? 2;
  const abs = minor < 0n ? -minor : minor;
  if (exponent === 0) return `${abs}${separator === ',' ? ',' : ''}`;
  const text = abs.toString().padStart(exponent + 1, '0');
  return `${text.slice(0, -exponent)}${separator}${text.slice(-exponent)}`;
}

export function closingOf(s: FileStatement): bigint {
  return s.closing ?? s.entries.reduce((sum, e) => sum + (e.direction === 'CREDIT' ? e.amount : -e.amount), s.opening);
}

/** camt.053.001.02 with a default namespace, or a later version with a prefix (`ns2:`) when `prefix` is given. */
export function camt053(
  statements: readonly FileStatement[],
  options: { version?: string; prefix?: string; declaration?: string } = {},
): string {
  const version = options.version ?? '02';
  const p = options.prefix ? `${options.prefix}:` : '';
  const xmlns = options.prefix ? `xmlns:${options.prefix}` : 'xmlns';
  const status = version === '02' ? `<${p}Sts>BOOK</${p}Sts>` : `<${p}Sts><${p}Cd>BOOK</${p}Cd></${p}Sts>`;
  const bal = (code: string, amount: bigint, currency: string, date: string) =>
    `<${p}Bal><${p}Tp><${p}CdOrPrtry><${p}Cd>${code}</${p}Cd></${p}CdOrPrtry></${p}Tp><${p}Amt Ccy="${currency}">${decimal(amount, currency)}</${p}Amt>` +
    `<${p}CdtDbtInd>${amount < 0n ? 'DBIT' : 'CRDT'}</${p}CdtDbtInd><${p}Dt><${p}Dt>${date}</${p}Dt></${p}Dt></${p}Bal>`;
  // A batch's transactions each with its own amount where the version keeps it: TxDtls/AmtDtls/TxAmt/Amt in 001.02,
  // TxDtls/Amt and CdtDbtInd from 001.04 on.
  const transaction = (part: { ref: string; amount: bigint }, direction: string, currency: string) => {
    const amount = `<${p}Amt Ccy="${currency}">${decimal(part.amount, currency)}</${p}Amt>`;
    const own =
      version === '02'
        ? `<${p}AmtDtls><${p}TxAmt>${amount}</${p}TxAmt></${p}AmtDtls>`
        : `${amount}<${p}CdtDbtInd>${direction === 'CREDIT' ? 'CRDT' : 'DBIT'}</${p}CdtDbtInd>`;
    return `          <${p}TxDtls><${p}Refs><${p}EndToEndId>${part.ref}</${p}EndToEndId></${p}Refs>${own}</${p}TxDtls>`;
  };
  const details = (e: FileEntry, currency: string) =>
    e.parts === undefined
      ? [
          `        <${p}NtryDtls><${p}TxDtls><${p}Refs><${p}EndToEndId>${e.ref || 'NOTPROVIDED'}</${p}EndToEndId></${p}Refs>`,
          `          <${p}RltdPties><${p}Dbtr><${p}Nm>Jürgen Müller &amp; Söhne</${p}Nm></${p}Dbtr></${p}RltdPties></${p}TxDtls></${p}NtryDtls>`,
        ]
      : [
          `        <${p}NtryDtls><${p}Btch><${p}NbOfTxs>${e.parts.length}</${p}NbOfTxs></${p}Btch>`,
          ...e.parts.map((part) => transaction(part, e.direction, currency)),
          `        </${p}NtryDtls>`,
        ];
  const entry = (e: FileEntry, currency: string) =>
    [
      `      <${p}Ntry>`,
      `        <${p}Amt Ccy="${currency}">${decimal(e.amount, currency)}</${p}Amt>`,
      `        <${p}CdtDbtInd>${e.direction === 'CREDIT' ? 'CRDT' : 'DBIT'}</${p}CdtDbtInd>`,
      `        ${status}`,
      `        <${p}BookgDt><${p}Dt>${e.bookingDate}</${p}Dt></${p}BookgDt><${p}ValDt><${p}Dt>${e.bookingDate}</${p}Dt></${p}ValDt>`,
      `        <${p}AcctSvcrRef>BANK-${e.ref || 'X'}</${p}AcctSvcrRef>`,
      `        <${p}BkTxCd><${p}Prtry><${p}Cd>NTRF</${p}Cd></${p}Prtry></${p}BkTxCd>`,
      ...details(e, currency),
      `      </${p}Ntry>`,
    ].join('\n');
  const stmt = (s: FileStatement) =>
    [
      `    <${p}Stmt>`,
      `      <${p}Id>${s.id}</${p}Id><${p}CreDtTm>${s.date}T23:59:00</${p}CreDtTm>`,
      `      <${p}Acct><${p}Id><${p}IBAN>DE89370400440532013000</${p}IBAN></${p}Id><${p}Ccy>${s.currency}</${p}Ccy></${p}Acct>`,
      `      ${bal('OPBD', s.opening, s.currency, s.openingDate ?? s.date)}`,
      `      ${bal('CLBD', closingOf(s), s.currency, s.date)}`,
      ...s.entries.map((e) => entry(e, s.currency)),
      `    </${p}Stmt>`,
    ].join('\n');
  return [
    options.declaration ?? '<?xml version="1.0" encoding="UTF-8"?>',
    `<${p}Document ${xmlns}="urn:iso:std:iso:20022:tech:xsd:camt.053.001.${version}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`,
    `  <${p}BkToCstmrStmt>`,
    `    <${p}GrpHdr><${p}MsgId>MSG-1</${p}MsgId><${p}CreDtTm>2026-11-23T06:00:00</${p}CreDtTm></${p}GrpHdr>`,
    ...statements.map(stmt),
    `  </${p}BkToCstmrStmt>`,
    `</${p}Document>`,
  ].join('\n');
}

const yymmdd = (date: string) => date.slice(2).replaceAll('-', '');
const mmdd = (date: string) => date.slice(5).replaceAll('-', '');

function mtBalance(tag: string, amount: bigint, currency: string, date: string): string {
  return `:${tag}:${amount < 0n ? 'D' : 'C'}${yymmdd(date)}${currency}${decimal(amount, currency, ',')}`;
}

function mtEntry(e: FileEntry, currency: string): string[] {
  return [
    `:61:${yymmdd(e.bookingDate)}${mmdd(e.bookingDate)}${e.direction === 'CREDIT' ? 'C' : 'D'}${decimal(e.amount, currency, ',')}NTRF${e.ref || 'NONREF'}//B${e.ref.slice(-14) || 'X'}`,
    `:86:/EREF/${e.ref || 'NOTPROVIDED'}/REMI/Payment from`,
    `Jurgen Muller und Sohne, invoice`,
    `number 2026-11`,
  ];
}

/**
 * MT940, one record per statement, or split over `split` records (:28C: n/1 … with :62M: and
 * :60M: between them) when given; account `:25:` per currency.
 */
export function mt940(statements: readonly FileStatement[], options: { split?: number; crlf?: boolean } = {}): string {
  const lines: string[] = [];
  for (const [n, s] of statements.entries()) {
    const parts = options.split ?? 1;
    const size = Math.ceil(s.entries.length / parts) || 1;
    let balance = s.opening;
    for (let part = 0; part < parts; part++) {
      const entries = s.entries.slice(part * size, (part + 1) * size);
      const last = part === parts - 1;
      const end = last
        ? closingOf(s)
        : entries.reduce((sum, e) => sum + (e.direction === 'CREDIT' ? e.amount : -e.amount), balance);
      lines.push(
        `:20:${s.id}-${part + 1}`,
        `:25:DE89370400440532013${String(n).padStart(3, '0')}/${s.currency}`,
        `:28C:${String(n + 1).padStart(5, '0')}/${part + 1}`,
      );
      lines.push(
        mtBalance(part === 0 ? '60F' : '60M', balance, s.currency, part === 0 ? (s.openingDate ?? s.date) : s.date),
      );
      for (const e of entries) lines.push(...mtEntry(e, s.currency));
      lines.push(mtBalance(last ? '62F' : '62M', end, s.currency, s.date), '-');
      balance = end;
    }
  }
  return lines.join(options.crlf ? '\r\n' : '\n');
}
