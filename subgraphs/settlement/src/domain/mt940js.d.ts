/** The part of mt940js (no typings of its own) that statement-mt940.ts uses. */
declare module 'mt940js' {
  export class Parser {
    constructor(params?: { no86Structure?: boolean });
    parse(data: string, withTags?: boolean): unknown[];
  }
}
