// @jsxRuntime automatic
/**
 * How long changes take to travel, each way, over the last 15 minutes: one
 * point per second from `status.lagSeries`, redrawn with every status update.
 */
import { useDashboard } from '../state/context.tsx';
import { useWords } from '../i18n/language.tsx';
import type { Words } from '../i18n/words.ts';
import { linePath, niceCeiling, visiblePoints, WINDOW_MS, type ChartBox } from './lag-chart-geometry.ts';

const BOX: ChartBox = { width: 900, height: 260, left: 70, right: 16, top: 12, bottom: 30 };

export function LagChart() {
  const w = useWords();
  const status = useDashboard((s) => s.status);
  if (!status) return null;

  const series = status.lagSeries;
  const end = series.length > 0 ? Math.max(series[series.length - 1]!.t, Date.now()) : Date.now();
  const points = visiblePoints(series, end);
  const pushValues = points.flatMap((p) => (p.pushMs === null ? [] : [p.pushMs]));
  const pullValues = points.flatMap((p) => (p.pullMs === null ? [] : [p.pullMs]));
  const yMax = niceCeiling(Math.max(0, ...pushValues, ...pullValues));
  const lastWithData = [...points].reverse().find((p) => p.pushMs !== null || p.pullMs !== null);

  const plotHeight = BOX.height - BOX.top - BOX.bottom;
  const plotWidth = BOX.width - BOX.left - BOX.right;
  const gridValues = [0, yMax / 2, yMax];
  const timeLabels = [15, 10, 5, 0];

  const summary = lagSummary(w, status.lag.push.lastMs, status.lag.pull.lastMs);

  return (
    <section className="panel" aria-labelledby="lag-title">
      <h2 id="lag-title">{w.t('lag.title')}</h2>
      <p className="lag-summary" data-testid="lag-summary">
        {summary}
      </p>
      <figure
        className="lag-chart"
        data-testid="lag-chart"
        data-points={pushValues.length + pullValues.length}
        data-last-t={lastWithData?.t ?? ''}
      >
        <svg viewBox={`0 0 ${BOX.width} ${BOX.height}`} role="img" aria-label={w.t('lag.chart', { summary })}>
          {gridValues.map((value) => {
            const y = BOX.top + plotHeight - (value / yMax) * plotHeight;
            return (
              <g key={value} className="grid">
                <line x1={BOX.left} x2={BOX.width - BOX.right} y1={y} y2={y} />
                <text x={BOX.left - 8} y={y + 4} textAnchor="end">
                  {axisLabel(w, value)}
                </text>
              </g>
            );
          })}
          {timeLabels.map((minutes) => {
            const x = BOX.left + ((WINDOW_MS - minutes * 60_000) / WINDOW_MS) * plotWidth;
            return (
              <text key={minutes} className="axis" x={x} y={BOX.height - 8} textAnchor={minutes === 0 ? 'end' : 'middle'}>
                {minutes === 0 ? w.t('lag.axis.now') : w.t('lag.axis.minutes-ago', { minutes })}
              </text>
            );
          })}
          <path className="line line-push" d={linePath(points, (p) => p.pushMs, end, yMax, BOX)} data-testid="lag-line-push" />
          <path className="line line-pull" d={linePath(points, (p) => p.pullMs, end, yMax, BOX)} data-testid="lag-line-pull" />
        </svg>
        <figcaption className="legend">
          <span className="legend-item legend-push">{w.t('lag.legend.sent')}</span>
          <span className="legend-item legend-pull">{w.t('lag.legend.received')}</span>
          {pushValues.length + pullValues.length === 0 && <span>{w.t('lag.empty')}</span>}
        </figcaption>
      </figure>
    </section>
  );
}

/** Short labels for the vertical axis: "500 ms", "2.5 s" (SI symbols, the number in the till's locale). */
function axisLabel(w: Words, ms: number): string {
  return ms < 1000 ? `${w.number(ms)} ms` : `${w.number(ms / 1000)} s`;
}

export function lagSummary(w: Words, pushMs: number | null, pullMs: number | null): string {
  const sent = pushMs === null ? w.t('lag.sent.none') : w.t('lag.sent', { duration: w.duration(pushMs) });
  const received = pullMs === null ? w.t('lag.received.none') : w.t('lag.received', { duration: w.duration(pullMs) });
  return `${sent} ${received}`;
}
