// Benchmark (scripts/bench): how many times open tabs refetch while a burst of texts arrives.
// Five tabs show one conversation (the layout's unread count, the conversation list and the
// thread all load data); TEXTS inbound texts then arrive for that conversation through the
// Simulator. Counts each tab's server-function calls from the first text until all is quiet.
// Usage: node live-refetches.mjs <base-url>   (a running server with ada@example.com, admin)
import { chromium } from '@playwright/test';

const [base] = process.argv.slice(2);
const TEXTS = Number(process.env.LIVE_TEXTS || 1000);
const TABS = 5;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ baseURL: base });
const api = async (name, form) => {
  const res = await context.request.post(`/api/${name}`, { form, headers: { origin: base, accept: 'application/json' } });
  if (!res.ok()) throw new Error(`${name}: ${res.status()} ${await res.text()}`);
  return res.json().catch(() => null);
};
await api('sign_in', { email: 'ada@example.com', password: 'correct horse battery' });
const [offer] = await api('search_numbers', { country: 'US', sms: 'true' });
const number = await api('buy_number', { e164: offer.e164 });
const peer = '+12025550199';
await api('simulate_inbound', { from: peer, to: number.e164, body: 'first' });
const [conversation] = await api('conversations', {});

const calls = [];
const pages = [];
for (let i = 0; i < TABS; i++) {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`    tab ${i + 1}: ${e.message}`));
  await page.goto(`/inbox/${conversation.id}`);
  await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached' });
  calls.push(new Map());
  page.on('request', (req) => {
    const path = new URL(req.url()).pathname;
    if (counting && path.startsWith('/api/')) calls[i].set(path, (calls[i].get(path) || 0) + 1);
  });
  pages.push(page);
}
await new Promise((r) => setTimeout(r, 1500));
let counting = true;
const started = Date.now();
let next = 0;
async function sender() {
  while (next < TEXTS) {
    const n = next++;
    await api('simulate_inbound', { from: peer, to: number.e164, body: `burst ${n}` });
  }
}
await Promise.all(Array.from({ length: 16 }, sender));
const sent = Date.now() - started;
// Quiet: no tab has asked anything for 3 s.
let last = -1;
for (;;) {
  const total = calls.reduce((sum, m) => sum + [...m.values()].reduce((a, b) => a + b, 0), 0);
  if (total === last) break;
  last = total;
  await new Promise((r) => setTimeout(r, 3000));
}
// Every tab shows the last text.
for (const page of pages) await page.getByText(`burst ${TEXTS - 1}`, { exact: true }).first().waitFor({ timeout: 10000 });
const perTab = calls.map((m) => [...m.values()].reduce((a, b) => a + b, 0));
console.log(`    ${TEXTS} inbound texts in ${(sent / 1000).toFixed(1)} s to one conversation, ${TABS} tabs showing it:`);
calls.forEach((m, i) => console.log(`      tab ${i + 1}: ${perTab[i]} calls  ${[...m.entries()].map(([p, n]) => `${p.slice(5)} ${n}`).join(', ')}`));
perTab.sort((a, b) => a - b);
console.log(`    refetches per tab: median ${perTab[Math.floor(TABS / 2)]}, max ${perTab[TABS - 1]} (target <= 20)`);
await browser.close();
