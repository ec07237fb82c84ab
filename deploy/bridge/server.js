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
"use strict";

const crypto = require("node:crypto");
const http = require("node:http");
const express = require("express");

const workers = (process.env.WORKER_URLS || "http://127.0.0.1:8001")
  .split(",")
  .map((u) => new URL(u.trim()));
const port = Number(process.env.PORT || 3000);
const timeoutMs = Number(process.env.UPSTREAM_TIMEOUT_MS || 120000);
let next = 0;

function forward(req, res, attempt = 0) {
  const target = workers[(next + attempt) % workers.length];
  const headers = { ...req.headers, host: target.host };
  headers["x-request-id"] = req.headers["x-request-id"] || crypto.randomUUID();
  headers["x-forwarded-for"] = req.socket.remoteAddress || "";
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
    req.pipe(upstream);
  };
  upstream.on("socket", (socket) => {
    if (socket.connecting) socket.once("connect", pipeBody);
    else pipeBody();
  });
  upstream.on("timeout", () => upstream.destroy(new Error("upstream timed out")));
  upstream.on("error", (err) => {
    if (err.code === "ECONNREFUSED" && !piped && attempt + 1 < workers.length) {
      forward(req, res, attempt + 1);
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

const app = express();
app.disable("x-powered-by");
app.get("/healthz", (_req, res) => res.json({ status: "ok", workers: workers.map(String) }));
app.all(["/api/voice/*", "/v1/audio/*"], (req, res) => {
  next = (next + 1) % workers.length;
  forward(req, res);
});

if (require.main === module) {
  app.listen(port, "127.0.0.1", () => {
    console.log(JSON.stringify({ msg: "bridge listening", port, workers: workers.map(String) }));
  });
}

module.exports = { app };
