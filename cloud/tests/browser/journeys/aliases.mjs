// Stream aliases in an org: Acme's admin creates one (a name is required), points it at the
// device's stream from two days ago (a time is required), and reads the stream's newest
// readings through it; the org's list shows what it reads now. The member of another org
// finds neither the list nor the alias.
import { assert, journey, site } from '../lib.mjs';

await journey('aliases', async (run) => {
  const { acme } = site.orgs;
  const list = `/org/${acme.slug}/aliases`;
  const admin = await run.visitor('admin');
  await admin.signIn(site.users.admin);
  await admin.open(`/org/${acme.slug}`, { h1: acme.name, shot: 'org' });
  await admin.follow(() => admin.page.locator(`a[href="${list}"]`).click(), {
    path: list, h1: `Stream aliases of ${acme.name}`, shot: 'aliases-empty',
  });
  assert.equal(await admin.text('.empty h2'), 'No alias yet');

  const create = (name, expected) => admin.follow(async () => {
    await admin.page.fill('#f-name', name);
    await admin.page.getByRole('button', { name: 'Create alias' }).click();
  }, expected);
  await create('', { status: 400, path: list, h1: `Stream aliases of ${acme.name}`, shot: 'alias-no-name' });
  assert.equal(await admin.text('#f-name-error'), 'This field is required.');
  await create('Pump 1 flow', { path: /^\/org\/[^/]+\/aliases\/a--0000-0000-0000-[0-9a-f]{4}$/, h1: 'Alias Pump 1 flow', shot: 'alias-created' });
  assert.equal(await admin.text('.flash[role=status]'), 'Alias created. Point it at a stream below.');
  const alias = admin.where();
  run.step('an alias needs a name, and opens on its own page once created');

  const addTap = (from, expected) => admin.follow(async () => {
    await admin.page.locator('#f-stream').selectOption(site.device.stream);
    await admin.page.fill('#f-from', from);
    await admin.page.getByRole('button', { name: 'Add tap' }).click();
  }, expected);
  await addTap('', { status: 400, path: `${alias}/taps`, h1: 'Alias Pump 1 flow', shot: 'tap-no-time' });
  assert.equal(await admin.text('#f-from-error'), 'This field is required.');
  const twoDaysAgo = new Date(Date.now() - 2 * 86400e3).toISOString().slice(0, 16);
  await addTap(twoDaysAgo, { path: alias, h1: 'Alias Pump 1 flow', shot: 'alias-reading' });
  assert.equal(await admin.text('.flash[role=status]'), 'Tap added.');
  assert.equal(await admin.count('#taps tbody tr'), 1);
  assert.equal(await admin.text('#taps tbody td:nth-child(2)'), 'now');
  const streams = await admin.page.locator('#readings tbody td:nth-child(3)').allTextContents();
  assert.equal(streams.length, 20, 'the newest twenty readings');
  assert.ok(streams.every((s) => s === site.device.stream), `all from the tapped stream: ${streams}`);
  run.step("a tap needs a time; once added, the alias reads the device's stream");

  await admin.open(list, { h1: `Stream aliases of ${acme.name}`, shot: 'aliases' });
  assert.equal(await admin.text('#aliases tbody td:nth-child(3)'), site.device.stream);
  run.step('the org list shows the stream the alias reads now');

  const outsider = await run.visitor('member of another org');
  await outsider.signIn(site.users.member);
  for (const path of [list, alias]) {
    const page = await outsider.open(path, { status: 404, h1: 'Not found', shot: 'alias-refused' });
    assert.ok(!(await page.text()).includes('Pump 1 flow'));
  }
  run.step("another org's member finds neither the list nor the alias");
});
