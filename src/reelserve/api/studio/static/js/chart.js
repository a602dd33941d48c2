// Small time charts drawn as inline SVG: bars (an amount per bucket) or a line (a level over time).

import { s, uid } from "./dom.js";

const HEIGHT = 200;
const MARGIN = { top: 12, right: 12, bottom: 28, left: 64 };

function niceCeiling(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

/** points: [{label, value, note}] in time order; yFormat: a value as text; kind: "bar" or "line". */
export function timeChart({ points, kind, title, description, yFormat, axisFormat = yFormat, className = "", width = 720 }) {
  const fullWidth = Math.max(300, Math.round(width));
  const titleId = uid("chart-title");
  const descId = uid("chart-desc");
  const plotWidth = fullWidth - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const values = points.map((point) => point.value);
  const low = kind === "line" ? Math.min(0, ...values) : 0;
  const high = niceCeiling(Math.max(...values, 0) - low) + low;
  const y = (value) => MARGIN.top + plotHeight - ((value - low) / (high - low || 1)) * plotHeight;
  const slot = plotWidth / Math.max(points.length, 1);
  const x = (index) => MARGIN.left + slot * index + slot / 2;

  const grid = s("g", { class: "grid" });
  const axis = s("g", { class: "axis" });
  for (let step = 0; step <= 4; step += 1) {
    const value = low + ((high - low) * step) / 4;
    grid.append(s("line", { x1: MARGIN.left, x2: fullWidth - MARGIN.right, y1: y(value), y2: y(value) }));
    axis.append(s("text", { x: MARGIN.left - 8, y: y(value) + 4, "text-anchor": "end" }, axisFormat(value)));
  }
  const every = Math.max(1, Math.ceil(points.length / Math.max(2, Math.floor(plotWidth / 90))));
  points.forEach((point, index) => {
    if (index % every === 0) axis.append(s("text", { x: x(index), y: HEIGHT - 8, "text-anchor": "middle" }, point.label));
  });

  const marks = s("g", {});
  if (kind === "bar") {
    const width = Math.max(1, slot * 0.7);
    points.forEach((point, index) => {
      const top = y(Math.max(point.value, 0));
      const bottom = y(Math.min(point.value, 0));
      marks.append(s("rect", {
        class: "bar", x: x(index) - width / 2, y: top, width, height: Math.max(point.value ? 1 : 0, bottom - top), rx: 2,
      }, s("title", {}, `${point.label}: ${yFormat(point.value)}${point.note ? ` (${point.note})` : ""}`)));
    });
  } else if (points.length) {
    const line = points.map((point, index) => `${index ? "L" : "M"}${x(index).toFixed(1)},${y(point.value).toFixed(1)}`).join(" ");
    const area = `${line} L${x(points.length - 1).toFixed(1)},${y(low).toFixed(1)} L${x(0).toFixed(1)},${y(low).toFixed(1)} Z`;
    marks.append(s("path", { class: "area", d: area }), s("path", { class: "line", d: line }));
    const last = points.at(-1);
    marks.append(s("circle", { cx: x(points.length - 1), cy: y(last.value), r: 4, fill: "#14733a" },
      s("title", {}, `${last.label}: ${yFormat(last.value)}`)));
  }

  return s("svg", {
    class: `chart ${className}`, viewBox: `0 0 ${fullWidth} ${HEIGHT}`, role: "img", "aria-labelledby": `${titleId} ${descId}`,
    preserveAspectRatio: "xMidYMid meet",
  }, s("title", { id: titleId }, title), s("desc", { id: descId }, description), grid, marks, axis);
}
