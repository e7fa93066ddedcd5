// cairn catalog: Chart, a small SVG bar or line chart for benchmark results and stats.
//
// Data: `labels` (x categories) and `series` (a list of {name, values}), each a literal or a
// data binding, so the agent can stream new points with `updateDataModel` and the chart redraws.
// Drawn as inline SVG by Lit templates: text and numbers only, no HTML from the agent.
import { html, svg, css, nothing } from 'lit';
import { z } from 'zod';
import { A2uiLitElement, CommonSchemas } from '@a2ui/web_core/v0_9';

export const ChartApi = {
  name: 'Chart',
  schema: z.object({
    accessibility: CommonSchemas.AccessibilityAttributes.optional(),
    weight: z.number().optional(),
    variant: z.enum(['bar', 'line']).default('bar').optional(),
    title: CommonSchemas.DynamicString.optional(),
    labels: CommonSchemas.DynamicValue,
    series: CommonSchemas.DynamicValue,
    unit: CommonSchemas.DynamicString.optional(),
    height: z.number().min(80).max(1200).optional(),
  }),
};

const PALETTE = ['#2f6fdf', '#e0703a', '#3a9b5c', '#9a4fd0', '#c23b5a', '#6b7480'];
const W = 480;
const PAD = { left: 48, right: 12, top: 12, bottom: 40 };

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function fmt(v) {
  if (Math.abs(v) >= 1000) return v.toLocaleString(undefined, { maximumFractionDigits: 0 });
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

export class CairnChart extends A2uiLitElement {
  constructor() {
    super();
    this.api = ChartApi;
  }

  render() {
    const props = this.controller?.props;
    if (!props) return nothing;
    const labels = Array.isArray(props.labels) ? props.labels.map(l => String(l ?? '')) : [];
    const series = (Array.isArray(props.series) ? props.series : [])
      .filter(s => s && typeof s === 'object')
      .map(s => ({
        name: String(s.name ?? ''),
        values: (Array.isArray(s.values) ? s.values : []).map(v => (typeof v === 'number' ? v : Number(v) || 0)),
      }));
    const variant = props.variant === 'line' ? 'line' : 'bar';
    // The viewBox keeps a fixed width and takes the requested height (CSS pixels at 480 wide).
    const H = typeof props.height === 'number' ? Math.min(Math.max(props.height, 80), 1200) : 240;
    const n = Math.max(labels.length, ...series.map(s => s.values.length), 0);
    const max = niceMax(Math.max(0, ...series.flatMap(s => s.values)));
    const iw = W - PAD.left - PAD.right;
    const ih = H - PAD.top - PAD.bottom;
    const y = v => PAD.top + ih - (v / max) * ih;
    const band = n ? iw / n : iw;
    const ticks = [0, 0.25, 0.5, 0.75, 1].map(f => f * max);
    let marks;
    if (variant === 'bar') {
      const bw = (band * 0.8) / Math.max(series.length, 1);
      marks = series.map((s, si) => s.values.map((v, i) => svg`<rect class="bar"
        x=${PAD.left + i * band + band * 0.1 + si * bw} y=${y(Math.max(v, 0))}
        width=${Math.max(bw - 1, 1)} height=${Math.max(PAD.top + ih - y(Math.max(v, 0)), 0)}
        fill=${PALETTE[si % PALETTE.length]}><title>${s.name} ${labels[i] ?? ''}: ${fmt(v)}</title></rect>`));
    } else {
      marks = series.map((s, si) => {
        const pts = s.values.map((v, i) => `${PAD.left + i * band + band / 2},${y(v)}`).join(' ');
        return svg`<polyline class="line" points=${pts} fill="none"
          stroke=${PALETTE[si % PALETTE.length]} stroke-width="2"></polyline>
          ${s.values.map((v, i) => svg`<circle cx=${PAD.left + i * band + band / 2} cy=${y(v)} r="3"
            fill=${PALETTE[si % PALETTE.length]}><title>${s.name} ${labels[i] ?? ''}: ${fmt(v)}</title></circle>`)}`;
      });
    }
    const title = props.title ?? '';
    return html`
      <figure class="chart ${variant}">
        ${title ? html`<figcaption>${title}</figcaption>` : nothing}
        <svg viewBox="0 0 ${W} ${H}" role="img" aria-label=${props.accessibility?.label || title || 'chart'}>
          ${ticks.map(t => svg`<line class="grid" x1=${PAD.left} x2=${W - PAD.right} y1=${y(t)} y2=${y(t)}></line>
            <text class="tick" x=${PAD.left - 6} y=${y(t) + 4} text-anchor="end">${fmt(t)}</text>`)}
          ${marks}
          ${labels.map((l, i) => svg`<text class="label" x=${PAD.left + i * band + band / 2} y=${H - PAD.bottom + 16}
            text-anchor="middle">${l.length > 14 ? l.slice(0, 13) + '…' : l}</text>`)}
          ${props.unit ? svg`<text class="unit" x="4" y=${PAD.top + 4}>${props.unit}</text>` : nothing}
        </svg>
        ${series.length > 1 ? html`<div class="keys">${series.map((s, si) => html`<span class="key">
          <i style="background:${PALETTE[si % PALETTE.length]}"></i>${s.name}</span>`)}</div>` : nothing}
      </figure>`;
  }
}

CairnChart.styles = css`
  :host { display: block; }
  figure { margin: 0; }
  figcaption { font-weight: 600; margin-bottom: 4px; }
  svg { width: 100%; max-width: 560px; height: auto; display: block; }
  .grid { stroke: #e3e6ea; }
  .tick, .label, .unit { font-size: 11px; fill: #555; }
  .keys { display: flex; gap: 12px; font-size: 12px; }
  .key i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; }
`;

customElements.define('cairn-chart', CairnChart);

export const Chart = { ...ChartApi, tagName: 'cairn-chart' };
