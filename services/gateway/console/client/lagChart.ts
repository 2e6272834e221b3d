/// <reference lib="dom" />
// A small line chart of one session's queued work over the last hour, drawn as inline SVG.
const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 240;
const HEIGHT = 48;

export function lagChart(points: ReadonlyArray<{ at: string; queued: number }>): SVGSVGElement {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute("width", String(WIDTH));
  svg.setAttribute("height", String(HEIGHT));
  svg.setAttribute("class", "lag-chart");
  svg.setAttribute("role", "img");
  const peak = Math.max(1, ...points.map((p) => p.queued));
  const title = document.createElementNS(SVG, "title");
  title.textContent = `peak ${peak} queued over ${points.length} sample(s)`;
  svg.append(title);
  if (points.length === 0) return svg;
  const first = Date.parse(points[0]?.at ?? "");
  const span = Math.max(1, Date.parse(points.at(-1)?.at ?? "") - first);
  const coordinates = points.map((p) => {
    const x = points.length === 1 ? WIDTH : ((Date.parse(p.at) - first) / span) * WIDTH;
    const y = HEIGHT - 2 - (p.queued / peak) * (HEIGHT - 4);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", coordinates.join(" "));
  line.setAttribute("class", "lag-line");
  svg.append(line);
  return svg;
}
