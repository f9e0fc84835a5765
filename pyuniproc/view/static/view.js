// The live view page: camera tiles (MJPEG, or polled snapshots beyond a few cameras), camera
// states and the transitions / events panels from a Server-Sent Events feed. Plain browser
// JavaScript, no build step, no dependencies. All text goes in through textContent.
"use strict";

const STATE_TEXT = {
  connecting: "connecting…",
  live: "",
  stalled: "stalled",
  dead: "dead",
  finished: "finished",
};

const view = {
  config: null,
  tiles: new Map(), // camera id -> {element, img, ...}
  updates: 0,
};

async function start() {
  for (;;) {
    try {
      const response = await fetch("api/config", { cache: "no-store" });
      if (response.ok) {
        view.config = await response.json();
        break;
      }
    } catch (error) {
      setRunStatus("disconnected", "server unreachable, retrying…");
    }
    await sleep(2000);
  }
  showLinks(view.config.links || {});
  const usePolling = view.config.cameras.length > view.config.mjpeg_max_tiles;
  for (const cameraId of view.config.cameras) addTile(cameraId, usePolling);
  listen();
}

// A camera's tile: an MJPEG stream, or polled snapshots once there are more tiles than a browser
// holds streams open (cameras added while the page is open count too).
function addTile(cameraId, usePolling = view.tiles.size >= view.config.mjpeg_max_tiles) {
  const tile = makeTile(cameraId);
  view.tiles.set(cameraId, tile);
  if (usePolling) pollTile(tile);
  else streamTile(tile);
  return tile;
}

function makeTile(cameraId) {
  const element = document.getElementById("tile-template").content.firstElementChild.cloneNode(true);
  element.dataset.camera = cameraId;
  element.dataset.state = "connecting";
  element.classList.add("no-picture");
  element.querySelector(".name").textContent = cameraId;
  const img = element.querySelector("img");
  img.alt = `camera ${cameraId}`;
  img.classList.add("empty");
  img.addEventListener("load", () => {
    img.classList.remove("empty");
    element.classList.remove("no-picture");
    element.dataset.pictures = String(Number(element.dataset.pictures || 0) + 1);
  });
  document.getElementById("tiles").appendChild(element);
  const tile = { cameraId, element, img, state: "connecting" };
  updateOverlay(tile, null);
  return tile;
}

// One MJPEG stream per tile; a dropped stream (server restart, network) is reopened.
function streamTile(tile) {
  const url = `tiles/${encodeURIComponent(tile.cameraId)}.mjpg`;
  let attempt = 0;
  tile.img.addEventListener("error", () => {
    attempt += 1;
    setTimeout(() => { tile.img.src = `${url}?retry=${attempt}`; }, 1000);
  });
  tile.img.src = url;
}

// Snapshot polling: one request at a time per tile, at most tile_fps a second.
function pollTile(tile) {
  const url = `tiles/${encodeURIComponent(tile.cameraId)}.jpg`;
  const period = 1000 / view.config.tile_fps;
  let n = 0;
  let asked = 0;
  const next = () => {
    const wait = Math.max(0, period - (performance.now() - asked));
    setTimeout(() => { asked = performance.now(); tile.img.src = `${url}?n=${n++}`; }, wait);
  };
  tile.img.addEventListener("load", next);
  tile.img.addEventListener("error", () => setTimeout(next, 1000)); // 204 before the first frame
  next();
}

function listen() {
  const source = new EventSource("api/events");
  source.addEventListener("state", (message) => {
    view.updates += 1;
    render(JSON.parse(message.data));
  });
  source.addEventListener("end", () => {
    source.close();
    setRunStatus("finished", "run ended");
    for (const tile of view.tiles.values()) markDisconnected(tile, "run ended");
  });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) return;
    setRunStatus("disconnected", "disconnected, retrying…");
    for (const tile of view.tiles.values()) markDisconnected(tile, "view disconnected");
  });
}

function render(state) {
  document.body.dataset.stateSeq = String(state.seq);
  document.body.dataset.stateUpdates = String(view.updates);
  document.getElementById("site").textContent = state.site ? `· ${state.site}` : "";
  setRunStatus(state.status, state.status);
  const stats = [];
  if (state.elapsed_seconds != null) stats.push(`${formatDuration(state.elapsed_seconds)}`);
  if (state.throughput_fps != null) stats.push(`${state.throughput_fps.toFixed(1)} frames/s`);
  if (state.frames_processed != null) stats.push(`${state.frames_processed} frames`);
  document.getElementById("run-stats").textContent = stats.join(" · ");

  for (const [cameraId, camera] of Object.entries(state.cameras)) {
    renderTile(view.tiles.get(cameraId) || addTile(cameraId), camera); // added while running
  }
  renderList("transitions", state.transitions, state.at, (item, li) => {
    li.appendChild(swatch(item.global_id));
    li.appendChild(span("text", item.text));
  });
  renderList("events", state.events, state.at, (item, li) => {
    li.appendChild(item.global_id != null ? swatch(item.global_id) : span("swatch", ""));
    li.appendChild(span("camera", item.camera_id || ""));
    li.appendChild(span("text", item.text));
  });
}

function renderTile(tile, camera) {
  const { element } = tile;
  const state = camera.state || "connecting";
  tile.state = state;
  element.dataset.state = state;
  element.dataset.since = camera.seconds_since_last_frame == null ? "" : String(camera.seconds_since_last_frame);
  element.dataset.framesProcessed = String(camera.frames_processed ?? "");
  for (const name of Object.keys(STATE_TEXT)) element.classList.toggle(`state-${name}`, name === state);
  element.querySelector(".badge.state").textContent = state;
  const parts = [`${(camera.fps ?? 0).toFixed(1)} fps`, `${camera.dropped_total ?? 0} dropped`];
  const since = camera.seconds_since_last_frame;
  parts.push(since == null ? "no frame yet" : `last frame ${formatSeconds(since)} ago`);
  element.querySelector(".stats").textContent = parts.join(" · ");
  element.querySelector(".stats").title = camera.last_error || "";
  updateOverlay(tile, camera);
}

// A tile whose camera is not live, or whose picture is older than a few tile periods, is
// greyed out with the reason on top; the other tiles are not affected.
function updateOverlay(tile, camera) {
  const overlay = tile.element.querySelector(".overlay");
  const state = camera ? camera.state : "connecting";
  const since = camera ? camera.seconds_since_last_frame : null;
  const staleAfter = Math.max(2, 3 / ((view.config && view.config.tile_fps) || 5));
  const stale = state !== "live" || (since != null && since > staleAfter);
  tile.element.classList.toggle("stale", stale);
  let text = STATE_TEXT[state] ?? state;
  if (state === "dead" && camera && camera.last_error) text = `dead: ${camera.last_error}`;
  else if (stale && since != null) text = `${text || "no new frame"} · ${formatSeconds(since)} since the last frame`;
  if (tile.element.classList.contains("no-picture") && !stale) text = "waiting for a picture…";
  overlay.textContent = text;
}

function markDisconnected(tile, why) {
  tile.element.classList.add("stale");
  tile.element.querySelector(".overlay").textContent = why;
}

function renderList(name, items, now, fill) {
  const list = document.getElementById(name);
  document.getElementById(`${name}-empty`).hidden = items.length > 0;
  list.replaceChildren(...items.map((item) => {
    const li = document.createElement("li");
    fill(item, li);
    li.appendChild(span("when", `${formatSeconds(Math.max(0, now - item.at))} ago`));
    return li;
  }));
}

function swatch(globalId) {
  const palette = view.config.palette;
  const rgb = globalId == null || globalId < 0 ? view.config.untracked_color : palette[globalId % palette.length];
  const element = span("swatch", "");
  element.style.background = `rgb(${rgb.join(",")})`;
  element.title = `person ${globalId}`;
  return element;
}

function span(className, text) {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}

function setRunStatus(status, text) {
  const badge = document.getElementById("run-status");
  badge.className = `badge state-${status}`;
  badge.textContent = text;
}

function showLinks(links) {
  const nav = document.getElementById("links");
  nav.replaceChildren(...Object.entries(links).map(([name, href]) => {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = name;
    return a;
  }));
}

function formatSeconds(seconds) {
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  return formatDuration(seconds);
}

function formatDuration(seconds) {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

start();
