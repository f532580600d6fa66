// A small line chart in SVG (no chart library: a few series over time is all the
// console draws): time across, counts up, one colour and a legend per series, and the
// same numbers in a table for screen readers.

import { h } from "preact";
import htm from "htm";
import { t } from "./i18n.js";

const html = htm.bind(h);

/// Colours with at least 3:1 contrast on white (WCAG 2.2 non-text contrast).
const COLOURS = ["#0b5cad", "#1b6e34", "#8a4b00", "#8e2a8b", "#a4161a"];
const W = 640;
const H = 220;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };

/// `series`: `[{label, points: [[Date, number], …], total?}]`, points in time order;
/// the legend shows `total`, else the last point.
export function Chart({ title, series, testid }) {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return html`<p class="empty">${t("chart.empty")}</p>`;
  const x0 = Math.min(...all.map(([x]) => x.getTime()));
  const x1 = Math.max(...all.map(([x]) => x.getTime()), x0 + 1);
  const top = Math.max(1, ...all.map(([, y]) => y));
  const sx = (x) => PAD.left + ((x.getTime() - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const sy = (y) => H - PAD.bottom - (y / top) * (H - PAD.top - PAD.bottom);
  const ticks = [0, 0.5, 1].map((f) => Math.round(top * f));
  const span = x1 - x0;
  const label = (ms) => new Date(ms).toLocaleString(undefined, span > 2 * 86400000
    ? { day: "2-digit", month: "short" } : { hour: "2-digit", minute: "2-digit" });
  return html`
    <figure class="chart" data-testid=${testid}>
      <figcaption>${title}</figcaption>
      <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-label=${title} preserveAspectRatio="xMidYMid meet">
        ${ticks.map((v) => html`
          <g>
            <line x1=${PAD.left} x2=${W - PAD.right} y1=${sy(v)} y2=${sy(v)} class="grid-line" />
            <text x=${PAD.left - 6} y=${sy(v) + 4} text-anchor="end" class="tick">${v.toLocaleString()}</text>
          </g>`)}
        <text x=${PAD.left} y=${H - 8} class="tick">${label(x0)}</text>
        <text x=${W - PAD.right} y=${H - 8} text-anchor="end" class="tick">${label(x1)}</text>
        ${series.map((s, i) => html`
          <g>
            <polyline fill="none" stroke=${COLOURS[i % COLOURS.length]} stroke-width="2.5"
              points=${s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ")} />
            ${s.points.length < 40 && s.points.map(([x, y]) => html`
              <circle cx=${sx(x)} cy=${sy(y)} r="3" fill=${COLOURS[i % COLOURS.length]} />`)}
          </g>`)}
      </svg>
      <ul class="legend">
        ${series.map((s, i) => html`<li><span class="swatch" style=${`background:${COLOURS[i % COLOURS.length]}`}></span>
          ${s.label}: <strong>${(s.total ?? s.points.at(-1)?.[1] ?? 0).toLocaleString()}</strong></li>`)}
      </ul>
      <div class="sr-only"><table>
        <caption>${title}</caption>
        <thead><tr><th scope="col">${t("chart.series")}</th><th scope="col">${t("chart.when")}</th><th scope="col">${t("chart.value")}</th></tr></thead>
        <tbody>${series.flatMap((s) => s.points.map(([x, y]) => html`
          <tr><td>${s.label}</td><td>${x.toISOString()}</td><td>${y}</td></tr>`))}</tbody>
      </table></div>
    </figure>`;
}
