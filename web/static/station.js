// The station page: one tile per configured station and per attached board, kept current from
// the event stream (/api/v1/events). Nothing is polled; a reconnect gets a snapshot or what it missed.
"use strict";

// pulled: ports whose board went away while its job ran, with the board as it was: their tiles stay
// (red once the job fails) until a board comes back on the port or a new job starts there.
const state = { devices: new Map(), jobs: new Map(), rules: new Map(), stations: [], last: new Map(), pulled: new Map(), up: false };

function token() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) localStorage.setItem("dfusd-token", decodeURIComponent(m[1]));
  return localStorage.getItem("dfusd-token");
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmtBytes(n) {
  return n >= 1048576 ? (n / 1048576).toFixed(1) + " MiB" : n >= 1024 ? (n / 1024).toFixed(1) + " KiB" : n + " B";
}

const FINAL = new Set(["done", "failed", "cancelled"]);

// Remembers each port's newest job, so a failure stays red after dfusd forgets the job.
function noteJob(j) {
  if (!j.port) return;
  const prev = state.last.get(j.port);
  if (!prev || prev.id <= j.id) state.last.set(j.port, j);
  if (prev && prev.id < j.id) state.pulled.delete(j.port);
}

function deviceAdded(d) {
  // a board on a port whose board was pulled: the new one starts clean
  if (!state.devices.has(d.port) && state.pulled.delete(d.port)) state.last.delete(d.port);
  state.devices.set(d.port, d);
}

function deviceRemoved(d) {
  const job = state.last.get(d.port), dev = state.devices.get(d.port);
  state.devices.delete(d.port);
  // Pulled mid-job: the job fails after this, and the tile must show it. The board's own job link
  // may already be gone (dfusd lets go of a board as soon as its engine reports the loss, which can
  // come before the removal), so the port's newest job decides. A board taken away after its job
  // ended (the operator removing a failed board) clears its tile.
  if (job && dev && !FINAL.has(job.state)) state.pulled.set(d.port, dev);
  else state.last.delete(d.port);
}

function tileState(dev, job, pulled) {
  if (!dev && pulled && job && job.state !== "failed") return { cls: "failed", word: "board removed" };
  if (!dev && !pulled) return { cls: "waiting", word: "waiting for board" };
  if (job && !FINAL.has(job.state)) {
    const pct = Math.floor((job.progress || 0) * 100);
    const word = job.state === "writing" ? `writing ${pct} %` : job.state;
    return { cls: job.state, word, pct };
  }
  if (job && job.state === "done") return { cls: "done", word: "done", pct: 100 };
  if (job && job.state === "failed") return { cls: "failed", word: "failed", pct: Math.floor((job.progress || 0) * 100) };
  if (dev.state === "error") return { cls: "failed", word: "error" };
  return { cls: "idle", word: "idle" };
}

function render() {
  const tiles = document.getElementById("tiles");
  const ports = state.stations.map((s) => s.port);
  const extra = [...new Set([...state.devices.keys(), ...state.pulled.keys()])].filter((p) => !ports.includes(p));
  extra.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const now = Date.now() * 1000;
  const frag = document.createDocumentFragment();
  for (const port of ports.concat(extra)) {
    const pulled = state.devices.has(port) ? null : state.pulled.get(port);
    const dev = state.devices.get(port) || pulled;
    const station = state.stations.find((s) => s.port === port);
    const job = (dev && dev.job && state.jobs.get(dev.job)) || state.last.get(port);
    const t = tileState(pulled ? null : dev, dev ? job : null, pulled);
    const tile = el("div", "tile s-" + t.cls);
    tile.dataset.port = port;
    if (pulled) tile.dataset.pulled = "";
    tile.append(el("div", "name", (station && station.name) || (dev && dev.station) || port));
    tile.append(el("div", "port", `port ${port}` + (dev && dev.part ? ` · ${dev.part}` : "")));
    tile.append(el("div", "meta", dev ? `serial ${dev.serial || "-"}${dev.serial_duplicated ? " (duplicated)" : ""}${pulled ? " · board removed" : ""}` : ""));
    tile.append(el("div", "state", t.word));
    const bar = el("div", "bar");
    const fill = el("div");
    fill.style.width = (t.pct || 0) + "%";
    bar.append(fill);
    tile.append(bar);
    if (job && dev) {
      const end = job.end_time || now;
      const secs = job.start_time ? Math.max(0, (end - job.start_time) / 1e6) : 0;
      // Job.Rate is the current phase's; an ended job shows what the whole job averaged
      const bps = job.end_time ? (secs > 0 ? Math.round((job.bytes_done || 0) / secs) : 0) : job.rate;
      const rate = bps ? ` · ${fmtBytes(bps)}/s` : "";
      tile.append(el("div", "meta", `job ${job.id} · ${secs.toFixed(1)} s${rate}`));
      if (job.values && job.values.length) tile.append(el("div", "values", job.values.map((v) => `${v.sequence} ${v.value}`).join(" · ")));
      if (job.state === "failed" || job.state === "cancelled") tile.append(el("div", "msg", job.error || job.state));
    }
    frag.append(tile);
  }
  tiles.replaceChildren(frag);
  const rules = [...state.rules.values()].map((r) => `rule ${r.id}: ${r.match}` + (r.stopped ? ` (stopped: ${r.stopped})` : "")).join(" · ");
  document.getElementById("rules").textContent = rules;
  const link = document.getElementById("link");
  link.textContent = state.up ? "live" : "dfusd not running";
  link.classList.toggle("down", !state.up);
}

function setToday(t) {
  if (!t) return;
  document.getElementById("today-done").textContent = t.done;
  document.getElementById("today-failed").textContent = t.failed;
  document.getElementById("per-hour").textContent = t.per_hour;
}

function applySnapshot(s) {
  state.up = s.dfusd;
  state.stations = s.stations || [];
  state.devices = new Map(s.devices.map((d) => [d.port, d]));
  state.jobs = new Map(s.jobs.map((j) => [j.id, j]));
  state.rules = new Map(s.rules.map((r) => [r.id, r]));
  for (const port of [...state.pulled.keys()]) if (state.devices.has(port)) state.pulled.delete(port);
  for (const port of [...state.last.keys()]) if (!state.devices.has(port) && !state.pulled.has(port)) state.last.delete(port);
  s.jobs.forEach(noteJob);
  setToday(s.today);
}

function connect() {
  const t = token();
  const es = new EventSource("/api/v1/events" + (t ? "?access_token=" + encodeURIComponent(t) : ""));
  const on = (name, fn) => es.addEventListener(name, (ev) => { fn(JSON.parse(ev.data)); render(); });
  on("snapshot", applySnapshot);
  on("device", deviceAdded);
  on("device-removed", deviceRemoved);
  on("job", (j) => { state.jobs.set(j.id, j); noteJob(j); });
  on("job-removed", (j) => state.jobs.delete(j.id));
  on("rule", (r) => state.rules.set(r.id, r));
  on("rule-removed", (r) => state.rules.delete(r.id));
  on("today", setToday);
  es.onerror = () => { document.getElementById("link").textContent = "reconnecting…"; };
}

if (new URLSearchParams(location.search).has("kiosk")) document.body.classList.add("kiosk");
connect();
// elapsed times move on between events
setInterval(render, 1000);
