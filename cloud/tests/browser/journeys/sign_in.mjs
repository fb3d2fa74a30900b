// Signing in: the form's own checks, a refused password shown beside the form, and the
// overview each kind of account lands on.
import { assert, journey, site } from '../lib.mjs';

await journey('sign in', async (run) => {
  const { admin, staff } = site.users;
  const person = await run.visitor('admin');

  await person.open('/', { path: '/login?next=%2F', h1: 'Sign in', shot: 'sign-in' });
  assert.equal(await person.cookie('iotile_session'), undefined);
  run.step('signed out, the overview sends to sign-in and keeps where it was going');

  await person.page.fill('#email', 'not an address');
  await person.follow(() => person.page.getByRole('button', { name: 'Sign in' }).click(), {
    path: '/login', h1: 'Sign in', shot: 'sign-in-field-errors',
  });
  assert.equal(await person.text('#email-error'), 'Enter a valid email address.');
  assert.equal(await person.text('#password-error'), 'Enter your password.');
  for (const field of ['email', 'password']) {
    const input = person.page.locator(`#${field}`);
    assert.equal(await input.getAttribute('aria-invalid'), 'true');
    assert.equal(await input.getAttribute('aria-describedby'), `${field}-error`);
  }
  run.step('each field error is next to its field and tied to it for screen readers');

  await person.signIn(admin, {
    password: 'not the password',
    path: '/login', h1: 'Sign in', shot: 'sign-in-refused',
  });
  assert.equal(
    await person.text('main form .form-error[role=alert]'),
    'That email and password do not match an account.',
  );
  assert.equal(await person.page.inputValue('#email'), admin);
  assert.equal(await person.page.inputValue('#password'), '');
  assert.equal(await person.count('[aria-invalid=true]'), 0, 'no field is blamed for a wrong pair');
  assert.equal(await person.cookie('iotile_session'), undefined);
  run.step('a wrong password is refused in the form, the email kept, no session made');

  await person.signIn(admin);
  assert.ok(await person.cookie('iotile_session'), 'a session cookie');
  const orgs = await person.page.locator('.card h2').allTextContents();
  assert.deepEqual(orgs.map((o) => o.trim()).sort(), [site.orgs.acme.name, site.orgs.beta.name]);
  assert.equal(await person.count('text=Your role: Owner'), 2);
  assert.equal(await person.count('nav[aria-label=Main] a[href="/staff"]'), 0, 'no staff link');
  assert.equal(await person.text('.user-menu summary'), `Account: ${admin}`);
  run.step('the right password lands on the overview of their two orgs');

  const officer = await run.visitor('staff');
  await officer.signIn(staff, { path: '/', h1: 'Overview', shot: 'overview-staff' });
  assert.equal(await officer.text('.empty h2'), 'You are not in any org yet');
  assert.equal(await officer.count('nav[aria-label=Main] a[href="/staff"]'), 1);
  run.step('staff land on the overview with the staff link');
});
