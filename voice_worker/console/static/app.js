// The Voice Engine console: the OpenAI Realtime protocol from a browser, against this
// worker, with the sessions API (/api/voice/sessions) for history. Two transports:
// - WebRTC (webrtc.js), the default: POST /v1/realtime/calls, the microphone as a track
//   with the browser's echo cancellation, noise suppression and gain control, the events
//   on the data channel, the reply played from the remote track by the <audio> element
//   (the server stops it on barge-in and keeps what was heard: no truncate from here).
// - the WebSocket (/v1/realtime), the fallback: the microphone runs through an
//   AudioWorklet in a 24 kHz AudioContext, is cut into 20 ms pcm16 frames and sent as
//   input_audio_buffer.append; the reply's pcm16 deltas are scheduled back to back on the
//   same context; speech over a reply stops it here and conversation.item.truncate tells
//   the server what was played.
// Which: the Transport control or ?transport=webrtc|websocket forces one; "auto" takes
// WebRTC where the browser has RTCPeerConnection and falls back to the WebSocket when the
// call fails (refused, or not connected within 10 s); the status line names the one used.
// Hands-free: semantic VAD (eagerness auto, or ?eagerness=) ends each turn; "server VAD"
// ends it after the silence window. Push to talk: hold the button; letting go commits
// and asks for a response.
"use strict";

const RATE = 24000;
const FRAME = 480; // 20 ms
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const MIC = { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true };
const LOUD = 0.01; // RMS above which the reply's track is heard as voice
const stats = (window.consoleStats = {
  audioFramesScheduled: 0, audioSecondsScheduled: 0, transcripts: [], replies: [], errors: [],
  responses: 0, state: "idle", transport: null, fallback: null, turnDetection: null,
  replyAudioSeconds: 0, replyPeak: 0,
});

const state = {
  ws: null, call: null, ctx: null, node: null, stream: null, timers: [],
  sessionId: params.get("session"), mode: "handsfree",
  talking: false, pcm: new Float32Array(0), playhead: 0, sources: [], playing: null,
  turn: null, responding: false, lastResponseId: null, byItem: {}, byResponse: {}, recorder: null,
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
  chip.innerHTML = ms === null ? label : `${label} <b>${Math.round(ms)} ms</b>`;
  t.el.querySelector(".latency").append(chip);
}

// --- credentials ---------------------------------------------------------------
// With VOICE_AUTH__MODE set, the page sends the key (or token) typed in (kept in this
// tab's sessionStorage, or ?key=) as a bearer on the API, and opens each realtime
// session (a call, or the WebSocket: browsers cannot set headers there) with a
// short-lived client secret made from it (one secret a session).
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

async function clientSecret() {
  if (!apiKey()) return "";
  const made = await api("/v1/realtime/client_secrets", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{}",
  });
  if (!made.ok) throw new Error(`the API key was refused (${made.status})`);
  return (await made.json()).value;
}

// --- connecting ----------------------------------------------------------------
async function start() {
  state.mode = $("mode").value;
  state.ctx = new AudioContext({ sampleRate: RATE, latencyHint: "interactive" });
  await state.ctx.resume();
  state.stream = await navigator.mediaDevices.getUserMedia({ audio: MIC });
  meter(state.stream, (rms, peak) => {
    $("level").firstElementChild.style.width = `${Math.min(100, peak * 140)}%`;
  });
  await connect();
}

function transportWanted() {
  return params.get("transport") || $("transport").value || "auto";
}

async function connect() {
  const query = new URLSearchParams({ model: "console" });
  if (state.sessionId) query.set("session_id", state.sessionId);
  const wanted = transportWanted();
  try {
    if (wanted !== "websocket") {
      if (typeof RTCPeerConnection === "undefined") {
        if (wanted === "webrtc") throw new Error("this browser has no WebRTC (RTCPeerConnection)");
        stats.fallback = "this browser has no RTCPeerConnection";
      } else {
        try {
          return await connectCall(query);
        } catch (err) {
          if (wanted === "webrtc") throw err;
          stats.fallback = err.message; // auto: the WebSocket instead
        }
      }
    }
    await connectSocket(query);
  } catch (err) {
    setStatus(`error: ${err.message}`, "error");
    stats.state = "failed";
  }
}

async function connectCall(query) {
  // the session id rides in the query, as for the WebSocket (a continued session)
  setStatus("calling (WebRTC)…");
  const call = await callOverWebRTC({
    stream: state.stream, credential: await clientSecret(), query, audio: $("reply"),
    onEvent, onEnd: (reason) => closed(reason, "error"),
  });
  state.call = call;
  listenToReply(call.remote);
  // push to talk: the (muted) track keeps coming between turns; the buffer is emptied
  // now and then so it never fills (the worker holds VOICE_REALTIME__MAX_BUFFER_SECONDS)
  state.timers.push(setInterval(() => {
    if (state.call === call && state.mode === "push" && !state.talking) {
      send({ type: "input_audio_buffer.clear" });
    }
  }, 30000));
  opened("WebRTC");
}

async function connectSocket(query) {
  if (!state.node) {
    await state.ctx.audioWorklet.addModule("/console/mic-worklet.js");
    const source = state.ctx.createMediaStreamSource(state.stream);
    state.node = new AudioWorkletNode(state.ctx, "mic-capture");
    const mute = state.ctx.createGain();
    mute.gain.value = 0; // the worklet must be pulled, the mic must not be heard
    source.connect(state.node).connect(mute).connect(state.ctx.destination);
    state.node.port.onmessage = (e) => onMic(e.data);
  }
  const secret = await clientSecret();
  const protocols = secret ? ["realtime", `openai-insecure-api-key.${secret}`] : ["realtime"];
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/v1/realtime?${query}`, protocols);
  state.ws = ws;
  ws.onopen = () => opened("WebSocket");
  ws.onmessage = (e) => onEvent(JSON.parse(e.data));
  ws.onclose = (e) => closed(`${e.code}${e.reason ? ": " + e.reason : ""}`, e.code === 1000 ? "" : "error");
}

function opened(transport) {
  stats.transport = transport;
  setStatus(`connected (${transport}${stats.fallback ? `; WebRTC: ${stats.fallback}` : ""})`, "live");
  send({ type: "session.update", session: sessionConfig() });
  micOn();
  $("talk").disabled = state.mode !== "push";
  $("talk").textContent = state.mode === "push" ? "Hold to talk" : "Listening (hands-free)";
  $("text").disabled = false;
  $("typed").querySelector("button").disabled = false;
  $("connect").textContent = "Stop";
  stats.state = "connected";
}

function closed(reason, kind) {
  setStatus(`closed (${reason})`, kind);
  stats.state = "closed";
  $("connect").textContent = "Start";
}

function connected() {
  return (state.call && !state.call.ended) || (state.ws && state.ws.readyState === WebSocket.OPEN);
}

function turnDetection() {
  if (state.mode === "push") return null;
  const respond = { create_response: true, interrupt_response: true };
  if (state.mode === "vad") {
    return { type: "server_vad", silence_duration_ms: Number($("silence").value) || 500, ...respond };
  }
  return { type: "semantic_vad", eagerness: params.get("eagerness") || "auto", ...respond };
}

function sessionConfig() {
  const input = { turn_detection: turnDetection() };
  if (!state.call) input.format = { type: "audio/pcm", rate: RATE }; // a call's is the track
  stats.requestedTurnDetection = input.turn_detection;
  return { type: "realtime", audio: { input } };
}

function send(event) {
  if (state.call) state.call.send(event);
  else if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(event));
}

async function hangUp() {
  const call = state.call;
  state.call = null;
  if (!call) return;
  call.ended = true;
  if (call.location) await api(call.location, { method: "DELETE" }).catch(() => {});
  call.close();
}

async function stop() {
  await hangUp();
  if (state.ws) state.ws.close(1000);
  state.ws = null;
  stopPlayback();
  for (const timer of state.timers) clearInterval(timer);
  state.timers = [];
  if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
  if (state.ctx) await state.ctx.close();
  state.ctx = state.node = state.stream = null;
  closed("stopped", "");
}

// --- levels: the microphone's, and the reply's on a call ------------------------------
function meter(stream, each) {
  const analyser = state.ctx.createAnalyser();
  analyser.fftSize = 1024;
  state.ctx.createMediaStreamSource(stream).connect(analyser); // not to the speakers
  const buffer = new Float32Array(analyser.fftSize);
  const every = 50;
  state.timers.push(setInterval(() => {
    analyser.getFloatTimeDomainData(buffer);
    let sum = 0, peak = 0;
    for (const s of buffer) { sum += s * s; peak = Math.max(peak, Math.abs(s)); }
    each(Math.sqrt(sum / buffer.length), peak, every / 1000);
  }, every));
}

function listenToReply(remote) {
  // the <audio> element plays the track (so echo cancellation knows it); an analyser
  // hears when the reply's voice arrives (the "first audio" mark) and how much played
  meter(remote, (rms, peak, seconds) => {
    if (rms < LOUD) return;
    stats.replyAudioSeconds += seconds;
    stats.replyPeak = Math.max(stats.replyPeak, peak);
    // the latest response's (its voice may still play after its response.done)
    if (state.lastResponseId) mark(turnOfResponse(state.lastResponseId), "audio", "first audio");
  });
  if (params.get("record") && window.MediaRecorder) {
    // ?record=1: what the remote track played, for tests (window.consoleRecording())
    const chunks = [];
    const recorder = new MediaRecorder(remote, { mimeType: "audio/webm;codecs=opus" });
    recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
    recorder.start(250);
    state.recorder = { recorder, chunks };
  }
}

window.consoleRecording = async () => {
  if (!state.recorder) return "";
  const { recorder, chunks } = state.recorder;
  if (recorder.state !== "inactive") {
    await new Promise((resolve) => { recorder.onstop = resolve; recorder.stop(); });
  }
  const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
};

function micOn() {
  // a call's track is the microphone: on hands-free, on in push to talk while held
  if (state.call) state.call.track.enabled = state.mode !== "push" || state.talking;
}

// --- the microphone ------------------------------------------------------------
function onMic(samples) {
  if (state.call) return; // a call sends the track itself
  const joined = new Float32Array(state.pcm.length + samples.length);
  joined.set(state.pcm);
  joined.set(samples, state.pcm.length);
  let offset = 0;
  while (joined.length - offset >= FRAME) {
    const frame = joined.subarray(offset, offset + FRAME);
    offset += FRAME;
    if (state.mode !== "push" || state.talking) {
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
  // (a call's server stops its track and keeps what was played)
  if (!state.call && stillPlaying()) {
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
      setStatus(`session ${e.session.id.slice(0, 8)} (${stats.transport || "connecting"})`, "live");
      loadSessions();
      break;
    case "session.updated":
      stats.turnDetection = e.session.audio && e.session.audio.input
        ? e.session.audio.input.turn_detection : null;
      break;
    case "input_audio_buffer.speech_started":
      interrupt();
      newTurn(e.item_id);
      break;
    case "input_audio_buffer.speech_stopped": {
      const t = turnOfItem(e.item_id);
      t.t0 = performance.now();
      if (state.mode === "vad") renderLatency(t, "vad", "VAD end", Number($("silence").value) || 500);
      else renderLatency(t, "vad", "turn end", null);
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
      state.lastResponseId = e.response.id;
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
  if (state.call) { await hangUp(); connect(); }
  else if (state.ws) { state.ws.onclose = null; state.ws.close(1000); connect(); }
  loadSessions();
}

// --- controls ----------------------------------------------------------------------
$("connect").onclick = async () => {
  if (state.ctx) return stop();
  try { await start(); } catch (err) { setStatus(`cannot start: ${err.message}`, "error"); }
};
$("mode").onchange = () => {
  state.mode = $("mode").value;
  send({ type: "session.update", session: sessionConfig() });
  micOn();
  $("talk").disabled = state.mode !== "push" || !connected();
  $("talk").textContent = state.mode === "push" ? "Hold to talk" : "Listening (hands-free)";
};
$("silence").onchange = () => send({ type: "session.update", session: sessionConfig() });
$("talk").onpointerdown = () => {
  if (state.mode !== "push") return;
  interrupt();
  if (state.responding) send({ type: "response.cancel" });
  state.talking = true;
  micOn();
  $("talk").classList.add("on");
  send({ type: "input_audio_buffer.clear" });
  newTurn();
};
$("talk").onpointerup = $("talk").onpointerleave = () => {
  if (!state.talking) return;
  state.talking = false;
  $("talk").classList.remove("on");
  turn().t0 = performance.now();
  const commit = () => {
    micOn();
    send({ type: "input_audio_buffer.commit" });
    send({ type: "response.create" });
  };
  if (state.call) setTimeout(commit, 150); // the track's last 100 ms are still on the way
  else commit();
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
if (params.get("transport")) $("transport").value = params.get("transport");
if (params.get("silence")) $("silence").value = params.get("silence");
loadSessions();
