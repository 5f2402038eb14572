import { useEffect, useMemo, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export const PALETTE = ['#2f6fdb', '#e0702a', '#2a9d5c', '#c23b8a', '#8a6bd1', '#c9a227', '#1b9aaa', '#d1495b', '#6c757d', '#3d5a80'];

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color?: string;
  dash?: boolean;
  /**
   * A reference level (a budget), not a measurement: drawn on the chart's scale only when it is
   * within REFERENCE_REACH of the measured peak, else named as text under the chart, so a $2,000
   * budget cannot flatten a $0.19 spend line.
   */
  reference?: boolean;
}

/** A reference line is drawn when it is at most this many times the measured peak. */
export const REFERENCE_REACH = 3;

export interface ChartProps {
  title: string;
  /** x values: seconds since the epoch. */
  x: number[];
  series: ChartSeries[];
  yFormat?: (value: number) => string;
  height?: number;
  theme: string;
}

/** Splits the series into the ones plotted and the references too far above the measured peak to share its scale. */
export function splitReferences(series: ChartSeries[]): { plotted: ChartSeries[]; offScale: { series: ChartSeries; level: number; peak: number }[] } {
  const peakOf = (item: ChartSeries) => Math.max(0, ...item.values.filter((value): value is number => value !== null));
  const peak = Math.max(0, ...series.filter((item) => !item.reference).map(peakOf));
  const plotted: ChartSeries[] = [];
  const offScale: { series: ChartSeries; level: number; peak: number }[] = [];
  for (const item of series) {
    const level = peakOf(item);
    if (item.reference && peak > 0 && level > peak * REFERENCE_REACH) offScale.push({ series: item, level, peak });
    else plotted.push(item);
  }
  return { plotted, offScale };
}

/** The y axis as wide as its longest label (uPlot's fixed default cut "$" off "$2,000.00"). */
function fittedAxisSize(self: uPlot, values: string[] | null, axisIndex: number, cycle: number): number {
  const axis = self.axes[axisIndex] as uPlot.Axis & { _size?: number; font?: [string, number, number] };
  if (cycle > 1 && axis._size) return axis._size;
  const longest = (values ?? []).reduce((widest, value) => (String(value).length > widest.length ? String(value) : widest), '');
  self.ctx.font = axis.font?.[0] ?? '12px system-ui';
  const labelWidth = Math.ceil(self.ctx.measureText(longest).width / devicePixelRatio);
  const size = labelWidth + Number((axis.ticks as { size?: number } | undefined)?.size ?? 10) + Number(axis.gap ?? 5) + 8;
  self.root.dataset.yLabelPx = String(labelWidth);
  self.root.dataset.yAxisPx = String(size);
  return size;
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/** A uPlot line chart that follows its container's width and the colour theme. */
// Over 60 lines: one uPlot configuration object (axes, series, hooks) in its effect, read against uPlot's options.
export function Chart({ title, x, series: allSeries, yFormat, height = 240, theme }: ChartProps) {
  const container = useRef<HTMLDivElement>(null);
  const { plotted: series, offScale } = useMemo(() => splitReferences(allSeries), [allSeries]);
  const format = yFormat ?? ((value: number) => String(value));
  useEffect(() => {
    const element = container.current;
    if (!element) return undefined;
    const axisColor = cssVar('--muted');
    const gridColor = cssVar('--grid');
    const plot = new uPlot(
      {
        width: Math.max(element.clientWidth, 280),
        height,
        legend: { show: true },
        // Exposes the scale top and the axis fit to the browser tests (fittedAxisSize notes them on the uPlot root).
        hooks: { draw: [(self) => void Object.assign(element.dataset, { yMax: String(self.scales.y?.max ?? ''), yLabelPx: self.root.dataset.yLabelPx ?? '', yAxisPx: self.root.dataset.yAxisPx ?? '' })] },
        cursor: { points: { size: 6 } },
        scales: { x: { time: true } },
        axes: [
          { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor } },
          { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor }, size: fittedAxisSize, values: (_u, values) => values.map(format) },
        ],
        series: [
          {},
          ...series.map((item, index) => ({
            label: item.label,
            stroke: item.color ?? PALETTE[index % PALETTE.length],
            width: item.dash ? 1.5 : 2,
            dash: item.dash ? [6, 4] : undefined,
            spanGaps: true,
            points: { show: x.length < 40 },
            value: (_u: uPlot, value: number | null) => (value === null || value === undefined ? '—' : format(value)),
          })),
        ],
      },
      [x, ...series.map((item) => item.values)] as uPlot.AlignedData,
      element,
    );
    const observer = new ResizeObserver(() => plot.setSize({ width: Math.max(element.clientWidth, 280), height }));
    observer.observe(element);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [x, series, theme, height, yFormat]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <figure class="chart" aria-label={title}>
      <figcaption>{title}</figcaption>
      {x.length === 0 ? <p class="empty">No data in this period.</p> : <div ref={container} class="chart-canvas" data-points={x.length} />}
      {x.length > 0 && offScale.length > 0 ? (
        <ul class="off-scale" aria-label="off-scale references">
          {offScale.map(({ series: item, level, peak }) => (
            <li>
              <span class="off-scale-marker" style={{ borderColor: item.color ?? PALETTE[0] }} /> {item.label}: {format(level)}, above this scale (peak {format(peak)}, {((peak / level) * 100).toFixed(peak / level < 0.01 ? 2 : 1)}% of it)
            </li>
          ))}
        </ul>
      ) : null}
    </figure>
  );
}
