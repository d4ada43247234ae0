// The jobs, rules and history pages: plain tables from the API, read when the page loads or a
// filter changes (the station page is the live one).
"use strict";

function headers() {
  const t = localStorage.getItem("dfusd-token");
  return t ? { Authorization: "Bearer " + t } : {};
}

async function get(url) {
  const r = await fetch(url, { headers: headers() });
  const body = await r.json();
  if (!r.ok) throw new Error(body.message || r.statusText);
  return body;
}

function table(rows, cols) {
  const t = document.createElement("table");
  const h = t.insertRow();
  cols.forEach((c) => { const th = document.createElement("th"); th.textContent = c; h.append(th); });
  rows.forEach((row) => {
    const tr = t.insertRow();
    cols.forEach((c) => { tr.insertCell().textContent = row[c] === undefined || row[c] === null ? "" : String(row[c]); });
  });
  return t;
}

function show(node) { document.getElementById("content").replaceChildren(node); }
function fail(e) { const p = document.createElement("p"); p.textContent = e.message; show(p); }

let before = 0;
async function history(older) {
  const form = new FormData(document.getElementById("filters"));
  const q = new URLSearchParams();
  for (const [k, v] of form) if (v) q.set(k, v);
  if (older && before) q.set("before", before);
  document.getElementById("csv").href = "/api/v1/history?format=csv&" + q;
  const d = await get("/api/v1/history?" + q);
  before = d.next_before || 0;
  document.getElementById("older").disabled = !before;
  show(table(d.entries, ["id", "result", "port", "station", "serial", "image-sha256", "duration-usec", "bytes", "origin", "error"]));
}

async function main() {
  const page = location.pathname.replace(/^\//, "") || "history";
  document.title = document.getElementById("title").textContent = "dfusd " + page;
  try {
    if (page === "jobs") {
      const id = new URLSearchParams(location.search).get("id");
      if (id) {
        const j = await get("/api/v1/jobs/" + encodeURIComponent(id));
        show(table(j.report || [], ["address", "size", "verdict", "kind", "source", "reason"]));
      } else show(table((await get("/api/v1/jobs")).jobs, ["id", "state", "port", "progress", "target", "origin", "error"]));
    } else if (page === "rules") {
      show(table((await get("/api/v1/rules")).rules, ["id", "match", "once", "image_sha256", "boards_flashed"]));
    } else {
      const f = document.getElementById("filters");
      f.hidden = false;
      f.addEventListener("submit", (e) => { e.preventDefault(); history(false).catch(fail); });
      document.getElementById("older").addEventListener("click", () => history(true).catch(fail));
      await history(false);
    }
  } catch (e) { fail(e); }
}
main();
