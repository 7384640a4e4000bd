"use strict";
// Matchbox's remote page: one WebSocket to the live monitor that served it. The server sends
// "hello" (controls, presets), "values" (every control's value, text and explanation, and the
// transfer curve), "meters" (about 25 a second), "ack" and "error"; the page sends
// {"set": id, "normalized": 0…1} and {"preset": id}, each with a "seq" number.
(function () {
  const $ = (id) => document.getElementById(id);
  const FLOOR = -60, TOP = 6, GR_RANGE = 24, SEND_EVERY_MS = 30;
  const state = {
    controls: [], values: {}, curve: [], meters: null, connected: false,
    meterFrames: 0, valueFrames: 0, acks: 0, errors: [], lastRoundTripMs: null, lastAudioMs: null,
  };
  window.matchbox = state; // for tests and the curious
  let ws = null, seq = 0, retry = 0, dot = null, grHeld = [], peaks = { in: -120, out: -120 };
  const sentAt = new Map();
  const dragging = new Set();
  const lastSent = new Map();

  function connect() {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws" + location.search;
    ws = new WebSocket(url);
    ws.onopen = () => { retry = 0; setLink(true); };
    ws.onclose = () => {
      setLink(false);
      retry = Math.min(retry + 1, 5);
      setTimeout(connect, 1000 * retry);
    };
    ws.onmessage = (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch (_) { return; }
      if (m.type === "hello") hello(m);
      else if (m.type === "values") values(m);
      else if (m.type === "meters") { state.meters = m; state.meterFrames++; }
      else if (m.type === "ack") ack(m);
      else if (m.type === "error") { state.errors.push(m.message); toast(m.message); }
    };
  }

  function setLink(on) {
    state.connected = on;
    const el = $("link");
    el.textContent = on ? "live" : "offline";
    el.className = "link " + (on ? "on" : "off");
  }

  function send(request) {
    if (!ws || ws.readyState !== 1) return null;
    request.seq = ++seq;
    sentAt.set(seq, performance.now());
    ws.send(JSON.stringify(request));
    return seq;
  }
  state.send = send;

  function ack(m) {
    state.acks++;
    const t = sentAt.get(m.seq);
    if (t !== undefined) {
      sentAt.delete(m.seq);
      state.lastRoundTripMs = performance.now() - t;
      state.lastAudioMs = m.audio_ms;
      $("latency").textContent = state.lastRoundTripMs.toFixed(0) + " ms";
    }
  }

  let toastTimer = null;
  function toast(text) {
    const el = $("toast");
    el.textContent = text;
    el.className = "show";
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.className = ""; }, 5000);
  }

  function hello(m) {
    state.controls = m.controls;
    const switches = $("switches"), sliders = $("controls");
    switches.textContent = "";
    sliders.textContent = "";
    for (const c of m.controls) {
      if (c.switch) {
        const b = document.createElement("button");
        b.className = "switch" + (c.id === "bypass" ? " bypass" : "");
        b.id = "c-" + c.id;
        b.type = "button";
        b.textContent = c.id === "comp" ? "Compressor" : c.name;
        b.setAttribute("aria-pressed", "false");
        b.onclick = () => {
          const on = b.getAttribute("aria-pressed") !== "true";
          send({ set: c.id, normalized: on ? 1 : 0 });
        };
        switches.appendChild(b);
        continue;
      }
      const row = document.createElement("div");
      row.className = "control";
      row.innerHTML = '<div class="c-head"><label class="c-name"></label><span class="c-value"></span></div>' +
        '<input type="range" min="0" max="1" step="0.001"><p class="c-help"></p>';
      const input = row.querySelector("input");
      input.id = "c-" + c.id;
      const label = row.querySelector("label");
      label.textContent = c.name;
      label.htmlFor = input.id;
      input.addEventListener("pointerdown", () => dragging.add(c.id));
      const release = () => { dragging.delete(c.id); sendValue(c.id, input.value, true); };
      input.addEventListener("pointerup", release);
      input.addEventListener("pointercancel", release);
      input.addEventListener("input", () => { fill(input); sendValue(c.id, input.value, false); });
      input.addEventListener("change", () => sendValue(c.id, input.value, true));
      sliders.appendChild(row);
    }
    const select = $("preset");
    select.textContent = "";
    const none = document.createElement("option");
    none.value = "";
    none.textContent = "Presets…";
    select.appendChild(none);
    for (const group of [false, true]) {
      const list = m.presets.filter((p) => p.user === group);
      if (!list.length) continue;
      const g = document.createElement("optgroup");
      g.label = group ? "Yours" : "Factory";
      for (const p of list) {
        const o = document.createElement("option");
        o.value = p.id;
        o.textContent = p.name;
        g.appendChild(o);
      }
      select.appendChild(g);
    }
    select.disabled = false;
    select.onchange = () => { if (select.value) send({ preset: select.value }); };
    applyValues();
  }

  // At most one change a control every SEND_EVERY_MS while dragging; the last always goes.
  const timers = new Map();
  function sendValue(id, value, now) {
    const go = () => {
      timers.delete(id);
      if (lastSent.get(id) === value) return;
      lastSent.set(id, value);
      send({ set: id, normalized: Number(value) });
    };
    if (now) { clearTimeout(timers.get(id)); go(); return; }
    if (!timers.has(id)) timers.set(id, setTimeout(go, SEND_EVERY_MS));
  }

  function fill(input) {
    input.style.setProperty("--fill", (100 * Number(input.value)).toFixed(1) + "%");
  }

  function values(m) {
    state.values = m.values;
    state.curve = m.curve;
    state.valueFrames++;
    applyValues();
    const select = $("preset");
    if (m.preset) {
      for (const o of select.querySelectorAll("option")) {
        if (o.textContent === m.preset) { select.value = o.value; break; }
      }
    }
  }

  function applyValues() {
    for (const c of state.controls) {
      const v = state.values[c.id];
      if (!v) continue;
      const el = $("c-" + c.id);
      if (!el) continue;
      if (c.switch) {
        el.setAttribute("aria-pressed", v.value >= 0.5 ? "true" : "false");
        el.textContent = (c.id === "comp" ? "Compressor " : "Bypass ") + (v.value >= 0.5 ? "on" : "off");
        el.title = v.help || "";
        continue;
      }
      const row = el.closest(".control");
      row.querySelector(".c-value").textContent = v.text;
      row.querySelector(".c-help").textContent = v.help || "";
      if (!dragging.has(c.id) && !timers.has(c.id)) {
        el.value = v.normalized;
        lastSent.set(c.id, el.value);
        fill(el);
      }
    }
  }

  // Output level on the curve for an input level (linear between its points).
  function curveAt(x) {
    const c = state.curve;
    if (!c.length) return x;
    if (x <= c[0][0]) return c[0][1] + (x - c[0][0]);
    for (let i = 1; i < c.length; i++) {
      if (x <= c[i][0]) {
        const [x0, y0] = c[i - 1], [x1, y1] = c[i];
        return y0 + (y1 - y0) * (x - x0) / (x1 - x0);
      }
    }
    return c[c.length - 1][1];
  }

  function drawCurve() {
    const canvas = $("curve");
    const ratio = window.devicePixelRatio || 1;
    const size = Math.round(canvas.clientWidth * ratio);
    if (size > 0 && canvas.width !== size) { canvas.width = size; canvas.height = size; }
    const g = canvas.getContext("2d");
    const w = canvas.width, pad = 26 * ratio, span = w - 2 * pad;
    const X = (db) => pad + (db - FLOOR) / (TOP - FLOOR) * span;
    const Y = (db) => w - pad - (db - FLOOR) / (TOP - FLOOR) * span;
    g.clearRect(0, 0, w, w);
    g.font = (11 * ratio) + "px system-ui, sans-serif";
    g.lineWidth = ratio;
    g.strokeStyle = "#2a2e35";
    g.fillStyle = "#8a919c";
    g.textAlign = "center";
    for (let db = -60; db <= 0; db += 12) {
      g.beginPath(); g.moveTo(X(db), Y(FLOOR)); g.lineTo(X(db), Y(TOP)); g.stroke();
      g.beginPath(); g.moveTo(X(FLOOR), Y(db)); g.lineTo(X(TOP), Y(db)); g.stroke();
      g.fillText(String(db), X(db), w - pad + 15 * ratio);
    }
    g.textAlign = "right";
    for (let db = -48; db <= 0; db += 12) g.fillText(String(db), pad - 4 * ratio, Y(db) + 4 * ratio);
    const v = state.values;
    const on = v.comp ? v.comp.value >= 0.5 : true;
    if (v.thresh && v.knee && on) {
      const t = v.thresh.value, k = v.knee.value;
      g.fillStyle = "rgba(255, 138, 31, 0.09)";
      g.fillRect(X(Math.max(FLOOR, t - k / 2)), Y(TOP), X(Math.min(TOP, t + k / 2)) - X(Math.max(FLOOR, t - k / 2)), span);
      g.strokeStyle = "rgba(255, 138, 31, 0.6)";
      g.beginPath(); g.moveTo(X(t), Y(FLOOR)); g.lineTo(X(t), Y(TOP)); g.stroke();
    }
    g.setLineDash([4 * ratio, 4 * ratio]);
    g.strokeStyle = "rgba(138, 145, 156, 0.5)";
    g.beginPath(); g.moveTo(X(FLOOR), Y(FLOOR)); g.lineTo(X(TOP), Y(TOP)); g.stroke();
    g.setLineDash([]);
    if (state.curve.length) {
      g.save();
      g.beginPath(); g.rect(pad, pad, span, span); g.clip();
      g.strokeStyle = on ? "#ff8a1f" : "#8a919c";
      g.lineWidth = 3 * ratio;
      g.beginPath();
      state.curve.forEach(([x, y], i) => (i ? g.lineTo(X(x), Y(y)) : g.moveTo(X(x), Y(y))));
      g.stroke();
      g.restore();
    }
    const m = state.meters;
    if (m) {
      const level = m.comp_in;
      dot = dot === null || level >= dot ? level : dot + 0.35 * (level - dot);
      if (dot > FLOOR) {
        const x = Math.min(dot, TOP);
        const y = Math.max(FLOOR, Math.min(TOP, curveAt(dot)));
        g.fillStyle = "#ffffff";
        g.beginPath(); g.arc(X(x), Y(y), 6 * ratio, 0, 2 * Math.PI); g.fill();
      }
    }
    g.fillStyle = "#8a919c";
    g.textAlign = "left";
    g.fillText("out dB", pad + 4 * ratio, pad + 13 * ratio);
    g.textAlign = "right";
    g.fillText("in dB", w - pad - 4 * ratio, w - pad - 6 * ratio);
  }

  const pct = (db) => Math.max(0, Math.min(100, (db - FLOOR) / -FLOOR * 100));
  const dbText = (db) => (db <= -119 ? "–∞" : db.toFixed(1));

  function drawMeters(dt) {
    const m = state.meters;
    if (!m) return;
    for (const side of ["in", "out"]) {
      peaks[side] = Math.max(m[side], peaks[side] - 20 * dt);
      $(side + "-rms").style.width = pct(m[side + "_rms"]) + "%";
      const peak = $(side + "-peak");
      peak.style.left = "calc(" + pct(peaks[side]) + "% - 3px)";
      peak.style.background = peaks[side] > -1 ? "#f24b5a" : peaks[side] > -6 ? "#e8c53a" : "#47c26b";
      $(side + "-num").textContent = dbText(peaks[side]);
    }
    const now = performance.now();
    grHeld.push([now, m.gr]);
    grHeld = grHeld.filter(([t]) => t > now - 300);
    const gr = grHeld.reduce((a, [, g]) => Math.max(a, g), 0);
    $("gr-fill").style.height = Math.min(100, gr / GR_RANGE * 100) + "%";
    $("gr").textContent = gr.toFixed(1);
    $("load").textContent = m.load.toFixed(1) + " %";
    $("xruns").textContent = String(m.xruns);
  }

  let last = performance.now();
  function frame(now) {
    const dt = Math.min(0.2, (now - last) / 1000);
    last = now;
    drawCurve();
    drawMeters(dt);
    requestAnimationFrame(frame);
  }

  connect();
  requestAnimationFrame(frame);
})();
