// The alerts panel: /api/v1/alerts/stream (Server-Sent Events, serve/alerts_api.h) keeps it
// current. Shown only when the server runs alert rules (`up` or `stream` with [[alerts]] in the
// config); each active alert shows its severity, rule, symbol, since when, and its message; the
// newest events follow below.
const $ = (id) => document.getElementById(id);

export const alerts = { rules: 0, active: [], recent: [], updates: 0, status: 'connecting' };

function item(e, withState) {
  const li = document.createElement('li');
  li.className = `al-item sev-${e.severity}`;
  li.dataset.key = e.key;
  const sev = document.createElement('span');
  sev.className = 'al-sev';
  sev.textContent = e.severity;
  const name = document.createElement('span');
  name.className = 'al-rule';
  name.textContent = e.rule + (e.symbol ? ` ${e.symbol}` : '');
  const when = document.createElement('time');
  when.className = 'al-when';
  when.dateTime = withState ? e.at : e.fired_at;
  when.textContent = (withState ? e.at : `since ${e.fired_at}`).replace('T', ' ').replace('Z', '');
  const msg = document.createElement('span');
  msg.className = 'al-msg';
  msg.textContent = (withState ? `${e.state}: ` : '') + e.message;
  li.append(sev, name, when, msg);
  return li;
}

function render() {
  const panel = $('alerts');
  panel.hidden = alerts.rules === 0;
  $('al-count').textContent = String(alerts.active.length);
  panel.dataset.active = String(alerts.active.length);
  $('al-active').replaceChildren(...alerts.active.map((e) => item(e, false)));
  $('al-none').hidden = alerts.active.length > 0;
  $('al-recent').replaceChildren(...alerts.recent.slice(0, 8).map((e) => item(e, true)));
}

export function startAlerts() {
  const es = new EventSource('/api/v1/alerts/stream');
  es.addEventListener('alerts', (ev) => {
    const doc = JSON.parse(ev.data);
    alerts.rules = doc.rules ?? 0;
    alerts.active = doc.active ?? [];
    alerts.recent = doc.recent ?? [];
    alerts.updates += 1;
    alerts.status = 'live';
    render();
  });
  es.onerror = () => { alerts.status = es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting'; };
}
