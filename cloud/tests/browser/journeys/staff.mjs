// The staff area: its overview, finding accounts and changing their flags through confirm
// pages (a deactivated account cannot sign in until activated again; staff made or unmade),
// every org with its figures, and the catalogue. To anyone else these pages are not there.
import { assert, journey, site } from '../lib.mjs';

await journey('staff', async (run) => {
  const { admin, member, staff, dev } = site.users;
  const officer = await run.visitor('staff');
  await officer.signIn(staff, { path: '/', h1: 'Overview', shot: 'overview-staff' });
  const main = officer.page.locator('main');
  const column = (testid, n) => officer.page.locator(`table[data-testid=${testid}] tbody tr`).evaluateAll(
    (trs, i) => trs.map((tr) => tr.cells[i].textContent.trim().replace(/\s+/g, ' ')), n);

  await officer.follow(() => officer.page.locator('nav[aria-label=Main]').getByRole('link', { name: 'Staff' }).click(), {
    path: '/staff', h1: 'Staff', shot: 'staff',
  });
  const figures = await officer.page.locator('.card dl.figures dd').allTextContents();
  assert.deepEqual(figures.map((f) => f.trim()), ['4', '3'], 'four accounts, three orgs');
  run.step('the staff overview counts the accounts and orgs');

  await officer.follow(() => main.getByRole('link', { name: 'Accounts' }).click(), {
    path: '/staff/users', h1: 'Accounts', shot: 'staff-users',
  });
  assert.deepEqual((await column('accounts', 1)).sort(), [admin, dev, member, staff].sort());
  const mine = officer.page.locator('table[data-testid=accounts] tbody tr', { hasText: staff });
  assert.equal((await mine.locator('td').last().textContent()).trim(), 'Not on your own account');
  const find = async (q, shot) => {
    await main.getByLabel('Username, email or name contains').fill(q);
    return officer.follow(() => main.getByRole('button', { name: 'Find' }).click(), {
      path: `/staff/users?q=${encodeURIComponent(q)}`, h1: 'Accounts', shot,
    });
  };
  await find('nothing-like-this', 'staff-users-none');
  assert.equal(await officer.text('.empty h2'), 'No account matches “nothing-like-this”');
  await find('other.test', 'staff-users-found');
  assert.deepEqual(await column('accounts', 1), [member]);
  run.step('accounts are listed, found by part of an address, and none found says so');

  const account = (email) => officer.page.locator('table[data-testid=accounts] tbody tr', { hasText: email });
  // `action` is the link's visible text in the account's row.
  const flag = async (email, action, question, button, message) => {
    await officer.follow(() => account(email).getByRole('link', { name: action }).click(), {
      path: /^\/staff\/users\/[^/]+\/[a-z-]+$/, h1: question, shot: `confirm-${button.toLowerCase().replace(/ /g, '-')}`,
    });
    await officer.follow(() => main.getByRole('button', { name: button }).click(), {
      path: '/staff/users', h1: 'Accounts', shot: 'staff-users-changed',
    });
    assert.equal(await officer.text('.flash[role=status]'), message);
  };
  await flag(member, 'Deactivate', `Deactivate the account of ${member}?`, 'Deactivate account', `${member} was deactivated.`);
  assert.match(await account(member).locator('td').nth(4).innerText(), /deactivated/);
  const outsider = await run.visitor('member');
  await outsider.signIn(member, { path: '/login', h1: 'Sign in', shot: 'sign-in-refused' });
  assert.equal(await outsider.cookie('iotile_session'), undefined, 'a deactivated account gets no session');
  await flag(member, 'Activate', `Activate the account of ${member}?`, 'Activate account', `${member} was activated.`);
  await outsider.signIn(member);
  run.step('a deactivated account cannot sign in; activated again, it can');

  await flag(admin, 'Make staff', `Make ${admin} staff?`, 'Make staff', `${admin} is now staff.`);
  const promoted = await run.visitor('admin');
  await promoted.signIn(admin);
  assert.equal(await promoted.count('nav[aria-label=Main] a[href="/staff"]'), 1, 'the new staff see the Staff link');
  await promoted.open('/staff/orgs', { h1: 'All orgs', shot: 'staff-orgs' });
  await flag(admin, 'Remove from staff', `Remove ${admin} from staff?`, 'Remove from staff', `${admin} is no longer staff.`);
  await promoted.open('/staff/orgs', { status: 404, h1: 'Not found', shot: 'not-found' });
  run.step('an account made staff reaches the staff pages, and no longer once removed from staff');

  await officer.open('/staff/orgs', { h1: 'All orgs', shot: 'staff-orgs' });
  const orgs = await officer.page.locator('table[data-testid=orgs] tbody tr').evaluateAll((trs) =>
    trs.map((tr) => [...tr.cells].map((td) => td.textContent.trim())));
  const { acme, beta, other } = site.orgs;
  assert.deepEqual(orgs.map(([name, slug, , p, d, m]) => [name, slug, p, d, m]), [
    [acme.name, acme.slug, '1', '1', '2'],
    [beta.name, beta.slug, '0', '0', '1'],
    [other.name, other.slug, '0', '0', '1'],
  ]);
  await main.getByLabel('Name contains').fill('Zebra');
  await officer.follow(() => main.getByRole('button', { name: 'Find' }).click(), {
    path: '/staff/orgs?q=Zebra', h1: 'All orgs', shot: 'staff-orgs-none',
  });
  assert.equal(await officer.text('.empty h2'), 'No org name contains “Zebra”');
  run.step('every org is listed with its projects, devices and members; a search can find none');

  const catalogue = [
    ['Sensor graphs', 'sensor-graphs', 'water-meter-v1-1-0'],
    ['Device templates', 'device-templates', 'internaltestingtemplate-v0-1-0'],
    ['Variable types', 'var-types', 'water-meter-volume'],
  ];
  for (const [title, path, slug] of catalogue) {
    await officer.open('/staff', { h1: 'Staff', shot: 'staff' });
    await officer.follow(() => main.getByRole('link', { name: title }).click(), {
      path: `/staff/catalogue/${path}`, h1: title, shot: `catalogue-${path}`,
    });
    assert.ok((await officer.count('table[data-testid=catalogue] tbody tr')) > 1, `${title} are listed`);
    await officer.follow(() => officer.page.locator(`a[href="/staff/catalogue/${path}/${slug}"]`).click(), {
      path: `/staff/catalogue/${path}/${slug}`, h1: /./, shot: `catalogue-${path}-item`,
    });
    const props = await officer.page.locator('dl.props').innerText();
    assert.match(props, new RegExp(`Slug\\s+${slug}`), `${slug} is shown`);
  }
  run.step('the catalogue lists sensor graphs, device templates and variable types, each opening');

  for (const path of ['/staff', '/staff/users', '/staff/orgs', '/staff/catalogue/sensor-graphs']) {
    await outsider.open(path, { status: 404, h1: 'Not found', shot: 'not-found' });
  }
  run.step('to someone who is not staff, none of the staff pages is there');
});
