// The jamsos dashboard: reads /api/summary (= `jamsos report --json`), /api/kecamatan and
// /api/lag, draws them with Chart.js (vendored, no CDN) and refreshes itself.
"use strict";

const REFRESH_SECONDS = 10;
const NUMBER = new Intl.NumberFormat("id-ID");
const PERCENT = new Intl.NumberFormat("id-ID", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const CLOCK = new Intl.DateTimeFormat("id-ID", {
  timeZone: "Asia/Jakarta", day: "numeric", month: "short", year: "numeric",
  hour: "2-digit", minute: "2-digit", second: "2-digit",
});
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"];
const COLOURS = {
  ENROLLED: "#16a34a", DUPLICATE: "#64748b", REJECTED: "#dc2626", REVIEW: "#d97706",
  RECEIVED: "#2563eb", brand: "#0f766e", paid: "#16a34a", open: "#f59e0b", overdue: "#dc2626",
};
const OUTCOMES = [
  ["ENROLLED", "Terdaftar"], ["DUPLICATE", "Duplikat"], ["REJECTED", "Ditolak"],
  ["REVIEW", "Ditinjau"], ["RECEIVED", "Sedang diproses"],
];
// Contract reason codes, with what they mean to a programme manager.
const REASONS = {
  SCHEMA_INVALID: "data wajib kosong/salah", UNKNOWN_AGENCY: "OPD tidak terdaftar",
  NIK_INVALID: "NIK tidak valid", NIK_MISMATCH: "NIK tak cocok tgl lahir/kelamin",
  OUT_OF_REGION: "bukan warga Kudus", AGE_OUT_OF_RANGE: "usia di luar batas",
  QUOTA_EXCEEDED: "kuota penuh", DECEASED: "meninggal dunia",
};
// Tile cartogram: each kecamatan's place on a 4×4 grid, north at the top (row, column).
const TILES = {
  "331908": [1, 2], "331909": [1, 3],
  "331901": [2, 1], "331902": [2, 2], "331907": [2, 3], "331906": [2, 4],
  "331903": [3, 2], "331905": [3, 3],
  "331904": [4, 2],
};

Chart.defaults.font.family = '"DejaVu Sans", "Liberation Sans", Arial, sans-serif';
Chart.defaults.color = "#334155";
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;

const charts = {};
let kecamatanNames = null;

const num = (n) => NUMBER.format(n);
const rupiah = (n) => (n < 0 ? "-" : "") + "Rp" + NUMBER.format(Math.abs(n));
const periodLabel = (p) => MONTHS[Number(p.slice(5, 7)) - 1] + " " + p.slice(0, 4);
const dayLabel = (iso) => {
  const [y, m, d] = iso.split("-").map(Number);
  return d + " " + MONTHS[m - 1] + " " + y;
};

function text(id, value) {
  document.getElementById(id).textContent = value;
}

function draw(id, config) {
  const existing = charts[id];
  if (!existing) {
    charts[id] = new Chart(document.getElementById(id), config);
    return;
  }
  existing.data.labels = config.data.labels;
  config.data.datasets.forEach((dataset, i) => {
    if (existing.data.datasets[i]) Object.assign(existing.data.datasets[i], dataset);
    else existing.data.datasets.push(dataset);
  });
  existing.data.datasets.length = config.data.datasets.length;
  existing.update("none");
}

function barOptions(horizontal, extra) {
  const valueAxis = { beginAtZero: true, ticks: { precision: 0, callback: (v) => num(v) } };
  const categoryAxis = { ticks: { autoSkip: false } };
  return Object.assign({
    indexAxis: horizontal ? "y" : "x",
    plugins: { legend: { display: false } },
    scales: horizontal ? { x: valueAxis, y: categoryAxis } : { y: valueAxis, x: categoryAxis },
  }, extra || {});
}

function renderProgress(data) {
  const p = data.progress;
  text("kpi-active", num(p.active));
  text("kpi-target", num(p.target));
  text("kpi-ceiling", num(p.ceiling));
  text("kpi-percent", p.percent === null ? "—" : PERCENT.format(p.percent) + "%");
  const width = p.target ? Math.min(100, (100 * p.active) / p.target) : 0;
  document.getElementById("progress-fill").style.width = width + "%";
  document.getElementById("progress-bar").setAttribute("aria-valuenow", width.toFixed(1));

  const weeks = data.enrolments_per_week;
  const labels = [];
  const cumulative = [];
  const fresh = [];
  if (weeks.length) {  // the line starts from zero in the week before the first enrolment
    const before = new Date(weeks[0].week + "T00:00:00Z");
    before.setUTCDate(before.getUTCDate() - 7);
    labels.push(dayLabel(before.toISOString().slice(0, 10)));
    cumulative.push(0);
    fresh.push(0);
  }
  let total = 0;
  for (const w of weeks) {
    total += w.enrolled;
    labels.push(dayLabel(w.week));
    cumulative.push(total);
    fresh.push(w.enrolled);
  }
  draw("chart-weekly", {
    type: "line",
    data: {
      labels,
      datasets: [
        { label: "Total terdaftar (kumulatif)", data: cumulative, borderColor: COLOURS.brand,
          backgroundColor: "rgba(15,118,110,.12)", fill: true, tension: 0.2, pointRadius: 4 },
        { label: "Pendaftaran baru minggu itu", data: fresh, type: "bar",
          backgroundColor: "rgba(20,184,166,.45)", maxBarThickness: 48 },
      ],
    },
    options: {
      plugins: {
        title: { display: true, text: "Pendaftaran per minggu (awal minggu, WIB)" },
        legend: { position: "bottom" },
      },
      scales: { y: { beginAtZero: true, ticks: { precision: 0, callback: (v) => num(v) } } },
    },
  });
}

function renderOutcomes(data) {
  text("kpi-submissions", num(data.submissions));
  for (const [code] of OUTCOMES) text("kpi-" + code, num(data.outcomes[code] || 0));
  text("kpi-dlq", num(data.dead_letters_open));
  text("kpi-dlq-total", num(data.dead_letters));
  draw("chart-outcomes", {
    type: "doughnut",
    data: {
      labels: OUTCOMES.map(([code, label]) => `${label} (${code}): ${num(data.outcomes[code] || 0)}`),
      datasets: [{
        data: OUTCOMES.map(([code]) => data.outcomes[code] || 0),
        backgroundColor: OUTCOMES.map(([code]) => COLOURS[code]),
      }],
    },
    options: { plugins: { legend: { position: "bottom", labels: { boxWidth: 14 } } } },
  });
  const codes = Object.keys(data.rejection_reasons);
  draw("chart-reasons", {
    type: "bar",
    data: {
      labels: codes.map((c) => [c, REASONS[c] || ""]),
      datasets: [{ label: "Pengajuan", data: codes.map((c) => data.rejection_reasons[c]),
                   backgroundColor: COLOURS.REJECTED }],
    },
    options: barOptions(true, {
      plugins: { legend: { display: false } },
      scales: { x: { beginAtZero: true, ticks: { precision: 0 } },
                y: { ticks: { autoSkip: false, font: { size: 11 } } } },
    }),
  });
}

function renderAgencies(data) {
  const rows = data.per_agency;
  draw("chart-agency", {
    type: "bar",
    data: {
      labels: rows.map((r) => r.agency_code),
      datasets: [{ label: "Peserta aktif", data: rows.map((r) => r.active),
                   backgroundColor: COLOURS.brand }],
    },
    options: barOptions(true, {
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            afterLabel: (ctx) => {
              const r = rows[ctx.dataIndex];
              return r.name + (r.quota === null ? "" : " · kuota " + num(r.quota));
            },
          },
        },
      },
    }),
  });
}

function renderKecamatan(data) {
  const active = Object.fromEntries(data.per_kecamatan.map((r) => [r.kecamatan_code, r.active]));
  const rows = kecamatanNames.map((k) => ({ ...k, active: active[k.kecamatan_code] || 0 }));
  for (const r of data.per_kecamatan) {  // codes outside the packaged list still show
    if (!rows.some((k) => k.kecamatan_code === r.kecamatan_code)) rows.push(r);
  }
  draw("chart-kecamatan", {
    type: "bar",
    data: {
      labels: rows.map((r) => r.kecamatan),
      datasets: [{ label: "Peserta aktif", data: rows.map((r) => r.active),
                   backgroundColor: "#14b8a6" }],
    },
    options: barOptions(false),
  });
  const most = Math.max(1, ...rows.map((r) => r.active));
  const map = document.getElementById("cartogram");
  map.replaceChildren(...rows.filter((r) => TILES[r.kecamatan_code]).map((r) => {
    const tile = document.createElement("div");
    const share = r.active / most;
    const [row, col] = TILES[r.kecamatan_code];
    tile.className = "kec";
    tile.id = "kec-" + r.kecamatan_code;
    tile.dataset.value = r.active;
    tile.style.gridRow = row;
    tile.style.gridColumn = col;
    tile.style.background = `rgba(15, 118, 110, ${0.08 + 0.82 * share})`;
    tile.style.color = share > 0.5 ? "#fff" : "#0f172a";
    tile.title = `${r.kecamatan} (${r.kecamatan_code}): ${num(r.active)} peserta aktif`;
    const name = document.createElement("span");
    name.textContent = r.kecamatan;
    const n = document.createElement("span");
    n.className = "n";
    n.textContent = num(r.active);
    tile.append(name, n);
    return tile;
  }));
}

function renderBilling(data) {
  const periods = (data.billing && data.billing.periods) || [];
  const owed = (p) => Math.max(0, p.outstanding);  // below zero: a credit, nothing owed
  draw("chart-billing", {
    type: "bar",
    data: {
      labels: periods.map((p) => periodLabel(p.period)),
      datasets: [
        { label: "Dibayar", data: periods.map((p) => p.paid), backgroundColor: COLOURS.paid },
        { label: "Belum dibayar", data: periods.map((p) => (p.overdue ? 0 : owed(p))),
          backgroundColor: COLOURS.open },
        { label: "Lewat jatuh tempo", data: periods.map((p) => (p.overdue ? owed(p) : 0)),
          backgroundColor: COLOURS.overdue },
      ],
    },
    options: {
      plugins: { legend: { position: "bottom" },
                 tooltip: { callbacks: { label: (c) => c.dataset.label + ": " + rupiah(c.raw) } } },
      scales: { x: { stacked: true },
                y: { stacked: true, beginAtZero: true, ticks: { callback: (v) => rupiah(v) } } },
    },
  });
  const body = document.querySelector("#billing-table tbody");
  body.replaceChildren(...periods.map((p) => {
    const tr = document.createElement("tr");
    tr.dataset.period = p.period;
    const status = p.outstanding < 0 ? ["paid", "LUNAS · kredit " + rupiah(-p.outstanding)]
      : p.outstanding === 0 ? ["paid", "LUNAS"]
      : p.overdue ? ["overdue", "LEWAT JATUH TEMPO"] : ["open", "BELUM LUNAS"];
    const cells = [periodLabel(p.period), num(p.invoices), num(p.participants), rupiah(p.amount),
                   rupiah(p.paid), rupiah(p.outstanding), dayLabel(String(p.due_date))];
    for (const value of cells) {
      const td = document.createElement("td");
      td.textContent = value;
      tr.append(td);
    }
    const badge = document.createElement("span");
    badge.className = "badge " + status[0];
    badge.textContent = status[1];
    const td = document.createElement("td");
    td.append(badge);
    tr.append(td);
    return tr;
  }));
  if (!periods.length) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 8;
    td.textContent = "Belum ada tagihan.";
    tr.append(td);
    body.append(tr);
  }
}

function renderPipeline(data) {
  text("kpi-outbox", num(data.outbox_unpublished));
  const last = document.getElementById("kpi-last-batch");
  if (data.last_processed_at) {
    const at = new Date(data.last_processed_at);
    last.setAttribute("datetime", data.last_processed_at);
    const seconds = Math.max(0, Math.round((Date.now() - at.getTime()) / 1000));
    const ago = seconds < 90 ? seconds + " detik lalu"
      : seconds < 5400 ? Math.round(seconds / 60) + " menit lalu"
      : Math.round(seconds / 3600) + " jam lalu";
    last.textContent = CLOCK.format(at) + " WIB (" + ago + ")";
  } else {
    last.removeAttribute("datetime");
    last.textContent = "belum ada";
  }
}

function renderLag(rows) {
  const note = document.getElementById("lag-note");
  if (rows === null) {
    note.textContent = "Lag konsumen tidak dapat dibaca dari broker saat ini.";
    return;
  }
  const groups = {};
  for (const r of rows) groups[r.group] = (groups[r.group] || 0) + r.lag;
  const names = Object.keys(groups).sort();
  const total = names.reduce((sum, g) => sum + groups[g], 0);
  note.textContent = names.length
    ? `Pesan yang belum diproses per grup konsumen (semua partisi): total ${num(total)}.`
    : "Belum ada grup konsumen.";
  draw("chart-lag", {
    type: "bar",
    data: {
      labels: names,
      datasets: [{ label: "Lag", data: names.map((g) => groups[g]), backgroundColor: "#6366f1" }],
    },
    options: barOptions(true, {
      plugins: { legend: { display: false } },
      scales: {
        x: { beginAtZero: true, suggestedMax: 10, ticks: { precision: 0, callback: (v) => num(v) } },
        y: { ticks: { autoSkip: false, callback: (_, i) => `${names[i]}: ${num(groups[names[i]])}` } },
      },
    }),
  });
}

async function getJson(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(url + ": HTTP " + response.status + (body.error ? " — " + body.error : ""));
  }
  return response.json();
}

async function refresh() {
  try {
    if (kecamatanNames === null) kecamatanNames = await getJson("/api/kecamatan");
    const [data, lag] = await Promise.all([
      getJson("/api/summary"),
      getJson("/api/lag").catch(() => null),
    ]);
    renderProgress(data);
    renderOutcomes(data);
    renderAgencies(data);
    renderKecamatan(data);
    renderBilling(data);
    renderPipeline(data);
    renderLag(lag);
    text("updated", CLOCK.format(new Date()) + " WIB");
    document.getElementById("error").hidden = true;
    document.body.dataset.state = "ready";
    document.body.dataset.loads = String(Number(document.body.dataset.loads || 0) + 1);
  } catch (error) {
    const box = document.getElementById("error");
    box.textContent = "Gagal memuat data: " + error.message;
    box.hidden = false;
    document.body.dataset.state = "error";
  }
}

text("refresh-seconds", String(REFRESH_SECONDS));
refresh();
setInterval(refresh, REFRESH_SECONDS * 1000);
