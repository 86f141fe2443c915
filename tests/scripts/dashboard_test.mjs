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
// the update counter increases and the last bar changes or a new bar appears; the forecast the
// API serves is drawn, with the selection's panel only when the file has its fields; the page
// fetched nothing from another origin. With "alert" ({"rule","symbol"}), the alerts panel shows
// that alert firing, the same active alerts as /api/v1/alerts. Then it saves a 1280x800
// screenshot.
// Nothing sleeps: every wait polls the page's state (window.cryptolake) with a timeout.
//
// Forecast mode: EXPECT.json {"symbol":"ETHUSDT","forecast":{"dir":"<data>/forecasts",
// "symbols":["BTCUSDT","ETHUSDT"]}} checks the forecast panel instead (runForecast below), on a
// server that does not rewrite its forecast files (`cryptolake serve`), over the forecast files
// `up` wrote (each must have the selection's fields). Then: the ETHUSDT forecast's first yhat is
// within 5% of the close of its history's last day (both read from the API); the page
// draws that forecast and its filled band; the leaderboard lists the file's entries in order
// with the selected and nested-procedure rows marked and one exact figure; the why sentence is
// selection.why; switching the model to prophet redraws the chart with /api/v1/forecast?model=
// prophet's rows, and back to the selected one.
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
  for (const k of ['symbol', expect.forecast ? 'forecast' : 'candles']) {
    if (expect[k] == null) usage(`${args.expect} has no "${k}"`);
  }
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
    if (expect.forecast) await runForecast(browser, args, expect);
    else await run(browser, args, expect, symbols, bars);
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
    // One evaluate reads the counter and the label together: updates keep arriving (the stream
    // heals a backlog), and two round trips could see two different counts.
    const after = await page.evaluate(() => ({
      updates: window.cryptolake.updates, candles: window.cryptolake.candles, lastBar: window.cryptolake.lastBar,
      shown: Number(document.getElementById('live-count').textContent.replace(/,/g, '')),
    }));
    const shown = after.shown;
    if (shown !== after.updates) fail(`the live counter shows ${shown}, the page counted ${after.updates}`);
    const lb = after.lastBar;
    ok(`live update received: ${after.updates - before.updates} update(s), last bar ${lb.day} C ${lb.close}` +
       (after.candles > before.candles ? ` (new bar, ${after.candles} candles)` : ''));
  } else {
    note('"live" is not set: live updates not checked');
  }

  // 6b. With "alert" ({"rule":R,"symbol":S}): the alerts panel shows R firing for S, as
  //     /api/v1/alerts lists it, live from the alerts stream.
  if (expect.alert) {
    const want = expect.alert;
    await waitFor(`the alerts panel shows ${want.rule} (${want.symbol}) firing`, (w) => {
      const a = window.cryptolake.alerts;
      const items = [...document.querySelectorAll('#al-active li')];
      return !document.getElementById('alerts').hidden &&
        a.active.some((e) => e.rule === w.rule && e.symbol === w.symbol) &&
        items.some((li) => li.textContent.includes(w.rule) && li.textContent.includes(w.symbol));
    }, want, args.liveTimeout);
    const served = await page.evaluate(async () => (await fetch('/api/v1/alerts')).json());
    const shown = await page.$$eval('#al-active li', (ls) => ls.map((l) => l.dataset.key));
    const keys = served.active.map((e) => e.key);
    if (JSON.stringify(shown) !== JSON.stringify(keys)) fail(`the panel shows ${JSON.stringify(shown)}, /api/v1/alerts lists ${JSON.stringify(keys)}`);
    const count = await page.$eval('#al-count', (e) => e.textContent);
    if (count !== String(keys.length)) fail(`the panel's count says ${count}, ${keys.length} are active`);
    const e = served.active.find((x) => x.rule === want.rule);
    ok(`alerts panel: ${keys.length} active, ${e.key}: "${e.message}"`);
  }

  // 7. The forecast as served is drawn; the selection's panel shows only when the file has its
  //    fields (an old file draws without it).
  const fres = await page.evaluate(async (s) => {
    const r = await fetch(`/api/v1/forecast?symbol=${s}`);
    return { status: r.status, body: r.ok ? await r.json() : null };
  }, expect.symbol);
  if (fres.status === 200) {
    await waitFor('the forecast is drawn', () => window.cryptolake.forecast > 0);
    const hidden = await page.$eval('#fc-panel', (e) => e.hidden);
    const hasFields = Array.isArray(fres.body.leaderboard) || Array.isArray(fres.body.models);
    if (hidden === hasFields) fail(`the forecast panel is ${hidden ? 'hidden' : 'shown'} for a file ${hasFields ? 'with' : 'without'} the selection's fields`);
    ok(`forecast drawn (${await page.evaluate(() => window.cryptolake.forecast)} days); panel ${hidden ? 'hidden: the file has no selection fields' : 'shown'}`);
  } else {
    note(`no forecast for ${expect.symbol} (${fres.status}): forecast drawing not checked`);
  }

  // 8. Everything came from the page's own origin (the chart library is bundled, no CDN).
  noErrors();
  if (foreign.length) fail(`the page fetched from another origin: ${foreign[0]}`);
  ok(`no request left ${origin}`);

  // 9. The screenshot, once the chart has painted its latest state.
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

// ---------------------------------------------------------------------------------------------
// Forecast mode.

async function api(origin, pathAndQuery) {
  const res = await fetch(origin + pathAndQuery);
  const text = await res.text();
  let body = null;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  if (!res.ok || body == null) fail(`GET ${pathAndQuery}: ${res.status} ${text.slice(0, 200)}`);
  return body;
}

// The close of `day` from /api/v1/daily.
async function closeOn(origin, symbol, day) {
  const d = await api(origin, `/api/v1/daily?symbol=${symbol}&from=${day}&to=${day}`);
  const r = (d.rows ?? []).find((x) => x.day === day);
  if (!r || !Number.isFinite(r.close)) fail(`/api/v1/daily has no close of ${symbol} on ${day}`);
  return r.close;
}

async function runForecast(browser, args, expect) {
  const url = new URL(args.url);
  const origin = url.origin;
  const symbol = expect.symbol;

  // 1. The product's forecast files, as `up` wrote them (the selection's fields in each).
  for (const s of expect.forecast.symbols ?? [symbol]) {
    const product = await api(origin, `/api/v1/forecast?symbol=${s}`);
    if (!Array.isArray(product.leaderboard)) fail(`the product's forecast for ${s} has no leaderboard`);
  }
  note("checking the product's own forecast files");
  const fc = await api(origin, `/api/v1/forecast?symbol=${symbol}`);
  for (const k of ['rows', 'leaderboard', 'selection', 'models']) if (fc[k] == null) fail(`the forecast for ${symbol} has no "${k}"`);

  // 2. The first yhat against the last close the forecast saw, both from the API.
  const close = await closeOn(origin, symbol, fc.history_end);
  const first = fc.rows[0];
  const off = first.yhat / close - 1;
  const within = `${symbol} forecast starts at ${first.yhat} on ${first.ds}, ${(off * 100).toFixed(2)}% from the close ${close} of ${fc.history_end}`;
  if (!(Math.abs(off) <= 0.05)) fail(`${within}: more than 5%`);
  ok(`${within} (within 5%)`);

  // 3. The page draws that forecast and its band.
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const noErrors = () => { if (pageErrors.length) fail(`script error in the page: ${pageErrors[0]}`); };
  async function waitFor(what, fn, arg, timeout = args.timeout) {
    try {
      await page.waitForFunction(fn, arg, { timeout, polling: 100 });
    } catch (e) {
      noErrors();
      const st = await page.evaluate(() => {
        const c = window.cryptolake;
        return c ? { ready: c.ready, symbol: c.symbol, forecast: c.forecast, forecastModel: c.forecastModel, band: c.band } : null;
      }).catch(() => null);
      fail(`${what} (not within ${timeout} ms; page state: ${JSON.stringify(st)})`);
    }
    noErrors();
  }
  url.hash = symbol;
  try {
    await page.goto(url.href, { waitUntil: 'domcontentloaded', timeout: args.timeout });
  } catch (e) {
    fail(`cannot load ${url.href}: ${e.message.split('\n')[0]}`);
  }
  await waitFor(`the page loads ${symbol} with its forecast`,
    (s) => window.cryptolake?.ready === true && window.cryptolake.symbol === s && window.cryptolake.forecast > 0, symbol);
  // The rows the chart holds are the file's rows after the last candle, exactly.
  const drawnMatches = async (rows) => {
    const drawn = await page.evaluate(() => window.cryptolake.forecastRows());
    if (!drawn.length) fail('the chart holds no forecast');
    const byDay = new Map(rows.map((r) => [r.ds, r]));
    for (const d of drawn) {
      const r = byDay.get(d.ds);
      if (!r || r.yhat !== d.yhat || (r.yhat_lower ?? null) !== d.lower || (r.yhat_upper ?? null) !== d.upper) {
        return `drawn ${JSON.stringify(d)}, the API has ${JSON.stringify(r ?? null)}`;
      }
    }
    return { n: drawn.length, first: drawn[0] };
  };
  let m = await drawnMatches(fc.rows);
  if (typeof m === 'string') fail(`the selected forecast: ${m}`);
  ok(`the chart draws the selected forecast (${fc.model}): ${m.n} days from ${m.first.ds}, yhat ${m.first.yhat} [${m.first.lower}, ${m.first.upper}]`);
  await waitFor('the forecast band is filled on the canvas',
    () => window.cryptolake.band.points > 1 && window.cryptolake.band.painted === window.cryptolake.band.points);
  const bandState = await page.evaluate(() => window.cryptolake.band);
  if (await page.$eval('#key-band', (e) => e.hidden)) fail('the legend does not show the band');
  ok(`the band is filled: ${bandState.painted} points painted, legend "${await page.$eval('#key-band', (e) => e.textContent.trim())}"`);

  // 4. The leaderboard: the file's entries in order, the selected and procedure rows marked, and
  //    the selected model's MAPE at the first horizon as the page formats it (percent, 2 places).
  if (await page.$eval('#fc-panel', (e) => e.hidden)) fail('the forecast panel is hidden');
  const table = await page.$$eval('#fc-rows tr', (trs) => trs.map((tr) => ({
    name: tr.querySelector('th .name')?.textContent ?? '',
    badge: tr.querySelector('th .badge')?.textContent ?? '',
    cls: tr.className,
    cells: [...tr.querySelectorAll('td')].map((td) => td.textContent),
  })));
  const want = fc.leaderboard.map((e) => e.model);
  const got = table.map((r) => r.name);
  if (JSON.stringify(got) !== JSON.stringify(want)) fail(`leaderboard rows ${JSON.stringify(got)}, the file has ${JSON.stringify(want)}`);
  const si = fc.leaderboard.findIndex((e) => e.selected === true);
  if (si < 0) fail('the file marks no leaderboard entry selected');
  fc.leaderboard.forEach((e, i) => {
    const marked = table[i].badge === 'selected' && /\bselected\b/.test(table[i].cls);
    if (marked !== (e.selected === true)) fail(`row ${want[i]}: marked selected ${marked}, the file says ${e.selected}`);
  });
  const pi = want.findIndex((n) => /^selected\b|nested/i.test(n));
  if (pi < 0 || !/\bprocedure\b/.test(table[pi].cls)) fail(`no nested-procedure row marked: ${JSON.stringify(table)}`);
  // The first horizon with a MAPE; its column is that horizon's among the table's horizons.
  const horizons = [...new Set(fc.leaderboard.flatMap((e) => (e.horizons ?? []).map((h) => h.horizon_days)))].sort((a, b) => a - b);
  const h0 = [...fc.leaderboard[si].horizons].sort((a, b) => a.horizon_days - b.horizon_days).find((h) => Number.isFinite(h.mape));
  if (!h0) fail(`${want[si]} has no MAPE in the file`);
  const figure = (h0.mape * 100).toFixed(2) + '%';
  const cell = table[si].cells[horizons.indexOf(h0.horizon_days)];
  if (cell !== figure) fail(`${want[si]}'s MAPE at ${h0.horizon_days} day(s) shows ${cell}, the file has ${h0.mape} (${figure})`);
  const headers = await page.$$eval('#fc-table thead th', (ths) => ths.map((t) => `${t.getAttribute('scope')}:${t.textContent}`));
  if (!headers.includes('col:Model') || !headers.some((h) => h.startsWith('colgroup:MASE'))) fail(`the table's headers lack scopes: ${JSON.stringify(headers)}`);
  ok(`leaderboard rows ${want.join(', ')}; ${want[si]} marked selected with MAPE ${figure} at ${h0.horizon_days}d; "${want[pi]}" marked as the procedure`);

  // 5. Why.
  const why = await page.$eval('#fc-why', (e) => (e.hidden ? null : e.textContent));
  if (why !== fc.selection.why) fail(`the why sentence is ${JSON.stringify(why)}, the file has ${JSON.stringify(fc.selection.why)}`);
  ok(`why: "${why}"`);

  // 6. Switching to prophet redraws from ?model=prophet; switching back restores the selected.
  const options = await page.$$eval('#fc-model option', (os) => os.map((o) => o.value));
  if (!options.includes('prophet')) fail(`the model switcher lacks prophet: ${JSON.stringify(options)}`);
  const label = await page.$eval('#fc-model', (e) => e.labels?.[0]?.textContent.trim() ?? '');
  if (!label.startsWith('Model')) fail(`the model switcher has no label (${JSON.stringify(label)})`);
  const prophet = await api(origin, `/api/v1/forecast?symbol=${symbol}&model=prophet`);
  await page.selectOption('#fc-model', 'prophet');
  await waitFor('the chart redraws with prophet', () => window.cryptolake.forecastModel === 'prophet');
  m = await drawnMatches(prophet.rows);
  if (typeof m === 'string') fail(`after switching to prophet: ${m}`);
  const note6 = await page.$eval('#fc-showing', (e) => e.textContent);
  if (!note6.includes('prophet')) fail(`after switching to prophet the panel says ${JSON.stringify(note6)}`);
  ok(`switching to prophet redraws: ${m.n} days from ${m.first.ds}, yhat ${m.first.yhat} ("${note6}")`);
  await page.selectOption('#fc-model', '');
  await waitFor('the chart redraws with the selected forecast', () => window.cryptolake.forecastModel === '');
  m = await drawnMatches(fc.rows);
  if (typeof m === 'string') fail(`after switching back: ${m}`);
  ok(`switching back draws the selected forecast again (yhat ${m.first.yhat} on ${m.first.ds})`);

  // 7. A screenshot with the panel.
  noErrors();
  await page.mouse.move(1, 1);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  fs.mkdirSync(path.dirname(path.resolve(args.screenshot)), { recursive: true });
  await page.screenshot({ path: args.screenshot });
  ok(`screenshot saved: ${args.screenshot}`);
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
