// The release as it is deployed: the one binary, copied alone into an empty folder and
// started there (no site folder, no SWITCHBOARD_SITE_ROOT), serves a client that hydrates
// and works: sign in, buy a number, send a text, see a reply arrive live.
// scripts/test's `release` stage builds it (scripts/run --release's build) and runs this.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect, test } from '@playwright/test';
import { buyNumber, compose, freePort, open, ownConnection, ready, signIn } from './server';

const RELEASE_BIN = process.env.SWITCHBOARD_RELEASE_BIN;
const PASSWORD = 'correct horse battery';

test.describe.configure({ mode: 'serial' });
let folder = '';
let child: ChildProcess | undefined;
let base = '';

test.beforeAll(async () => {
  if (!RELEASE_BIN) throw new Error('Run through scripts/test release (SWITCHBOARD_RELEASE_BIN unset)');
  folder = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-release-'));
  const bin = path.join(folder, 'switchboard');
  fs.copyFileSync(RELEASE_BIN, bin);
  fs.chmodSync(bin, 0o755);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // Nothing from the build tree: only what a fresh server would be given.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: folder,
    SWITCHBOARD_LISTEN: `127.0.0.1:${port}`,
    SWITCHBOARD_LOG: 'warn',
  };
  expect(execFileSync(bin, ['--version'], { cwd: folder, env }).toString()).toMatch(/^switchboard \d+\.\d+\.\d+ \(commit [0-9a-f]{7,}\)/);
  // Asked for the tests' cheap password hashing, a release binary still hashes at the real
  // cost: only debug builds honour the variable (app/domain/src/server/crypto.rs).
  execFileSync(bin, ['admin', 'create', '--email', 'ada@example.com', '--name', 'Ada'], {
    cwd: folder,
    env: { ...env, SWITCHBOARD_ADMIN_PASSWORD: PASSWORD, SWITCHBOARD_TEST_CHEAP_PASSWORD_HASHING: '1' },
  });
  const stored = execFileSync('python3', [
    '-c',
    'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT password_hash FROM users").fetchone()[0])',
    path.join(folder, 'data', 'switchboard.db'),
  ]).toString();
  expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  child = spawn(bin, [], { cwd: folder, env, stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // The folder holds the binary and the data it made, nothing else.
  expect(fs.readdirSync(folder).sort()).toEqual(['data', 'switchboard']);
});

test.afterAll(async () => {
  if (child) {
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }
  if (folder) fs.rmSync(folder, { recursive: true, force: true });
});

test('the release binary alone serves a working app', async ({ browser }) => {
  const ada = await browser.newContext({ baseURL: base });
  const page = await ada.newPage();
  // The built-in client: named by content, precompressed, revalidated for free.
  const wasm = await page.request.get('/hash.txt', { headers: ownConnection });
  expect(wasm.ok()).toBe(true);
  const hash = (await wasm.text()).match(/wasm: ([0-9a-f]{16})/)![1];
  const file = await page.request.get(`/pkg/switchboard.${hash}.wasm`, { headers: { ...ownConnection, 'accept-encoding': 'br' } });
  expect(file.headers()['content-encoding']).toBe('br');
  expect(file.headers()['cache-control']).toContain('immutable');
  const again = await page.request.get(`/pkg/switchboard.${hash}.wasm`, {
    headers: { ...ownConnection, 'accept-encoding': 'br', 'if-none-match': file.headers()['etag'] },
  });
  expect(again.status()).toBe(304);

  await signIn(page, 'ada@example.com', PASSWORD);
  expect(await buyNumber(page, '212')).toMatch(/^\(212\) 555-01\d\d$/);
  await compose(page, '(202) 555-0199', 'Hello from the release');
  await expect(page.locator('.bubble.out').last().locator('.ticks')).toHaveAttribute('aria-label', 'Delivered', {
    timeout: 10_000,
  });

  // A reply from outside (the Simulator) shows in the open thread without a reload.
  const admin = await ada.newPage();
  await open(admin, '/admin');
  await admin.getByLabel('From (any number)').fill('(202) 555-0199');
  await admin.getByLabel('Text', { exact: true }).fill('Reply to the release');
  await admin.getByRole('button', { name: 'Send inbound text' }).click();
  await expect(admin.getByRole('status').filter({ hasText: 'Delivered.' })).toBeVisible();
  await ready(page, true);
  await expect(page.locator('.bubble.in').last()).toContainText('Reply to the release');
  await ada.close();
});
