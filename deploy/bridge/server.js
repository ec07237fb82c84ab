// Example bridge server: the web app's Express backend forwards /api/voice/* (and the
// OpenAI-style /v1/audio/*) to the Python voice workers, streaming request and reply
// bodies (audio uploads, chunked audio, Server-Sent Events) without buffering them.
//
//   WORKER_URLS=http://10.0.0.5:8001,http://10.0.0.6:8001 PORT=3000 node server.js
//
// Workers are tried round robin; a worker that refuses the connection is skipped for
// this request. The body is piped only once the connection is up, so a refused
// connection has consumed nothing and the next worker gets the whole upload. When
// none answers, the client gets 502 (504 on timeout) with a JSON error.
//
// A request that carries an Idempotency-Key is safe to send twice (the workers keep
// its result), so its body is kept (up to RETRY_BODY_LIMIT_BYTES, 32 MiB) and, if its
// worker dies under it (the connection reset before any byte of the reply), it is sent
// once more, to the next worker. A turn or a session creation that comes without a key
// gets one of the bridge's own (a fresh UUID per incoming request, sent to the worker
// as Idempotency-Key; a client's own key always wins), so its retry is just as safe:
// the worker that gets it either runs it (the dead worker stored nothing), or answers
// with what the dead worker stored, or waits for a live one still running it.
//
// The realtime WebSocket (GET /v1/realtime, the OpenAI Realtime protocol) is passed
// through too: the handshake goes to the next worker that accepts the connection (its
// headers, Authorization and Sec-WebSocket-Protocol included, as the client sent them),
// the worker's answer (101, or a refusal such as 401) goes back as it is, and then the
// two sockets are joined; either side closing closes the other.
"use strict";

const crypto = require("node:crypto");
const http = require("node:http");
const { PassThrough } = require("node:stream");
const express = require("express");

const workers = (process.env.WORKER_URLS || "http://127.0.0.1:8001")
  .split(",")
  .map((u) => new URL(u.trim()));
const port = Number(process.env.PORT || 3000);
const timeoutMs = Number(process.env.UPSTREAM_TIMEOUT_MS || 120000);
const retryBodyLimit = Number(process.env.RETRY_BODY_LIMIT_BYTES || 32 * 1024 * 1024);
const RESET = new Set(["ECONNRESET", "EPIPE"]);
let next = 0;

// The body of a keyed request, whole (a Buffer), or, past the limit, a stream of it
// (then it cannot be sent twice).
function readBody(req, limit, done) {
  const chunks = [];
  let size = 0;
  const onData = (chunk) => {
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) {
      req.off("data", onData);
      req.off("end", onEnd);
      const rest = new PassThrough();
      for (const c of chunks) rest.write(c);
      req.pipe(rest);
      done(null, rest);
    }
  };
  const onEnd = () => done(Buffer.concat(chunks), null);
  req.on("data", onData);
  req.on("end", onEnd);
}

function forward(req, res, call) {
  const target = workers[(call.first + call.attempt) % workers.length];
  const headers = { ...req.headers, host: target.host };
  headers["x-request-id"] = call.requestId;
  headers["x-forwarded-for"] = req.socket.remoteAddress || "";
  if (call.body) {
    delete headers["transfer-encoding"];
    headers["content-length"] = String(call.body.length);
  }
  let answered = false;
  const upstream = http.request(
    {
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port,
      method: req.method,
      path: req.originalUrl,
      headers,
      timeout: timeoutMs,
    },
    (reply) => {
      answered = true;
      res.status(reply.statusCode || 502);
      for (const [name, value] of Object.entries(reply.headers)) {
        if (value !== undefined) res.setHeader(name, value);
      }
      // Server-Sent Events (a streamed turn): each event goes out as it comes.
      if (String(reply.headers["content-type"] || "").startsWith("text/event-stream")) {
        res.flushHeaders();
        reply.socket.setNoDelay(true);
      }
      reply.pipe(res);
    },
  );
  // A client that leaves before the reply is whole: drop the worker's request too, so
  // the worker cancels the turn (chat and synthesis stop, nothing is stored).
  res.on("close", () => {
    if (!res.writableFinished) upstream.destroy();
  });
  let piped = false;
  const pipeBody = () => {
    piped = true;
    if (call.body) upstream.end(call.body);
    else (call.stream || req).pipe(upstream);
  };
  upstream.on("socket", (socket) => {
    if (socket.connecting) socket.once("connect", pipeBody);
    else pipeBody();
  });
  upstream.on("timeout", () => upstream.destroy(new Error("upstream timed out")));
  upstream.on("error", (err) => {
    if (res.writableEnded || res.destroyed) return; // the client is gone
    const another = call.attempt + 1 < workers.length;
    if (err.code === "ECONNREFUSED" && (!piped || call.body) && another) {
      forward(req, res, { ...call, attempt: call.attempt + 1 });
      return;
    }
    // its worker died under it: a keyed request goes once more, to the next worker
    if (RESET.has(err.code) && !answered && call.body && !call.resent && workers.length > 1) {
      const key = String(req.headers["idempotency-key"] || "");
      const whose = key.startsWith("bridge-") ? "bridge" : "client";
      console.log(
        JSON.stringify({ msg: "retrying on another worker", request_id: call.requestId, key: whose }),
      );
      forward(req, res, { ...call, attempt: call.attempt + 1, resent: true });
      return;
    }
    if (!res.headersSent) {
      res.status(err.message === "upstream timed out" ? 504 : 502).json({
        error: { message: `voice worker unavailable: ${err.message}`, type: "bridge_error" },
      });
    } else {
      res.destroy(err);
    }
  });
}

// The status line and headers of a raw HTTP answer on a socket not (yet) upgraded.
function writeHead(socket, status, reason, headers) {
  const lines = [`HTTP/1.1 ${status} ${reason}`];
  for (let i = 0; i < headers.length; i += 2) lines.push(`${headers[i]}: ${headers[i + 1]}`);
  socket.write(lines.join("\r\n") + "\r\n\r\n");
}

function refuseUpgrade(socket, status, reason, message) {
  const body = JSON.stringify({ error: { message, type: "bridge_error" } });
  const length = String(Buffer.byteLength(body));
  const headers = ["Content-Type", "application/json", "Content-Length", length];
  writeHead(socket, status, reason, [...headers, "Connection", "close"]);
  socket.end(body);
}

function join(client, clientHead, upstream, upstreamHead) {
  if (upstreamHead.length) client.write(upstreamHead);
  if (clientHead.length) upstream.write(clientHead);
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  upstream.pipe(client).pipe(upstream);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  for (const socket of [client, upstream]) {
    socket.on("error", close);
    socket.on("close", close);
  }
}

function upgrade(req, socket, head, call) {
  const target = workers[(call.first + call.attempt) % workers.length];
  const headers = { ...req.headers, host: target.host };
  headers["x-request-id"] = call.requestId;
  headers["x-forwarded-for"] = req.socket.remoteAddress || "";
  const upstream = http.request({
    protocol: target.protocol,
    hostname: target.hostname,
    port: target.port,
    method: "GET",
    path: req.url,
    headers,
    timeout: timeoutMs,
  });
  upstream.on("upgrade", (reply, upstreamSocket, upstreamHead) => {
    upstreamSocket.setTimeout(0); // a conversation may be quiet for long
    writeHead(socket, 101, "Switching Protocols", reply.rawHeaders);
    join(socket, head, upstreamSocket, upstreamHead);
  });
  upstream.on("response", (reply) => {
    // the worker refused the handshake (401, 403, 404, 429 ...): its answer, as it is
    // the body is read decoded, so it goes out unchunked, ended by the close
    const rawHeaders = [];
    for (let i = 0; i < reply.rawHeaders.length; i += 2) {
      const name = reply.rawHeaders[i].toLowerCase();
      if (name !== "transfer-encoding" && name !== "connection") {
        rawHeaders.push(reply.rawHeaders[i], reply.rawHeaders[i + 1]);
      }
    }
    rawHeaders.push("Connection", "close");
    writeHead(socket, reply.statusCode, reply.statusMessage, rawHeaders);
    reply.pipe(socket);
  });
  upstream.on("timeout", () => upstream.destroy(new Error("upstream timed out")));
  upstream.on("error", (err) => {
    if (socket.destroyed) return;
    if (err.code === "ECONNREFUSED" && call.attempt + 1 < workers.length) {
      upgrade(req, socket, head, { ...call, attempt: call.attempt + 1 });
      return;
    }
    const timedOut = err.message === "upstream timed out";
    const [status, reason] = timedOut ? [504, "Gateway Timeout"] : [502, "Bad Gateway"];
    refuseUpgrade(socket, status, reason, `voice worker unavailable: ${err.message}`);
  });
  socket.on("error", () => upstream.destroy());
  upstream.end();
}

// Upgrades: the realtime WebSocket only.
function onUpgrade(req, socket, head) {
  const path = new URL(req.url, "http://bridge").pathname;
  if (path !== "/v1/realtime") {
    refuseUpgrade(socket, 404, "Not Found", `no WebSocket at ${path}`);
    return;
  }
  next = (next + 1) % workers.length;
  const requestId = req.headers["x-request-id"] || crypto.randomUUID();
  upgrade(req, socket, head, { first: next, attempt: 0, requestId });
}

// The requests a worker runs once per Idempotency-Key: a session's creation, a turn.
const KEYED = [/^\/api\/voice\/sessions\/?$/, /^\/api\/voice\/sessions\/[^/]+\/(text|messages)\/?$/];

function takesKey(req) {
  const path = req.originalUrl.split("?")[0];
  return req.method === "POST" && KEYED.some((pattern) => pattern.test(path));
}

const app = express();
app.disable("x-powered-by");
app.get("/healthz", (_req, res) => res.json({ status: "ok", workers: workers.map(String) }));
// /v1/realtime/client_secrets: a browser's short-lived token for the realtime WebSocket
app.all(["/api/voice/*", "/v1/audio/*", "/v1/realtime/*"], (req, res) => {
  next = (next + 1) % workers.length;
  const call = {
    first: next,
    attempt: 0,
    requestId: req.headers["x-request-id"] || crypto.randomUUID(),
    body: null,
    stream: null,
    resent: false,
  };
  if (!req.headers["idempotency-key"] && takesKey(req)) {
    req.headers["idempotency-key"] = `bridge-${crypto.randomUUID()}`;
  }
  if (!req.headers["idempotency-key"]) {
    forward(req, res, call);
    return;
  }
  readBody(req, retryBodyLimit, (body, stream) => forward(req, res, { ...call, body, stream }));
});

if (require.main === module) {
  const server = app.listen(port, "127.0.0.1", () => {
    console.log(JSON.stringify({ msg: "bridge listening", port, workers: workers.map(String) }));
  });
  server.on("upgrade", onUpgrade);
}

module.exports = { app, onUpgrade };
