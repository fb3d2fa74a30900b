// An org's page and its members: an owner edits the org, adds someone (after a refused
// address), changes their role and removes them through the confirm page; the new member
// sees the org while in it, without the member list their role does not show, and not after.
import { assert, journey, site } from '../lib.mjs';

await journey('org', async (run) => {
  const { acme } = site.orgs;
  const { member, dev } = site.users;
  const home = `/org/${acme.slug}`;
  const owner = await run.visitor('owner');
  await owner.signIn(site.users.admin);
  const main = owner.page.locator('main');
  const rows = () => owner.page.locator('table[data-testid=members] tbody tr').evaluateAll((trs) =>
    trs.map((tr) => [tr.cells[1].textContent.trim(), tr.cells[2].textContent.trim()]).sort());
  const team = [[site.users.admin, 'Owner'], [dev, 'Developer']];

  await owner.follow(() => main.getByRole('link', { name: acme.name }).click(), {
    path: home, h1: acme.name, shot: 'org',
  });
  assert.deepEqual(await rows(), team.sort());
  assert.match(await owner.text('main h1 + p'), /your role: Owner$/);
  const figures = await owner.page.locator('#counts-h + dl.figures dd').allTextContents();
  assert.deepEqual(figures.map((f) => f.trim()), ['1', '1', '0', '2'], 'one project, one device, no alias, two members');
  run.step('the owner opens the org from the overview: its figures and its members');

  await owner.follow(() => main.getByRole('link', { name: 'Edit name and about' }).click(), {
    path: `${home}/edit`, h1: `Edit ${acme.name}`, shot: 'org-edit',
  });
  await main.getByLabel('About').fill('Water meters of the valley.');
  await owner.follow(() => main.getByRole('button', { name: 'Save' }).click(), {
    path: home, h1: acme.name, shot: 'org-with-about',
  });
  assert.equal(await owner.text('main h1 + p + p'), 'Water meters of the valley.');
  run.step('the org is given an about text');

  const add = (email, role, expected) => owner.follow(async () => {
    await main.getByLabel('Email of their account').fill(email);
    await main.getByLabel('Role').selectOption({ label: role });
    await main.getByRole('button', { name: 'Add member' }).click();
  }, expected);
  await add('nobody@nowhere.test', 'Member', { status: 400, path: `${home}/members`, h1: acme.name, shot: 'org-add-error' });
  assert.equal(await owner.page.getAttribute('#f-email', 'aria-invalid'), 'true');
  assert.match(await owner.page.getAttribute('#f-email', 'aria-describedby'), /^f-email-error\b/);
  assert.ok((await owner.text('#f-email-error')).length > 0, 'the refusal is said at the field');
  assert.equal(await owner.page.inputValue('#f-email'), 'nobody@nowhere.test');
  await add(member, 'Member', { path: home, h1: acme.name, shot: 'org-two-members' });
  assert.equal(await owner.text('.flash[role=status]'), `${member} was added as Member.`);
  assert.deepEqual(await rows(), [...team, [member, 'Member']].sort());
  run.step('an address without an account is refused at its field; an account is added');

  const newcomer = await run.visitor('member');
  await newcomer.signIn(member, { path: '/', h1: 'Overview', shot: 'overview-member' });
  await newcomer.open(home, { h1: acme.name, shot: 'org-as-member' });
  assert.match(await newcomer.text('main h1 + p'), /your role: Member$/);
  assert.equal(await newcomer.count('table[data-testid=members], form[action$="/members"]'), 0);
  assert.ok(!(await newcomer.page.locator('main').innerText()).includes(site.users.admin), 'no member listed');
  run.step('the new member sees the org, but not its member list or the form to add one');

  await owner.follow(() => main.getByRole('link', { name: `Change role of ${member}` }).click(), {
    path: /\/members\/[^/]+\/role$/, h1: `Change the role of ${member}`, shot: 'member-role',
  });
  await main.getByLabel('Role').selectOption({ label: 'Admin' });
  await owner.follow(() => main.getByRole('button', { name: 'Change role' }).click(), {
    path: home, h1: acme.name, shot: 'org-two-members',
  });
  assert.equal(await owner.text('.flash[role=status]'), `${member} is now Admin.`);
  assert.deepEqual((await rows()).find(([email]) => email === member), [member, 'Admin']);
  await newcomer.open(home, { h1: acme.name, shot: 'org-as-admin' });
  assert.equal(await newcomer.count('table[data-testid=members]'), 1, 'an admin sees the members');
  run.step('the owner makes them an admin, and they see the member list');

  const remove = () => main.getByRole('link', { name: `Remove ${member}` }).click();
  const question = `Remove ${member} from ${acme.name}?`;
  await owner.follow(remove, { path: /\/members\/[^/]+\/remove$/, h1: question, shot: 'member-remove' });
  await owner.follow(() => main.getByRole('link', { name: 'Cancel' }).click(), {
    path: home, h1: acme.name, shot: 'org-two-members',
  });
  assert.equal((await rows()).length, 3, 'Cancel removes nobody');
  await owner.follow(remove, { path: /\/remove$/, h1: question, shot: 'member-remove' });
  await owner.follow(() => main.getByRole('button', { name: 'Remove member' }).click(), {
    path: home, h1: acme.name, shot: 'org',
  });
  assert.equal(await owner.text('.flash[role=status]'), `${member} was removed from ${acme.name}.`);
  assert.deepEqual(await rows(), team.sort());
  run.step('removing asks first; Cancel keeps them, confirming removes them');

  await newcomer.open(home, { status: 404, h1: 'Not found', shot: 'not-found' });
  assert.ok(!(await newcomer.page.locator('body').innerText()).includes(acme.name));
  run.step('the removed member no longer reaches the org');
});
