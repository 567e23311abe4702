/**
 * The protocol between the browser client and the gateway: Socket.IO events, REST schemas and
 * the shared vocabulary. The client imports only this module (type-only where it can).
 */
export * from './errors.js';
export * from './events.js';
export * from './limits.js';
export * from './payloads.js';
export * from './requests.js';
export * from './rest.js';
export * from './roles.js';
export * from './rtp.js';
export * from './serverEvents.js';
export * from './vocabulary.js';
