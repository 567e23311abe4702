/** The impairment relay: a userspace UDP/TCP proxy that degrades media links for tests and benchmarks. */
export { ImpairmentRelay } from './ImpairmentRelay.js';
export { ThreadedRelay, type ThreadScope } from './ThreadedRelay.js';
export type {
  FlowInfo,
  FlowScope,
  FlowStats,
  RelayOptions,
  RelayPatch,
} from './ImpairmentRelay.js';
export type { LinkStats } from './link.js';
export { frame, FrameSplitter, serverUfrag, stunBindingRequest, stunUsername } from './framing.js';
export { burstLoss, DEFAULT_LINK, defaultSeed, deriveSeed, seededRandom } from './settings.js';
export { Link } from './link.js';
export type { LinkOptions } from './link.js';
export type { BurstLoss, LinkSettings } from './settings.js';
