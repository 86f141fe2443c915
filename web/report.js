(() => {
  const D = DATA;
  const cv = document.getElementById('chart'), ctx = cv.getContext('2d');
  const tip = document.getElementById('tip');
  const PAL = ['#1f5fbf', '#d62728', '#2a9d3c', '#8e44ad', '#e67e22', '#795548', '#d81b90',
               '#17a2b8'];
  const BAND = 'rgba(31, 95, 191, 0.16)';
  const M = { l: 72, r: 16, t: 14, b: 30 };
  const hd = D.history.d, hy = D.history.y;
  const day = (d) => new Date(d * 864e5).toISOString().slice(0, 10);
  const fmtv = (v) => v == null ? '-' : Number(v).toLocaleString('en-US', { maximumFractionDigits: 2 });
  let ext0 = hd[0], ext1 = hd[hd.length - 1];
  for (const m of D.models) for (const s of m.segs) if (s.d.length) {
    ext0 = Math.min(ext0, s.d[0]); ext1 = Math.max(ext1, s.d[s.d.length - 1]);
  }
  let x0 = ext0, x1 = ext1, logy = false, hover = null, drag = null;
  const show = D.models.map((m) => m.name === D.primary);
  const color = (k) => PAL[k % PAL.length];

  // Legend and controls.
  const box = document.getElementById('models');
  D.models.forEach((m, k) => {
    const l = document.createElement('label');
    const c = document.createElement('input');
    c.type = 'checkbox'; c.checked = show[k];
    c.addEventListener('change', () => { show[k] = c.checked; draw(); });
    const sw = document.createElement('span');
    sw.className = 'sw'; sw.style.background = color(k);
    l.append(c, sw, document.createTextNode(m.name + (m.name === D.primary ? ' (band: interval)' : '')));
    box.append(l);
  });
  document.getElementById('log').addEventListener('change', (e) => { logy = e.target.checked; draw(); });
  document.getElementById('all').addEventListener('click', () => { x0 = ext0; x1 = ext1; draw(); });
  const fb = document.getElementById('focus');
  fb.textContent = D.focusLabel;
  fb.addEventListener('click', () => {
    focus(); draw();
  });
  function focus() {
    const pad = Math.max(90, Math.round((D.shade[1] - D.shade[0]) * 0.25));
    x0 = Math.max(ext0, D.shade[0] - pad); x1 = Math.min(ext1, D.shade[1] + 2);
  }
  if (D.start === 'focus') focus();
  document.getElementById('year').addEventListener('click', () => {
    x1 = ext1; x0 = Math.max(ext0, ext1 - 365); draw();
  });

  const W = () => cv.clientWidth - M.l - M.r, H = () => cv.clientHeight - M.t - M.b;
  const f = (v) => logy ? Math.log10(v) : v;
  let y0 = 0, y1 = 1;
  const X = (d) => M.l + (d - x0) / Math.max(1e-9, x1 - x0) * W();
  const Y = (v) => M.t + H() - (f(v) - y0) / Math.max(1e-12, y1 - y0) * H();
  const ok = (v) => v != null && isFinite(v) && (!logy || v > 0);

  function yrange() {
    let lo = Infinity, hi = -Infinity;
    const up = (v) => { if (ok(v)) { const g = f(v); if (g < lo) lo = g; if (g > hi) hi = g; } };
    for (let i = 0; i < hd.length; i++) if (hd[i] >= x0 && hd[i] <= x1) up(hy[i]);
    D.models.forEach((m, k) => {
      if (!show[k]) return;
      for (const s of m.segs) for (let i = 0; i < s.d.length; i++) {
        if (s.d[i] < x0 || s.d[i] > x1) continue;
        up(s.yhat[i]);
        if (m.name === D.primary) { up(s.lo[i]); up(s.hi[i]); }
      }
    });
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
    const pad = (hi - lo) * 0.05;
    y0 = lo - pad; y1 = hi + pad;
  }

  function nice(x) {
    const e = Math.pow(10, Math.floor(Math.log10(x))), r = x / e;
    return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * e;
  }
  function yticks() {
    const out = [];
    if (logy) {
      for (let e = Math.floor(y0); e <= Math.ceil(y1); e++) for (const m of [1, 2, 5]) {
        const v = m * Math.pow(10, e);
        if (Math.log10(v) >= y0 && Math.log10(v) <= y1) out.push(v);
      }
      if (out.length > 12) return out.filter((v) => Math.abs(Math.log10(v) % 1) < 1e-9);
      if (out.length >= 4) return out;
      // A narrow range: evenly spaced round values instead.
      const a = Math.pow(10, y0), b = Math.pow(10, y1), s = nice((b - a) / 6), lin = [];
      for (let v = Math.ceil(a / s) * s; v <= b; v += s) lin.push(v);
      return lin;
    }
    const st = nice((y1 - y0) / 6);
    for (let v = Math.ceil(y0 / st) * st; v <= y1; v += st) out.push(Math.abs(v) < st * 1e-6 ? 0 : v);
    return out;
  }
  function xticks() {
    const span = x1 - x0, out = [];
    if (span <= 60) {
      const st = span <= 14 ? 1 : 7;
      for (let d = Math.ceil(x0); d <= x1; d++) if (st === 1 || (d + 3) % 7 === 0) out.push([d, day(d).slice(5)]);
      return out;
    }
    const months = span / 30.44;
    const st = [1, 2, 3, 6, 12, 24, 48].find((s) => months / s <= 9) || 96;
    const a = new Date(x0 * 864e5);
    let k = a.getUTCFullYear() * 12 + a.getUTCMonth();
    k = Math.ceil(k / st) * st;
    for (;; k += st) {
      const yy = Math.floor(k / 12), mm = k % 12, t = Date.UTC(yy, mm, 1) / 864e5;
      if (t > x1) break;
      if (t >= x0) out.push([t, st >= 12 ? String(yy) : yy + '-' + String(mm + 1).padStart(2, '0')]);
    }
    return out;
  }

  function path(ds, vs) {
    let pen = false;
    ctx.beginPath();
    for (let i = 0; i < ds.length; i++) {
      if (!ok(vs[i]) || ds[i] < x0 - 1 || ds[i] > x1 + 1) { pen = false; continue; }
      const px = X(ds[i]), py = Y(vs[i]);
      if (pen) ctx.lineTo(px, py); else ctx.moveTo(px, py);
      pen = true;
    }
    ctx.stroke();
  }
  function band(s) {
    const idx = [];
    for (let i = 0; i < s.d.length; i++) if (ok(s.lo[i]) && ok(s.hi[i])) idx.push(i);
    if (!idx.length) return;
    ctx.beginPath();
    idx.forEach((i, j) => (j ? ctx.lineTo : ctx.moveTo).call(ctx, X(s.d[i]), Y(s.hi[i])));
    for (let j = idx.length - 1; j >= 0; j--) ctx.lineTo(X(s.d[idx[j]]), Y(s.lo[idx[j]]));
    ctx.closePath();
    ctx.fill();
  }

  function draw() {
    const r = window.devicePixelRatio || 1;
    const w = cv.clientWidth, h = cv.clientHeight;
    if (cv.width !== Math.round(w * r) || cv.height !== Math.round(h * r)) {
      cv.width = Math.round(w * r); cv.height = Math.round(h * r);
    }
    ctx.setTransform(r, 0, 0, r, 0, 0);
    ctx.clearRect(0, 0, w, h);
    yrange();
    ctx.font = '11px system-ui, sans-serif';
    // Test period.
    const sx0 = Math.max(M.l, X(D.shade[0] - 0.5)), sx1 = Math.min(M.l + W(), X(D.shade[1] + 0.5));
    if (sx1 > sx0) {
      ctx.fillStyle = 'rgba(120, 130, 150, 0.12)';
      ctx.fillRect(sx0, M.t, sx1 - sx0, H());
      ctx.fillStyle = '#667';
      ctx.textAlign = 'left'; ctx.textBaseline = 'alphabetic';
      const tw = ctx.measureText(D.shade[2]).width;
      ctx.fillText(D.shade[2], Math.max(M.l + 4, Math.min(sx0 + 4, M.l + W() - tw - 4)), M.t + 12);
    }
    // Grid and axes.
    ctx.strokeStyle = '#eceef2'; ctx.fillStyle = '#556'; ctx.lineWidth = 1; ctx.setLineDash([]);
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    for (const v of yticks()) {
      const py = Y(v);
      ctx.beginPath(); ctx.moveTo(M.l, py); ctx.lineTo(M.l + W(), py); ctx.stroke();
      ctx.fillText(fmtv(v), M.l - 6, py);
    }
    ctx.textAlign = 'center'; ctx.textBaseline = 'top';
    for (const [d, label] of xticks()) {
      const px = X(d);
      ctx.beginPath(); ctx.moveTo(px, M.t); ctx.lineTo(px, M.t + H()); ctx.stroke();
      ctx.fillText(label, px, M.t + H() + 6);
    }
    ctx.save();
    ctx.beginPath(); ctx.rect(M.l, M.t, W(), H()); ctx.clip();
    // Interval band of the primary model, then history, then each shown model.
    D.models.forEach((m, k) => {
      if (!show[k] || m.name !== D.primary) return;
      ctx.fillStyle = BAND;
      for (const s of m.segs) band(s);
    });
    ctx.strokeStyle = '#222'; ctx.lineWidth = 1.2; ctx.setLineDash([]);
    path(hd, hy);
    D.models.forEach((m, k) => {
      if (!show[k]) return;
      ctx.strokeStyle = color(k); ctx.lineWidth = m.name === D.primary ? 1.8 : 1.2;
      ctx.setLineDash(m.baseline && m.name !== D.primary ? [5, 3] : []);
      for (const s of m.segs) path(s.d, s.yhat);
    });
    ctx.setLineDash([]);
    // Cutoffs: ticks on the time axis.
    ctx.strokeStyle = '#9aa'; ctx.lineWidth = 1;
    for (const c of D.cutoffs) {
      const px = X(c + 0.5);
      ctx.beginPath(); ctx.moveTo(px, M.t + H()); ctx.lineTo(px, M.t + H() - 6); ctx.stroke();
    }
    if (hover != null) {
      ctx.strokeStyle = '#889'; ctx.beginPath();
      ctx.moveTo(X(hover), M.t); ctx.lineTo(X(hover), M.t + H()); ctx.stroke();
    }
    if (drag && drag.x1 != null) {
      ctx.fillStyle = 'rgba(31, 95, 191, 0.12)';
      ctx.fillRect(Math.min(drag.x0, drag.x1), M.t, Math.abs(drag.x1 - drag.x0), H());
    }
    ctx.restore();
    ctx.strokeStyle = '#c9ced8'; ctx.strokeRect(M.l, M.t, W(), H());
  }

  // The value of model m at day d: from the latest segment (cutoff) that covers it.
  function at(m, d) {
    let best = null;
    for (const s of m.segs) {
      const i = d - s.d[0];
      if (i >= 0 && i < s.d.length && s.d[i] === d && (!best || s.c > best.c)) best = { c: s.c, i, s };
    }
    return best;
  }
  const dayAt = (px) => Math.round(x0 + (px - M.l) / W() * (x1 - x0));

  cv.addEventListener('mousemove', (e) => {
    const px = e.offsetX;
    if (drag) { drag.x1 = px; }
    const d = dayAt(px);
    if (px < M.l || px > M.l + W() || d < ext0 || d > ext1) {
      hover = null; tip.style.display = 'none'; draw(); return;
    }
    hover = d;
    const rows = ['<b>' + day(d) + '</b>'];
    const hi = d - hd[0];
    if (hi >= 0 && hi < hd.length && hd[hi] === d) rows.push('actual ' + fmtv(hy[hi]));
    D.models.forEach((m, k) => {
      if (!show[k]) return;
      const b = at(m, d);
      if (!b) return;
      let t = '<span style="color:' + color(k) + '">' + m.name + '</span> ' + fmtv(b.s.yhat[b.i]);
      if (m.name === D.primary && b.s.lo[b.i] != null) t += ' [' + fmtv(b.s.lo[b.i]) + ', ' + fmtv(b.s.hi[b.i]) + ']';
      t += ' <span style="color:#889">from ' + day(b.s.o ? d - 1 : b.c) + '</span>';
      rows.push(t);
    });
    tip.innerHTML = rows.join('<br>');
    tip.style.display = 'block';
    const left = px + 14 + tip.offsetWidth > cv.clientWidth ? px - 14 - tip.offsetWidth : px + 14;
    tip.style.left = left + 'px'; tip.style.top = (e.offsetY + 10) + 'px';
    draw();
  });
  cv.addEventListener('mouseleave', () => { hover = null; drag = null; tip.style.display = 'none'; draw(); });
  cv.addEventListener('mousedown', (e) => { drag = { x0: e.offsetX, x1: null }; });
  cv.addEventListener('mouseup', (e) => {
    if (drag && drag.x1 != null && Math.abs(drag.x1 - drag.x0) > 4) {
      const a = dayAt(Math.min(drag.x0, drag.x1)), b = dayAt(Math.max(drag.x0, drag.x1));
      if (b > a) { x0 = Math.max(ext0, a); x1 = Math.min(ext1, b); }
    }
    drag = null; draw();
  });
  cv.addEventListener('dblclick', () => { x0 = ext0; x1 = ext1; draw(); });
  window.addEventListener('resize', draw);
  draw();
})();
