import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromiumInstallCommand, launchChromium, requireChromium } from './support/browser';
import { contractOperation } from './support/graphql';
import { token, unique } from './support/env';
import { useMoneyStack, type MoneyKit } from './support/money';

/**
 * The Explorer as a developer meets it with no internet: Debian's Chromium, headless, loads
 * /graphql from the gateway with every request to anything but this machine blocked and
 * counted, takes a token in GraphiQL's headers editor, runs the contract's GetAccount for a
 * real account, and shows the answer. The screenshot goes to a temporary file, or to
 * EXPLORER_SCREENSHOT (`EXPLORER_SCREENSHOT=docs/explorer.png npm test -- test/explorer.test.ts`
 * refreshes the README's picture).
 */
/** How long the page may take to show the schema or an answer on a loaded 2-core machine. */
const pageWaitMs = 30_000;
const screenshotPath = process.env.EXPLORER_SCREENSHOT ?? join(tmpdir(), `paygraph-explorer-${process.pid}.png`);
const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]']);
/** Deposits sent, each waited on for subscriptionEventWaitMs, before the subscription counts as silent. */
const subscriptionAttemptsMax = 10;
const subscriptionEventWaitMs = 3_000;

let kit: MoneyKit;
useMoneyStack((started) => ({ kit } = started));

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** Sets what one of GraphiQL's CodeMirror editors holds, as typing would. */
async function setEditor(page: Page, selector: string, text: string): Promise<void> {
  await page
    .locator(`${selector} .CodeMirror`)
    .first()
    .evaluate((element, value) => {
      (element as unknown as { CodeMirror: { setValue(v: string): void } }).CodeMirror.setValue(value);
    }, text);
}

/**
 * Opens the Variables or the Headers tab, and waits until GraphiQL shows it: the tool section's
 * aria-label names the editor it shows. Writing right after the click could still reach the
 * other editor (the one that was showing until React re-rendered) — the token overwritten with
 * variables, say.
 */
async function openTool(page: Page, name: 'Variables' | 'Headers'): Promise<void> {
  await page.getByText(name, { exact: true }).click();
  await page.locator(`section.graphiql-editor-tool[aria-label="${name}"]`).waitFor({ timeout: pageWaitMs });
}

/**
 * Puts a contract document in the query editor and waits until GraphiQL has taken it in: its
 * change handler runs 100 ms after an edit (debounced, @graphiql/react's query editor) and only
 * then sets the operation to run. Run before that, GraphiQL sent the new document with the
 * previous one's operationName: BalanceChanged's document with "GetAccount", answered "Unknown
 * operation named GetAccount" (a clean-clone CI run, 2026-11-24).
 */
async function setQuery(page: Page, operationName: string): Promise<void> {
  await setEditor(page, '.graphiql-query-editor', contractOperation(operationName));
  const editor = page.locator('.graphiql-query-editor .CodeMirror').first();
  await expect
    .poll(
      () =>
        editor.evaluate(
          (element) =>
            (element as unknown as { CodeMirror: { operationName?: string | null } }).CodeMirror.operationName,
        ),
      { timeout: pageWaitMs },
    )
    .toBe(operationName);
}

function editorText(page: Page, selector: string): Promise<string> {
  return page
    .locator(`${selector} .CodeMirror`)
    .first()
    .evaluate((element) => (element as unknown as { CodeMirror: { getValue(): string } }).CodeMirror.getValue());
}

describe('the browser tests', () => {
  it('fail, naming the install command, where Chromium is missing', () => {
    expect(() => requireChromium('/nonexistent/chromium')).toThrow(chromiumInstallCommand);
  });
});

describe('the Explorer at /graphql', () => {
  let context: BrowserContext;
  let page: Page;
  /** Every request (HTTP or WebSocket) the page made to anything but this machine, refused. */
  const blocked: string[] = [];
  const pageErrors: string[] = [];
  let accountId: string;
  let bearer: string;

  beforeAll(async () => {
    const owner = unique('explorer');
    accountId = await kit.open(owner);
    await kit.fund(accountId, '12345');
    bearer = await token(owner, 'customer');
    context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (loopbackHosts.has(url.hostname)) return route.continue();
      blocked.push(url.href);
      return route.abort('blockedbyclient');
    });
    await context.routeWebSocket(/.*/, (ws) => {
      if (loopbackHosts.has(new URL(ws.url()).hostname)) return void ws.connectToServer();
      blocked.push(ws.url());
      return ws.close();
    });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });
  afterAll(async () => {
    await context?.close();
  });

  it('loads GraphiQL and the schema, by introspection, from the gateway alone', async () => {
    await page.goto(kit.stack.gatewayUrl);
    await expect(page.title()).resolves.toBe('paygraph Explorer');
    await page.locator('.graphiql-query-editor .CodeMirror').waitFor({ timeout: pageWaitMs });
    // The documentation explorer lists the root types once introspection has answered.
    await page.getByRole('button', { name: /documentation explorer/i }).click();
    await page.getByText('Subscription', { exact: true }).first().waitFor({ timeout: pageWaitMs });
    // The headers editor opens first, with a placeholder for the token.
    await expect(editorText(page, '.graphiql-editor-tool .graphiql-editor:not(.hidden)')).resolves.toContain(
      '"Authorization": "Bearer <paste',
    );
    expect(blocked).toEqual([]);
  }, 60_000);

  it("runs the contract's GetAccount with a pasted token and shows the answer", async () => {
    await setQuery(page, 'GetAccount');
    await openTool(page, 'Variables');
    await setEditor(
      page,
      '.graphiql-editor-tool .graphiql-editor:not(.hidden)',
      JSON.stringify({ id: accountId }, null, 2),
    );
    await openTool(page, 'Headers');
    await setEditor(
      page,
      '.graphiql-editor-tool .graphiql-editor:not(.hidden)',
      JSON.stringify({ Authorization: `Bearer ${bearer}` }, null, 2),
    );
    await page.locator('.graphiql-execute-button').click();
    await page.locator('.graphiql-response', { hasText: accountId }).waitFor({ timeout: pageWaitMs });
    const answer = JSON.parse(await editorText(page, '.graphiql-response')) as {
      data?: { account?: unknown };
      errors?: unknown;
    };
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.account).toMatchObject({ id: accountId, balance: { available: '12345' } });
    await page.screenshot({ path: screenshotPath });
    expect(pageErrors).toEqual([]);
    expect(blocked).toEqual([]);
  }, 60_000);

  it("runs the contract's BalanceChanged over graphql-ws with the same token", async () => {
    await setQuery(page, 'BalanceChanged');
    await openTool(page, 'Variables');
    await setEditor(
      page,
      '.graphiql-editor-tool .graphiql-editor:not(.hidden)',
      JSON.stringify({ accountId }, null, 2),
    );
    await page.locator('.graphiql-execute-button').click();
    // The stream goes live once its socket is up: deposits until one of them shows as an event.
    let shown = false;
    for (let attempt = 0; attempt < subscriptionAttemptsMax && !shown; attempt++) {
      await kit.fund(accountId, '100');
      shown = await page
        .locator('.graphiql-response', { hasText: '"balanceAfter"' })
        .waitFor({ timeout: subscriptionEventWaitMs })
        .then(
          () => true,
          () => false,
        );
    }
    // On failure, say what the response pane showed instead (an error, the last answer, nothing).
    expect(
      shown,
      `no event shown; the response pane holds: ${(await editorText(page, '.graphiql-response')).slice(0, 500)}`,
    ).toBe(true);
    const event = JSON.parse(await editorText(page, '.graphiql-response')) as {
      data?: { balanceChanged?: unknown };
      errors?: unknown;
    };
    expect(event.errors).toBeUndefined();
    expect(event.data?.balanceChanged).toMatchObject({
      account: { id: accountId },
      entry: { direction: 'CREDIT', amount: '100' },
    });
    expect(pageErrors).toEqual([]);
    expect(blocked).toEqual([]);
  }, 90_000);
});
