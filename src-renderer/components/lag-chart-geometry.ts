/** Pure geometry for the lag chart: the visible window, the scale and the SVG paths. */
import type { LagPoint } from '../../src-shared/status.ts';

export const WINDOW_MS = 15 * 60_000;

export interface ChartBox {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** The smallest of 1, 2, 5 × 10ⁿ that is at least `value` (and at least 10 ms). */
export function niceCeiling(value: number): number {
  const target = Math.max(10, value);
  const magnitude = 10 ** Math.floor(Math.log10(target));
  for (const step of [1, 2, 5, 10]) {
    if (step * magnitude >= target) return step * magnitude;
  }
  return 10 * magnitude;
}

export function visiblePoints(series: LagPoint[], end: number): LagPoint[] {
  const start = end - WINDOW_MS;
  return series.filter((p) => p.t >= start && p.t <= end);
}

/** An SVG path through the non-null values; a gap (null) starts a new piece. */
export function linePath(points: LagPoint[], pick: (p: LagPoint) => number | null, end: number, yMax: number, box: ChartBox): string {
  const plotWidth = box.width - box.left - box.right;
  const plotHeight = box.height - box.top - box.bottom;
  const start = end - WINDOW_MS;
  let path = '';
  let penDown = false;
  for (const point of points) {
    const value = pick(point);
    if (value === null) {
      penDown = false;
      continue;
    }
    const x = box.left + ((point.t - start) / WINDOW_MS) * plotWidth;
    const y = box.top + plotHeight - (Math.min(value, yMax) / yMax) * plotHeight;
    path += `${penDown ? 'L' : 'M'}${x.toFixed(1)} ${y.toFixed(1)}`;
    penDown = true;
  }
  return path;
}
