import { defineConfig } from '@playwright/test';
import { HEADLESS_SHELL } from './tests/browsers';

// Debian's Chromium (its headless shell; see tests/browsers.ts), never a downloaded browser. Each spec starts its own server(s) with a
// throwaway data directory (see tests/server.ts), so runs never share state.
export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  // Two spec files at once (each has its own server): the suite took 2.0 min on one
  // worker, 1.5 on two; three starve the calls' audio checks on a 2-core machine.
  workers: 2,
  retries: 0,
  reporter: [['list']],
  // `app`: the dev build the suite builds (scripts/test e2e); `release`: the deployable
  // binary on its own (scripts/test release).
  projects: [
    { name: 'app', testIgnore: /release\.spec\.ts/ },
    { name: 'release', testMatch: /release\.spec\.ts/ },
  ],
  use: {
    headless: true,
    launchOptions: {
      executablePath: HEADLESS_SHELL,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
    trace: 'off',
  },
});
