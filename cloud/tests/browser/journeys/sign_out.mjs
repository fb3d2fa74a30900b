// Signing out ends the session for good: the overview is not shown again from history or
// on a revisit, and the old session cookie, even put back by hand, no longer works,
// in the browser or as an API token.
import { api, assert, journey, site } from '../lib.mjs';

await journey('sign out', async (run) => {
  const person = await run.visitor('admin');
  await person.signIn(site.users.admin);
  const session = await person.cookie('iotile_session');
  assert.ok(session, 'signed in with a session cookie');

  await person.signOut();
  assert.equal(await person.text('main .flash[role=status]'), 'You have signed out.');
  assert.equal(await person.cookie('iotile_session'), undefined, 'the cookie is gone');
  run.step('signing out lands on sign-in with a notice and drops the cookie');

  await person.back({ path: '/login?next=%2F', h1: 'Sign in', shot: 'sign-in' });
  assert.ok(!(await person.page.locator('body').innerText()).includes(site.orgs.acme.name));
  run.step('Back does not show the overview again: it asks to sign in');

  await person.open('/', { path: '/login?next=%2F', h1: 'Sign in', shot: 'sign-in' });
  run.step('a revisit of the overview asks to sign in');

  await person.setCookie('iotile_session', session);
  await person.open('/', { path: '/login?next=%2F', h1: 'Sign in', shot: 'sign-in' });
  assert.equal(await person.cookie('iotile_session'), undefined, 'the stale cookie is cleared');
  assert.equal(await api('GET', 'account/', session), 401);
  run.step('the old session cookie is refused by the pages and by the API');
});
