// An org's gateways: the owner finds the registered gateway, makes a registration code
// (shown once; a bad validity is refused at its field) and revokes the gateway through the
// confirm page. (Other orgs reaching none of it is the isolation journey's.)
import { assert, journey, site } from '../lib.mjs';

await journey('gateways', async (run) => {
  const { acme, beta } = site.orgs;
  const { name, key } = site.gateway;
  const list = `/org/${acme.slug}/gateways`;
  const codes = `${list}/codes`;
  const owner = await run.visitor('owner');
  await owner.signIn(site.users.admin);
  const main = owner.page.locator('main');
  const row = () => main.locator('[data-testid=gateway-row]');
  const codeStates = () => main.locator('[data-testid=code-row] td:nth-child(3) .badge').allTextContents();

  await owner.open(`/org/${beta.slug}/gateways`, { h1: `Gateways of ${beta.name}`, shot: 'gateways-empty' });
  assert.equal(await owner.text('.empty h2'), 'No gateway is registered');
  await owner.open(list, { h1: `Gateways of ${acme.name}`, shot: 'gateways' });
  assert.equal(await row().count(), 1);
  const cells = await row().locator('td').allInnerTexts();
  // Name, key, (registered), last sync, what it holds, state.
  assert.deepEqual([0, 1, 3, 4, 5].map((i) => cells[i]), [name, key, 'never', 'not reported yet', 'Active']);
  run.step('an org without gateways says how to register one; Acme lists its gateway, never synced');

  await owner.follow(() => main.getByRole('link', { name: 'Registration codes' }).click(), {
    path: codes, h1: 'Gateway registration codes', shot: 'gateway-codes',
  });
  assert.deepEqual(await codeStates(), ['Used'], 'the code the gateway registered with');
  const make = (hours, expected) => owner.follow(async () => {
    await main.getByLabel(/^Valid for/).fill(hours);
    await main.getByRole('button', { name: 'Make a code' }).click();
  }, { path: codes, h1: 'Gateway registration codes', ...expected });
  await make('0', { status: 400, shot: 'gateway-codes-error' });
  assert.equal(await owner.page.getAttribute('#f-hours', 'aria-invalid'), 'true');
  assert.equal(await owner.text('#f-hours-error'), 'Ensure this value is between 1 and 720.');
  assert.equal(await owner.count('[data-testid=new-code]'), 0, 'no code made');
  await make('48', { status: 201, shot: 'gateway-code-made' });
  const code = await owner.text('[data-testid=new-code]');
  assert.match(code, /^[0-9A-F]{4}(-[0-9A-F]{4}){4}$/);
  assert.match(await owner.page.locator('.ops-secret').innerText(), /only time the code is shown/);
  assert.deepEqual((await codeStates()).sort(), ['Open', 'Used']);
  await owner.open(codes, { h1: 'Gateway registration codes', shot: 'gateway-codes' });
  assert.equal(await owner.count('[data-testid=new-code]'), 0);
  assert.ok(!(await main.innerText()).includes(code), 'the code is not shown again');
  run.step('a validity of 0 hours is refused at its field; a code is made, shown once, and listed as open');

  await owner.open(list, { h1: `Gateways of ${acme.name}`, shot: 'gateways' });
  const revoke = () => row().getByRole('link', { name: /^Revoke/ }).click();
  await owner.follow(revoke, { path: `${list}/${key}/revoke`, h1: 'Revoke this gateway?', shot: 'gateway-revoke' });
  assert.match(await main.innerText(), new RegExp(`${name} \\(${key}\\) will be refused at its next request`));
  await owner.follow(() => main.getByRole('link', { name: 'Cancel' }).click(), {
    path: list, h1: `Gateways of ${acme.name}`, shot: 'gateways',
  });
  assert.match(await row().innerText(), /Active/, 'Cancel revokes nothing');
  await owner.follow(revoke, { path: `${list}/${key}/revoke`, h1: 'Revoke this gateway?', shot: 'gateway-revoke' });
  await owner.follow(() => main.locator('form button[type=submit]').click(), {
    path: list, h1: `Gateways of ${acme.name}`, shot: 'gateways-revoked',
  });
  assert.equal(await owner.text('.flash[role=status]'), `Gateway ${key} is revoked.`);
  assert.match(await row().innerText(), /Revoked/);
  assert.equal(await row().getByRole('link', { name: /^Revoke/ }).count(), 0, 'nothing left to revoke');
  run.step('revoking asks first; Cancel keeps the gateway, confirming revokes it');
});
