// The page: tabs, the network view's controls and its stream of frames.
"use strict";
const $ = id => document.getElementById(id);
const FEATURE_NAMES = ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"];

function showMessage(text) {
  const box = $("message");
  box.textContent = text || "";
  box.hidden = !text;
}

async function api(path, body) {
  const res = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: body === undefined ? "{}" : JSON.stringify(body),
  });
  let data = {};
  try { data = await res.json(); } catch (e) { /* empty body */ }
  if (!res.ok) throw new Error(data.error || `${res.status} ${res.statusText}`);
  return data;
}

const state = { sid: null, playing: false, history: [], points: null, frames: [],
                lastFrame: null };

function number(id) {
  const text = $(id).value.trim();
  return text === "" || isNaN(Number(text)) ? text : Number(text);
}

function readSettings() {
  const hidden = $("hidden").value.split(",").map(s => s.trim()).filter(s => s !== "")
    .map(s => (isNaN(Number(s)) ? s : Number(s)));
  return {
    dataset: $("dataset").value, noise: number("noise"), train_ratio: number("train_ratio"),
    features: FEATURE_NAMES.filter(f => $("feature-" + f).checked),
    hidden, activation: $("activation").value, lr: number("lr"),
    optimizer: $("optimizer").value, regularization: $("regularization").value,
    reg_rate: number("reg_rate"), batch_size: number("batch_size"),
  };
}

async function sendSettings() {
  try {
    await api(`/api/sessions/${state.sid}/settings`, readSettings());
    state.history = [];
    showMessage("");
  } catch (e) { showMessage(e.message); }
}

async function command(action) {
  try {
    const r = await api(`/api/sessions/${state.sid}/${action}`);
    if (action === "reset") state.history = [];
    state.playing = r.playing;
    $("play").textContent = state.playing ? "Pause" : "Play";
  } catch (e) { showMessage(e.message); }
}

async function explainNeuron(ev) {  // a neuron clicked: its graph in the backprop view
  const canvas = $("net"), box = canvas.getBoundingClientRect();
  const hit = NET.neuronAt((ev.clientX - box.left) * canvas.width / box.width,
                           (ev.clientY - box.top) * canvas.height / box.height);
  if (!hit) return;
  try {
    const r = await api(`/api/sessions/${state.sid}/neuron`, { layer: hit.layer, unit: hit.unit });
    $("bp-expr").value = r.expression;
    $("bp-values").value = r.values;
    $("tab-backprop").click();
    await BACKPROP.build();
    if (r.note) showMessage(r.note);
  } catch (e) { showMessage(e.message); }
}

function onFrame(frame) {
  // draw at most once per screen refresh: frames that arrive in between only add to the
  // loss curve, so a slow page never falls behind the server
  if (frame.points) state.points = frame.points;
  const h = state.history;
  if (h.length && frame.epoch < h[h.length - 1][0]) state.history = [];
  state.history.push([frame.epoch, frame.train_loss, frame.test_loss]);
  if (state.history.length > 2000) state.history = state.history.filter((_, i) => i % 2 === 0);
  if (!state.lastFrame) requestAnimationFrame(draw);
  state.lastFrame = frame;
}

function draw() {
  const frame = state.lastFrame;
  state.lastFrame = null;
  $("epoch").textContent = frame.epoch.toFixed(1);
  $("train-loss").textContent = frame.train_loss.toFixed(4);
  $("test-loss").textContent = frame.test_loss.toFixed(4);
  NET.drawNetwork($("net"), frame);
  NET.drawSurface($("surface"), frame, state.points);
  NET.drawCurve($("curve"), state.history);
  state.frames.push(performance.now());
  showRate();
}

function showRate() {  // display updates in the last second
  const now = performance.now();
  while (state.frames.length && state.frames[0] < now - 1000) state.frames.shift();
  $("fps").textContent = String(state.frames.length);
}

async function start() {
  const box = $("features");
  FEATURE_NAMES.forEach((f, i) => {
    const label = document.createElement("label");
    label.innerHTML = `<span><input type="checkbox" id="feature-${f}"${i < 2 ? " checked" : ""}> ${f}</span>`;
    box.appendChild(label);
  });
  ["dataset", "noise", "train_ratio", "hidden", "activation", "lr", "optimizer",
   "regularization", "reg_rate", "batch_size"].forEach(id =>
    $(id).addEventListener("change", sendSettings));
  FEATURE_NAMES.forEach(f => $("feature-" + f).addEventListener("change", sendSettings));
  $("net").addEventListener("click", ev => explainNeuron(ev));
  $("play").addEventListener("click", () => command(state.playing ? "pause" : "play"));
  $("step").addEventListener("click", () => command("step"));
  $("reset").addEventListener("click", () => command("reset"));
  for (const [tab, view] of [["tab-network", "view-network"], ["tab-backprop", "view-backprop"]]) {
    $(tab).addEventListener("click", () => {
      document.querySelectorAll(".tab").forEach(t => t.classList.toggle("active", t.id === tab));
      document.querySelectorAll(".view").forEach(v => { v.hidden = v.id !== view; });
    });
  }
  $("net").title = "click a neuron to see its computation graph";
  const s = await api("/api/sessions");
  state.sid = s.id;
  await sendSettings();
  const source = new EventSource(`/api/sessions/${state.sid}/stream`);
  source.addEventListener("frame", ev => onFrame(JSON.parse(ev.data)));
  setInterval(showRate, 250);
  BACKPROP.init();
  document.body.dataset.ready = "1";
}

start().catch(e => showMessage(e.message));
