/**
 * Where the consult stage puts its tiles: a grid with the largest tiles that fit, or one tile in
 * the spotlight with the others in a strip. Pure functions (the unit test runs them in Node).
 */

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Cells narrower or wider than this are trimmed (a camera is cropped, never stretched). */
const MIN_ASPECT = 3 / 4;
const MAX_ASPECT = 16 / 9;

/** The grid for `n` tiles in a `width`×`height` stage with the largest tiles, centred. */
export function gridBoxes(n: number, width: number, height: number, gap: number): Box[] {
  if (n <= 0 || width <= 0 || height <= 0) return [];
  let best = { cols: 1, rows: n, w: 0, h: 0 };
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    let w = (width - gap * (cols - 1)) / cols;
    let h = (height - gap * (rows - 1)) / rows;
    if (w / h > MAX_ASPECT) w = h * MAX_ASPECT;
    if (w / h < MIN_ASPECT) h = w / MIN_ASPECT;
    if (w > 0 && h > 0 && w * h > best.w * best.h) best = { cols, rows, w, h };
  }
  const { cols, rows, w, h } = best;
  const top = (height - (rows * h + gap * (rows - 1))) / 2;
  const boxes: Box[] = [];
  for (let i = 0; i < n; i++) {
    const row = Math.floor(i / cols);
    const inRow = row === rows - 1 ? n - row * cols : cols;
    const left = (width - (inRow * w + gap * (inRow - 1))) / 2;
    boxes.push({ x: left + (i % cols) * (w + gap), y: top + row * (h + gap), w, h });
  }
  return boxes;
}

/**
 * One tile takes the stage; the `others` go in a strip: on the right of a landscape stage,
 * below a portrait one.
 */
export function spotlightBoxes(
  others: number,
  width: number,
  height: number,
  gap: number,
): { spot: Box; strip: Box[] } {
  if (others === 0) return { spot: { x: 0, y: 0, w: width, h: height }, strip: [] };
  const strip: Box[] = [];
  if (width / height > 1.1) {
    const stripW = Math.min(Math.max(width * 0.18, 120), 220);
    const h = Math.min((stripW * 3) / 4, (height - gap * (others - 1)) / others);
    const w = Math.min(stripW, h * MAX_ASPECT);
    for (let i = 0; i < others; i++) {
      strip.push({ x: width - stripW + (stripW - w) / 2, y: i * (h + gap), w, h });
    }
    return { spot: { x: 0, y: 0, w: width - stripW - gap, h: height }, strip };
  }
  const stripH = Math.min(Math.max(height * 0.18, 90), 150);
  const w = Math.min((stripH * 4) / 3, (width - gap * (others - 1)) / others);
  const h = Math.min(stripH, w / MIN_ASPECT);
  const left = (width - (others * w + gap * (others - 1))) / 2;
  for (let i = 0; i < others; i++) {
    strip.push({ x: left + i * (w + gap), y: height - stripH + (stripH - h) / 2, w, h });
  }
  return { spot: { x: 0, y: 0, w: width, h: height - stripH - gap }, strip };
}
