// The console's WebRTC transport, as OpenAI's browser clients call the Realtime API: the
// microphone goes as a track (with the browser's echo cancellation, noise suppression
// and gain control), the events both ways as JSON on the data channel "oai-events", the
// reply comes back as the remote track, played by an <audio> element (no audio deltas
// on the channel). The offer is POSTed to /v1/realtime/calls with the page's credential
// (a short-lived client secret when the worker asks for credentials), the answer is the
// body. `callOverWebRTC` resolves once the channel is open and rejects otherwise (the
// page then falls back to the WebSocket: app.js).
"use strict";

const CHANNEL = "oai-events";

function iceGathered(pc, ms) {
  // the worker (aiortc) takes no trickled candidates: the offer carries them all
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, ms);
  });
}

function channelOpen(channel, pc, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not connected within ${ms / 1000} s`)), ms);
    channel.addEventListener("open", () => { clearTimeout(timer); resolve(); });
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "failed") {
        clearTimeout(timer);
        reject(new Error("ICE failed (no route to the worker)"));
      }
    });
  });
}

async function refusal(reply) {
  try {
    const body = await reply.json();
    return (body.error && body.error.message) || reply.statusText;
  } catch (_) {
    return reply.statusText;
  }
}

// A call: {send(event), close(), location, remote (MediaStream), track (the mic's)}.
// `onEvent(event)` for each server event; `onEnd(reason)` once, when it ends after opening.
async function callOverWebRTC({ stream, credential, query, audio, onEvent, onEnd, timeoutMs = 10000 }) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  const track = stream.getAudioTracks()[0];
  pc.addTrack(track, stream);
  const channel = pc.createDataChannel(CHANNEL);
  const remote = new Promise((resolve) => {
    pc.ontrack = (e) => resolve(e.streams[0] || new MediaStream([e.track]));
  });
  channel.onmessage = (e) => onEvent(JSON.parse(e.data));
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc, 3000);
    const headers = { "Content-Type": "application/sdp" };
    if (credential) headers.Authorization = `Bearer ${credential}`;
    const reply = await fetch(`/v1/realtime/calls?${query}`, {
      method: "POST", body: pc.localDescription.sdp, headers,
    });
    if (reply.status !== 201) throw new Error(`the call was refused (${reply.status}: ${await refusal(reply)})`);
    const location = reply.headers.get("Location");
    await pc.setRemoteDescription({ type: "answer", sdp: await reply.text() });
    await channelOpen(channel, pc, timeoutMs);
    const call = {
      pc, channel, location, track, remote: await remote, ended: false,
      send(event) { if (channel.readyState === "open") channel.send(JSON.stringify(event)); },
      close() { call.ended = true; channel.close(); pc.close(); },
    };
    const end = (reason) => { if (!call.ended) { call.ended = true; onEnd(reason); } };
    channel.onclose = () => end("the call ended");
    pc.onconnectionstatechange = () => {
      if (["failed", "closed"].includes(pc.connectionState)) end(`the call ${pc.connectionState}`);
    };
    audio.srcObject = call.remote;
    audio.play().catch(() => { /* autoplay refused: the user's next click plays it */ });
    return call;
  } catch (err) {
    pc.close();
    throw err;
  }
}
