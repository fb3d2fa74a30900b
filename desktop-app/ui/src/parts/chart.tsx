// One stream's readings as a small line chart drawn here (no library, no network): the
// line, the lowest and highest values on the left, the first and last times (local) below.
// A table of the last readings follows for anyone who cannot see the chart.
import type { StreamReadings } from "../bindings";
import { count, when } from "../format";

const W = 640;
const H = 200;
const PAD = { left: 64, right: 12, top: 12, bottom: 36 };

export function StreamChart({ stream }: { stream: StreamReadings }) {
  const points = stream.values.flatMap((value, i) => {
    const at = stream.at_ms[i];
    return at == null ? [] : [{ at, value }];
  });
  const id = `chart-${stream.stream}`;
  if (points.length === 0) {
    return <p>No readings of {stream.name} with a known time.</p>;
  }
  // One reading draws no line: say it.
  if (points.length === 1) {
    const only = points[0]!;
    return (
      <p class="chart-single">
        <strong>{stream.name}</strong> (stream {stream.stream}): one reading, {count(only.value)}, at {when(only.at)}.
      </p>
    );
  }
  const values = points.map((p) => p.value);
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  const [first, last] = [points[0]!.at, points[points.length - 1]!.at];
  // Readings stamped in a burst (many to a second) are spaced by order instead of time.
  const byTime = new Set(points.map((p) => Math.floor(p.at / 1000))).size * 2 > points.length;
  const span = points.length - 1;
  const x = (at: number, i: number) =>
    PAD.left +
    (byTime ? (last === first ? 0.5 : (at - first) / (last - first)) : span === 0 ? 0.5 : i / span) *
      (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (hi === lo ? 0.5 : 1 - (v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const d = points.map((p, i) => `${i ? "L" : "M"}${x(p.at, i).toFixed(1)},${y(p.value).toFixed(1)}`).join("");
  const summary = `${stream.name}: ${count(points.length)} readings from ${when(first)} to ${when(last)}, between ${count(lo)} and ${count(hi)}`;

  return (
    <figure class="chart">
      <figcaption id={`${id}-caption`}>
        <strong>{stream.name}</strong> (stream {stream.stream}) · {count(points.length)} readings
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${id}-caption`} aria-describedby={`${id}-summary`}>
        <line class="axis" x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={H - PAD.bottom} />
        <line class="axis" x1={PAD.left} y1={H - PAD.bottom} x2={W - PAD.right} y2={H - PAD.bottom} />
        <text class="tick" x={PAD.left - 6} y={PAD.top + 5} text-anchor="end">
          {count(hi)}
        </text>
        <text class="tick" x={PAD.left - 6} y={H - PAD.bottom} text-anchor="end">
          {count(lo)}
        </text>
        <text class="tick" x={PAD.left} y={H - 10} text-anchor="start">
          {when(first)}
        </text>
        <text class="tick" x={W - PAD.right} y={H - 10} text-anchor="end">
          {when(last)}
        </text>
        <path class="line" d={d} />
      </svg>
      <p class="sr-only" id={`${id}-summary`}>
        {summary}
      </p>
      <details>
        <summary>The last {Math.min(20, points.length)} readings as a table</summary>
        <table>
          <caption class="sr-only">Last readings of {stream.name}</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Value</th>
            </tr>
          </thead>
          <tbody>
            {points
              .slice(-20)
              .reverse()
              .map((p, i) => (
                <tr key={i}>
                  <td>{new Date(p.at).toLocaleString()}</td>
                  <td>{count(p.value)}</td>
                </tr>
              ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
