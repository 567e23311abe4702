/**
 * What a participant may do in a consult, from the grants of their join grant. The one place
 * that maps an action to the grant it needs (LiveKit-style grants, edumeet-style checks).
 */
import type { Grant, Grants } from '../protocol/vocabulary.js';
import { GatewayError } from '../errors.js';

/** Actions that need a grant. Anything else a joined participant may do. */
export type Action =
  'produce' | 'consume' | 'skipLobby' | 'seeLobby' | 'admit' | 'deny' | 'removePeer' | 'endConsult';

const needs: Record<Action, Grant> = {
  produce: 'publish',
  consume: 'subscribe',
  skipLobby: 'admit',
  seeLobby: 'admit',
  admit: 'admit',
  deny: 'admit',
  removePeer: 'admit',
  endConsult: 'end',
};

const verbs: Record<Action, string> = {
  produce: 'send media',
  consume: 'receive media',
  skipLobby: 'skip the lobby',
  seeLobby: 'see the lobby',
  admit: 'admit people',
  deny: 'deny people',
  removePeer: 'remove participants',
  endConsult: 'end the consult',
};

/** Whether grants allow the action. */
export function may(grants: Grants, action: Action): boolean {
  return grants[needs[action]];
}

/** Throws `forbidden` unless the grants allow the action. */
export function assertMay(grants: Grants, action: Action): void {
  if (!may(grants, action)) {
    throw new GatewayError(
      'forbidden',
      `your grant does not let you ${verbs[action]} in this consult`,
    );
  }
}
