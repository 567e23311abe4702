/**
 * Two gateway nodes (separate processes) on one Redis and one database: a node that stops, or
 * crashes and restarts, ends only the consults nobody else carries on; the participants on the
 * other node stay in their consult, and its room there keeps broadcasting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTwoNodes, type TwoNodes } from '../support/twoNodes.js';
import { timeUntil } from '../support/wait.js';

let cluster: TwoNodes;

beforeAll(async () => {
  cluster = await startTwoNodes();
}, 120_000);

afterAll(() => cluster?.stop(), 60_000);

describe('a node that stops or crashes', () => {
  it('stopping node A leaves node B’s participants of a shared consult in it, talking', async () => {
    const host = await cluster.user('doctor', 'Dr. Stopper');
    const [x, y] = [await cluster.user('admin', 'Admin X'), await cluster.user('admin', 'Admin Y')];
    const consultId = await cluster.consultHostedBy(host);
    await cluster.join(cluster.a, consultId, host);
    const onB1 = await cluster.join(cluster.b, consultId, x);
    const onB2 = await cluster.join(cluster.b, consultId, y);
    await cluster.a.stop();
    cluster.a = await cluster.startNode('a');
    // The consult goes on: still live, now node B's, and its room on B still broadcasts.
    const c = await cluster.services.consults.find(consultId);
    expect([c?.status, c?.nodeId]).toEqual(['live', 'b']);
    const heard = onB2.next<{ text: string }>('chatMessage');
    await onB1.call('chatMessage', { text: 'still here' });
    expect((await heard).text).toBe('still here');
    expect(onB1.received('consultEnded')).toEqual([]);
    expect(onB2.received('consultEnded')).toEqual([]);
  });

  it('a crashed node A, restarted, interrupts only the consults no other node carries', async () => {
    const host = await cluster.user('doctor', 'Dr. Crasher');
    const admin = await cluster.user('admin', 'Admin Survivor');
    const shared = await cluster.consultHostedBy(host);
    const alone = await cluster.consultHostedBy(host);
    await cluster.join(cluster.a, shared, host);
    await cluster.join(cluster.a, alone, host);
    const onB = await cluster.join(cluster.b, shared, admin);
    await timeUntil(
      async () => (await cluster.services.consults.find(alone))?.status === 'live',
      5000,
      'consult live',
    );
    await cluster.a.crash();
    cluster.a = await cluster.startNode('a');
    const [s, l] = [
      await cluster.services.consults.find(shared),
      await cluster.services.consults.find(alone),
    ];
    expect([s?.status, s?.nodeId]).toEqual(['live', 'b']);
    expect([l?.status, l?.endReason]).toEqual(['ended', 'interrupted']);
    expect(onB.received('consultEnded')).toEqual([]);
    expect(onB.socket.connected).toBe(true);
  });
});
