// Changing one's password: each mistake is shown next to its field (and tied to it for
// screen readers), success is said once, and only the new password signs in after.
import { assert, journey, site } from '../lib.mjs';

const NEW_PASSWORD = 'a fresh long passphrase';

await journey('password change', async (run) => {
  const person = await run.visitor('admin');
  await person.signIn(site.users.admin);
  await person.page.locator('.user-menu summary').click();
  await person.follow(() => person.page.getByRole('link', { name: 'Change password' }).click(), {
    path: '/account/password', h1: 'Change password', shot: 'password',
  });
  const submit = (current, password, confirm, expected) =>
    person.follow(async () => {
      await person.page.fill('#f-current', current);
      await person.page.fill('#f-password', password);
      await person.page.fill('#f-confirm', confirm);
      await person.page.getByRole('button', { name: 'Change password' }).click();
    }, { path: '/account/password', h1: 'Change password', ...expected });
  // The error of `field`, checked to sit in the field's own box and to describe its input.
  const fieldError = async (field) => {
    const input = person.page.locator(`#f-${field}`);
    assert.equal(await input.getAttribute('aria-invalid'), 'true', `${field} is marked invalid`);
    assert.equal(await input.getAttribute('aria-describedby'), `f-${field}-error`);
    const box = person.page.locator('.field', { has: input });
    return (await box.locator('.field-error').textContent()).trim();
  };

  await submit('not my password', 'short', 'short', { status: 400, shot: 'password-errors' });
  assert.equal(await fieldError('current'), 'This is not your current password.');
  assert.equal(await fieldError('password'), 'Use at least 8 characters.');
  assert.equal(await person.count('#f-confirm[aria-invalid]'), 0);
  run.step('a wrong current password and a short new one are each shown by their field');

  await submit(site.password, NEW_PASSWORD, 'something else entirely', {
    status: 400, shot: 'password-mismatch',
  });
  assert.equal(await fieldError('confirm'), 'The two new passwords differ.');
  assert.equal(await person.count('[aria-invalid=true]'), 1, 'only the repeat is blamed');
  run.step('two different new passwords are shown at the repeat field');

  await submit(site.password, NEW_PASSWORD, NEW_PASSWORD, {
    path: '/', h1: 'Overview', shot: 'overview-password-changed',
  });
  assert.equal(await person.text('.flash[role=status]'), 'Your password was changed.');
  await person.open('/', { path: '/', h1: 'Overview', shot: 'overview' });
  assert.equal(await person.count('.flash'), 0, 'the message is shown once');
  run.step('success lands on the overview with a message shown once');

  await person.signOut();
  await person.signIn(site.users.admin, { path: '/login', h1: 'Sign in', shot: 'sign-in-refused' });
  assert.equal(
    await person.text('.form-error'),
    'That email and password do not match an account.',
  );
  await person.signIn(site.users.admin, { password: NEW_PASSWORD });
  run.step('the old password no longer signs in; the new one does');
});
