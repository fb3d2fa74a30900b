// The org switcher: choosing an org and pressing Open opens it and is remembered by the navigation; a
// person who is not in an org gets the same bare 404 for it as for an org that does not
// exist, with nothing of the org shown and nothing remembered.
import { assert, journey, site } from '../lib.mjs';

await journey('org switcher', async (run) => {
  const { acme, beta, other } = site.orgs;
  const admin = await run.visitor('admin');
  await admin.signIn(site.users.admin);
  const select = admin.page.locator('#org-switch');
  const choices = await select.locator('option').allTextContents();
  assert.deepEqual(choices.map((c) => c.trim()).sort(), [acme.name, beta.name]);
  const members = admin.page.locator('nav[aria-label=Main] a', { hasText: 'Members' });
  const first = await select.inputValue();
  assert.equal(await members.getAttribute('href'), `/org/${first}`);
  run.step('the switcher lists the two orgs and the navigation points into the chosen one');

  const chosen = first === beta.slug ? acme : beta;
  // Choosing only selects; the Open button goes (a keyboard user can move through the list).
  await select.selectOption(chosen.slug);
  assert.equal(admin.page.url(), `${site.baseUrl}/`);
  const open = admin.page.locator('.org-switch button[type=submit]');
  const landing = await admin.follow(() => open.click(), {
    path: `/org/${chosen.slug}`,
    status: null,
    notJudged: "the org's own page belongs to the members journey",
  });
  assert.equal(
    landing.request().redirectedFrom()?.url(),
    `${site.baseUrl}/org/switch?slug=${chosen.slug}`,
  );
  assert.equal(await admin.cookie('iotile_org'), chosen.slug);
  run.step(`choosing ${chosen.name} goes through /org/switch to /org/${chosen.slug}`);

  await admin.open('/', { path: '/', h1: 'Overview', shot: 'overview-after-switch' });
  assert.equal(await select.inputValue(), chosen.slug);
  assert.equal(await members.getAttribute('href'), `/org/${chosen.slug}`);
  const gateways = admin.page.locator('nav[aria-label=Main] a', { hasText: 'Gateways' });
  assert.equal(await gateways.getAttribute('href'), `/org/${chosen.slug}/gateways`);
  run.step('back on the overview, the choice is remembered by the switcher and the navigation');

  const outsider = await run.visitor('member of another org');
  await outsider.signIn(site.users.member, { path: '/', h1: 'Overview', shot: 'overview-other-org' });
  const theirs = await outsider.page.locator('#org-switch option').allTextContents();
  assert.deepEqual(theirs.map((c) => c.trim()), [other.name]);
  await outsider.open(`/org/switch?slug=${acme.slug}`, {
    status: 404, path: `/org/switch?slug=${acme.slug}`, h1: 'Not found', shot: 'not-found-org',
  });
  const refused = await outsider.page.locator('body').innerText();
  for (const secret of [acme.name, beta.name, site.project.name, site.users.admin]) {
    assert.ok(!refused.includes(secret), `the 404 page shows nothing of the org (${secret})`);
  }
  assert.equal(await outsider.count('#org-switch, nav, form'), 0, 'no navigation or forms');
  assert.equal(await outsider.cookie('iotile_org'), undefined, 'nothing remembered');

  await outsider.open('/org/switch?slug=no-such-org', {
    status: 404, h1: 'Not found', shot: 'not-found-org',
  });
  assert.equal(await outsider.page.locator('body').innerText(), refused);
  run.step("another org's switcher URL is the same 404 as an org that does not exist");
});
