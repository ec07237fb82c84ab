// The Voice Engine console: the OpenAI Realtime protocol from a browser, against this
// worker (/v1/realtime), with the sessions API (/api/voice/sessions) for history.
// The microphone runs through an AudioWorklet in a 24 kHz AudioContext (the browser
// resamples the mic), is cut into 20 ms pcm16 frames and sent as
// input_audio_buffer.append; the reply's pcm16 deltas are scheduled back to back on
// the same context. Hands-free: the server's VAD ends each turn, and speech over a
// reply stops it (the played part is what the server keeps: conversation.item.truncate).
// Push to talk: hold the button; letting go commits and asks for a response.
"use strict";

const RATE = 24000;
const FRAME = 480; // 20 ms
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const stats = (window.consoleStats = {
  audioFramesScheduled: 0, audioSecondsScheduled: 0, transcripts: [], replies: [], errors: [],
  responses: 0, state: "idle",
});

const state = {
  ws: null, ctx: null, node: null, sessionId: params.get("session"), mode: "handsfree",
  talking: false, pcm: new Float32Array(0), playhead: 0, sources: [], playing: null,
  turn: null, responding: false, byItem: {}, byResponse: {},
};

// --- the page ------------------------------------------------------------------
function setStatus(text, kind = "") {
  $("status").textContent = text;
  $("status").className = "status " + kind;
}

// A turn on the page: what the user said and the response to it. Events find theirs by
// item (the user's) or response id: a response's last events may come after the user has
// begun the next turn.
function newTurn(itemId) {
  const el = document.createElement("div");
  el.className = "turn";
  el.innerHTML = '<div class="user"></div><div class="reply"></div><div class="latency"></div>';
  $("turns").prepend(el);
  state.turn = { el, t0: null, marks: {}, reply: "" };
  if (itemId) state.byItem[itemId] = state.turn;
  return state.turn;
}

function turn() { return state.turn || newTurn(); }
function turnOfItem(id) { return state.byItem[id] || turn(); }
function turnOfResponse(id) { return state.byResponse[id] || turn(); }

function mark(t, name, label) {
  if (t.t0 === null || name in t.marks) return;
  t.marks[name] = performance.now() - t.t0;
  renderLatency(t, name, label, t.marks[name]);
}

function renderLatency(t, name, label, ms) {
  const chip = document.createElement("span");
  chip.dataset.stage = name;
  chip.innerHTML = `${label} <b>${Math.round(ms)} ms</b>`;
  t.el.querySelector(".latency").append(chip);
}

// --- credentials ---------------------------------------------------------------
// With VOICE_AUTH__MODE set, the page sends the key (or token) typed in (kept in this
// tab's sessionStorage, or ?key=) as a bearer on the API, and opens the WebSocket with
// a short-lived client secret made from it (browsers cannot set headers there).
function apiKey() {
  const given = new URLSearchParams(location.search).get("key") || $("key").value.trim();
  if (given) sessionStorage.setItem("voiceKey", given);
  return given || sessionStorage.getItem("voiceKey") || "";
}

function api(path, init = {}) {
  const key = apiKey();
  const headers = key ? { ...init.headers, Authorization: `Bearer ${key}` } : init.headers;
  return fetch(path, { ...init, headers });
}

async function socketProtocols() {
  if (!apiKey()) return ["realtime"];
  const made = await api("/v1/realtime/client_secrets", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{}",
  });
  if (!made.ok) throw new Error(`the API key was refused (${made.status})`);
  const secret = (await made.json()).value;
  return ["realtime", `openai-insecure-api-key.${secret}`];
}

// --- connecting ----------------------------------------------------------------
async function start() {
  state.mode = $("mode").value;
  state.ctx = new AudioContext({ sampleRate: RATE, latencyHint: "interactive" });
  await state.ctx.resume();
  await state.ctx.audioWorklet.addModule("/console/mic-worklet.js");
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
  });
  const source = state.ctx.createMediaStreamSource(stream);
  state.node = new AudioWorkletNode(state.ctx, "mic-capture");
  const mute = state.ctx.createGain();
  mute.gain.value = 0; // the worklet must be pulled, the mic must not be heard
  source.connect(state.node).connect(mute).connect(state.ctx.destination);
  state.node.port.onmessage = (e) => onMic(e.data);
  await connect();
}

async function connect() {
  const query = new URLSearchParams({ model: "console" });
  if (state.sessionId) query.set("session_id", state.sessionId);
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let protocols;
  try {
    protocols = await socketProtocols();
  } catch (err) {
    setStatus(`error: ${err.message}`, "error");
    return;
  }
  const ws = new WebSocket(`${scheme}://${location.host}/v1/realtime?${query}`, protocols);
  state.ws = ws;
  ws.onopen = () => {
    setStatus("connected", "live");
    send({ type: "session.update", session: sessionConfig() });
    $("talk").disabled = state.mode !== "push";
    $("talk").textContent = state.mode === "push" ? "Hold to talk" : "Listening (hands-free)";
    $("text").disabled = false;
    $("typed").querySelector("button").disabled = false;
    $("connect").textContent = "Stop";
    stats.state = "connected";
  };
  ws.onmessage = (e) => onEvent(JSON.parse(e.data));
  ws.onclose = (e) => {
    setStatus(`closed (${e.code}${e.reason ? ": " + e.reason : ""})`, e.code === 1000 ? "" : "error");
    stats.state = "closed";
    $("connect").textContent = "Start";
  };
}

function sessionConfig() {
  const detection = state.mode === "push" ? null : {
    type: "server_vad", silence_duration_ms: Number($("silence").value) || 500,
    create_response: true, interrupt_response: true,
  };
  return {
    type: "realtime",
    audio: { input: { format: { type: "audio/pcm", rate: RATE }, turn_detection: detection } },
  };
}

function send(event) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(event));
}

async function stop() {
  if (state.ws) state.ws.close(1000);
  stopPlayback();
  if (state.ctx) await state.ctx.close();
  state.ctx = null;
}

// --- the microphone ------------------------------------------------------------
function onMic(samples) {
  let peak = 0;
  for (const s of samples) peak = Math.max(peak, Math.abs(s));
  $("level").firstElementChild.style.width = `${Math.min(100, peak * 140)}%`;
  const joined = new Float32Array(state.pcm.length + samples.length);
  joined.set(state.pcm);
  joined.set(samples, state.pcm.length);
  let offset = 0;
  while (joined.length - offset >= FRAME) {
    const frame = joined.subarray(offset, offset + FRAME);
    offset += FRAME;
    if (state.mode === "handsfree" || state.talking) {
      send({ type: "input_audio_buffer.append", audio: toBase64(frame) });
    }
  }
  state.pcm = joined.slice(offset);
}

function toBase64(floats) {
  const bytes = new Uint8Array(floats.length * 2);
  const view = new DataView(bytes.buffer);
  floats.forEach((f, i) => view.setInt16(i * 2, Math.max(-1, Math.min(1, f)) * 32767, true));
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

// --- the reply's audio ----------------------------------------------------------
function play(b64, itemId, t) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const view = new DataView(bytes.buffer);
  const samples = new Float32Array(bytes.length / 2);
  for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(i * 2, true) / 32768;
  if (!samples.length || !state.ctx) return;
  const buffer = state.ctx.createBuffer(1, samples.length, RATE);
  buffer.copyToChannel(samples, 0);
  const source = state.ctx.createBufferSource();
  source.buffer = buffer;
  source.connect(state.ctx.destination);
  const at = Math.max(state.ctx.currentTime + 0.02, state.playhead);
  if (!state.playing || state.playing.itemId !== itemId) {
    state.playing = { itemId, turn: t, start: at, seconds: 0 };
  }
  source.start(at);
  state.playhead = at + buffer.duration;
  state.playing.seconds += buffer.duration;
  state.sources.push(source);
  source.onended = () => { state.sources = state.sources.filter((s) => s !== source); };
  stats.audioFramesScheduled += 1;
  stats.audioSecondsScheduled += buffer.duration;
}

function playedMs() {
  if (!state.playing || !state.ctx) return 0;
  const played = Math.min(state.playing.seconds, Math.max(0, state.ctx.currentTime - state.playing.start));
  return Math.floor(played * 1000);
}

function stillPlaying() {
  return state.ctx && state.playing && state.ctx.currentTime < state.playhead;
}

function stopPlayback() {
  for (const s of state.sources) { try { s.stop(); } catch (_) { /* ended */ } }
  state.sources = [];
  state.playhead = state.ctx ? state.ctx.currentTime : 0;
}

function interrupt() {
  // the user speaks over the reply: stop it here, and tell the server what was heard
  if (stillPlaying()) {
    send({ type: "conversation.item.truncate", item_id: state.playing.itemId, content_index: 0, audio_end_ms: playedMs() });
    state.playing.turn.el.querySelector(".reply").classList.add("cancelled");
  }
  stopPlayback();
  state.playing = null;
}

// --- the server's events ---------------------------------------------------------
function onEvent(e) {
  switch (e.type) {
    case "session.created":
      state.sessionId = e.session.id;
      setStatus(`session ${e.session.id.slice(0, 8)}`, "live");
      loadSessions();
      break;
    case "input_audio_buffer.speech_started":
      interrupt();
      newTurn(e.item_id);
      break;
    case "input_audio_buffer.speech_stopped": {
      const t = turnOfItem(e.item_id);
      t.t0 = performance.now();
      renderLatency(t, "vad", "VAD end", Number($("silence").value) || 500);
      break;
    }
    case "conversation.item.input_audio_transcription.completed": {
      const t = turnOfItem(e.item_id);
      t.el.querySelector(".user").textContent = e.transcript;
      stats.transcripts.push(e.transcript);
      mark(t, "stt", "STT");
      break;
    }
    case "conversation.item.input_audio_transcription.failed":
      turnOfItem(e.item_id).el.querySelector(".user").textContent = "(nothing heard)";
      break;
    case "response.created":
      state.responding = true;
      state.byResponse[e.response.id] = turn(); // it answers what the user just said
      break;
    case "response.output_audio_transcript.delta": {
      const t = turnOfResponse(e.response_id);
      t.reply += e.delta;
      t.el.querySelector(".reply").textContent = t.reply;
      mark(t, "token", "first token");
      break;
    }
    case "response.output_audio.delta": {
      const t = turnOfResponse(e.response_id);
      mark(t, "audio", "first audio");
      play(e.delta, e.item_id, t);
      break;
    }
    case "response.done": {
      const t = turnOfResponse(e.response.id);
      state.responding = false;
      stats.responses += 1;
      const reply = t.el.querySelector(".reply");
      if (e.response.status === "cancelled") {
        reply.classList.add("cancelled");
        if (!t.reply) reply.textContent = "(interrupted before it was heard)";
      } else if (e.response.status === "failed") {
        const error = e.response.status_details && e.response.status_details.error;
        reply.textContent = `(failed: ${error ? error.message : "?"})`;
      }
      stats.replies.push(t.reply);
      showThinking(t);
      break;
    }
    case "error":
      stats.errors.push(e.error);
      setStatus(`error: ${e.error.message}`, "error");
      break;
  }
}

async function showThinking(t) {
  // thinking is stored with the reply (never spoken): read it back from the history
  if (!state.sessionId) return;
  const page = await (await api(`/api/voice/sessions/${state.sessionId}/messages?limit=200`)).json();
  const last = page.items.filter((m) => m.role === "assistant").pop();
  if (last && last.thinking && !t.el.querySelector("details")) {
    const d = document.createElement("details");
    d.innerHTML = "<summary>thinking</summary>";
    d.append(document.createTextNode(last.thinking));
    t.el.querySelector(".reply").after(d);
  }
  loadMessages(state.sessionId, page);
}

// --- history ---------------------------------------------------------------------
async function loadSessions() {
  const reply = await api("/api/voice/sessions?limit=20");
  const list = $("sessions");
  list.innerHTML = "";
  if (!reply.ok) {  // 401 until an API key is given, when the worker asks for one
    list.innerHTML = `<li><small>sessions: ${reply.status} ${reply.statusText}</small></li>`;
    return;
  }
  const page = await reply.json();
  for (const s of page.items) {
    const li = document.createElement("li");
    li.className = s.id === state.sessionId ? "current" : "";
    li.innerHTML = `${s.title || "session"} <small>${new Date(s.created_at).toLocaleString()} · ${s.id.slice(0, 8)}</small>`;
    li.onclick = () => selectSession(s.id);
    list.append(li);
  }
  if (state.sessionId) loadMessages(state.sessionId);
}

async function loadMessages(sessionId, page) {
  page = page || await (await api(`/api/voice/sessions/${sessionId}/messages?limit=200`)).json();
  const box = $("messages");
  box.innerHTML = "";
  for (const m of page.items || []) {
    const div = document.createElement("div");
    div.className = `m ${m.role}`;
    div.textContent = m.text;
    box.append(div);
  }
}

async function selectSession(id) {
  // continue a stored session: a new connection that names it
  state.sessionId = id;
  if (state.ws) { state.ws.onclose = null; state.ws.close(1000); connect(); }
  loadSessions();
}

// --- controls ----------------------------------------------------------------------
$("connect").onclick = async () => {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) return stop();
  try { await start(); } catch (err) { setStatus(`cannot start: ${err.message}`, "error"); }
};
$("mode").onchange = () => {
  state.mode = $("mode").value;
  send({ type: "session.update", session: sessionConfig() });
  $("talk").disabled = state.mode !== "push" || !state.ws;
  $("talk").textContent = state.mode === "push" ? "Hold to talk" : "Listening (hands-free)";
};
$("silence").onchange = () => send({ type: "session.update", session: sessionConfig() });
$("talk").onpointerdown = () => {
  if (state.mode !== "push") return;
  interrupt();
  if (state.responding) send({ type: "response.cancel" });
  state.talking = true;
  $("talk").classList.add("on");
  send({ type: "input_audio_buffer.clear" });
  newTurn();
};
$("talk").onpointerup = $("talk").onpointerleave = () => {
  if (!state.talking) return;
  state.talking = false;
  $("talk").classList.remove("on");
  turn().t0 = performance.now();
  send({ type: "input_audio_buffer.commit" });
  send({ type: "response.create" });
};
$("typed").onsubmit = (e) => {
  e.preventDefault();
  const text = $("text").value.trim();
  if (!text) return;
  $("text").value = "";
  interrupt();
  const t = newTurn();
  t.el.querySelector(".user").textContent = text;
  t.t0 = performance.now();
  send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text }] } });
  send({ type: "response.create" });
};
$("refresh").onclick = loadSessions;
if (params.get("mode")) $("mode").value = params.get("mode");
if (params.get("silence")) $("silence").value = params.get("silence");
loadSessions();
