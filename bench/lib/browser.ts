/** Debian's Chromium through playwright-core, as the tests launch it (one set of flags for both). */
export {
  CHROMIUM_PATH,
  launchBrowser,
  type TestBrowser as BenchBrowser,
} from '../../test/support/browser.js';
