/** Issue 11 item 5: every refusal and device failure reads as plain words with a next step. */
import { describe, expect, it } from 'vitest';
import { DAMAGED_LINK, refusal } from '../../client/src/joinErrors.js';
import { mediaProblem } from '../../client/src/mediaErrors.js';
import { networkAdvice, networkVerdict } from '../../client/src/networkVerdict.js';

const jargon = /jwt|token|payload|NotAllowedError|NotReadableError|\d+ s\b/i;

describe('refusals of a link or grant', () => {
  it.each([
    ['unauthorized', 'jwt malformed', true],
    ['unauthorized', 'invalid token', true],
    ['unauthorized', 'jwt expired', true],
    ['forbidden', 'this consult is ended', true],
    ['forbidden', 'this consult is cancelled', true],
    ['forbidden', 'this invitation is no longer valid', true],
    ['forbidden', 'you are not a participant of this consult', true],
    ['conflict', 'this consult is ended', true],
  ])('%s "%s" is explained without jargon, final=%s', (code, message, final) => {
    const r = refusal(code, message);
    expect(r.final).toBe(final);
    expect(r.message).not.toMatch(jargon);
    expect(r.message).toMatch(/ask|contact|open it again/i);
  });

  it('keeps a wait for the waiting room retryable', () => {
    expect(refusal('conflict', 'the waiting room opens at 2026-11-30T10:00:00Z').final).toBe(false);
  });

  it('never shows "not a JWT" for a damaged link', () => {
    expect(DAMAGED_LINK.message).not.toMatch(jargon);
  });
});

describe('camera and microphone failures', () => {
  it.each([
    ['NotAllowedError', 'denied', /Allow/],
    ['NotReadableError', 'in_use', /another app/],
    ['NotFoundError', 'none', /No camera was found/],
    ['OverconstrainedError', 'none', /No camera was found/],
    ['TypeError', 'error', /Reload/],
  ])('%s → %s, with what to do', (name, problem, advice) => {
    const p = mediaProblem(new DOMException('x', name), 'camera');
    expect(p.problem).toBe(problem);
    expect(p.message).toMatch(advice);
    expect(p.message).not.toMatch(jargon);
  });
});

describe('the network verdict', () => {
  it('grades round trip and bitrate, and fails without figures', () => {
    expect(networkVerdict({ rttMs: 40, downKbps: 20_000, upKbps: 5_000 })).toBe('good');
    expect(networkVerdict({ rttMs: 250, downKbps: 20_000, upKbps: 5_000 })).toBe('fair');
    expect(networkVerdict({ rttMs: 40, downKbps: 800, upKbps: 5_000 })).toBe('fair');
    expect(networkVerdict({ rttMs: 40, downKbps: 20_000, upKbps: 100 })).toBe('poor');
    expect(networkVerdict({ rttMs: 900, downKbps: 20_000, upKbps: 5_000 })).toBe('poor');
    expect(networkVerdict({ rttMs: null, downKbps: null, upKbps: null })).toBe('failed');
  });
});

describe('the network advice', () => {
  const figures = { rttMs: 30, downKbps: 20_000, upKbps: 5_000 };
  const ports = { first: 40000, last: 40003 };

  it('says video goes over TCP and which UDP ports IT should allow', () => {
    const text = networkAdvice({ ...figures, verdict: 'fair', path: 'tcp' }, ports);
    expect(text).toMatch(/Video will go over TCP: it works but may stutter/);
    expect(text).toMatch(/allow UDP ports 40000–40003/);
  });

  it('says plainly when the media server cannot be reached, and what to do', () => {
    const text = networkAdvice(
      { ...figures, verdict: 'failed', path: 'https', media: 'unreachable' },
      { first: 40000, last: 40000 },
    );
    expect(text).toMatch(/cannot reach the media server \(UDP or TCP port 40000\)/);
    expect(text).toMatch(/Ask your IT team|mobile data/);
  });

  it('names the media path it measured, and says when it fell back to HTTPS', () => {
    expect(networkAdvice({ ...figures, verdict: 'good', path: 'udp' })).toMatch(
      /good for HD video \(round trip 30 ms to the media server over UDP/,
    );
    const fallback = networkAdvice({
      ...figures,
      verdict: 'good',
      path: 'https',
      media: 'refused',
    });
    expect(fallback).toMatch(/over HTTPS/);
    expect(fallback).toMatch(/media server itself could not be checked/);
  });
});
