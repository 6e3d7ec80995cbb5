// Starts the real `switchboard` binary (built by the test script) on a free loopback port
// with a throwaway data directory, and offers the helpers tests need around it.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect, Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';

const BIN = process.env.SWITCHBOARD_BIN;
const SITE_ROOT = process.env.SWITCHBOARD_SITE_ROOT;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export class Server {
  private constructor(
    readonly base: string,
    readonly dataDir: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly child: ChildProcess,
  ) {}

  /** `named`: reached as http://localhost:port rather than by address (passkeys need a
   * name for the site: browsers refuse them for bare IP addresses). */
  static async start(options: { named?: boolean; env?: Record<string, string> } = {}): Promise<Server> {
    if (!BIN || !SITE_ROOT) throw new Error('Run through scripts/test (SWITCHBOARD_BIN and SWITCHBOARD_SITE_ROOT unset)');
    const port = await freePort();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-e2e-'));
    const base = `http://${options.named ? 'localhost' : '127.0.0.1'}:${port}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...(options.named ? { SWITCHBOARD_PUBLIC_URL: base } : {}),
      ...(options.env || {}),
      SWITCHBOARD_LISTEN: `127.0.0.1:${port}`,
      SWITCHBOARD_DATA_DIR: dataDir,
      SWITCHBOARD_SITE_ROOT: SITE_ROOT,
      SWITCHBOARD_LOG: 'warn',
      DATABASE_URL: '',
    };
    delete env.DATABASE_URL;
    const child = spawn(BIN, [], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout?.resume();
    for (let i = 0; i < 100; i++) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        if (res.ok) return new Server(base, dataDir, env, child);
      } catch {
        /* not up yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill();
    throw new Error('switchboard did not become healthy');
  }

  async stop() {
    this.child.kill('SIGTERM');
    await new Promise((r) => this.child.once('exit', r));
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** A fresh one-time setup link, from the CLI (as an operator would get one). */
  setupLink(): string {
    const out = execFileSync(BIN!, ['admin', 'setup-link'], { env: this.env }).toString().trim();
    expect(out).toContain('/setup/');
    return out;
  }

  /** Creates an admin from the command line (as an operator can). */
  createAdmin(email: string, password: string) {
    execFileSync(BIN!, ['admin', 'create', '--email', email, '--name', 'Ada Admin'], {
      env: { ...this.env, SWITCHBOARD_ADMIN_PASSWORD: password },
    });
  }

  /** Runs SQL on the instance's SQLite file (tests use it only to move the clock). */
  sql(statement: string) {
    const db = path.join(this.dataDir, 'switchboard.db');
    execFileSync('python3', ['-c', 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()', db, statement]);
  }
}

/** What went wrong in each page's script (its uncaught errors and console errors), so a page
 * that never hydrates says why: a hydration panic is printed to the console, and nothing on
 * the page shows it. */
const pageErrors = new WeakMap<Page, string[]>();

/** Starts noting `page`'s script errors (once per page). */
export function watchErrors(page: Page): string[] {
  let errors = pageErrors.get(page);
  if (!errors) {
    const noted: string[] = [];
    page.on('pageerror', (e) => noted.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') noted.push(m.text());
    });
    pageErrors.set(page, noted);
    errors = noted;
  }
  return errors;
}

/** Headers for a request a test makes itself (`context.request`): each on a connection of
 * its own. The server closes a connection idle for 10 s, and Playwright's client, unlike a
 * browser, keeps idle ones for ever and never retries a request sent on one just as the
 * server closed it (a local run saw `socket hang up` on a POST once). */
export const ownConnection = { connection: 'close' };

/** In JavaScript mode, waits until the WASM app has hydrated the page. */
export async function ready(page: Page, js: boolean) {
  await page.waitForLoadState('load');
  if (!js) return;
  try {
    // The dev client is 6.6 MB of WASM fetched, compiled and run after `load`, on a 2-core
    // machine running two specs' servers and browsers at once. CI once saw a page not
    // hydrated after 10 s (a thread opened from a link; no cause shown, and 60 local runs,
    // some under a CPU hog, never did it): slowness gets 20 s, and a page that never
    // hydrates says why below.
    await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1, { timeout: 20_000 });
  } catch (e) {
    const said = pageErrors.get(page) ?? ['(errors not watched: open the page with open() or signIn())'];
    throw new Error(`${page.url()} did not hydrate. Its script errors: ${JSON.stringify(said, null, 2)}\n${e}`);
  }
}

/** axe-core must report no serious or critical violation. axe runs as page script, so
 * it checks the hydrated pages; the no-JavaScript pages are the same server-rendered HTML. */
export async function expectAccessible(page: Page) {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(', ')})`)).toEqual([]);
}

/** Signs in through the sign-in page and waits for the inbox. */
export async function signIn(page: Page, email: string, password: string) {
  watchErrors(page);
  await page.goto('/signin');
  await ready(page, true);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(/\/inbox$/);
  await ready(page, true);
}

export async function open(page: Page, url: string) {
  watchErrors(page);
  await page.goto(url);
  await ready(page, true);
}

/** Buys the first sandbox number offered in `areaCode`; returns it as the page shows it. */
export async function buyNumber(page: Page, areaCode: string): Promise<string> {
  await open(page, '/numbers');
  await page.getByLabel('Area code').fill(areaCode);
  // Search is a plain GET form: a new page. A Buy clicked before it hydrates is the
  // no-JavaScript post, which shows no status line (seen once in CI under load). Once, at
  // the start of a run with the machine busy, a Search click led to no new page in 10 s:
  // the search is made again (its page loaded again when the URL already has it).
  const buy = page.getByRole('button', { name: /^Buy / }).first();
  await expect(async () => {
    if (new URL(page.url()).searchParams.get('area_code') === areaCode) await page.reload();
    else await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL((url) => url.searchParams.get('area_code') === areaCode, { timeout: 10_000 });
    await ready(page, true);
    await expect(buy).toBeVisible({ timeout: 5_000 });
  }).toPass({ timeout: 40_000 });
  const label = (await buy.getAttribute('aria-label'))!.replace('Buy ', '');
  const yours = page.getByRole('list', { name: 'Your numbers' });
  // (The page has other status lines: the "Answering texts" card's, one per number.)
  const bought = page.getByRole('status').filter({ hasText: `${label} is yours` });
  // A click that took no effect (seen once in CI under load: no status, nothing bought,
  // the results redrawn under it) is made again, but never once the number is ours.
  await expect(async () => {
    const mine = (await yours.count()) > 0 ? (await yours.innerText()) : '';
    if (!(await bought.isVisible()) && !mine.includes(label)) await buy.click();
    await expect(bought).toBeVisible({ timeout: 5_000 });
  }).toPass({ timeout: 20_000 });
  await expect(yours).toContainText(label);
  return label;
}

/** Starts a conversation from the inbox's composer; leaves `page` on the new thread. */
export async function compose(page: Page, to: string, text: string) {
  await open(page, '/inbox');
  await page.getByText('New message').click();
  await page.getByLabel('To', { exact: true }).fill(to);
  await page.getByRole('textbox', { name: 'Message', exact: true }).fill(text);
  await expect(page.locator('#new-body-segments')).toContainText('1 segment');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page).toHaveURL(/\/inbox\/[0-9a-f-]+$/);
  // The thread may be a new page (the form's post): a link clicked on it before it hydrates
  // is a plain page load (seen once under load: messaging.spec's loading-state test got the
  // thread rendered whole by the server, so it never saw the loading state it checks).
  await ready(page, true);
}
