// Configuration on a device's page: staff define the names (on their page, and over the
// API), Acme's admin sets a default on the org, and the device page shows what
// applies and where it comes from. Setting a value on the device overrides the org's, is
// noted on the device, and is refused at its field when empty. The member of another org
// is refused the form.
import { assert, journey, site } from '../lib.mjs';
import { call, token } from '../api.mjs';

const unlabelled = (slug) => `IOTile Device (${slug.slice(-4)})`;

await journey('config', async (run) => {
  const staffer = await run.visitor('staff');
  await staffer.signIn(site.users.staff);
  await staffer.open('/staff', { h1: 'Staff', shot: 'staff' });
  await staffer.follow(() => staffer.page.getByRole('link', { name: 'Configuration names' }).click(), {
    path: '/staff/config', h1: 'Configuration names', shot: 'config-names-empty',
  });
  assert.equal(await staffer.text('.empty h2'), 'No name defined yet');
  const define = (name, tags, expected) => staffer.follow(async () => {
    await staffer.page.fill('#f-name', name);
    await staffer.page.fill('#f-tags', tags);
    await staffer.page.getByRole('button', { name: 'Define name' }).click();
  }, expected);
  await define('trip limits', '', { status: 400, path: '/staff/config', h1: 'Configuration names', shot: 'config-name-refused' });
  assert.equal(await staffer.text('#f-name-error'), 'Name must start with ":". Got: trip limits');
  await define(':trip:limits', 'trip, shock', { path: '/staff/config', h1: 'Configuration names', shot: 'config-names' });
  assert.equal(await staffer.text('.flash[role=status]'), ':trip:limits defined.');
  assert.equal(await staffer.text('#names tbody td:nth-child(3)'), 'trip, shock');
  const staff = await token(site.users.staff);
  const units = await call('POST', 'config/name/', { jwt: staff, json: { name: ':display:units' } });
  assert.equal(units.status, 201, JSON.stringify(units.body));
  run.step('staff define names on their page (a bad one is refused at its field) and over the API');

  const org = await call('POST', 'config/attr/', {
    jwt: await token(site.users.admin),
    json: { target: `^${site.orgs.acme.slug}`, name: ':trip:limits', data: { max_g: 8 } },
  });
  assert.equal(org.status, 201, JSON.stringify(org.body));
  run.step("Acme's admin sets :trip:limits on the org");

  const device = `/device/${site.device.slug}`;
  const h1 = unlabelled(site.device.slug);
  const admin = await run.visitor('admin');
  await admin.signIn(site.users.admin);
  await admin.open(device, { h1, shot: 'device-config-from-org' });
  assert.equal(await admin.text('#config dt'), ':trip:limits');
  assert.equal(await admin.text('#config dd'), '{"max_g":8} from its org');
  run.step("the device page shows the org's value, and where it comes from");

  const save = (name, value, expected) => admin.follow(async () => {
    await admin.page.locator('#f-cname').selectOption(name);
    await admin.page.fill('#f-cvalue', value);
    await admin.page.getByRole('button', { name: 'Save configuration' }).click();
  }, expected);
  await save(':trip:limits', '  ', { status: 400, path: `${device}/config`, h1, shot: 'device-config-empty' });
  assert.equal(await admin.text('#f-cvalue-error'), 'Give a value: a number, text, or JSON.');
  assert.equal(await admin.page.getAttribute('#f-cvalue', 'aria-invalid'), 'true');
  run.step('an empty value is refused at its field');

  await save(':trip:limits', '{"max_g": 5, "min_c": -20}', { path: device, h1, shot: 'device-config-set' });
  assert.equal(await admin.text('.flash[role=status]'), 'Configuration saved.');
  assert.equal(await admin.text('#config dd'), '{"max_g":5,"min_c":-20} from this device');
  const notes = await admin.page.locator('ul.notes li').allTextContents();
  assert.ok(notes.some((n) => n.includes('Attribute :trip:limits was changed to:')), `a note of the change in ${notes}`);
  await save(':display:units', 'm3', { path: device, h1, shot: 'device-config-text' });
  const rows = await admin.page.locator('#config dt').allTextContents();
  assert.deepEqual(rows, [':display:units', ':trip:limits']);
  assert.equal(await admin.page.locator('#config dd').first().textContent(), '"m3" from this device');
  run.step("a value set on the device overrides the org's, is noted, and text is kept as text");

  const found = await call('GET', `config/attr/search/?target=${site.device.slug}&name=:trip:limits`, {
    jwt: await token(site.users.admin),
  });
  assert.equal(found.status, 200);
  assert.deepEqual([found.body.level, found.body.data], ['device', { max_g: 5, min_c: -20 }]);
  run.step('the API resolves the same value at the device level');

  const outsider = await run.visitor('member of another org');
  await outsider.signIn(site.users.member);
  const refused = await call('POST', 'config/attr/', {
    jwt: await token(site.users.member),
    json: { target: site.device.slug, name: ':trip:limits', data: 1 },
  });
  assert.equal(refused.status, 403);
  const page = await outsider.open(device, { status: null, h1: /^(Not found|Not allowed)$/, shot: 'device-config-outsider' });
  assert.ok([403, 404].includes(page.status()), `the device page: ${page.status()}`);
  run.step('the member of another org can neither see nor set it');
});
