/** The waiting room's rules: one entry per identity, and a cooldown for denied guests. */
import { describe, expect, it } from 'vitest';
import { Lobby, type LobbyEntry } from '../../src/consults/Lobby.js';

const entry = (userId: string, socketId: string, extra: Partial<LobbyEntry> = {}): LobbyEntry => ({
  peerId: `peer-${socketId}`,
  userId,
  displayName: 'Pat Guest',
  role: 'guest',
  socketId,
  since: 0,
  ...extra,
});

describe('Lobby', () => {
  it('keeps one entry per identity: a second socket takes the first entry over', () => {
    const lobby = new Lobby();
    const waiting: string[] = [];
    lobby.on('waiting', (_c, e) => waiting.push(e.peerId));
    expect(lobby.add('c1', entry('guest:i:r', 's1', { since: 10 })).replaced).toBeUndefined();
    const { entry: merged, replaced } = lobby.add(
      'c1',
      entry('guest:i:r', 's2', { since: 20, alias: 'Someone' }),
    );
    expect(replaced?.socketId).toBe('s1');
    expect(merged).toMatchObject({
      peerId: 'peer-s1',
      socketId: 's2',
      since: 10,
      alias: 'Someone',
    });
    expect(lobby.list('c1')).toEqual([merged]);
    expect(waiting).toEqual(['peer-s1']);
    lobby.add('c1', entry('guest:i:other', 's3'));
    expect(lobby.list('c1')).toHaveLength(2);
  });

  it('a denied guest may not wait again until the cooldown passed; accounts may', () => {
    let now = 1_000;
    const lobby = new Lobby(300_000, () => now);
    lobby.add('c1', entry('guest:i:r', 's1'));
    lobby.deny('c1', 'peer-s1', 'no');
    expect(lobby.deniedFor('c1', 'guest:i:r')).toBe(300_000);
    now += 299_999;
    expect(lobby.deniedFor('c1', 'guest:i:r')).toBe(1);
    now += 1;
    expect(lobby.deniedFor('c1', 'guest:i:r')).toBe(0);

    lobby.add('c1', entry('user-1', 's2', { role: 'specialist' }));
    lobby.deny('c1', 'peer-s2', 'no');
    expect(lobby.deniedFor('c1', 'user-1')).toBe(0);
  });

  it('forgets denials when the consult is cleared', () => {
    const lobby = new Lobby(300_000);
    lobby.add('c1', entry('guest:i:r', 's1'));
    lobby.deny('c1', 'peer-s1', 'no');
    lobby.clear('c1');
    expect(lobby.deniedFor('c1', 'guest:i:r')).toBe(0);
  });
});
