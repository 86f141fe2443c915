#!/usr/bin/env node
// The dashboard in a real browser: Debian's chromium, headless, driven by playwright-core
// (scripts/web.sh fetch --test puts it in .deps/npm/playwright-core).
//
// Usage: node tests/scripts/dashboard_test.mjs --url http://127.0.0.1:PORT/ --screenshot OUT.png
//                                              --expect EXPECT.json [--timeout MS] [--live-timeout MS]
// EXPECT.json: {"symbol":"BTCUSDT","candles":N,"bars":[{"time":"2025-06-01","open":..,"high":..,
//   "low":..,"close":..}],"seam":"2025-08-18"|null,"symbols":["BTCUSDT","ETHUSDT"],"live":true}
//
// Checks, in order (each printed as it passes; the first failure stops the run with exit code 1):
// the page loads SYMBOL (selected by the URL hash) without script errors; the chart holds exactly
// N daily candles and each listed bar exactly; the picker lists every symbol; the seam (first
// speed-layer day) and its marker are at SEAM; switching the picker to another symbol reloads the
// chart with that symbol's candles and updates the hash, and switching back restores N candles;
// with "live", the stream connects and a live update arrives within --live-timeout (default 30 s):
// the update counter increases and the last bar changes or a new bar appears; the page fetched
// nothing from another origin. Then it saves a 1280x800 screenshot.
// Nothing sleeps: every wait polls the page's state (window.cryptolake) with a timeout.
// Environment: CL_CHROMIUM (default /usr/bin/chromium), CL_PLAYWRIGHT_CORE (default
// <repo>/.deps/npm/playwright-core).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

class CheckFailed extends Error {}
let passed = 0;
function ok(msg) { passed += 1; console.log(`ok   ${msg}`); }
function fail(msg) { throw new CheckFailed(msg); }
function note(msg) { console.log(`     ${msg}`); }

function parseArgs(argv) {
  const a = { timeout: 15000, liveTimeout: 30000 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i], v = argv[i + 1];
    if (k === '--url') a.url = v;
    else if (k === '--screenshot') a.screenshot = v;
    else if (k === '--expect') a.expect = v;
    else if (k === '--timeout') a.timeout = Number(v);
    else if (k === '--live-timeout') a.liveTimeout = Number(v);
    else usage(`unknown argument ${k}`);
    i++;
  }
  if (!a.url || !a.screenshot || !a.expect) usage('--url, --screenshot and --expect are required');
  return a;
}
function usage(msg) {
  console.error(`dashboard_test: ${msg}\nusage: node tests/scripts/dashboard_test.mjs --url URL --screenshot OUT.png --expect EXPECT.json [--timeout MS] [--live-timeout MS]`);
  process.exit(2);
}

function loadPlaywright() {
  const dir = process.env.CL_PLAYWRIGHT_CORE || path.join(root, '.deps/npm/playwright-core');
  if (!fs.existsSync(path.join(dir, 'package.json'))) {
    console.error(`FAIL: playwright-core not found in ${dir}: run scripts/web.sh fetch --test`);
    process.exit(1);
  }
  return createRequire(import.meta.url)(dir);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let expect;
  try {
    expect = JSON.parse(fs.readFileSync(args.expect, 'utf8'));
  } catch (e) {
    usage(`cannot read ${args.expect}: ${e.message}`);
  }
  for (const k of ['symbol', 'candles']) if (expect[k] == null) usage(`${args.expect} has no "${k}"`);
  const symbols = expect.symbols ?? [expect.symbol];
  const bars = expect.bars ?? [];
  const executablePath = process.env.CL_CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) {
    console.error(`FAIL: no browser at ${executablePath} (apt-get install chromium, or set CL_CHROMIUM)`);
    process.exit(1);
  }

  const { chromium } = loadPlaywright();
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
    timeout: args.timeout * 2,
  });
  try {
    await run(browser, args, expect, symbols, bars);
  } finally {
    await browser.close().catch(() => {});
  }
}

async function run(browser, args, expect, symbols, bars) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const url = new URL(args.url);
  url.hash = expect.symbol;
  const origin = url.origin;

  const pageErrors = [];
  const foreign = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    // The forecast endpoint answers 404 until forecasting exists; the page omits it silently.
    if (m.type() === 'error' && !(m.location()?.url ?? '').includes('/api/v1/forecast')) note(`page console error: ${m.text()}`);
  });
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin) foreign.push(u);
  });
  const noErrors = () => { if (pageErrors.length) fail(`script error in the page: ${pageErrors[0]}`); };

  // Polls fn(arg) in the page until truthy; on timeout fails with `what` and the page's state.
  async function waitFor(what, fn, arg, timeout = args.timeout) {
    try {
      await page.waitForFunction(fn, arg, { timeout, polling: 100 });
    } catch (e) {
      noErrors();
      const s = await snapshot().catch(() => null);
      fail(`${what} (not within ${timeout} ms; page state: ${JSON.stringify(s)})`);
    }
    noErrors();
  }
  const snapshot = () => page.evaluate(() => {
    const c = window.cryptolake;
    if (!c) return null;
    return { ready: c.ready, symbol: c.symbol, candles: c.candles, seam: c.seam, updates: c.updates, status: c.status, lastBar: c.lastBar };
  });
  const loaded = (sym) => waitFor(`the page loads ${sym}`,
    (s) => window.cryptolake?.ready === true && window.cryptolake.symbol === s && window.cryptolake.candles > 0, sym);

  // 1. Load.
  try {
    await page.goto(url.href, { waitUntil: 'domcontentloaded', timeout: args.timeout });
  } catch (e) {
    fail(`cannot load ${url.href}: ${e.message.split('\n')[0]}`);
  }
  await loaded(expect.symbol);
  ok(`page loaded ${expect.symbol} from ${url.href}`);

  // 2. Exactly N candles, each listed bar exactly.
  await waitFor(`the chart holds exactly ${expect.candles} daily candles for ${expect.symbol}`,
    (n) => window.cryptolake.candles === n, expect.candles, 2000);
  ok(`chart holds exactly ${expect.candles} daily candles`);
  for (const b of bars) {
    const got = await page.evaluate((d) => window.cryptolake.bar(d), b.time);
    if (!got) fail(`no candle on ${b.time}`);
    for (const k of ['open', 'high', 'low', 'close']) {
      if (got[k] !== b[k]) fail(`candle ${b.time}: ${k} is ${got[k]}, expected ${b[k]}`);
    }
    ok(`candle ${b.time} O ${b.open} H ${b.high} L ${b.low} C ${b.close}`);
  }

  // 3. The symbol picker and the hash.
  const options = await page.$$eval('#symbol option', (os) => os.map((o) => o.value));
  for (const s of symbols) if (!options.includes(s)) fail(`symbol picker lacks ${s}: it lists ${JSON.stringify(options)}`);
  const selected = await page.$eval('#symbol', (s) => s.value);
  if (selected !== expect.symbol) fail(`symbol picker shows ${selected}, expected ${expect.symbol}`);
  ok(`symbol picker lists ${options.join(', ')} with ${expect.symbol} selected`);

  // 4. The batch/speed seam and its marker.
  const seam = await page.evaluate(() => ({ seam: window.cryptolake.seam, markers: window.cryptolake.markers() }));
  const want = expect.seam ?? null;
  if (seam.seam !== want) fail(`seam is ${JSON.stringify(seam.seam)}, expected ${JSON.stringify(want)}`);
  if (want !== null) {
    if (!seam.markers.some((m) => m.time === want && /speed layer/.test(m.text ?? ''))) {
      fail(`no "speed layer" marker on ${want}: markers ${JSON.stringify(seam.markers)}`);
    }
    ok(`seam marker "speed layer" on ${want}`);
  } else {
    if (seam.markers.some((m) => /speed layer/.test(m.text ?? ''))) fail(`a "speed layer" marker although no seam is expected`);
    ok('no seam (no speed-layer day), as expected');
  }

  // 5. Switching the symbol reloads the chart; switching back restores it.
  const other = symbols.find((s) => s !== expect.symbol);
  if (other) {
    await page.selectOption('#symbol', other);
    await loaded(other);
    const n = await page.evaluate(() => window.cryptolake.candles);
    const hash = await page.evaluate(() => location.hash);
    if (hash !== `#${other}`) fail(`after switching to ${other} the URL hash is ${hash}`);
    const legend = await page.$eval('#lg-symbol', (e) => e.textContent);
    if (legend !== other) fail(`after switching to ${other} the legend shows ${legend}`);
    ok(`switching to ${other} reloads the chart: ${n} candles, hash #${other}`);
    await page.selectOption('#symbol', expect.symbol);
    await loaded(expect.symbol);
    await waitFor(`back on ${expect.symbol}, the chart holds ${expect.candles} candles`,
      (n) => window.cryptolake.candles === n, expect.candles, 2000);
    ok(`switching back to ${expect.symbol} restores ${expect.candles} candles`);
  } else {
    note('only one symbol expected: symbol switch not checked');
  }

  // 6. Live updates over the stream.
  if (expect.live) {
    await waitFor('the live stream connects (status "live")', () => window.cryptolake.status === 'live', undefined, args.liveTimeout);
    const label = await page.$eval('#live-label', (e) => e.textContent);
    if (label !== 'live') fail(`the live indicator says "${label}" while connected`);
    ok('live stream connected, indicator shows "live"');
    const before = await page.evaluate(() => ({
      updates: window.cryptolake.updates, candles: window.cryptolake.candles, lastBar: JSON.stringify(window.cryptolake.lastBar),
    }));
    await waitFor(`a live update within ${args.liveTimeout} ms (counter above ${before.updates} and the last bar changed or a new one)`,
      (b) => window.cryptolake.updates > b.updates &&
        (window.cryptolake.candles > b.candles || JSON.stringify(window.cryptolake.lastBar) !== b.lastBar),
      before, args.liveTimeout);
    const after = await page.evaluate(() => ({ updates: window.cryptolake.updates, candles: window.cryptolake.candles, lastBar: window.cryptolake.lastBar }));
    const shown = await page.$eval('#live-count', (e) => Number(e.textContent.replace(/,/g, '')));
    if (shown !== after.updates) fail(`the live counter shows ${shown}, the page counted ${after.updates}`);
    const lb = after.lastBar;
    ok(`live update received: ${after.updates - before.updates} update(s), last bar ${lb.day} C ${lb.close}` +
       (after.candles > before.candles ? ` (new bar, ${after.candles} candles)` : ''));
  } else {
    note('"live" is not set: live updates not checked');
  }

  // 7. Everything came from the page's own origin (the chart library is bundled, no CDN).
  noErrors();
  if (foreign.length) fail(`the page fetched from another origin: ${foreign[0]}`);
  ok(`no request left ${origin}`);

  // 8. The screenshot, once the chart has painted its latest state.
  const canvases = await page.$$eval('#chart canvas', (cs) => cs.filter((c) => c.width > 0 && c.height > 0).length);
  if (!canvases) fail('the chart drew no canvas');
  await page.mouse.move(1, 1);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  fs.mkdirSync(path.dirname(path.resolve(args.screenshot)), { recursive: true });
  await page.screenshot({ path: args.screenshot });
  const size = fs.statSync(args.screenshot).size;
  if (size < 10000) fail(`screenshot ${args.screenshot} is only ${size} bytes`);
  ok(`screenshot saved: ${args.screenshot} (1280x800, ${size} bytes)`);
  await context.close();
}

main().then(() => {
  console.log(`dashboard: ${passed} passed, 0 failed`);
  process.exit(0);
}, (e) => {
  if (e instanceof CheckFailed) console.error(`FAIL: ${e.message}`);
  else console.error(`FAIL: ${e.stack ?? e}`);
  console.log(`dashboard: ${passed} passed, 1 failed`);
  process.exit(1);
});
