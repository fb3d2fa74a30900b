// Forms without their CSRF token, or with a wrong one, are refused with a 403 page before
// anything happens: the password change, signing out and signing in.
import { assert, journey, site } from '../lib.mjs';

await journey('csrf', async (run) => {
  const person = await run.visitor('admin');
  await person.signIn(site.users.admin);
  const changePassword = async (token) => {
    await person.open('/account/password', { h1: 'Change password', shot: 'password' });
    await person.page.evaluate((value) => {
      const field = document.querySelector('main form input[name=csrf]');
      if (value === null) field.remove();
      else field.value = value;
    }, token);
    await person.page.fill('#f-current', site.password);
    await person.page.fill('#f-password', 'taken over by a forged form');
    await person.page.fill('#f-confirm', 'taken over by a forged form');
    return person.follow(() => person.page.getByRole('button', { name: 'Change password' }).click(), {
      status: 403, path: '/account/password', h1: 'Form refused', shot: 'form-refused',
    });
  };

  await changePassword(null);
  assert.match(await person.text('main h1 + p'), /did not come from this site/);
  await changePassword('0'.repeat(64));
  run.step('the password form without its token, or with a forged one, is refused (403)');

  await person.open('/', { h1: 'Overview', shot: 'overview' });
  await person.page.evaluate(() => document.querySelector('form[action="/logout"] input[name=csrf]').remove());
  await person.page.locator('.user-menu summary').click();
  await person.follow(() => person.page.getByRole('button', { name: 'Sign out' }).click(), {
    status: 403, path: '/logout', h1: 'Form refused', shot: 'form-refused',
  });
  await person.open('/', { path: '/', h1: 'Overview', shot: 'overview' });
  run.step('signing out without the token is refused and the session goes on');

  const stranger = await run.visitor('stranger');
  await stranger.open('/login', { h1: 'Sign in', shot: 'sign-in' });
  await stranger.page.evaluate(() => document.querySelector('main form input[name=csrf]').remove());
  await stranger.page.fill('#email', site.users.admin);
  await stranger.page.fill('#password', site.password);
  await stranger.follow(() => stranger.page.getByRole('button', { name: 'Sign in' }).click(), {
    status: 403, path: '/login', h1: 'Form refused', shot: 'form-refused',
  });
  assert.equal(await stranger.cookie('iotile_session'), undefined, 'no session made');
  run.step('the sign-in form without its token is refused and signs nobody in');

  // Nothing the refused forms carried took effect: the old password still works.
  const again = await run.visitor('admin again');
  await again.signIn(site.users.admin);
  run.step('the refused password change changed nothing');
});
