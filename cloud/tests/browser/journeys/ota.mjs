// OTA pages: a developer (the role that manages OTA) finds the org's release made with the
// firmware tools (a signed, released script, its key, a fleet, a draft deployment),
// releases the deployment through its confirm page, and revokes the key, after which the
// script's signature no longer passes. An org owner sees the keys without a way to revoke
// them, and the OTA pages of an org without a release empty.
import { assert, journey, site } from '../lib.mjs';

await journey('ota', async (run) => {
  const { acme, beta } = site.orgs;
  const { key, script, fleet, deployment } = site.ota;
  const ota = `/org/${acme.slug}/ota`;
  const dev = await run.visitor('developer');
  await dev.signIn(site.users.dev);
  const main = dev.page.locator('main');
  const tab = (name, expected) => dev.follow(
    () => dev.page.locator('nav[aria-label=OTA]').getByRole('link', { name, exact: true }).click(), expected);
  const cells = (testid) => main.locator(`[data-testid=${testid}] td`).allInnerTexts();

  await dev.follow(() => dev.page.locator('nav[aria-label=Main]').getByRole('link', { name: 'OTA' }).click(), {
    path: ota, h1: `OTA of ${acme.name}`, shot: 'ota',
  });
  const figures = await main.locator('.card dl.figures dd').allTextContents();
  assert.deepEqual(figures.map((f) => f.trim()), ['1', '1', '1', '1'], 'a script, a key, a fleet, a deployment');
  assert.match(await main.innerText(), /Signature required/);
  run.step('the OTA overview counts what the release made');

  await tab('Scripts', { path: `${ota}/scripts`, h1: `Scripts of ${acme.name}`, shot: 'ota-scripts' });
  const signature = () => main.locator('[data-testid=script-row] td:nth-child(4) .badge');
  let row = await cells('script-row');
  assert.match(row[0], new RegExp(`^${script.name}\\s+${script.slug}$`));
  assert.equal(row[1], script.version);
  assert.match(row[2], /^update\.trub\s+\d+ bytes$/);
  assert.equal(await signature().textContent(), 'Verified');
  assert.match(row[3], new RegExp(`signed by ${key.id}`));
  assert.match(row[4], /^Released/);
  await tab('Release keys', { path: `${ota}/keys`, h1: `Release keys of ${acme.name}`, shot: 'ota-keys' });
  row = await cells('key-row');
  assert.deepEqual([row[0], row[1], row[3]], [key.label, key.id, 'Trusted']);
  assert.equal(await dev.count('[data-testid=key-row] a[href$="/revoke"]'), 1, 'the developer may revoke it');
  const owner = await run.visitor('org owner');
  await owner.signIn(site.users.admin);
  await owner.open(`${ota}/keys`, { h1: `Release keys of ${acme.name}`, shot: 'ota-keys-as-owner' });
  assert.equal(await owner.count('[data-testid=key-row]'), 1);
  assert.equal(await owner.count('a[href$="/revoke"]'), 0, 'an owner, who does not manage OTA, may not');
  run.step('the script is listed as released with a verified signature by the listed key');

  await tab('Fleets', { path: `${ota}/fleets`, h1: `Fleets of ${acme.name}`, shot: 'ota-fleets' });
  await dev.follow(() => main.getByRole('link', { name: fleet.name }).click(), {
    path: `${ota}/fleets/${fleet.slug}`, h1: `Fleet ${fleet.name}`, shot: 'ota-fleet',
  });
  assert.deepEqual(await main.locator('tbody tr td:first-child').allInnerTexts(), [site.device.slug]);
  run.step('the fleet holds the device');

  const page = `${ota}/deployments/${deployment}`;
  await tab('Deployments', { path: `${ota}/deployments`, h1: `Deployments of ${acme.name}`, shot: 'ota-deployments' });
  await dev.follow(() => main.getByRole('link', { name: `#${deployment}` }).click(), {
    path: page, h1: `Deployment #${deployment}`, shot: 'ota-deployment-draft',
  });
  assert.equal(await dev.text('[data-testid=deployment-state]'), 'draft');
  assert.equal(await dev.text('#draft-title'), 'A draft has no targets yet');
  await dev.follow(() => main.getByRole('link', { name: 'Release', exact: true }).click(), {
    path: `${page}/release`, h1: `Release deployment ${deployment}?`, shot: 'ota-deployment-release',
  });
  assert.match(await main.innerText(), new RegExp(`the fleet ${fleet.slug}`));
  await dev.follow(() => main.getByRole('button', { name: 'Release the deployment' }).click(), {
    path: page, h1: `Deployment #${deployment}`, shot: 'ota-deployment-running',
  });
  assert.equal(await dev.text('.flash[role=status]'), `Deployment ${deployment} is running.`);
  assert.equal(await dev.text('[data-testid=deployment-state]'), 'running');
  const target = await cells('target-row');
  assert.deepEqual(target.slice(0, 3), [site.device.slug, '1', 'waiting']);
  run.step('the draft is released through its confirm page; the fleet\'s device waits for the update');

  await tab('Release keys', { path: `${ota}/keys`, h1: `Release keys of ${acme.name}`, shot: 'ota-keys' });
  await dev.follow(() => main.getByRole('link', { name: /^Revoke/ }).click(), {
    path: /\/ota\/keys\/\d+\/revoke$/, h1: 'Revoke this release key?', shot: 'ota-key-revoke',
  });
  await dev.follow(() => main.getByRole('button', { name: 'Revoke the key' }).click(), {
    path: `${ota}/keys`, h1: `Release keys of ${acme.name}`, shot: 'ota-keys-revoked',
  });
  assert.equal(await dev.text('.flash[role=status]'), `Release key ${key.id} is revoked.`);
  assert.match((await cells('key-row'))[3], /^Revoked/);
  await tab('Scripts', { path: `${ota}/scripts`, h1: `Scripts of ${acme.name}`, shot: 'ota-scripts-key-revoked' });
  assert.equal(await signature().textContent(), 'Revoked key');
  run.step('the key is revoked through its confirm page, and the script\'s signature says so');

  const empty = [
    ['', `OTA of ${beta.name}`, null],
    ['/scripts', `Scripts of ${beta.name}`, 'No script yet'],
    ['/keys', `Release keys of ${beta.name}`, 'No release key yet'],
    ['/fleets', `Fleets of ${beta.name}`, 'No fleet yet'],
    ['/deployments', `Deployments of ${beta.name}`, 'No deployment yet'],
  ];
  for (const [path, h1, says] of empty) {
    await owner.open(`/org/${beta.slug}/ota${path}`, { h1, shot: `ota${path.replace('/', '-')}-empty` });
    if (says) assert.equal(await owner.text('.empty h2'), says);
  }
  run.step('an org without a release shows each OTA page empty');
});
