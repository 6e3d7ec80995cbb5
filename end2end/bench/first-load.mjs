// Benchmark (scripts/bench): bytes a first visit to a page costs over the wire, and what a
// second visit costs once the browser has the content-named client files cached.
// Usage: node first-load.mjs <base-url> <path>   (a running server, release build)
import { readFileSync } from 'node:fs';
import { chromium } from '@playwright/test';

const [base, path = '/signin'] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
// The service worker is kept out: it fetches navigations itself, so the page's own network
// log would show the HTML of a second visit as costing nothing. (It caches nothing else.)
const context = await browser.newContext({ serviceWorkers: 'block' });
const page = await context.newPage();
page.on('pageerror', (e) => console.log(`    page error: ${e.message}`));
const cdp = await context.newCDPSession(page);
await cdp.send('Network.enable');
let requests = new Map();
cdp.on('Network.responseReceived', (e) => {
  const cached = e.response.fromDiskCache || e.response.fromMemoryCache;
  requests.set(e.requestId, { url: e.response.url, status: e.response.status, cached, bytes: 0,
    encoding: e.response.headers['content-encoding'] || e.response.headers['Content-Encoding'] || '-' });
});
cdp.on('Network.loadingFinished', (e) => {
  const r = requests.get(e.requestId);
  if (r) r.bytes = e.encodedDataLength; // headers + body as they crossed the wire
});

async function visit(label) {
  requests = new Map();
  await page.goto(base + path, { waitUntil: 'networkidle' });
  // Hydrated: the client has run (the same check the e2e tests use). A release client that
  // does not start is a failure, not a figure.
  await page.waitForFunction(() => document.body.dataset.hydrated === 'true', null, { timeout: 15000 });
  await page.waitForTimeout(500);
  let total = 0;
  console.log(`    ${label}:`);
  for (const r of [...requests.values()].sort((a, b) => b.bytes - a.bytes)) {
    if (r.cached || r.bytes === 0) continue;
    total += r.bytes;
    const name = r.url.replace(base, '');
    console.log(`      ${String(r.bytes).padStart(9)} B  ${r.status} ${r.encoding.padEnd(3)} ${name}`);
  }
  const cached = [...requests.values()].filter((r) => r.cached || r.bytes === 0).length;
  console.log(`      ${String(total).padStart(9)} B  over the wire (${cached} answered from the cache)`);
  return total;
}

const first = await visit(`first visit to ${path}`);
const second = await visit(`second visit to ${path}`);
console.log(`    first visit ${first.toLocaleString('en')} B (target <= 250 KB); second visit ${second.toLocaleString('en')} B (target: only the HTML)`);

// The carrier calling SDKs are in neither: public/calls.js loads one when a phone-network
// call is answered or placed. What that costs, in a browser that never had it (each run a fresh
// context): its bytes over the wire and the time from import() to its module ready.
const { sdks } = JSON.parse(readFileSync(new URL('../../scripts/vendor-sdks.json', import.meta.url), 'utf8'));
for (const sdk of sdks) {
  const url = `/vendor/${sdk.as}`;
  const times = [];
  let bytes = 0;
  for (let run = 0; run < 7; run++) {
    const fresh = await browser.newContext({ serviceWorkers: 'block' });
    const tab = await fresh.newPage();
    await tab.goto(base + path, { waitUntil: 'networkidle' });
    const measured = await tab.evaluate(async (url) => {
      const started = performance.now();
      // A module is imported; a classic script (Twilio's) is added as calls.js adds it.
      if (url.endsWith('.mjs')) await import(url);
      else {
        await new Promise((resolve, reject) => {
          const script = document.createElement('script');
          script.src = url;
          script.onload = resolve;
          script.onerror = reject;
          document.head.append(script);
        });
      }
      const took = performance.now() - started;
      const entry = performance.getEntriesByName(new URL(url, location.href).href)[0];
      return { took, bytes: entry ? entry.transferSize : 0 };
    }, url);
    times.push(measured.took);
    bytes = measured.bytes;
    await fresh.close();
  }
  times.sort((a, b) => a - b);
  console.log(`    ${sdk.package} ${sdk.version} loaded when a call needs it: ${bytes.toLocaleString('en')} B over the wire, load p50 ${times[3].toFixed(0)} ms, max ${times[6].toFixed(0)} ms (7 fresh browsers)`);
}
await browser.close();
