// The job queue, for staff: a dead job is found under its state with the reason it gave
// up, retried through the confirm page, and the worker then finishes it. To anyone else the
// queue is refused.
import { assert, journey, site } from '../lib.mjs';

await journey('jobs', async (run) => {
  const { id, reason } = site.deadJob;
  const officer = await run.visitor('staff');
  await officer.signIn(site.users.staff, { path: '/', h1: 'Overview', shot: 'overview-staff' });
  const main = officer.page.locator('main');
  const state = () => officer.text('[data-testid=job-state]');

  await officer.open('/jobs', { h1: 'Job queue', shot: 'jobs' });
  assert.match(await officer.text('[data-testid=jobs-dead]'), /^Dead\s+1$/);
  await officer.follow(() => officer.page.locator('[data-testid=jobs-dead]').click(), {
    path: '/jobs?state=dead', h1: 'Job queue', shot: 'jobs-dead',
  });
  const rows = await main.locator('tbody tr').allInnerTexts();
  assert.equal(rows.length, 1);
  assert.match(rows[0], new RegExp(`^${id}\\b[\\s\\S]*dead[\\s\\S]*8 of 8[\\s\\S]*${reason}`));
  await officer.open('/jobs?state=done', { h1: 'Job queue', shot: 'jobs-none' });
  assert.equal(await officer.text('.empty h2'), 'No jobs here');
  run.step(`the dead job ${id} is listed under Dead with why it gave up; no job is done yet`);

  await officer.open(`/jobs/${id}`, { h1: `Job ${id}`, shot: 'job-dead' });
  assert.equal(await state(), 'dead');
  assert.match(await officer.text('p.alert'), new RegExp(`Why it gave up:\\s*${reason}`));
  const retry = () => main.getByRole('link', { name: 'Retry this job' }).click();
  await officer.follow(retry, { path: `/jobs/${id}/retry`, h1: `Retry job ${id}?`, shot: 'job-retry' });
  assert.match(await main.innerText(), new RegExp(`Its last error: ${reason}`));
  await officer.follow(() => main.getByRole('link', { name: 'Cancel' }).click(), {
    path: `/jobs/${id}`, h1: `Job ${id}`, shot: 'job-dead',
  });
  assert.equal(await state(), 'dead', 'Cancel retries nothing');
  await officer.follow(retry, { path: `/jobs/${id}/retry`, h1: `Retry job ${id}?`, shot: 'job-retry' });
  await officer.follow(() => main.getByRole('button', { name: 'Retry the job' }).click(), {
    path: `/jobs/${id}`, h1: `Job ${id}`, shot: 'job-retried',
  });
  assert.equal(await officer.text('.flash[role=status]'), `Job ${id} is queued again.`);
  run.step('retrying asks first; Cancel leaves it dead, confirming queues it again');

  // Its report is gone, so the worker's next attempt finishes it.
  const deadline = Date.now() + 20_000;
  while ((await state()) !== 'done') {
    assert.ok(Date.now() < deadline, `job ${id} still ${await state()} after 20 s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await officer.open(`/jobs/${id}`, { h1: `Job ${id}`, shot: 'job-after-retry' });
  }
  assert.equal(await officer.count('a[href$="/retry"]'), 0, 'a done job offers no retry');
  await officer.snap('job-done');
  await officer.open('/jobs?state=dead', { h1: 'Job queue', shot: 'jobs-none' });
  assert.equal(await officer.text('.empty h2'), 'No dead jobs');
  run.step('the worker takes it up and finishes it; no job is dead any more');

  const admin = await run.visitor('org owner');
  await admin.signIn(site.users.admin);
  assert.equal(await admin.count('nav[aria-label=Main] a[href="/jobs"]'), 0);
  for (const path of ['/jobs', `/jobs/${id}`, `/jobs/${id}/retry`]) {
    await admin.open(path, { status: 403, h1: 'Not allowed', shot: 'not-allowed' });
    assert.ok(!(await admin.page.locator('body').innerText()).includes(reason), `${path} shows no job`);
  }
  run.step('to someone who is not staff, the queue and its jobs are refused');
});
