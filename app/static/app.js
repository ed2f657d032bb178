// Brigade's page: a client of the public API only, from this origin. No build step, no library.
"use strict";

(() => {
  const KEY_STORE = "brigade.apiKey";
  const POLL_WAIT_S = 2; // GET /v1/jobs/<id>?wait=: a terminal answer comes at once, progress every 2 s
  const PALETTE = ["#2459c7", "#d1495b", "#00798c", "#edae49", "#6a4c93", "#3d9970", "#e07a1f",
                   "#8f2d56", "#1982c4", "#6a994e", "#b5179e", "#577590"];
  // The features whose result is a count per sampled time (a timeline line each), and their colors.
  const COUNTED = { people: "#2d6a4f", faces: "#b5651d" };

  const $ = (id) => document.getElementById(id);

  // --- small helpers ---------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("data-")) node.dataset[name.slice(5).replace(/-(\w)/g, (_, c) => c.toUpperCase())] = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) {
      if (child !== undefined && child !== null) node.append(child);
    }
    return node;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // Play the video from `t` seconds (the position is set even when autoplay is refused).
  function seekTo(player, t) {
    player.currentTime = t;
    const playing = player.play();
    if (playing && playing.catch) playing.catch(() => { /* autoplay refused: the position is set */ });
  }

  const seconds = (s) => (Math.round(s * 10) / 10).toFixed(1) + " s";

  function clock(s) {
    const whole = Math.max(0, Math.round(s));
    const m = Math.floor(whole / 60);
    const sec = String(whole % 60).padStart(2, "0");
    return m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
  }

  function duration(s) {
    if (s < 120) return `${s} s`;
    if (s < 7200) return `${Math.ceil(s / 60)} min`;
    return `${Math.round(s / 360) / 10} h`;
  }

  function bytes(n) {
    const units = ["bytes", "KiB", "MiB", "GiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return i === 0 ? `${n} bytes` : `${n.toFixed(1)} ${units[i]}`;
  }

  // --- the API key: kept in localStorage, sent as X-API-Key ----------------------------------

  const store = {
    get() { try { return localStorage.getItem(KEY_STORE) || ""; } catch { return ""; } },
    set(v) { try { if (v) localStorage.setItem(KEY_STORE, v); else localStorage.removeItem(KEY_STORE); } catch { /* private mode */ } },
  };

  function authHeaders(extra) {
    const headers = { ...(extra || {}) };
    const key = $("api-key").value.trim();
    if (key) headers["X-API-Key"] = key;
    return headers;
  }

  // --- problems: the API's application/problem+json bodies, shown as they come ------------------

  class Problem extends Error {
    constructor(fields) {
      super(fields.detail || fields.title);
      Object.assign(this, fields);
    }
  }

  function parseBody(text, contentType) {
    if (contentType && /json/.test(contentType)) {
      try { return JSON.parse(text); } catch { /* fall through */ }
    }
    return null;
  }

  // A Problem from an HTTP answer that is not a success: its problem body when it has one.
  function problemOf(status, statusText, text, contentType, retryAfter) {
    const body = parseBody(text, contentType);
    if (body && typeof body === "object" && (body.title || body.detail)) {
      return new Problem({ ...body, status: body.status || status, retryAfter: retryAfter || body.retry_after_s });
    }
    const plain = (text || "").replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim().slice(0, 300);
    return new Problem({ status, title: statusText || `HTTP ${status}`, detail: plain || "the server gave no explanation", retryAfter });
  }

  function showProblem(box, problem) {
    box.replaceChildren();
    const code = problem.type ? String(problem.type).split("/").pop() : "";
    box.dataset.status = problem.status || "";
    box.dataset.type = code;
    box.append(el("strong", { text: problem.status ? `${problem.status} ${problem.title}` : problem.title }));
    if (problem.detail) box.append(el("p", { class: "detail", text: problem.detail }));
    const notes = [];
    if (problem.status === 413 && problem.limit_bytes) notes.push(`The limit is ${bytes(problem.limit_bytes)} (${problem.limit_bytes} bytes).`);
    if (problem.status === 401) notes.push("Check the API key above, or clear it to call anonymously.");
    if (problem.status === 429 && problem.retryAfter) {
      const wait = Number(problem.retryAfter);
      const at = new Date(Date.now() + wait * 1000).toLocaleTimeString();
      notes.push(`Retry in ${duration(wait)}, after ${at}.`);
    }
    for (const note of notes) box.append(el("p", { class: "note", text: note }));
    if (Array.isArray(problem.errors) && problem.errors.length > 1) {
      box.append(el("ul", {}, ...problem.errors.map((e) => el("li", { text: e.field ? `${e.field}: ${e.detail}` : e.detail }))));
    }
    if (code) box.append(el("p", { class: "code", text: `problem type: ${code}` }));
    box.hidden = false;
  }

  function clearProblem(box) {
    box.hidden = true;
    box.replaceChildren();
    delete box.dataset.status;
    delete box.dataset.type;
  }

  // fetch() answering a parsed JSON body, or throwing a Problem.
  async function api(path, options) {
    let response;
    try {
      response = await fetch(path, { ...(options || {}), headers: authHeaders((options || {}).headers) });
    } catch (exc) {
      throw new Problem({ title: "The API could not be reached", detail: String(exc.message || exc) });
    }
    const text = await response.text();
    const contentType = response.headers.get("Content-Type");
    if (!response.ok) throw problemOf(response.status, response.statusText, text, contentType, response.headers.get("Retry-After"));
    const body = parseBody(text, contentType);
    if (body === null) throw new Problem({ status: response.status, title: "Unexpected answer", detail: "the API did not answer JSON" });
    return { status: response.status, body };
  }

  // GET the job with ?wait= until it is terminal; `onUpdate` sees each answer. Null if `live()` turns false.
  async function pollJob(statusUrl, onUpdate, live) {
    const url = new URL(statusUrl, window.location.origin);
    url.searchParams.set("wait", String(POLL_WAIT_S));
    let failures = 0;
    while (live()) {
      const started = Date.now();
      let body;
      try {
        body = (await api(url.pathname + url.search)).body;
        failures = 0;
      } catch (problem) {
        failures += 1;
        if (problem.status || failures >= 5) throw problem; // an answer from the API, or it stays away
        await sleep(1000 * failures);
        continue;
      }
      if (!live()) return null;
      onUpdate(body);
      if (body.status === "succeeded" || body.status === "failed") return body;
      if (Date.now() - started < 300) await sleep(300); // a proxy that does not hold the request
    }
    return null;
  }

  // --- video: choose or drop a file, upload it, follow the job, show the result --------------

  let chosenFile = null;
  let objectUrl = null;
  let run = 0; // each upload gets a number; an older one's polling stops when a newer one starts

  function chooseFile(file) {
    chosenFile = file || null;
    $("file-name").textContent = file ? `${file.name} (${bytes(file.size)})` : "No file chosen.";
  }

  function setupDrop() {
    const zone = $("drop-zone");
    const input = $("video-file");
    input.addEventListener("change", () => chooseFile(input.files[0]));
    for (const type of ["dragenter", "dragover"]) {
      zone.addEventListener(type, (e) => { e.preventDefault(); zone.classList.add("over"); });
    }
    for (const type of ["dragleave", "dragend"]) zone.addEventListener(type, () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      const files = e.dataTransfer && e.dataTransfer.files;
      if (!files || !files.length) return;
      try { input.files = files; } catch { /* older browsers: the file is still kept below */ }
      chooseFile(files[0]);
    });
    // A file dropped beside the zone must not replace the page with the video.
    for (const type of ["dragover", "drop"]) window.addEventListener(type, (e) => e.preventDefault());
  }

  function uploadVideo(file, params, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/v1/videos" + (params.toString() ? "?" + params : ""));
      for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
      xhr.onload = () => {
        const contentType = xhr.getResponseHeader("Content-Type");
        if (xhr.status === 202) {
          const body = parseBody(xhr.responseText, contentType);
          if (body && body.status_url) resolve(body);
          else reject(new Problem({ status: 202, title: "Unexpected answer", detail: "the API accepted the upload without a job" }));
          return;
        }
        reject(problemOf(xhr.status, xhr.statusText, xhr.responseText, contentType, xhr.getResponseHeader("Retry-After")));
      };
      xhr.onerror = () => reject(new Problem({
        title: "The upload did not reach the API",
        detail: "the connection closed before an answer came (a file over the server's size limit can be cut off this way)",
      }));
      xhr.onabort = () => reject(new Problem({ title: "Upload cancelled", detail: "the upload was cancelled" }));
      const form = new FormData();
      form.append("video", file, file.name);
      xhr.send(form);
    });
  }

  // The features ticked, comma-separated; null for labels alone, the API's default (and for none
  // ticked, which the API also answers with labels): the request then stays as it always was.
  function requestedFeatures() {
    const ticked = [...document.querySelectorAll('input[name="features"]:checked')].map((box) => box.value);
    const list = ticked.join(",");
    return list && list !== "labels" ? list : null;
  }

  function showJobProgress(job) {
    const bar = $("job-progress");
    const p = job.progress || {};
    const text = $("job-text");
    if (job.status === "queued") {
      bar.removeAttribute("value"); // indeterminate until a worker takes it
      text.textContent = "queued";
      return;
    }
    bar.value = p.percent || 0;
    if (p.unit === "segments") text.textContent = `${job.status}: ${p.done}/${p.total} segments (${p.percent}%)`;
    else if (p.unit === "video-seconds") text.textContent = `${job.status}: ${seconds(p.done)} of ${seconds(p.total)} (${p.percent}%)`;
    else text.textContent = `${job.status}: ${p.percent || 0}%`;
    bar.dataset.status = job.status;
  }

  async function onUpload(event) {
    event.preventDefault();
    const mine = ++run;
    const live = () => mine === run;
    const errorBox = $("video-error");
    clearProblem(errorBox);
    if (!chosenFile) {
      showProblem(errorBox, { title: "No video chosen", detail: "choose a video file, or drop one on the box above" });
      return;
    }
    const file = chosenFile;
    const params = new URLSearchParams();
    const mode = document.querySelector('input[name="mode"]:checked').value;
    if (mode !== "auto") params.set("mode", mode);
    if ($("fast").checked) params.set("fast", "1");
    const features = requestedFeatures();
    if (features) params.set("features", features);

    $("result").hidden = true;
    $("video-progress").hidden = false;
    $("upload-progress").value = 0;
    $("upload-text").textContent = "";
    $("job-progress").value = 0;
    $("job-text").textContent = "";
    const status = $("video-status");
    status.textContent = `Uploading ${file.name}…`;
    const button = $("upload-button");
    button.disabled = true;
    try {
      const accepted = await uploadVideo(file, params, (loaded, total) => {
        $("upload-progress").value = Math.round((100 * loaded) / total);
        $("upload-text").textContent = `${bytes(loaded)} of ${bytes(total)}`;
      });
      $("upload-progress").value = 100;
      button.disabled = false;
      status.textContent = `Uploaded; job ${accepted.job_id} (${accepted.mode}) is ${accepted.status}.`;
      const job = await pollJob(accepted.status_url, (j) => {
        showJobProgress(j);
        if (j.status !== "succeeded" && j.status !== "failed") status.textContent = `Job ${j.job_id} (${j.mode}) is ${j.status}.`;
      }, live);
      if (!job) return;
      if (job.status === "failed") {
        const error = job.error || {};
        status.textContent = `Job ${job.job_id} failed.`;
        showProblem(errorBox, { title: "The job failed", detail: error.detail || "no reason was given", type: error.type });
        return;
      }
      status.textContent = `Job ${job.job_id} succeeded.`;
      showResult(job, file);
    } catch (problem) {
      if (!live()) return;
      status.textContent = problem.status ? "The API refused the request." : "";
      showProblem(errorBox, problem);
    } finally {
      if (live()) button.disabled = false;
    }
  }

  // --- the result: tags, and a timeline beside the video -----------------------------------------

  function colorOf(index) { return PALETTE[index % PALETTE.length]; }

  function showResult(job, file) {
    const result = job.result || {};
    const player = $("player");
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = URL.createObjectURL(file); // the local file: nothing is downloaded again
    player.src = objectUrl;

    const model = result.model || {};
    const meta = [`${model.name || "model"}@${model.version || "?"} on ${model.device || "?"}`, `${job.mode} mode`];
    if (result.duration_s) meta.push(`${seconds(result.duration_s)} of video`);
    if (Array.isArray(result.features)) meta.push(`found: ${result.features.join(", ")}`);
    if (result.cached) meta.push("answered from the cache");
    $("result-meta").replaceChildren(meta.join(" · ") + " · ", el("a", { href: job.status_url, text: "job JSON" }));

    const tags = Array.isArray(result.tags) ? result.tags : [];
    const timeline = result.timeline || {};
    const labels = [...tags.map((t) => t.label), ...Object.keys(timeline).filter((l) => !tags.some((t) => t.label === l))];
    const colors = new Map(labels.map((label, i) => [label, colorOf(i)]));

    const body = $("tags-table").tBodies[0];
    body.replaceChildren(...tags.map((tag) => el("tr", { "data-tag": tag.label },
      el("th", { scope: "row" }, el("span", { class: "swatch", "aria-hidden": "true" }), tag.label),
      el("td", {}, el("span", { class: "score" },
        el("meter", { min: "0", max: "1", value: String(tag.score), "aria-label": `${tag.label} score` }),
        el("span", { class: "num", text: Number(tag.score).toFixed(2) }))),
      el("td", { class: "num", text: tag.covered_s !== undefined ? seconds(tag.covered_s) : "" }),
      el("td", { text: (tag.parents || []).join(" › ") }))));
    for (const row of body.rows) row.querySelector(".swatch").style.background = colors.get(row.dataset.tag);
    $("tags-table").hidden = tags.length === 0;
    $("no-tags").hidden = tags.length > 0;

    showText(result.text, player);
    drawTimeline(result, labels, colors, player);
    $("result").hidden = false;
  }

  // The strings read on screen (features=text): each with its time ranges, which play the video
  // from there, and its confidence. Hidden when text was not asked for.
  function showText(entries, player) {
    $("text-result").hidden = !Array.isArray(entries);
    if (!Array.isArray(entries)) return;
    const rangeButton = ([start, end]) => {
      const b = el("button", { type: "button", class: "range", text: `${clock(start)}–${clock(end)}`,
                               "aria-label": `${seconds(start)} to ${seconds(end)}: play from ${clock(start)}`,
                               "data-start": String(start), "data-end": String(end) });
      b.addEventListener("click", () => seekTo(player, start));
      return b;
    };
    $("text-table").tBodies[0].replaceChildren(...entries.map((entry) => el("tr", { "data-text": entry.text },
      el("th", { scope: "row", class: "read-text", text: entry.text }),
      el("td", {}, ...(entry.ranges || []).map(rangeButton)),
      el("td", { class: "num", text: Number(entry.confidence).toFixed(2) }))));
    $("text-table").hidden = entries.length === 0;
    $("no-text").hidden = entries.length > 0;
  }

  // The most found at once in the samples of `series` (people or faces) taken within [start, end).
  function mostIn(series, start, end) {
    const counts = (series.samples || []).filter((s) => s.t >= start - 1e-6 && s.t < end).map((s) => s.count);
    return Math.max(0, ...counts);
  }

  function spanEnd(result) {
    let end = Number(result.duration_s) || 0;
    const ranges = [...Object.values(result.timeline || {}), ...Object.keys(COUNTED).map((f) => (result[f] || {}).seen || []),
                    ...(result.text || []).map((entry) => entry.ranges || [])];
    for (const list of ranges) for (const [, e] of list) end = Math.max(end, e);
    for (const s of [...(result.shots || []), ...(result.segments || [])]) end = Math.max(end, s.end || 0);
    return end || 1;
  }

  function drawTimeline(result, labels, colors, player) {
    const box = $("timeline");
    const duration = spanEnd(result);
    const pct = (t) => `${Math.min(100, Math.max(0, (100 * t) / duration))}%`;
    const boundaries = (spans) => (spans || []).map((s) => s.start).filter((t) => t > 0);
    const shotCuts = boundaries(result.shots);
    const segmentCuts = boundaries(result.segments);
    $("segment-legend").hidden = !(result.segments || []).length;
    const playheads = [];

    function track(name) {
      const t = el("div", { class: "tl-track" });
      for (const cut of shotCuts) t.append(positioned(el("div", { class: "tl-mark shot", "aria-hidden": "true" }), cut));
      for (const cut of segmentCuts) t.append(positioned(el("div", { class: "tl-mark segment", "aria-hidden": "true" }), cut));
      const head = positioned(el("div", { class: "tl-playhead", "aria-hidden": "true" }), 0);
      playheads.push(head);
      t.append(head);
      t.dataset.row = name;
      return t;
    }
    function positioned(node, start, end) {
      node.style.left = pct(start);
      if (end !== undefined) node.style.width = `calc(${pct(end)} - ${pct(start)})`;
      return node;
    }
    function bar(label, start, end, color, kind, detail) {
      const text = `${label}, ${seconds(start)} to ${seconds(end)}${detail ? `, ${detail}` : ""}: play from ${clock(start)}`;
      const b = positioned(el("button", { type: "button", class: `tl-bar ${kind}`, title: text, "aria-label": text,
                                          "data-tag": label, "data-start": String(start), "data-end": String(end) }), start, end);
      b.style.background = color;
      b.addEventListener("click", () => seekTo(player, start));
      return b;
    }
    function row(label, name, bars, swatch) {
      const head = el("div", { class: "tl-label", title: label }, swatch ? el("span", { class: "swatch", "aria-hidden": "true" }) : null, label);
      if (swatch) head.firstChild.style.background = swatch;
      const t = track(name);
      t.prepend(...bars);
      return el("div", { class: "tl-row", "data-row": name }, head, t);
    }

    const rows = [];
    const shots = result.shots || [];
    if (shots.length) {
      rows.push(row(`shots (${shots.length})`, "shots", shots.map((s, i) =>
        bar(`shot ${i + 1}`, s.start, s.end, i % 2 ? "#9aa3b2" : "#c3c9d3", "shot")), null));
    }
    const segments = result.segments || [];
    if (segments.length) {
      rows.push(row(`segments (${segments.length})`, "segments", segments.map((s, i) =>
        bar(`segment ${i + 1}`, s.start, s.end, i % 2 ? "#e0a43c" : "#f2cd8a", "segment")), null));
    }
    for (const [feature, color] of Object.entries(COUNTED)) {
      const series = result[feature];
      if (!series) continue;
      rows.push(row(`${feature} (up to ${series.max_count})`, feature, (series.seen || []).map(([s, e]) =>
        bar(feature, s, e, color, "count", `up to ${mostIn(series, s, e)} at once`)), color));
    }
    for (const label of labels) {
      const ranges = (result.timeline || {})[label] || [];
      rows.push(row(label, `tag:${label}`, ranges.map(([s, e]) => bar(label, s, e, colors.get(label), "tag")), colors.get(label)));
    }
    const axis = el("div", { class: "tl-axis", "aria-hidden": "true" });
    const step = niceStep(duration);
    for (let t = 0; t <= duration + 1e-9; t += step) axis.append(positioned(el("span", { text: clock(t) }), t));
    rows.push(el("div", { class: "tl-row" }, el("div"), axis));
    box.replaceChildren(...rows);

    player.ontimeupdate = () => { for (const head of playheads) head.style.left = pct(player.currentTime); };
  }

  function niceStep(duration) {
    for (const step of [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600]) if (duration / step <= 10) return step;
    return 7200;
  }

  // --- hotels: destinations from the API, a stay, priced hotels --------------------------------

  const iso = (d) => d.toISOString().slice(0, 10);
  let destinationNames = {};

  async function loadDestinations() {
    const select = $("destination");
    try {
      const { body } = await api("/v1/hotel-destinations");
      destinationNames = Object.fromEntries(body.destinations.map((d) => [d.slug, d.name]));
      select.replaceChildren(...body.destinations.map((d) =>
        el("option", { value: d.slug, text: d.hotels ? `${d.name} (${d.hotels} hotels)` : d.name })));
      $("guests").max = String(body.max_guests);
      select.dataset.loaded = "true";
    } catch (problem) {
      select.replaceChildren(el("option", { value: "", text: "unavailable" }));
      showProblem($("hotel-error"), problem);
    }
  }

  function defaultDates() {
    const day = 24 * 3600 * 1000;
    const today = new Date();
    $("check-in").min = iso(today);
    $("check-in").value = iso(new Date(today.getTime() + 14 * day));
    $("check-out").value = iso(new Date(today.getTime() + 17 * day));
  }

  async function onHotels(event) {
    event.preventDefault();
    const errorBox = $("hotel-error");
    const status = $("hotel-status");
    const button = $("hotel-button");
    clearProblem(errorBox);
    $("hotel-table").hidden = true;
    const guests = $("guests").value.trim();
    const budget = $("budget").value.trim();
    const query = {
      destination: $("destination").value,
      check_in: $("check-in").value || null,
      check_out: $("check-out").value || null,
      guests: guests === "" ? null : Number(guests),
    };
    if (budget !== "") query.budget = Number(budget);
    button.disabled = true;
    status.textContent = "Pricing…";
    try {
      let { status: code, body } = await api("/v1/hotel-prices", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(query),
      });
      if (code === 202) {
        status.textContent = `Queued as job ${body.job_id}; waiting for a worker…`;
        const job = await pollJob(body.status_url, () => {}, () => true);
        if (job.status === "failed") {
          throw new Problem({ title: "The pricing job failed", detail: (job.error || {}).detail || "no reason was given",
                              type: (job.error || {}).type });
        }
        body = { ...job.result, job_id: job.job_id };
      }
      showHotels(body);
      status.textContent = `${body.hotels.length} hotels priced (${body.tier ? body.tier + " tier, " : ""}job ${body.job_id}).`;
    } catch (problem) {
      status.textContent = "";
      showProblem(errorBox, problem);
    } finally {
      button.disabled = false;
    }
  }

  function showHotels(result) {
    const money = new Intl.NumberFormat("en-US", { style: "currency", currency: result.currency || "USD" });
    const model = result.model ? ` · ${result.model.name}@${result.model.version}` : "";
    $("hotel-caption").textContent = `${destinationNames[result.destination] || result.destination}, ${result.check_in} to ` +
      `${result.check_out}: ${result.nights} night${result.nights === 1 ? "" : "s"}, ${result.guests} guest${result.guests === 1 ? "" : "s"}` +
      (result.budget !== null && result.budget !== undefined ? `, budget ${money.format(result.budget)}` : "") + model;
    const budgetCell = (h) => {
      if (h.within_budget === null || h.within_budget === undefined) return el("td", { text: "—" });
      return el("td", { class: h.within_budget ? "in-budget" : "over-budget", text: h.within_budget ? "within" : "over" });
    };
    $("hotel-table").tBodies[0].replaceChildren(...result.hotels.map((h) => el("tr", { "data-hotel": h.hotel_id },
      el("th", { scope: "row", text: h.name }),
      el("td", {}, el("span", { "aria-hidden": "true", text: "★".repeat(h.stars) }), el("span", { class: "sr-only", text: `${h.stars} stars` })),
      el("td", { class: "num", text: Number(h.rating).toFixed(1) }),
      el("td", { class: "num price", text: money.format(h.nightly_price) }),
      el("td", { class: "num", text: `${money.format(h.interval[0])} – ${money.format(h.interval[1])}` }),
      el("td", { class: "num", text: `${Math.round(100 * h.confidence)}%` }),
      el("td", { class: "num", text: money.format(h.total_price) }),
      budgetCell(h))));
    $("hotel-table").hidden = false;
  }

  // --- start ---------------------------------------------------------------------------------

  function start() {
    const key = $("api-key");
    key.value = store.get();
    key.addEventListener("input", () => store.set(key.value.trim()));
    $("key-clear").addEventListener("click", () => { key.value = ""; store.set(""); key.focus(); });
    $("key-form").addEventListener("submit", (e) => e.preventDefault());
    setupDrop();
    $("upload-form").addEventListener("submit", onUpload);
    $("hotel-form").addEventListener("submit", onHotels);
    defaultDates();
    loadDestinations();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
