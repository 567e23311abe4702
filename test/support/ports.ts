/**
 * A media port base (RTC_PORT_BASE) for a test gateway, drawn below the kernel's ephemeral
 * range (32768–60999 here): there an outgoing connection of any test (a browser, PostgreSQL,
 * Redis, a socket client) can hold the very port, and the worker then fails to listen.
 * Gateways of files running in parallel can still draw the same port: starters that can, retry.
 */
export function mediaPortBase(): number {
  return 20000 + Math.floor(Math.random() * 12000);
}
