// Keyboard use: the skip link comes first and works, the header and main navigation
// follow in reading order, focus is always visible, and the account menu opens and is
// followed without a mouse.
import { assert, journey, site } from '../lib.mjs';

await journey('keyboard', async (run) => {
  const person = await run.visitor('admin');
  await person.signIn(site.users.admin);
  const tab = async () => {
    await person.page.keyboard.press('Tab');
    const focus = await person.focused();
    assert.ok(focus.visible, `focused ${JSON.stringify(focus)} is on screen`);
    assert.ok(focus.ring, `focused ${JSON.stringify(focus)} shows a focus ring`);
    return focus;
  };

  let focus = await tab();
  assert.deepEqual([focus.tag, focus.name, focus.href], ['a', 'Skip to content', '#main']);
  run.step('the first Tab reaches the skip link, shown while focused');

  await person.page.keyboard.press('Enter');
  focus = await person.focused();
  assert.deepEqual([focus.tag, focus.id], ['main', 'main']);
  focus = await tab();
  assert.equal(focus.name, site.orgs.acme.name, 'the next Tab is the first link of the content');
  run.step('the skip link moves focus past the header to the content');

  // From the top again: the header in reading order, then the main navigation.
  await person.open('/', { path: '/', h1: 'Overview', shot: 'overview' });
  const order = [];
  for (let i = 0; i < 14; i++) {
    focus = await tab();
    order.push(focus.tag === 'select' ? `select#${focus.id}` : focus.name);
    if (focus.name === 'Open') await person.snap('focus-on-open-button');
    if (focus.name === 'Members') break;
  }
  assert.deepEqual(order, [
    'Skip to content',
    'IOTile Cloud',
    'select#org-switch',
    'Open',
    `Account: ${site.users.admin}`,
    'Overview',
    'Devices',
    'Projects',
    'Reports',
    'Gateways',
    'OTA',
    'Members',
  ]);
  const current = person.page.locator('nav[aria-label=Main] a[aria-current=page]');
  assert.deepEqual(await current.allTextContents(), ['Overview']);
  run.step('Tab goes through the header, then the main navigation, the page marked current');

  // The account menu by keyboard: open it, reach its first link, follow it.
  await person.page.focus('.user-menu summary');
  await person.page.keyboard.press('Enter');
  focus = await tab();
  assert.equal(focus.name, 'Change password');
  await person.follow(() => person.page.keyboard.press('Enter'), {
    path: '/account/password', h1: 'Change password', shot: 'password',
  });
  assert.equal(await person.count('nav[aria-label=Main] a[aria-current=page]'), 0);
  run.step('the account menu opens with Enter and its links are reached with Tab');
});
