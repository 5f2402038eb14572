import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export const PALETTE = ['#2f6fdb', '#e0702a', '#2a9d5c', '#c23b8a', '#8a6bd1', '#c9a227', '#1b9aaa', '#d1495b', '#6c757d', '#3d5a80'];

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color?: string;
  dash?: boolean;
}

export interface ChartProps {
  title: string;
  /** x values: seconds since the epoch. */
  x: number[];
  series: ChartSeries[];
  yFormat?: (value: number) => string;
  height?: number;
  theme: string;
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/** A uPlot line chart that follows its container's width and the colour theme. */
export function Chart({ title, x, series, yFormat, height = 240, theme }: ChartProps) {
  const container = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = container.current;
    if (!element) return undefined;
    const axisColor = cssVar('--muted');
    const gridColor = cssVar('--grid');
    const format = yFormat ?? ((value: number) => String(value));
    const plot = new uPlot(
      {
        width: Math.max(element.clientWidth, 280),
        height,
        legend: { show: true },
        cursor: { points: { size: 6 } },
        scales: { x: { time: true } },
        axes: [
          { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor } },
          { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor }, size: 70, values: (_u, values) => values.map(format) },
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
  }, [x, series, theme, height, yFormat]);
  return (
    <figure class="chart" aria-label={title}>
      <figcaption>{title}</figcaption>
      {x.length === 0 ? <p class="empty">No data in this period.</p> : <div ref={container} class="chart-canvas" data-points={x.length} />}
    </figure>
  );
}
