// Loads the relay's worker entry (TypeScript) in a worker thread: tsx registers per thread.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
