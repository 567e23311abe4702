/** Joining a consult over real sockets as the host, or through the lobby as an admitted participant. */
import type { JoinResponse, WaitingResponse } from '../../src/protocol/index.js';
import { connectClient, type TestClient } from './client.js';
import type { TestGateway } from './gateway.js';

export interface Joined {
  client: TestClient;
  join: JoinResponse;
}

export async function joinAsHost(
  gw: TestGateway,
  consultId: string,
  token: string,
): Promise<Joined> {
  const client = await connectClient(gw.url, token);
  const join = await client.call<JoinResponse>('join', { consultId });
  if ((join as { waiting?: boolean }).waiting) throw new Error('the host was put in the lobby');
  return { client, join };
}

/** Joins, waits in the lobby, is admitted by `host`, and joins again. */
export async function joinAdmitted(
  gw: TestGateway,
  consultId: string,
  token: string,
  host: TestClient,
): Promise<Joined> {
  const client = await connectClient(gw.url, token);
  const lobbyChanged = host.next('lobbyChanged');
  const waiting = await client.call<WaitingResponse>('join', { consultId });
  if (!waiting.waiting) throw new Error('expected to wait in the lobby');
  await lobbyChanged;
  const admitted = client.next('admitted');
  await host.call('admit', { peerId: waiting.peerId });
  await admitted;
  const join = await client.call<JoinResponse>('join', { consultId });
  if (join.peerId !== waiting.peerId) throw new Error('the admitted peer changed its id');
  return { client, join };
}
