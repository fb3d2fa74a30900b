// PENDING: needs the /devices list and the /device/{slug} page with its uPlot charts fed
// by the downsampling endpoint. Not registered in cloud/tests/web_browser.rs until then;
// see README.md here.
//
// The site already has what this needs: device `site.device.slug`, claimed into
// `site.project`, with a day of half-hourly readings on `site.device.stream`.
// Assumed markup, to adjust to the page: the list links each device by its slug or label;
// the device page draws each stream in a `.chart` holding uPlot's <canvas>.
import { assert, journey, site } from '../lib.mjs';

await journey('devices', async (run) => {
  const admin = await run.visitor('admin');
  await admin.signIn(site.users.admin);
  await admin.open('/devices', { path: '/devices', h1: 'Devices', shot: 'devices' });
  const link = admin.page.locator(`a[href="/device/${site.device.slug}"]`).first();
  await admin.follow(() => link.click(), {
    path: `/device/${site.device.slug}`, h1: /./, shot: 'device',
  });

  // The chart is drawn once the data arrives: a canvas with something painted on it.
  const canvas = admin.page.locator('.chart canvas').first();
  await canvas.waitFor();
  await admin.page.waitForFunction(() => {
    const c = document.querySelector('.chart canvas');
    if (!c || c.width === 0 || c.height === 0) return false;
    const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
    return false;
  });
  const requested = await admin.page.evaluate(() =>
    performance.getEntriesByType('resource').map((e) => e.name));
  assert.ok(
    requested.some((url) => url.includes(site.device.stream) || url.includes('downsample')),
    'the chart asked the server for its data',
  );
  // Screenshots again now that the chart is drawn (the audit above ran at first paint).
  await admin.snap('device-chart-drawn');
  run.step('the device page draws a chart of its stream');
});
