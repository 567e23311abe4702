import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { WriteQueue } from '../../src/clinicalRecord/WriteQueue.js';

describe('WriteQueue', () => {
  it('reports a failed write, retries it, and keeps later writes in order behind it', async () => {
    vi.useFakeTimers();
    try {
      const logger = createLogger('silent');
      const errors = vi.spyOn(logger, 'error');
      const queue = new WriteQueue(logger);
      const written: string[] = [];
      let failuresLeft = 2;
      queue.write('a', () => written.push('a'));
      queue.write('b', () => {
        if (failuresLeft-- > 0) throw new Error('SQLITE_BUSY');
        written.push('b');
      });
      queue.write('c', () => written.push('c'));
      await vi.advanceTimersByTimeAsync(0);
      expect(written).toEqual(['a']);
      expect(queue.pending).toBe(2);
      expect(errors).toHaveBeenCalledTimes(1);
      await vi.advanceTimersByTimeAsync(1000);
      expect(written).toEqual(['a', 'b', 'c']);
      expect(queue.pending).toBe(0);
      expect(errors).toHaveBeenCalledTimes(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('flush() reports what still cannot be written', async () => {
    const queue = new WriteQueue(createLogger('silent'));
    queue.write('stuck', () => {
      throw new Error('disk full');
    });
    expect(await queue.flush()).toBe(1);
  });
});
