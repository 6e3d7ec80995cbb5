// The browsers the tests run in: Debian's Chromium packages, never a downloaded browser.
//
// Most tests run in Chromium's headless shell (Debian's chromium-headless-shell; the browser
// Playwright itself runs headless tests in): the same Blink, V8 and WebRTC without the full
// browser around them. The suite took 168 s of two cores' time in it against 214 s in the
// full browser, and on a 2-core machine its CPU is what the suite waits for.
export const HEADLESS_SHELL = process.env.CHROMIUM_HEADLESS_SHELL_PATH || '/usr/lib/chromium/chromium-headless-shell';

// The full browser, for what the shell does not do as a person's Chrome does: notifications
// (it crashed on a push's), stable device ids (it gives the microphones new ids on every page,
// so a remembered pick is never found again), and judging an app installable.
export const FULL_CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
