/** The consult stage's layout: tiles fill the space they have; a spotlight takes most of it. */
import { describe, expect, it } from 'vitest';
import { gridBoxes, spotlightBoxes, type Box } from '../../client/src/stageLayout.js';

const inside = (b: Box, w: number, h: number) =>
  b.x >= -0.01 && b.y >= -0.01 && b.x + b.w <= w + 0.01 && b.y + b.h <= h + 0.01;
const overlap = (a: Box, b: Box) =>
  a.x < b.x + b.w - 0.01 &&
  b.x < a.x + a.w - 0.01 &&
  a.y < b.y + b.h - 0.01 &&
  b.y < a.y + a.h - 0.01;
const area = (boxes: Box[]) => boxes.reduce((n, b) => n + b.w * b.h, 0);

describe('gridBoxes', () => {
  it('stacks three tiles on a portrait phone and covers most of the stage', () => {
    const boxes = gridBoxes(3, 374, 700, 8);
    expect(new Set(boxes.map((b) => b.x)).size).toBe(1);
    expect(area(boxes) / (374 * 700)).toBeGreaterThan(0.6);
  });

  it('grows tiles with the stage and never overlaps or leaves it', () => {
    for (const [w, h] of [
      [1000, 600],
      [700, 900],
      [300, 200],
    ] as const) {
      for (let n = 1; n <= 9; n++) {
        const boxes = gridBoxes(n, w, h, 8);
        expect(boxes).toHaveLength(n);
        for (const b of boxes) expect(inside(b, w, h)).toBe(true);
        for (let i = 0; i < n; i++)
          for (let j = i + 1; j < n; j++) expect(overlap(boxes[i]!, boxes[j]!)).toBe(false);
      }
    }
    expect(gridBoxes(2, 2000, 1200, 8)[0]!.w).toBeGreaterThan(gridBoxes(2, 1000, 600, 8)[0]!.w);
  });
});

describe('spotlightBoxes', () => {
  it('gives the spotlight most of a landscape stage, the others a strip beside it', () => {
    const { spot, strip } = spotlightBoxes(2, 990, 620, 8);
    expect(spot.w).toBeGreaterThan(990 * 0.75);
    expect(strip.every((b) => b.x >= spot.x + spot.w)).toBe(true);
    for (const b of [spot, ...strip]) expect(inside(b, 990, 620)).toBe(true);
  });

  it('puts the strip below a portrait spotlight; alone, the spotlight is the whole stage', () => {
    const { spot, strip } = spotlightBoxes(3, 374, 700, 8);
    expect(strip.every((b) => b.y >= spot.y + spot.h)).toBe(true);
    for (const b of [spot, ...strip]) expect(inside(b, 374, 700)).toBe(true);
    expect(spotlightBoxes(0, 800, 600, 8).spot).toEqual({ x: 0, y: 0, w: 800, h: 600 });
  });
});
