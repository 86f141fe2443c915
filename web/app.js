// cryptolake dashboard: daily candles from the serving API, live updates over Server-Sent Events.
//
// Data: GET /api/v1/symbols, /api/v1/daily?symbol=S, /api/v1/forecast?symbol=S[&model=M] (404 =
// none yet), and the stream /api/v1/stream?symbol=S (`daily` rows, `kline` ticks). Times are UTC
// days ("YYYY-MM-DD"), used as lightweight-charts business days.
//
// The forecast: the selected model's yhat (dashed) and its band (filled, dotted edges). When the
// forecast file has the selection's fields (docs/API.md), a panel under the chart shows why the
// model was selected, the CV leaderboard (MAPE, MASE, coverage vs nominal per horizon; the
// selected model's row and the nested procedure's row marked) and a model switcher that redraws
// the chart from &model=. An older file (rows only) is drawn without the panel.
//
// For tests the page exposes window.cryptolake (see the bottom of this file): ready, symbol,
// candles, bar(day), seam, updates, lastBar, status, markers(), watermark, forecast, symbols,
// forecastModel, forecastRows(), band, alerts (web/alerts.js: the alerts panel).

import { alerts, startAlerts } from './alerts.js';

const LWC = window.LightweightCharts;

const COLORS = {
  up: '#26a69a', down: '#ef5350',
  speedUp: '#4fc3f7', speedDown: '#ff8a65',
  volUp: 'rgba(38, 166, 154, 0.42)', volDown: 'rgba(239, 83, 80, 0.42)',
  volSpeedUp: 'rgba(79, 195, 247, 0.55)', volSpeedDown: 'rgba(255, 138, 101, 0.55)',
  ma7: '#f0b90b', ma30: '#c792ea', forecast: '#90caf9', forecastBand: 'rgba(144, 202, 249, 0.55)',
  forecastFill: 'rgba(144, 202, 249, 0.16)',
  seamFill: 'rgba(79, 195, 247, 0.06)', seamLine: 'rgba(79, 195, 247, 0.65)',
  text: '#9aa3b2', grid: 'rgba(42, 49, 64, 0.55)', border: '#1f2530',
};
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", "DejaVu Sans", sans-serif';

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------------
// State. `rows` is the API's view of the current symbol (day -> row); the chart series are the
// rendering of it. `gen` invalidates the work of a symbol that is no longer selected.
const state = {
  ready: false,
  symbol: null,
  symbols: [],
  watermark: null,
  rows: new Map(),
  days: [],            // sorted days of `rows`
  seam: null,          // first speed-sourced day, or null
  markers: [],
  forecast: 0,
  fcDoc: null,         // the selected forecast's document (the file), or null
  fcModel: '',         // the forecast drawn: '' the selected one, else a model of fcDoc.models
  fcGen: 0,            // invalidates a model fetch overtaken by another switch or symbol
  updates: 0,
  status: 'connecting',
  gen: 0,
  es: null,
  pending: null,       // stream events held while the history loads
  retryTimer: null,
  rangeDays: 90,
  lastKline: null,
};

// ---------------------------------------------------------------------------------------------
// Formatting.
let priceDigits = 2;
function fmtPrice(v) {
  if (v == null || !Number.isFinite(v)) return '–';
  return v.toLocaleString('en-US', { minimumFractionDigits: priceDigits, maximumFractionDigits: priceDigits });
}
// Axis tick marks: as few decimals as the ticks need, with thousands separators; millions and
// up (volumes) compact.
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 2 });
function fmtTicks(prices) {
  if (prices.length && Math.max(...prices.map(Math.abs)) >= 1e6) return prices.map((p) => compact.format(p));
  let d = 0;
  while (d < 8 && prices.some((p) => Math.abs(p * 10 ** d - Math.round(p * 10 ** d)) > 1e-6)) d++;
  return prices.map((p) => p.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
}
function fmtVolume(v) {
  if (v == null || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(2) + 'B';
  if (a >= 1e6) return (v / 1e6).toFixed(2) + 'M';
  if (a >= 1e4) return (v / 1e3).toFixed(2) + 'K';
  return v.toLocaleString('en-US', { maximumFractionDigits: 2 });
}
function fmtPct(v) {
  if (!Number.isFinite(v)) return '';
  return (v >= 0 ? '+' : '') + (v * 100).toFixed(2) + '%';
}
function digitsFor(price) {
  if (price >= 100) return 2;
  if (price >= 1) return 4;
  if (price >= 0.01) return 6;
  return 8;
}

// ---------------------------------------------------------------------------------------------
// The seam between the batch views and the speed layer: a shaded region from the first speed
// day to the right edge and a dashed line at its left edge, drawn under the series of each pane.
class SeamPrimitive {
  constructor(label) {
    this._label = label;
    this._chart = null;
    this._series = null;
    this._request = null;
    const self = this;
    this._view = {
      zOrder: () => 'bottom',
      renderer: () => ({ draw: (target) => self._draw(target) }),
    };
  }
  attached({ chart, series, requestUpdate }) {
    this._chart = chart;
    this._series = series;
    this._request = requestUpdate;
  }
  detached() { this._chart = this._series = this._request = null; }
  update() { if (this._request) this._request(); }
  updateAllViews() {}
  paneViews() { return [this._view]; }

  _x() {
    if (!state.seam || !this._chart) return null;
    const i = bisect(state.days, state.seam);
    if (i < 0) return null;
    // Half a bar left of the seam day's centre (logicalToCoordinate takes whole indexes only).
    const ts = this._chart.timeScale();
    const x = ts.logicalToCoordinate(i);
    const y = ts.logicalToCoordinate(i > 0 ? i - 1 : i + 1);
    if (x == null || y == null || x === y) return x;
    return x - Math.abs(x - y) / 2;
  }
  _draw(target) {
    const x = this._x();
    if (x == null) return;
    target.useMediaCoordinateSpace(({ context: ctx, mediaSize }) => {
      if (x > mediaSize.width) return;
      const left = Math.max(0, x);
      ctx.fillStyle = COLORS.seamFill;
      ctx.fillRect(left, 0, mediaSize.width - left, mediaSize.height);
      if (x < 0) return;
      ctx.strokeStyle = COLORS.seamLine;
      ctx.lineWidth = 1;
      ctx.setLineDash([4, 4]);
      ctx.beginPath();
      ctx.moveTo(Math.round(x) + 0.5, 0);
      ctx.lineTo(Math.round(x) + 0.5, mediaSize.height);
      ctx.stroke();
      ctx.setLineDash([]);
      if (this._label) {
        ctx.font = `600 11px ${FONT}`;
        ctx.textBaseline = 'top';
        ctx.fillStyle = 'rgba(154, 163, 178, 0.9)';
        ctx.textAlign = 'right';
        ctx.fillText('batch', x - 6, 78);
        ctx.fillStyle = COLORS.speedUp;
        ctx.textAlign = 'left';
        ctx.fillText('speed', x + 6, 78);
      }
    });
  }
}

// The forecast's interval as a filled area between its upper and lower bounds (lightweight-charts
// has no band series), drawn under the series of the price pane. `points` are {time, lower,
// upper}; `painted` is how many of them the last draw placed on the canvas (for the test hook).
class BandPrimitive {
  constructor() {
    this._chart = null;
    this._series = null;
    this._request = null;
    this.points = [];
    this.painted = 0;
    const self = this;
    this._view = {
      zOrder: () => 'bottom',
      renderer: () => ({ draw: (target) => self._draw(target) }),
    };
  }
  attached({ chart, series, requestUpdate }) {
    this._chart = chart;
    this._series = series;
    this._request = requestUpdate;
  }
  detached() { this._chart = this._series = this._request = null; }
  setPoints(points) {
    this.points = points;
    this.painted = 0;
    this.update();
  }
  update() { if (this._request) this._request(); }
  updateAllViews() {}
  paneViews() { return [this._view]; }

  _draw(target) {
    const xy = [];
    if (this._chart && this.points.length >= 2) {
      const ts = this._chart.timeScale();
      for (const p of this.points) {
        const x = ts.timeToCoordinate(p.time);
        const hi = this._series.priceToCoordinate(p.upper);
        const lo = this._series.priceToCoordinate(p.lower);
        if (x != null && hi != null && lo != null) xy.push([x, hi, lo]);
      }
    }
    this.painted = xy.length;
    if (xy.length < 2) return;
    target.useMediaCoordinateSpace(({ context: ctx }) => {
      ctx.beginPath();
      ctx.moveTo(xy[0][0], xy[0][1]);
      for (let i = 1; i < xy.length; i++) ctx.lineTo(xy[i][0], xy[i][1]);
      for (let i = xy.length - 1; i >= 0; i--) ctx.lineTo(xy[i][0], xy[i][2]);
      ctx.closePath();
      ctx.fillStyle = COLORS.forecastFill;
      ctx.fill();
    });
  }
}

// Index of `day` in the sorted array, or -1.
function bisect(days, day) {
  let lo = 0, hi = days.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (days[mid] === day) return mid;
    if (days[mid] < day) lo = mid + 1; else hi = mid - 1;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// The chart: pane 0 candles + MA7 + MA30 (+ forecast), pane 1 volume.
const chart = LWC.createChart($('chart'), {
  autoSize: true,
  layout: {
    background: { type: 'solid', color: '#0b0e14' },
    textColor: COLORS.text,
    fontFamily: FONT,
    fontSize: 12,
    attributionLogo: false, // attribution is the footer's link
    panes: { separatorColor: COLORS.border, separatorHoverColor: 'rgba(79, 195, 247, 0.15)' },
  },
  grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
  rightPriceScale: { borderColor: COLORS.border, scaleMargins: { top: 0.14, bottom: 0.06 } },
  timeScale: { borderColor: COLORS.border, rightOffset: 6, barSpacing: 7, minBarSpacing: 0.5 },
  crosshair: {
    mode: LWC.CrosshairMode.Normal,
    vertLine: { color: '#4a5365', labelBackgroundColor: '#2a3140' },
    horzLine: { color: '#4a5365', labelBackgroundColor: '#2a3140' },
  },
  localization: { locale: 'en-US', tickmarksPriceFormatter: fmtTicks },
});

const candles = chart.addSeries(LWC.CandlestickSeries, {
  upColor: COLORS.up, downColor: COLORS.down,
  borderUpColor: COLORS.up, borderDownColor: COLORS.down,
  wickUpColor: COLORS.up, wickDownColor: COLORS.down,
  priceLineColor: '#5d6678',
});
const lineOpts = { lineWidth: 1.5, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false };
const ma7 = chart.addSeries(LWC.LineSeries, { ...lineOpts, color: COLORS.ma7 });
const ma30 = chart.addSeries(LWC.LineSeries, { ...lineOpts, color: COLORS.ma30 });
const fcOpts = { ...lineOpts, lineWidth: 1, lineStyle: LWC.LineStyle.Dotted, color: COLORS.forecastBand };
const fcUpper = chart.addSeries(LWC.LineSeries, fcOpts);
const fcLower = chart.addSeries(LWC.LineSeries, fcOpts);
const fcMid = chart.addSeries(LWC.LineSeries, {
  ...lineOpts, lineWidth: 2, lineStyle: LWC.LineStyle.Dashed, color: COLORS.forecast, lastValueVisible: true,
});
const volume = chart.addSeries(LWC.HistogramSeries, {
  priceFormat: { type: 'volume' }, priceLineVisible: false, lastValueVisible: false,
}, 1);
chart.panes()[0].setStretchFactor(4);
chart.panes()[1].setStretchFactor(1);
volume.priceScale().applyOptions({ scaleMargins: { top: 0.12, bottom: 0 }, borderColor: COLORS.border });

const markers = LWC.createSeriesMarkers(candles, []);
const seamPrice = new SeamPrimitive(true);
const seamVolume = new SeamPrimitive(false);
candles.attachPrimitive(seamPrice);
volume.attachPrimitive(seamVolume);
const band = new BandPrimitive();
fcMid.attachPrimitive(band);

// ---------------------------------------------------------------------------------------------
// Rows -> series items.
function isSpeed(r) { return r.source === 'speed'; }
function candleOf(r) {
  const up = r.close >= r.open;
  const c = { time: r.day, open: r.open, high: r.high, low: r.low, close: r.close };
  if (isSpeed(r)) {
    const col = up ? COLORS.speedUp : COLORS.speedDown;
    c.color = r.partial ? col + '59' : col;  // the open day: a translucent body
    c.borderColor = col;
    c.wickColor = col;
  }
  return c;
}
function volumeOf(r) {
  const up = r.close >= r.open;
  const color = isSpeed(r) ? (up ? COLORS.volSpeedUp : COLORS.volSpeedDown) : (up ? COLORS.volUp : COLORS.volDown);
  return { time: r.day, value: r.volume ?? 0, color };
}
function lineOf(r, key) {
  return r[key] == null ? { time: r.day } : { time: r.day, value: r[key] };
}

function normalizeRow(r) {
  const num = (v) => (v == null ? null : Number(v));
  return {
    day: String(r.day).slice(0, 10),
    open: num(r.open), high: num(r.high), low: num(r.low), close: num(r.close),
    volume: num(r.volume), ma7: num(r.ma7), ma30: num(r.ma30),
    source: r.source === 'speed' ? 'speed' : 'batch',
    partial: r.partial === true,
  };
}

function recomputeSeam() {
  state.seam = null;
  for (const d of state.days) {
    if (isSpeed(state.rows.get(d))) { state.seam = d; break; }
  }
  const list = [];
  if (state.seam) {
    list.push({ time: state.seam, position: 'aboveBar', shape: 'arrowDown', color: COLORS.speedUp, text: 'speed layer' });
  }
  for (const d of state.days.slice(-3)) {  // only the last days can be open
    const r = state.rows.get(d);
    if (r.partial) list.push({ time: d, position: 'belowBar', shape: 'circle', color: '#e0e3eb', text: 'partial' });
  }
  list.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  state.markers = list;
  markers.setMarkers(list);
  seamPrice.update();
  seamVolume.update();
}

function setAll(rows) {
  state.rows = new Map();
  for (const r of rows) state.rows.set(r.day, r);
  state.days = [...state.rows.keys()].sort();
  const ordered = state.days.map((d) => state.rows.get(d));
  const lastClose = ordered.length ? ordered[ordered.length - 1].close : 100;
  priceDigits = digitsFor(lastClose);
  const fmt = { type: 'custom', minMove: 1 / 10 ** priceDigits, formatter: fmtPrice };
  for (const s of [candles, ma7, ma30, fcMid, fcUpper, fcLower]) s.applyOptions({ priceFormat: fmt });
  candles.setData(ordered.map(candleOf));
  volume.setData(ordered.map(volumeOf));
  ma7.setData(ordered.map((r) => lineOf(r, 'ma7')));
  ma30.setData(ordered.map((r) => lineOf(r, 'ma30')));
  recomputeSeam();
}

// Applies one `daily` row from the stream: replaces or appends that day everywhere.
function applyDaily(raw) {
  const r = normalizeRow(raw);
  if (!r.day || !Number.isFinite(r.open) || !Number.isFinite(r.close)) return false;
  const last = state.days[state.days.length - 1];
  const exists = state.rows.has(r.day);
  const historical = last !== undefined && r.day < last;
  if (historical && !exists) {
    // A day inside the history that we never had: rare (a healed gap); rebuild the series.
    setAll([...state.rows.values(), r]);
  } else {
    state.rows.set(r.day, r);
    if (!exists) state.days.push(r.day);
    candles.update(candleOf(r), historical);
    volume.update(volumeOf(r), historical);
    ma7.update(lineOf(r, 'ma7'), historical);
    ma30.update(lineOf(r, 'ma30'), historical);
    recomputeSeam();
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Forecast: yhat dashed, the interval filled between two dotted lines (each day the width the
// forecast gives it); silently absent on 404 (or any error).
function setForecast(rows, intervalWidth) {
  const ok = Array.isArray(rows) ? rows.filter((r) => r && r.ds && Number.isFinite(Number(r.yhat))) : [];
  const last = state.days[state.days.length - 1];
  const pts = ok.map((r) => ({ ...r, ds: String(r.ds).slice(0, 10) }))
    .filter((r) => !last || r.ds > last)
    .sort((a, b) => (a.ds < b.ds ? -1 : 1));
  const finite = (v) => v != null && Number.isFinite(Number(v));
  state.forecast = pts.length;
  fcMid.setData(pts.map((r) => ({ time: r.ds, value: Number(r.yhat) })));
  fcUpper.setData(pts.filter((r) => finite(r.yhat_upper)).map((r) => ({ time: r.ds, value: Number(r.yhat_upper) })));
  fcLower.setData(pts.filter((r) => finite(r.yhat_lower)).map((r) => ({ time: r.ds, value: Number(r.yhat_lower) })));
  const bounded = pts.filter((r) => finite(r.yhat_lower) && finite(r.yhat_upper))
    .map((r) => ({ time: r.ds, lower: Number(r.yhat_lower), upper: Number(r.yhat_upper) }));
  band.setPoints(bounded);
  $('key-forecast').hidden = pts.length === 0;
  $('key-band').hidden = bounded.length === 0;
  const w = Number(intervalWidth);
  $('key-band-label').textContent = Number.isFinite(w) && w > 0 && w < 1 ? `${Math.round(w * 100)}% interval` : 'interval';
}

// ---------------------------------------------------------------------------------------------
// The forecast panel: why the model was selected, the leaderboard and the model switcher.
function fmtFrac(v, digits) { return v == null || !Number.isFinite(Number(v)) ? '–' : (Number(v) * 100).toFixed(digits) + '%'; }
function fmtMase(v) { return v == null || !Number.isFinite(Number(v)) ? '–' : Number(v).toFixed(3); }
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v; else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}
// The leaderboard's entry for the selection procedure itself (nested CV), not a model.
function isProcedure(entry) { return /^selected\b|nested/i.test(String(entry.model ?? '')); }
function modelNames(doc) {
  return Array.isArray(doc?.models) ? doc.models.map((m) => m?.name).filter((n) => typeof n === 'string' && n) : [];
}

function showForecastPanel(doc) {
  const board = Array.isArray(doc?.leaderboard) ? doc.leaderboard.filter((e) => e && e.model != null) : [];
  const names = modelNames(doc);
  const why = typeof doc?.selection?.why === 'string' ? doc.selection.why : '';
  $('fc-panel').hidden = !(board.length || names.length || why);
  if ($('fc-panel').hidden) return;
  $('fc-sym').textContent = state.symbol ?? '';
  const width = Number(doc.interval_width);
  const nominal = Number.isFinite(width) ? width : null;

  $('fc-why').textContent = why;
  $('fc-why').hidden = !why;
  const cv = doc.cv;
  $('fc-cv').hidden = !cv;
  if (cv) {
    $('fc-cv').textContent = `Rolling-origin CV of the history: ${cv.cutoffs ?? '?'} cutoffs, the first after ` +
      `${cv.initial_days ?? '?'} days, one every ${cv.period_days ?? '?'} days, ${cv.horizon_days ?? '?'} days ahead. ` +
      'MASE is against the naive forecast (below 1 beats it).';
  }

  const sel = $('fc-model');
  sel.replaceChildren(new Option(`selected${doc.model ? ` (${doc.model})` : ''}`, ''),
    ...names.map((n) => new Option(n, n)));
  sel.value = state.fcModel;
  $('fc-switch').hidden = names.length === 0;

  $('fc-board').hidden = board.length === 0;
  if (!board.length) return;
  const horizons = [...new Set(board.flatMap((e) => (Array.isArray(e.horizons) ? e.horizons : [])
    .map((h) => Number(h?.horizon_days)).filter(Number.isFinite)))].sort((a, b) => a - b);
  const nominalText = nominal != null ? ` (nominal ${fmtFrac(nominal, 0)})` : '';
  $('fc-caption').textContent = 'Leaderboard: each model forecast from every CV cutoff, by days ahead';
  $('fc-head-groups').replaceChildren(
    el('th', { scope: 'col', rowspan: '2' }, 'Model'),
    el('th', { scope: 'colgroup', colspan: String(horizons.length), class: 'group' }, 'MAPE'),
    el('th', { scope: 'colgroup', colspan: String(horizons.length), class: 'group' }, 'MASE'),
    el('th', { scope: 'colgroup', colspan: String(horizons.length), class: 'group' }, `Coverage${nominalText}`));
  const hcells = [];
  for (const metric of ['MAPE', 'MASE', 'coverage']) {
    for (const h of horizons) hcells.push(el('th', { scope: 'col', 'aria-label': `${metric} at ${h} days` }, `${h}d`));
  }
  $('fc-head-horizons').replaceChildren(...hcells);
  $('fc-rows').replaceChildren(...board.map((e) => {
    const byH = new Map((Array.isArray(e.horizons) ? e.horizons : []).map((h) => [Number(h?.horizon_days), h ?? {}]));
    const proc = isProcedure(e);
    const head = el('th', { scope: 'row' }, el('span', { class: 'name' }, String(e.model)));
    if (e.selected === true) head.append(el('span', { class: 'badge' }, 'selected'));
    if (proc) head.title = 'The selection procedure itself, evaluated by nested CV: at each cutoff the model is chosen on the cutoffs before it';
    const cells = [];
    for (const h of horizons) {
      const v = byH.get(h)?.mape;
      cells.push(el('td', v == null ? { class: 'na' } : {}, fmtFrac(v, 2)));
    }
    for (const h of horizons) {
      const v = byH.get(h)?.mase;
      cells.push(el('td', v == null ? { class: 'na' } : {}, fmtMase(v)));
    }
    for (const h of horizons) {
      const v = byH.get(h)?.coverage;
      const attrs = v == null ? { class: 'na' } : {};
      if (v != null && nominal != null) {
        attrs.title = `${fmtFrac(v, 1)} of outcomes inside the ${fmtFrac(nominal, 0)} interval (n = ${byH.get(h)?.n ?? '?'})`;
        if (Math.abs(Number(v) - nominal) > 0.05) attrs.class = 'off';
      }
      cells.push(el('td', attrs, fmtFrac(v, 1)));
    }
    const cls = [e.selected === true ? 'selected' : '', proc ? 'procedure' : ''].filter(Boolean).join(' ');
    return el('tr', cls ? { class: cls } : {}, head, ...cells);
  }));
}

// What the chart shows now, in words (announced to screen readers when it changes).
function showForecastNote(doc, name) {
  const w = Number(doc?.interval_width);
  const pct = Number.isFinite(w) ? `${Math.round(w * 100)}% ` : '';
  let text = '';
  if (!name) {
    if (doc?.model) text = `Showing the selected forecast (${doc.model})${doc.interval === 'conformal' ? ` with its conformal ${pct}band` : ''}.`;
  } else {
    const m = (state.fcDoc?.models ?? []).find((x) => x?.name === name);
    text = `Showing ${name}'s own forecast and ${pct}interval${m?.description ? `: ${m.description}` : ''}.`;
  }
  $('fc-showing').textContent = text;
}

// Draws the selected forecast ('') or one model's from the API (&model=).
async function showModel(name) {
  const gen = ++state.fcGen;
  const symbol = state.symbol;
  let doc = state.fcDoc;
  if (name) {
    try {
      doc = await getJSON(`/api/v1/forecast?symbol=${encodeURIComponent(symbol)}&model=${encodeURIComponent(name)}`);
    } catch (e) {
      if (gen !== state.fcGen || symbol !== state.symbol) return;
      $('fc-showing').textContent = `Could not load ${name}'s forecast: ${e.message}`;
      return;
    }
  }
  if (gen !== state.fcGen || symbol !== state.symbol) return;
  state.fcModel = name;
  setForecast(doc?.rows ?? [], doc?.interval_width);
  showForecastNote(state.fcDoc, name);
}
$('fc-model').addEventListener('change', (ev) => { showModel(ev.target.value); });

// ---------------------------------------------------------------------------------------------
// Legend (the hovered day, else the last one), header ticker, footer.
function showLegend(day) {
  const r = state.rows.get(day) ?? state.rows.get(state.days[state.days.length - 1]);
  $('lg-symbol').textContent = state.symbol ?? '–';
  if (!r) {
    for (const k of ['day', 'open', 'high', 'low', 'close', 'ma7', 'ma30', 'volume', 'change']) $('lg-' + k).textContent = '';
    $('lg-source').textContent = '';
    return;
  }
  const i = bisect(state.days, r.day);
  const prev = i > 0 ? state.rows.get(state.days[i - 1]) : null;
  const change = prev ? r.close / prev.close - 1 : r.close / r.open - 1;
  const dir = r.close >= r.open ? 'up' : 'down';
  $('lg-day').textContent = r.day;
  for (const k of ['open', 'high', 'low', 'close', 'ma7', 'ma30']) $('lg-' + k).textContent = fmtPrice(r[k]);
  $('lg-volume').textContent = fmtVolume(r.volume);
  const ch = $('lg-change');
  ch.textContent = fmtPct(change);
  ch.className = change >= 0 ? 'up' : 'down';
  document.querySelector('.legend .ohlc').className = 'row ohlc ' + dir;
  const src = $('lg-source');
  src.textContent = r.source === 'speed' ? (r.partial ? 'speed layer · partial' : 'speed layer') : 'batch';
  src.className = 'tag ' + r.source;
}

function showMeta() {
  const n = candles.data().length;
  const parts = [`${n.toLocaleString('en-US')} daily bars`];
  if (state.days.length) parts.push(`${state.days[0]} → ${state.days[state.days.length - 1]} UTC`);
  if (state.seam) parts.push(`speed layer from ${state.seam}`);
  else if (state.watermark) parts.push(`batch views until ${state.watermark}`);
  $('meta').textContent = parts.join('  ·  ');
}

function showTicker(k) {
  const price = Number(k.close);
  const el = $('ticker-price');
  el.textContent = fmtPrice(price);
  const today = String(k.open_time ?? '').slice(0, 10);
  const day = state.rows.get(today);
  const base = day ? day.open : Number(k.open);
  const change = price / base - 1;
  el.className = 'price ' + (change >= 0 ? 'up' : 'down');
  const ch = $('ticker-change');
  ch.textContent = fmtPct(change);
  ch.className = 'change ' + (change >= 0 ? 'up' : 'down');
  const t = String(k.open_time ?? '').replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, '');
  $('ticker-time').textContent = `${k.interval ?? '1m'} · ${t} UTC${k.closed ? '' : ' · open'}`;
}
function resetTicker() {
  $('ticker-price').textContent = '–';
  $('ticker-price').className = 'price';
  $('ticker-change').textContent = '';
  $('ticker-time').textContent = 'waiting for live data';
}

function setStatus(s) {
  state.status = s;
  $('live').dataset.status = s;
  $('live-label').textContent = s;
}
function countUpdate() {
  state.updates += 1;
  $('live-count').textContent = state.updates.toLocaleString('en-US');
}

function banner(msg) {
  const b = $('banner');
  b.textContent = msg ?? '';
  b.hidden = !msg;
}

// ---------------------------------------------------------------------------------------------
// Visible range: the last N days (plus the forecast), or everything.
function applyRange() {
  const n = candles.data().length;
  if (!n) return;
  const extra = state.forecast;
  if (!state.rangeDays || state.rangeDays >= n) {
    chart.timeScale().fitContent();
    return;
  }
  chart.timeScale().setVisibleLogicalRange({ from: n - state.rangeDays, to: n - 1 + extra + 6 });
}
for (const b of document.querySelectorAll('#ranges button')) {
  b.addEventListener('click', () => {
    state.rangeDays = Number(b.dataset.days);
    for (const o of document.querySelectorAll('#ranges button')) o.classList.toggle('active', o === b);
    applyRange();
  });
}

// ---------------------------------------------------------------------------------------------
// API.
async function getJSON(path) {
  const res = await fetch(path, { headers: { Accept: 'application/json' } });
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const e = new Error(body?.error?.message ?? `${res.status} ${res.statusText}`);
    e.status = res.status;
    throw e;
  }
  return body;
}

function openStream(symbol, gen) {
  closeStream();
  setStatus('connecting');
  const es = new EventSource(`/api/v1/stream?symbol=${encodeURIComponent(symbol)}`);
  state.es = es;
  const mine = () => gen === state.gen && state.es === es;
  es.onopen = () => { if (mine()) setStatus('live'); };
  es.onerror = () => {
    if (!mine()) return;
    if (es.readyState === EventSource.CLOSED) {
      // The server refused the stream (EventSource gives up on a non-200 answer): try again later.
      setStatus('offline');
      state.retryTimer = setTimeout(() => { if (gen === state.gen) openStream(symbol, gen); }, 5000);
    } else {
      setStatus('reconnecting');  // EventSource reconnects by itself
    }
  };
  es.addEventListener('daily', (ev) => {
    if (!mine()) return;
    let row;
    try { row = JSON.parse(ev.data); } catch { return; }
    if (row.symbol && row.symbol !== symbol) return;
    if (state.pending) state.pending.push(['daily', row]); else onDaily(row);
  });
  es.addEventListener('kline', (ev) => {
    if (!mine()) return;
    let k;
    try { k = JSON.parse(ev.data); } catch { return; }
    if (k.symbol && k.symbol !== symbol) return;
    if (!Number.isFinite(Number(k.close))) return;
    if (state.pending) state.pending.push(['kline', k]); else onKline(k);
  });
}
function onDaily(row) {
  if (!applyDaily(row)) return;
  countUpdate();
  showLegend(null);
  showMeta();
}
function onKline(k) {
  state.lastKline = k;
  countUpdate();
  showTicker(k);
}
function closeStream() {
  clearTimeout(state.retryTimer);
  if (state.es) state.es.close();
  state.es = null;
}

// The stream is opened before the history is fetched and its events wait in state.pending until
// the history is on the chart: a day that closes in between is not missed.
async function loadSymbol(symbol) {
  const gen = ++state.gen;
  state.ready = false;
  state.symbol = symbol;
  closeStream();
  resetTicker();
  banner(null);
  $('symbol').value = symbol;
  document.title = `${symbol} · cryptolake`;
  state.pending = [];
  openStream(symbol, gen);
  const q = `symbol=${encodeURIComponent(symbol)}`;
  const forecast = getJSON(`/api/v1/forecast?${q}`).catch(() => null);  // 404 until forecasting exists
  let daily;
  try {
    daily = await getJSON(`/api/v1/daily?${q}`);
  } catch (e) {
    if (gen !== state.gen) return;
    closeStream();
    state.pending = null;
    setAll([]);
    state.fcDoc = null;
    setForecast([]);
    showForecastPanel(null);
    showLegend(null);
    showMeta();
    banner(`Could not load ${symbol}: ${e.message}`);
    setStatus('offline');
    return;
  }
  if (gen !== state.gen) return;
  state.watermark = daily.batch_watermark ?? null;
  setAll((daily.rows ?? []).map(normalizeRow).filter((r) => r.day && Number.isFinite(r.open)));
  const fc = await forecast;
  if (gen !== state.gen) return;
  state.fcDoc = fc;
  state.fcModel = '';
  state.fcGen += 1;  // a model fetch of the previous symbol is dropped
  setForecast(fc?.rows ?? [], fc?.interval_width);
  showForecastPanel(fc);
  showForecastNote(fc, '');
  applyRange();
  const pending = state.pending;
  state.pending = null;
  for (const [kind, data] of pending) (kind === 'daily' ? onDaily : onKline)(data);
  showLegend(null);
  showMeta();
  if (!state.days.length) banner(`No daily data for ${symbol} yet.`);
  state.ready = true;
}

function symbolFromHash() {
  const h = decodeURIComponent(location.hash.replace(/^#/, '')).trim().toUpperCase();
  return state.symbols.includes(h) ? h : null;
}

async function start() {
  let list;
  try {
    list = await getJSON('/api/v1/symbols');
  } catch (e) {
    banner(`Could not load the symbol list: ${e.message}`);
    setStatus('offline');
    return;
  }
  state.symbols = (list.symbols ?? []).map((s) => s.symbol).filter(Boolean);
  const sel = $('symbol');
  sel.replaceChildren(...state.symbols.map((s) => new Option(s, s)));
  sel.disabled = state.symbols.length === 0;
  if (!state.symbols.length) {
    banner('The lake holds no symbols yet.');
    setStatus('offline');
    return;
  }
  sel.addEventListener('change', () => { location.hash = '#' + sel.value; });
  window.addEventListener('hashchange', () => {
    const s = symbolFromHash();
    if (s && s !== state.symbol) loadSymbol(s);
    else if (!s) history.replaceState(null, '', '#' + state.symbol);
  });
  const first = symbolFromHash() ?? state.symbols[0];
  if (location.hash !== '#' + first) history.replaceState(null, '', '#' + first);
  await loadSymbol(first);
}

chart.subscribeCrosshairMove((p) => showLegend(p?.time ?? null));

// ---------------------------------------------------------------------------------------------
// The test hook. Every field reads the live state: `candles` and `bar()` read the chart's own
// series data, so a test checks what is drawn, not what was fetched.
function barOut(c) {
  return c ? { open: c.open, high: c.high, low: c.low, close: c.close } : null;
}
window.cryptolake = {
  get ready() { return state.ready; },
  // The alerts panel's state (web/alerts.js): rules, active, recent, updates.
  get alerts() { return { ...alerts, active: [...alerts.active], recent: [...alerts.recent] }; },
  get symbol() { return state.symbol; },
  get symbols() { return [...state.symbols]; },
  get candles() { return candles.data().length; },
  bar(day) { return barOut(candles.data().find((c) => c.time === day)); },
  get seam() { return state.seam; },
  get watermark() { return state.watermark; },
  get updates() { return state.updates; },
  get status() { return state.status; },
  get forecast() { return state.forecast; },
  // '' the selected forecast, else the model drawn (the switcher's value once drawn).
  get forecastModel() { return state.fcModel; },
  // The forecast drawn: the chart's own series data, day by day.
  forecastRows() {
    const lo = new Map(fcLower.data().map((p) => [p.time, p.value]));
    const hi = new Map(fcUpper.data().map((p) => [p.time, p.value]));
    return fcMid.data().map((p) => ({ ds: p.time, yhat: p.value, lower: lo.get(p.time) ?? null, upper: hi.get(p.time) ?? null }));
  },
  // The filled band: its points and how many the last paint placed on the canvas.
  get band() { return { points: band.points.length, painted: band.painted }; },
  get lastBar() {
    const d = candles.data();
    const c = d[d.length - 1];
    if (!c) return null;
    const r = state.rows.get(c.time);
    return { day: c.time, ...barOut(c), volume: r?.volume ?? null, source: r?.source ?? null, partial: r?.partial ?? false };
  },
  markers() { return state.markers.map((m) => ({ time: m.time, text: m.text })); },
};

start();
startAlerts();
