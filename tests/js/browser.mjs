// A real browser against the chat demo: headless Chromium (Debian's package, driven by
// playwright-core) opens the page, which loads the local copy of the Socket.IO browser client
// served by the demo, and exchanges chat messages with a Node socket.io-client.
// Usage: node browser.mjs <url> [chromium path]; exits non-zero with a reason on failure.
import { chromium } from "playwright-core";
import { io } from "socket.io-client";

const url = process.argv[2];
const executablePath = process.argv[3] || "/usr/bin/chromium";
const fail = (msg) => {
  console.error("FAIL:", msg);
  process.exit(1);
};
setTimeout(() => fail("timed out"), 30000).unref();

const browser = await chromium.launch({
  executablePath,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const page = await browser.newPage();
  const requested = [];
  page.on("request", (r) => requested.push(r.url()));
  page.on("pageerror", (e) => fail("page error: " + e.message));
  await page.goto(url);
  await page.waitForFunction(() =>
    document.getElementById("status").textContent.startsWith("connected as "),
  );
  if (!requested.some((u) => u.endsWith("/socket.io/socket.io.min.js"))) {
    fail("the page did not load the locally served client: " + requested.join(", "));
  }
  if (requested.some((u) => !u.startsWith(url))) {
    fail("the page reached outside the demo server: " + requested.join(", "));
  }
  // Default transports: the browser upgrades from polling to WebSocket.
  await page.waitForFunction(() => socket.io.engine.transport.name === "websocket");

  const node = io(url, { transports: ["websocket"] });
  await new Promise((resolve, reject) => {
    node.on("connect", resolve);
    node.on("connect_error", reject);
  });
  const fromBrowser = new Promise((resolve) =>
    node.on("chat message", (m) => {
      if (m.name === "chromium") resolve(m);
    }),
  );
  await page.fill("#name", "chromium");
  await page.fill("#text", "hello from the browser ✓");
  await page.click("button");
  const m = await fromBrowser;
  if (m.text !== "hello from the browser ✓") fail("node got " + JSON.stringify(m));

  const ok = await node.timeout(5000).emitWithAck("chat message", {
    name: "node",
    text: "hello from node ✓",
  });
  if (ok !== true) fail("the server did not acknowledge: " + JSON.stringify(ok));
  await page.waitForFunction(() =>
    [...document.querySelectorAll("#messages li")].some(
      (li) => li.textContent === "node: hello from node ✓",
    ),
  );
  node.close();
  console.log("ok");
} finally {
  await browser.close();
}
process.exit(0);
