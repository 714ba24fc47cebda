/**
 * The demo page in a real browser (Debian's chromium, driven by playwright-core) against a fleet on
 * Docker, through the balancer: two tabs (Anne, Bob) on different replicas exchange messages both
 * ways; Bob's replica is killed (`docker kill`); his tab shows "reconnecting…", then "resumed, N
 * missed messages replayed", and every message Anne sent meanwhile appears exactly once, in order.
 * A screenshot of both tabs goes to docs/img/demo.png (the README shows it).
 *
 * Own prefix and OS-chosen ports; everything deployed is destroyed in `after`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { Fleet, run } from '../support/fleet.js';
import { repoRoot } from '../support/paths.js';
import { freePort } from '../support/ports.js';
import { mintToken } from '../support/tokens.js';

const PREFIX = 'wsf-browser';
const CHROMIUM = process.env['CHROMIUM_BIN'] ?? '/usr/bin/chromium';
const SCREENSHOT = path.join(repoRoot, 'docs', 'img', 'demo.png');
const VIEWPORT = { width: 560, height: 900 };

describe('e2e: the demo page in a real browser', { timeout: 20 * 60_000 }, () => {
  let fleet: Fleet;
  let browser: Browser | undefined;
  let secret = '';
  const contexts: BrowserContext[] = [];

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup.sh (step browser) or apt-get install chromium`);
    fleet = new Fleet({
      prefix: PREFIX,
      balancerPort: await freePort(),
      statsPort: await freePort(),
      env: { WSFLEET_WS_MEMORY_MB: '192', WSFLEET_NATS_MEMORY_MB: '192' },
    });
    const stale = await fleet.leftovers();
    if ([stale.containers, stale.networks, stale.volumes, stale.images].some((l) => l.length > 0)) await fleet.forceCleanup();
    fleet.writeSettings({ replicas: 3, lbMode: 'roundrobin', natsNodes: 3 });
    await fleet.up();
    secret = fleet.authSecret();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Playwright gives every launch a new, empty profile directory of its own (it refuses a
      // --user-data-dir in args, and removes the profile on close); the flags keep Chromium off the network.
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    try {
      await fleet.down();
    } catch (err) {
      console.error(`browser e2e: down failed, removing by prefix: ${String(err)}`);
    }
    await fleet.forceCleanup();
    fleet.removeFiles();
  });

  /** While true, Bob's tab cannot reach the balancer's /ws (its attempts are closed with 1013 at once). */
  let bobCutOff = false;

  /** A new browser context (its own cookies and storage) with the demo page signed in as `user`. */
  async function tab(user: string): Promise<Page> {
    if (browser === undefined) throw new Error('no browser');
    const ctx = await browser.newContext({ viewport: VIEWPORT });
    contexts.push(ctx);
    if (user === 'bob') {
      await ctx.routeWebSocket(/\/ws(\?|$)/, (ws) => {
        if (bobCutOff) void ws.close({ code: 1013, reason: 'test: cut off' });
        else ws.connectToServer();
      });
    }
    const page = await ctx.newPage();
    page.on('pageerror', (err) => { console.error(`[${user}] page error: ${err.message}`); });
    await page.goto(`${fleet.balancerUrl}/#token=${await mintToken(secret, user)}`);
    await page.waitForFunction(() => {
      const replica = document.getElementById('replica')?.textContent;
      return replica !== undefined && replica !== '' && replica !== '–' && document.getElementById('status')?.dataset.state === 'open';
    }, undefined, { timeout: 15_000 });
    return page;
  }

  const replicaOf = async (p: Page): Promise<string> => (await p.textContent('#replica')) ?? '';
  const texts = (p: Page, list: string): Promise<string[]> => p.$$eval(`#${list} li .text`, (els) => els.map((e) => e.textContent.trim()));

  async function send(p: Page, to: string, text: string): Promise<void> {
    await p.fill('#dm-to', to);
    await p.fill('#dm-text', text);
    await p.click('#dm-send');
  }

  async function waitForTexts(p: Page, list: string, wanted: string[], timeoutMs = 15_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = await texts(p, list);
      if (wanted.every((w) => got.includes(w)) || Date.now() > deadline) return got;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function screenshotBoth(anne: Page, bob: Page): Promise<void> {
    if (browser === undefined) return;
    const shots = await Promise.all([anne, bob].map(async (p) => `data:image/png;base64,${(await p.screenshot()).toString('base64')}`));
    const ctx = await browser.newContext({ viewport: { width: VIEWPORT.width * 2 + 24, height: VIEWPORT.height + 16 } });
    const page = await ctx.newPage();
    await page.setContent(`<body style="margin:0;padding:8px;background:#888;display:flex;gap:8px">${shots.map((s) => `<img src="${s}" width="${VIEWPORT.width}" height="${VIEWPORT.height}">`).join('')}</body>`);
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    await ctx.close();
  }

  let anne: Page;
  let bob: Page;

  it('two tabs land on different replicas and exchange messages both ways', async () => {
    anne = await tab('anne');
    for (let attempt = 1; ; attempt++) {
      bob = await tab('bob');
      if ((await replicaOf(bob)) !== (await replicaOf(anne))) break;
      assert.ok(attempt < 8, 'the balancer put every bob tab on anne\'s replica');
      await contexts.pop()?.close();
    }
    assert.notEqual(await replicaOf(anne), await replicaOf(bob));
    await send(anne, 'bob', 'hi bob, from anne');
    assert.ok((await waitForTexts(bob, 'dm-list', ['hi bob, from anne'])).includes('hi bob, from anne'));
    await send(bob, 'anne', 'hi anne, from bob');
    assert.ok((await waitForTexts(anne, 'dm-list', ['hi anne, from bob'])).includes('hi anne, from bob'));
    await anne.fill('#room-text', 'hello lobby');
    await anne.click('#room-send');
    assert.ok((await waitForTexts(bob, 'room-list', ['hello lobby'])).includes('hello lobby'));
    // The fleet panel shows this tab's replica and the NATS nodes.
    await bob.waitForFunction(() => document.querySelectorAll('#replicas tr').length >= 1 && document.querySelectorAll('#nats li.up').length >= 1, undefined, { timeout: 10_000 });
    // The dev token endpoint is off in this deployment: the page says so.
    const res = await anne.evaluate(async () => (await fetch('/dev/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"x"}' })).status);
    assert.equal(res, 404);
  });

  it("docker kill of bob's replica: reconnecting…, then resumed; every message once, in order", async () => {
    const victim = await replicaOf(bob);
    const before = await texts(bob, 'dm-list');
    const ackedBefore = await anne.evaluate(() => (globalThis as unknown as { wsfDemo: { acked: () => number } }).wsfDemo.acked());
    const statusLog = (): Promise<string[]> => bob.evaluate(() => (globalThis as unknown as { wsfDemo: { statusLog: string[] } }).wsfDemo.statusLog);
    // Bob's tab is kept from reconnecting from the kill until Anne's sends are stored, so all of
    // them are "meanwhile" (otherwise the tab may be back on another replica before the first send).
    bobCutOff = true;
    const killed = await run('docker', ['kill', victim], process.env, 30_000);
    assert.equal(killed.code, 0, `docker kill ${victim}: ${killed.stderr}`);
    await bob.waitForFunction(() => document.getElementById('status')?.dataset.state === 'reconnecting', undefined, { timeout: 15_000 });
    const sent = Array.from({ length: 10 }, (_, i) => `while away ${i}`);
    for (const text of sent) await send(anne, 'bob', text);
    // Every send acknowledged (stored) before Bob's tab may come back.
    await anne.waitForFunction((n) => (globalThis as unknown as { wsfDemo: { acked: () => number } }).wsfDemo.acked() >= n, ackedBefore + sent.length, { timeout: 15_000 });
    bobCutOff = false;
    await bob.waitForFunction(() => /^resumed/.test(document.getElementById('status')?.textContent ?? ''), undefined, { timeout: 30_000 });
    // The room and the inbox may report in either order; the page says "resumed" once both have.
    const log = await statusLog();
    assert.ok(log.includes('reconnecting…'), `status went through reconnecting…: ${JSON.stringify(log)}`);
    const resumed = /^resumed on (.+), (\d+) missed messages? replayed/.exec(log.at(-1) ?? '');
    assert.ok(resumed !== null, `status lines: ${JSON.stringify(log)}`);
    assert.equal(Number(resumed[2]), sent.length, `the status counts the messages sent while away: ${JSON.stringify(log)}`);
    const got = await waitForTexts(bob, 'dm-list', sent, 20_000);
    assert.deepEqual(got.slice(before.length).filter((t) => t.startsWith('while away')), sent, 'each message once, in order');
    assert.deepEqual(got.slice(0, before.length), before, 'nothing shown before is shown again');
    // Wait for anne's acks to settle, then show both tabs.
    await anne.waitForFunction(() => /^(connected|resumed)/.test(document.getElementById('status')?.textContent ?? ''));
    await screenshotBoth(anne, bob);
    assert.ok(fs.statSync(SCREENSHOT).size > 10_000);
  });
});
