/** lazyChild: a per-connection logger that logs like parent.child(bindings), made only when used. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, lazyChild } from '../../src/logger.js';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger(level, 'test', stream);
  let children = 0;
  const child = logger.child.bind(logger);
  logger.child = ((...args: Parameters<typeof child>) => (children++, child(...args))) as never;
  return { lines, logger, children: () => children };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('lazyChild', () => {
  it('makes no child for calls below the level, and logs with its bindings (redacted) at it', async () => {
    const { lines, logger, children } = capture('info');
    const log = lazyChild(logger, { socketId: 's1', token: 'secret-grant' });
    log.debug({ event: 'join' }, 'refused');
    log.trace('nothing');
    expect(children()).toBe(0);
    log.warn({ event: 'join' }, 'flooded');
    log.info('again');
    await flush();
    expect(children()).toBe(1);
    expect(lines).toMatchObject([
      { level: 40, socketId: 's1', token: '[redacted]', event: 'join', msg: 'flooded' },
      { level: 30, socketId: 's1', msg: 'again' },
    ]);
  });
});
