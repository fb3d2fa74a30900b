// From nothing to a chart: an org owner creates a project, claims a device into it, the
// device's gateway uploads a report built as `iotile-fw report build` builds it, the reports
// page shows it processed, and the device page draws the readings and lists the latest.
// The data behind each chart, as the page fetched it, agrees with the raw readings.
import { assert, journey, site } from '../lib.mjs';
import { processed, readings, token, uploadReport } from '../api.mjs';
import { agreesWithReadings, latest, lineDrawn, recordCharts } from '../chart.mjs';

const PROJECT = 'Pump station';
// What a device is called until someone gives it a label.
const unlabelled = (slug) => `IOTile Device (${slug.slice(-4)})`;

await journey('devices', async (run) => {
  const { claimable } = site;
  const { values, everySecs } = claimable.report;
  const admin = await run.visitor('admin');
  const charts = recordCharts(admin.page);
  await admin.signIn(site.users.admin);

  await admin.open('/projects/new', { h1: 'New project', shot: 'project-new' });
  await admin.page.locator('main').getByLabel('Name').fill(PROJECT);
  await admin.page.locator('main').getByLabel('Org').selectOption(site.orgs.acme.slug);
  await admin.follow(() => admin.page.getByRole('button', { name: 'Create project' }).click(), {
    path: /^\/project\/[0-9a-f-]{36}$/, h1: PROJECT, shot: 'project-created',
  });
  assert.equal(await admin.text('.flash[role=status]'), 'Project created.');
  assert.equal(await admin.text('section[aria-labelledby=variables-h] .empty h3'), 'No variables yet');
  run.step('a project is created and opens, with no variables yet');

  await admin.open('/devices', { h1: 'Devices', shot: 'devices' });
  const listed = await admin.page.locator('tbody a.mono').allTextContents();
  assert.deepEqual(listed, [site.device.slug], 'only the claimed device is listed');
  await admin.follow(() => admin.page.getByRole('link', { name: 'Claim a device' }).click(), {
    path: '/devices/claim', h1: 'Claim a device', shot: 'claim',
  });
  const claim = (device, project, expected) => admin.follow(async () => {
    await admin.page.fill('#f-device', device);
    await admin.page.locator('#f-project').selectOption(project === null ? '' : { label: project });
    await admin.page.getByRole('button', { name: 'Claim' }).click();
  }, expected);

  await claim('', null, { status: 400, path: '/devices/claim', h1: 'Claim a device', shot: 'claim-errors' });
  assert.equal(await admin.text('#f-device-error'), "Enter the device's id, e.g. d--0000-0000-0000-0a0b or 0a0b.");
  assert.equal(await admin.text('#f-project-error'), 'Choose a project.');
  assert.equal(await admin.page.getAttribute('#f-device', 'aria-describedby'), 'f-device-hint f-device-error');
  const target = `${PROJECT} (${site.orgs.acme.slug})`;
  await claim('0fff', target, { status: 400, path: '/devices/claim', h1: 'Claim a device', shot: 'claim-unknown' });
  assert.equal(await admin.text('#f-device-error'), 'No device has this id. Check the label on the POD.');
  assert.equal(await admin.page.inputValue('#f-device'), '0fff', 'what was typed is kept');
  run.step('a claim without an id or a project, or of an unknown id, is refused at its field');

  const short = claimable.slug.slice(-4);
  await claim(short, target, {
    path: `/device/${claimable.slug}`, h1: unlabelled(claimable.slug), shot: 'device-claimed',
  });
  assert.equal(await admin.text('.flash[role=status]'), `${claimable.slug} was claimed into ${PROJECT}.`);
  const streams = await admin.page.locator('.plot[data-stream]').evaluateAll((els) => els.map((e) => e.dataset.stream));
  assert.equal(streams.length, 2, "the water meter's two streams");
  const stream = streams.find((s) => s.endsWith('--5001'));
  assert.ok(stream, `a stream 5001 among ${streams}`);
  const status = (slug) => admin.page.locator(`.plot[data-stream="${slug}"] + .chart-status`);
  for (const slug of streams) {
    await assert.doesNotReject(status(slug).filter({ hasText: 'No readings in this range.' }).waitFor());
  }
  assert.equal(await admin.page.locator('.chart details p', { hasText: 'No readings yet.' }).count(), 2);
  run.step(`claimed by its short id, ${claimable.slug} opens with its streams and no readings yet`);

  const jwt = await token(site.users.admin);
  const upload = await uploadReport(jwt, claimable.report.file);
  assert.equal(upload.status, 201, JSON.stringify(upload.body));
  assert.equal(upload.body.count, values.length);
  const done = await processed(jwt, upload.body.report);
  assert.deepEqual([done.status, done.new_count, done.duplicate_count], ['processed', values.length, 0]);
  const raw = await readings(jwt, stream);
  assert.deepEqual(raw.map((r) => r.value), values, 'the report became the readings, in order');
  run.step(`a report of ${values.length} readings was uploaded through the API and ingested`);

  await admin.follow(() => admin.page.locator('nav[aria-label=Main]').getByRole('link', { name: 'Reports' }).click(), {
    path: '/reports', h1: 'Reports', shot: 'reports',
  });
  const received = admin.page.locator('tbody tr', { hasText: claimable.slug });
  const cells = (await received.locator('td').allInnerTexts()).map((c) => c.replace(/\s+/g, ' '));
  assert.deepEqual(cells.slice(3), ['Processed', `${values.length} ${values.length} new`, `1–${values.length}`]);
  await admin.follow(() => received.locator('td:first-child a').click(), {
    path: `/reports/${upload.body.report}`, h1: `Report ${upload.body.report}`, shot: 'report',
  });
  const record = await admin.page.locator('dl.props').innerText();
  assert.match(record, new RegExp(`New readings\\s+${values.length}\\s+Duplicates\\s+0`));
  await admin.open('/reports?status=failed', { h1: 'Reports', shot: 'reports-none-match' });
  assert.equal(await admin.text('.empty h2'), 'No reports match these filters');
  run.step('the report is listed and shown as processed, all its readings new; none failed');

  charts.length = 0;
  await admin.open(`/device/${claimable.slug}`, { h1: unlabelled(claimable.slug), shot: 'device-with-readings' });
  // Every reading is from the last hour, so the first day's view narrows to an hour.
  const shown = await latest(charts, stream, 3600);
  assert.equal(agreesWithReadings(shown, raw), values.length);
  const drawn = `${values.length} readings in `;
  const buckets = shown.body.t.length;
  await status(stream).filter({ hasText: `${drawn}${buckets} bucket${buckets === 1 ? '' : 's'} of ` }).waitFor();
  await lineDrawn(admin.page, stream);
  await admin.snap('device-chart-drawn');
  run.step('the device page draws the readings, and the data it fetched agrees with them');

  const table = admin.page.locator(`.plot[data-stream="${stream}"] ~ details`);
  await table.locator('summary').click();
  const rows = await table.locator('tbody tr').evaluateAll((trs) =>
    trs.map((tr) => [...tr.cells].map((td) => td.textContent.trim())));
  const newest = values.slice(-10).reverse();
  assert.deepEqual(rows.map(([, value]) => Number(value)), newest, 'the ten newest values, newest first');
  const times = rows.map(([when]) => Date.parse(when.replace(' UTC', 'Z').replace(' ', 'T')) / 1000);
  times.slice(1).forEach((t, i) => assert.ok(Math.abs(times[i] - t - everySecs) <= 1, `rows ${everySecs} s apart: ${rows}`));
  assert.ok(Math.abs(times[0] - raw[raw.length - 1].at) < 1, 'the newest row is the newest reading');
  await admin.snap('device-latest-readings');
  run.step('"Latest readings" lists the uploaded values, newest first, five minutes apart');

  await admin.page.getByRole('button', { name: '7 days' }).click();
  const wide = await latest(charts, stream, 7 * 86400);
  assert.equal(agreesWithReadings(wide, raw), values.length);
  await status(stream).filter({ hasText: `${drawn}${wide.body.t.length} bucket` }).waitFor();
  run.step('a wider range asks again, with no more buckets than the chart is wide');

  // The seeded device's day of readings, read the same way.
  charts.length = 0;
  await admin.open(`/device/${site.device.slug}`, { h1: unlabelled(site.device.slug), shot: 'device' });
  const day = await latest(charts, site.device.stream, 86400);
  const held = agreesWithReadings(day, await readings(jwt, site.device.stream));
  assert.ok(held >= 46, `a day of half-hourly readings: ${held}`);
  await status(site.device.stream).filter({ hasText: `${held} readings in ` }).waitFor();
  await lineDrawn(admin.page, site.device.stream);
  run.step(`a day of readings (${held}) is drawn and agrees with the data`);

  await admin.page.fill('#f-label', '   ');
  await admin.follow(() => admin.page.getByRole('button', { name: 'Save label' }).click(), {
    status: 400, path: `/device/${site.device.slug}/label`, h1: unlabelled(site.device.slug), shot: 'device-label-error',
  });
  assert.equal(await admin.text('#f-label-error'), 'Give the device a label.');
  assert.equal(await admin.page.getAttribute('#f-label', 'aria-invalid'), 'true');
  await admin.page.fill('#f-label', 'Well 3 meter');
  await admin.follow(() => admin.page.getByRole('button', { name: 'Save label' }).click(), {
    path: `/device/${site.device.slug}`, h1: 'Well 3 meter', shot: 'device-labelled',
  });
  assert.equal(await admin.text('.flash[role=status]'), 'Label saved.');
  await admin.page.fill('#f-note', 'Replaced the battery.');
  await admin.follow(() => admin.page.getByRole('button', { name: 'Add note' }).click(), {
    path: `/device/${site.device.slug}`, h1: 'Well 3 meter', shot: 'device-labelled',
  });
  assert.equal(await admin.text('.flash[role=status]'), 'Note added.');
  assert.match(await admin.text('ul.notes li'), /Replaced the battery\.$/);
  run.step('an empty label is refused at its field; a label and a note are saved');
});
