// Drives one scenario of page/entry.js in headless Debian Chromium (playwright-core, no
// browser download) and prints, as one JSON line on stdout, every request the page made to
// the daemon's /track endpoint: URL, method, resource type, request headers, body, and the
// daemon's status and response headers as the browser saw them.
//
//   node driver.mjs '{"scenario":"main","cfg":{"host":"http://127.0.0.1:PORT","logstore":"..."}}'
//
// The page is served by a static server started here on another 127.0.0.1 port, so the
// beacons are cross-origin, as on a real site. CHROMIUM (default /usr/bin/chromium) picks
// the browser.
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = JSON.parse(process.argv[2]);
const SETTLE_TIMEOUT_MS = arg.timeoutMs ?? 20000;

const files = {
  '/': ['page/index.html', 'text/html; charset=utf-8'],
  '/index.html': ['page/index.html', 'text/html; charset=utf-8'],
  '/bundle.js': ['dist/bundle.js', 'text/javascript; charset=utf-8'],
};
const server = http.createServer((req, res) => {
  const file = files[new URL(req.url, 'http://x').pathname];
  if (req.url === '/favicon.ico') {
    res.writeHead(204).end();
    return;
  }
  if (!file) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': file[1], 'cache-control': 'no-store' });
  res.end(fs.readFileSync(path.join(here, file[0])));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const pageOrigin = `http://127.0.0.1:${server.address().port}`;

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'logtide-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});

const out = { pageOrigin, browserVersion: context.browser()?.version() ?? null, requests: [], console: [], pageErrors: [] };
const pending = new Set();
let settledCount = 0;
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => out.console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => out.pageErrors.push(String(e)));
  page.on('request', (req) => {
    if (!new URL(req.url()).pathname.includes('/track')) return;
    const entry = { url: req.url(), method: req.method(), resourceType: req.resourceType(), done: false };
    out.requests.push(entry);
    const p = (async () => {
      entry.headers = await req.allHeaders();
      entry.body = req.postData();
      const resp = await req.response().catch(() => null);
      if (resp) {
        entry.status = resp.status();
        entry.responseHeaders = await resp.allHeaders();
        entry.responseBody = (await resp.text().catch(() => null));
      } else {
        entry.failure = req.failure()?.errorText ?? 'no response';
      }
      entry.done = true;
      settledCount += 1;
    })();
    pending.add(p);
  });

  await page.goto(pageOrigin + '/index.html');
  await page.waitForFunction(() => window.__ready === true);
  const expected = await page.evaluate(([name, cfg]) => window.runScenario(name, cfg), [arg.scenario, arg.cfg]);
  out.expectedRequests = expected;
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  while (Date.now() < deadline && (out.requests.length < expected || settledCount < out.requests.length)) {
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 300)); // catch any request beyond the expected ones
  await Promise.race([Promise.allSettled([...pending]), new Promise((r) => setTimeout(r, 2000))]);
} finally {
  await context.close();
  server.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(out) + '\n');
