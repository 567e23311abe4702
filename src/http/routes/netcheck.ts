/**
 * The pre-call network check's echo: a tiny ping (round trip), a download and an upload of a
 * bounded size (achievable bitrate), all over the same HTTPS connection the browser uses to
 * reach the gateway; and the media probe (`/netcheck/media`), a short-lived WebRTC transport
 * on the media port the browser sends a burst to (see sfu/MediaProbes). HTTP, not Socket.IO:
 * the host runs the check before any socket exists. Only the bearer of a join grant for a
 * joinable consult may use it, and each grant's subject gets a small budget of requests and
 * bytes per minute (and of probes, see MediaProbes).
 */
import { randomBytes } from 'node:crypto';
import express from 'express';
import type { Request, Router } from 'express';
import { z } from 'zod';
import type { JoinClaims } from '../../auth/tokens.js';
import { mediaProbeConnectRequest, mediaProbeDataRequest } from '../../protocol/rest.js';
import type { MediaProbes } from '../../sfu/MediaProbes.js';
import { fromClient } from '../../sfu/wire.js';
import { verifyJoinToken } from '../../auth/tokens.js';
import type { ConsultService } from '../../consults/ConsultService.js';
import { GatewayError } from '../../errors.js';
import type { RateLimits } from '../../signalling/rateLimit.js';

/** The largest download or upload one request may ask for. */
export const NETCHECK_MAX_BYTES = 1_000_000;
/** Per grant subject and minute: requests, and bytes moved (both directions). */
export const NETCHECK_REQUESTS_PER_MINUTE = 40;
export const NETCHECK_BYTES_PER_MINUTE = 6_000_000;

const payload = randomBytes(NETCHECK_MAX_BYTES);
const downloadQuery = z.object({
  bytes: z.coerce.number().int().min(1).max(NETCHECK_MAX_BYTES),
});

/**
 * Counts a request of `bytes` for `subject` in its one-minute window (on every node in a
 * cluster), or throws 429 when the minute's budget of requests or bytes is spent.
 */
async function takeBudget(limits: RateLimits, subject: string, bytes: number): Promise<void> {
  const taken = await limits.count(
    `netcheck\u0000${subject}`,
    60_000,
    [1, bytes],
    [NETCHECK_REQUESTS_PER_MINUTE, NETCHECK_BYTES_PER_MINUTE],
  );
  if (!taken.ok)
    throw new GatewayError(
      'too_many_requests',
      `too many network checks; wait ${taken.waitSeconds} s and check again`,
    );
}

/** Mounts /netcheck/ping, /netcheck/download, /netcheck/upload and /netcheck/media on `router`. */
export function netcheckRoutes(
  router: Router,
  jwtSecret: string,
  consults: ConsultService,
  limits: () => RateLimits,
  probes: MediaProbes,
  now: () => number = Date.now,
): void {
  const grant = async (req: Request, bytes: number): Promise<JoinClaims> => {
    const match = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    if (!match)
      throw new GatewayError('unauthorized', 'send your join grant: Authorization: Bearer <token>');
    const claims = verifyJoinToken(jwtSecret, match[1]);
    await consults.authorizeJoin(claims);
    await takeBudget(limits(), claims.sub, bytes);
    return claims;
  };

  router.get('/netcheck/ping', async (req, res) => {
    await grant(req, 0);
    res.json({ at: now() });
  });

  router.get('/netcheck/download', async (req, res) => {
    const q = downloadQuery.safeParse(req.query);
    if (!q.success) throw GatewayError.fromZod(q.error, 'query');
    await grant(req, q.data.bytes);
    res.type('application/octet-stream').send(payload.subarray(0, q.data.bytes));
  });

  const raw = express.raw({ type: 'application/octet-stream', limit: NETCHECK_MAX_BYTES });
  router.post('/netcheck/upload', async (req, res, next) => {
    // Checked before the body is read: a stranger cannot make the gateway take a megabyte.
    const declared = Number(req.get('content-length') ?? NaN);
    if (!Number.isInteger(declared) || declared < 1 || declared > NETCHECK_MAX_BYTES) {
      throw new GatewayError(
        'bad_request',
        `send between 1 and ${NETCHECK_MAX_BYTES} bytes as application/octet-stream`,
      );
    }
    await grant(req, declared);
    raw(req, res, (err?: unknown) => {
      if (err) return next(err);
      const body: unknown = req.body;
      if (!Buffer.isBuffer(body)) {
        return next(new GatewayError('bad_request', 'send the bytes as application/octet-stream'));
      }
      res.json({ bytes: body.length });
    });
  });

  // The media probe: open, DTLS, data channel, then the count (which closes it).
  router.post('/netcheck/media', async (req, res) => {
    const claims = await grant(req, 0);
    res.json(await probes.create(claims.sub));
  });
  router.post('/netcheck/media/:id/connect', async (req, res) => {
    const body = mediaProbeConnectRequest.safeParse(req.body);
    if (!body.success) throw GatewayError.fromZod(body.error, 'body');
    const claims = await grant(req, 0);
    await probes.connect(
      claims.sub,
      String(req.params.id),
      fromClient.dtlsParameters(body.data.dtlsParameters),
    );
    res.json({});
  });
  router.post('/netcheck/media/:id/data', async (req, res) => {
    const body = mediaProbeDataRequest.safeParse(req.body);
    if (!body.success) throw GatewayError.fromZod(body.error, 'body');
    const claims = await grant(req, 0);
    res.json(
      await probes.produceData(claims.sub, String(req.params.id), body.data.sctpStreamParameters),
    );
  });
  router.post('/netcheck/media/:id/result', async (req, res) => {
    const claims = await grant(req, 0);
    res.json(await probes.result(claims.sub, String(req.params.id)));
  });
}
