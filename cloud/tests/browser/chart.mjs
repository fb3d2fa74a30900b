// The device page's charts as a person sees them, and the data the page fetched for them:
// each answer of `/device/{slug}/chart` is checked against the stream's raw readings.
import { assert } from './lib.mjs';

/** Records every chart answer `page` fetches, newest last. */
export function recordCharts(page) {
  const seen = [];
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (!/^\/device\/[^/]+\/chart$/.test(url.pathname)) return;
    const q = url.searchParams;
    seen.push({
      stream: q.get('stream'),
      start: Number(q.get('start')),
      end: Number(q.get('end')),
      buckets: Number(q.get('buckets')),
      status: response.status(),
      // Read now: the body is gone once the page navigates.
      body: response.json().catch(() => null),
    });
  });
  return seen;
}

/**
 * The newest recorded answer for `stream` over a range `width` seconds wide (any width when
 * not given), waiting up to 15 s for the page to ask for it.
 */
export async function latest(seen, stream, width) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const mine = seen.filter((c) => c.stream === stream && (width === undefined || c.end - c.start === width));
    if (mine.length > 0) {
      const chart = mine[mine.length - 1];
      return { ...chart, body: await chart.body };
    }
    const asked = seen.map((c) => `${c.stream} over ${c.end - c.start} s`);
    assert.ok(Date.now() < deadline, `the page fetched no chart of ${stream} over ${width} s: ${asked}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Checks a chart answer against the raw readings (`{ at, value }`, Unix seconds): no more
 * buckets than asked for, and each bucket's count, min, max and mean those of the readings
 * inside it and inside the range. Returns how many readings the chart holds.
 */
export function agreesWithReadings(chart, raw) {
  assert.equal(chart.status, 200, `chart of ${chart.stream}`);
  const { t, min, max, mean, count, bucket_secs: width } = chart.body;
  assert.ok(t.length <= chart.buckets, `${t.length} buckets, at most ${chart.buckets} asked for`);
  t.forEach((at, i) => {
    const from = Math.max(at, chart.start);
    const to = Math.min(at + width, chart.end);
    const inside = raw.filter((r) => r.at >= from && r.at < to).map((r) => r.value);
    const where = `bucket ${i} (${new Date(at * 1000).toISOString()}, ${width} s)`;
    assert.equal(count[i], inside.length, `readings in ${where}`);
    assert.equal(min[i], Math.min(...inside), `min of ${where}`);
    assert.equal(max[i], Math.max(...inside), `max of ${where}`);
    const average = inside.reduce((a, b) => a + b, 0) / inside.length;
    assert.ok(Math.abs(mean[i] - average) < 1e-9, `mean of ${where}: ${mean[i]} vs ${average}`);
  });
  const held = count.reduce((a, b) => a + b, 0);
  const inRange = raw.filter((r) => r.at >= chart.start && r.at < chart.end).length;
  assert.equal(held, inRange, 'every reading of the range is in a bucket');
  return held;
}

/** Waits until the chart of `stream` has its mean line painted (the page's stroke colour). */
export async function lineDrawn(page, stream) {
  const painted = (slug) => {
    const canvas = document.querySelector(`.plot[data-stream="${slug}"] canvas`);
    if (!canvas || canvas.width === 0 || canvas.height === 0) return false;
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const near = (a, b) => Math.abs(a - b) <= 12;
    for (let i = 0; i < pixels.length; i += 4) {
      // #0b5cad, opaque: the mean's stroke (the band under it is nearly transparent).
      if (pixels[i + 3] > 200 && near(pixels[i], 11) && near(pixels[i + 1], 92) && near(pixels[i + 2], 173)) {
        return true;
      }
    }
    return false;
  };
  await page.waitForFunction(painted, stream).catch(() => {
    throw new Error(`the chart of ${stream} drew no line`);
  });
}
