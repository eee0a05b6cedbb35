// Raw Engine.IO/Socket.IO peers over the `ws` package, for what socket.io-client will not do
// (stop answering pings).
//
//   node raw.mjs <scenario> <url>

import WebSocket from "ws";
import { expect, log, main, report, sleep, within } from "./lib.mjs";

/**
 * A WebSocket peer that completes the Engine.IO handshake, joins `/` and then answers pings
 * (`2` -> `3`) only when `answerPings`.
 */
function rawPeer(url, answerPings) {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`);
  const peer = { ws, pings: 0, open: null, sid: null, connectedAt: 0, closedAt: 0 };
  peer.connected = new Promise((resolve, reject) => {
    ws.on("error", (e) => reject(new Error(`websocket error: ${e.message}`)));
    ws.on("message", (data, isBinary) => {
      const text = isBinary ? "" : data.toString();
      if (text.startsWith("0")) {
        peer.open = JSON.parse(text.slice(1));
        ws.send("40");
      } else if (text.startsWith("40")) {
        peer.sid = JSON.parse(text.slice(2)).sid;
        peer.connectedAt = Date.now();
        resolve(peer);
      } else if (text === "2") {
        peer.pings++;
        if (answerPings) ws.send("3");
      }
    });
  });
  peer.closed = new Promise((resolve) =>
    ws.on("close", (code) => {
      peer.closedAt = Date.now();
      resolve(code);
    }),
  );
  return peer;
}

async function pingTimeout(url) {
  const quiet = rawPeer(url, false);
  const lively = rawPeer(url, true);
  await within(Promise.all([quiet.connected, lively.connected]), 3000, "raw handshakes");
  const { pingInterval, pingTimeout, maxPayload } = quiet.open;
  expect(typeof pingInterval === "number" && typeof pingTimeout === "number", "no ping settings");
  report({ quiet: quiet.sid, lively: lively.sid, ping_interval: pingInterval, ping_timeout: pingTimeout, max_payload: maxPayload });

  const limit = 4 * (pingInterval + pingTimeout) + 1000;
  await within(quiet.closed, limit, "the server closing the peer that ignores pings");
  const closedAfter = quiet.closedAt - quiet.connectedAt;
  expect(quiet.pings >= 1, "the server closed the quiet peer before pinging it");
  report({ quiet_closed_after_ms: closedAfter, quiet_pings: quiet.pings });

  // The peer that answers stays through several more ping intervals.
  await sleep(3 * pingInterval);
  expect(lively.ws.readyState === WebSocket.OPEN, "the peer that answers pings was closed");
  expect(lively.pings >= 3, `the answering peer got ${lively.pings} pings`);
  report({ lively_pings: lively.pings });
  lively.ws.send("41");
  lively.ws.close();
  await within(lively.closed, 2000, "closing the lively peer");
  log("done");
}

main({ "ping-timeout": pingTimeout });
