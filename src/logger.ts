/** The process-wide structured logger (pino, JSON lines on stdout). */
import { pino } from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string, name = 'gateway'): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
