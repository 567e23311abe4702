/**
 * A host removing a participant seated on another node (ClusterPlacement.removeElsewhere), on
 * fakes of the directory, registry and bus: the seat is followed when it moves between the
 * lookup and the request, a dead node's entry is dropped, a silent node is an `unavailable`.
 */
import { describe, expect, it } from 'vitest';
import { ClusterPlacement } from '../../src/cluster/ClusterPlacement.js';
import type { ConsultDirectory } from '../../src/cluster/ConsultDirectory.js';
import type { NodeStatus } from '../../src/cluster/NodeRegistry.js';
import { GatewayError } from '../../src/errors.js';

type Answer = { removed: boolean } | Error;

/** A placement on node `a` whose seat `p1` is where `where` says, each request answered by `answer`. */
function setUp(opts: {
  where: () => string | undefined;
  alive?: string[];
  answer: (node: string) => Answer;
}) {
  const asked: string[] = [];
  const dropped: string[] = [];
  const directory = {
    nodeId: 'a',
    seatNode: async () => opts.where(),
    removeDeadSeat: async (_c: string, _p: string, node: string) => {
      dropped.push(node);
      return true;
    },
  } as unknown as ConsultDirectory;
  const alive = opts.alive ?? ['a', 'b', 'c'];
  const registry = {
    list: async () =>
      ['a', 'b', 'c'].map((id) => ({ id, alive: alive.includes(id) }) as NodeStatus),
  };
  const bus = {
    notify: async () => undefined,
    request: async (node: string, type: string, payload: unknown) => {
      asked.push(`${node} ${type} ${JSON.stringify(payload)}`);
      const a = opts.answer(node);
      if (a instanceof Error) throw a;
      return a;
    },
  };
  const placement = new ClusterPlacement(directory, registry, {} as never, bus as never);
  return { placement, asked, dropped };
}

describe('removing a seat held on another node', () => {
  it('asks its node, with the consult, the seat and the host words', async () => {
    const { placement, asked } = setUp({ where: () => 'b', answer: () => ({ removed: true }) });
    expect(await placement.removeElsewhere('c1', 'p1', 'wrong patient')).toBe('removed');
    expect(asked).toEqual([
      'b seat.remove {"consultId":"c1","peerId":"p1","message":"wrong patient"}',
    ]);
  });

  it('follows a seat that moved to a third node between the lookup and the request', async () => {
    let node = 'b';
    const { placement, asked } = setUp({
      where: () => node,
      answer: (n) => {
        if (n === 'b') node = 'c'; // b let it go to c (failover, drain) just before asking
        return { removed: n === 'c' };
      },
    });
    expect(await placement.removeElsewhere('c1', 'p1')).toBe('removed');
    expect(asked.map((a) => a.split(' ')[0])).toEqual(['b', 'c']);
  });

  it('says when the seat left meanwhile, or came here', async () => {
    let node: string | undefined = 'b';
    const left = setUp({
      where: () => node,
      answer: () => {
        node = undefined;
        return { removed: false };
      },
    });
    expect(await left.placement.removeElsewhere('c1', 'p1')).toBe('gone');
    const here = setUp({ where: () => 'a', answer: () => ({ removed: true }) });
    expect(await here.placement.removeElsewhere('c1', 'p1')).toBe('here');
    expect(here.asked).toEqual([]);
  });

  it("drops a dead node's seat without asking it; a silent live node is unavailable", async () => {
    const dead = setUp({ where: () => 'b', alive: ['a', 'c'], answer: () => ({ removed: true }) });
    expect(await dead.placement.removeElsewhere('c1', 'p1')).toBe('dead');
    expect(dead.dropped).toEqual(['b']);
    expect(dead.asked).toEqual([]);
    const silent = setUp({
      where: () => 'b',
      answer: () => new GatewayError('unavailable', 'node b did not answer seat.remove'),
    });
    await expect(silent.placement.removeElsewhere('c1', 'p1')).rejects.toMatchObject({
      code: 'unavailable',
      message: expect.stringContaining('cannot join again'),
    });
  });

  it('gives up on a seat that keeps moving, without a loop', async () => {
    let n = 0;
    const { placement, asked } = setUp({
      where: () => (n++ % 2 ? 'c' : 'b'),
      answer: () => ({ removed: false }),
    });
    await expect(placement.removeElsewhere('c1', 'p1')).rejects.toMatchObject({ code: 'conflict' });
    expect(asked).toHaveLength(3);
  });
});
