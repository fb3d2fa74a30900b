// The harness's own checks catch what they are for: a planted axe violation, a page wider
// than the window, a wrong status or heading, a console error, and a page landed on but
// never judged. (A journey passing proves little if these checks could not fail.)
import { assert, journey } from '../lib.mjs';

await journey('harness checks', async (run) => {
  const tester = await run.visitor('tester');
  await tester.open('/login', { h1: 'Sign in', shot: 'sign-in' });

  await tester.page.evaluate(() => document.querySelector('main').append(document.createElement('button')));
  await assert.rejects(tester.audit('planted-violation'), /critical button-name/);
  run.step('a button without a name fails the axe audit');

  await tester.page.evaluate(() => {
    document.querySelector('main').lastElementChild.remove(); // the planted button
    const wide = document.createElement('div');
    Object.assign(wide.style, { position: 'absolute', top: '0', left: '0', width: '2000px', height: '1px' });
    document.body.append(wide);
  });
  await assert.rejects(tester.audit('planted-overflow'), /scrolls sideways: 2\d{3} px wide/);
  run.step('a page wider than the window fails');

  await assert.rejects(tester.open('/login', { status: 404, h1: 'Sign in', shot: 'sign-in' }), /status of/);
  await assert.rejects(tester.judge(null, { h1: 'Overview', shot: 'sign-in' }), /h1 of/);
  tester.unjudged = null;
  run.step('a wrong status or heading fails the page');

  await tester.page.evaluate(() => console.error('planted console error'));
  assert.throws(() => run.finish(), /planted console error/);
  run.consoleErrors.length = 0;
  run.step('a console error fails the journey');

  await tester.page.goto(new URL('/login?unjudged', tester.page.url()).href);
  await assert.rejects(tester.open('/login', { h1: 'Sign in', shot: 'sign-in' }), /without judging/);
  assert.throws(() => run.finish(), /never judged/);
  tester.unjudged = null;
  run.step('a page landed on and not judged fails the journey');
});
