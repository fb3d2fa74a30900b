// A session that ended elsewhere (expired, or its token revoked) sends the browser to
// sign in with the page it wanted as `next`, and signing in lands there. A `next` that
// points at another site is not followed.
import { api, assert, journey, site } from '../lib.mjs';

await journey('stale session', async (run) => {
  const person = await run.visitor('admin');
  await person.setCookie('iotile_session', site.expiredSession);
  await person.open('/account/password', {
    path: '/login?next=%2Faccount%2Fpassword', h1: 'Sign in', shot: 'sign-in',
  });
  assert.equal(await person.cookie('iotile_session'), undefined, 'the expired cookie is cleared');
  await person.signIn(site.users.admin, {
    path: '/account/password', h1: 'Change password', shot: 'password',
  });
  run.step('an expired session goes to sign-in, then on to the page it asked for');

  // The same account signs this session's token out through the API (another client).
  const token = await person.cookie('iotile_session');
  assert.equal(await api('POST', 'auth/logout/', token), 204);
  await person.page.fill('#f-current', site.password);
  await person.follow(() => person.page.getByRole('button', { name: 'Change password' }).click(), {
    path: '/login?next=%2Faccount%2Fpassword', h1: 'Sign in', shot: 'sign-in',
  });
  await person.signIn(site.users.admin, {
    path: '/account/password', h1: 'Change password', shot: 'password',
  });
  run.step('a form sent with a revoked session goes to sign-in, then back to the form');

  const wanderer = await run.visitor('admin elsewhere');
  await wanderer.open('/login?next=//elsewhere.example/steal', { h1: 'Sign in', shot: 'sign-in' });
  await wanderer.signIn(site.users.admin);
  run.step('a next pointing at another site lands on the overview instead');
});
