// Projects: the list with its filter and empty state; creating one (refused without a name,
// at the field), renaming it, giving it a variable; and deleting it, which only staff may
// do, through a page that says what goes with it.
import { assert, journey, site } from '../lib.mjs';

const PROJECT = 'Pump station';

await journey('projects', async (run) => {
  const { acme, beta } = site.orgs;
  const admin = await run.visitor('admin');
  await admin.signIn(site.users.admin);
  const main = admin.page.locator('main');
  const names = () => admin.page.locator('table[data-testid=projects] tbody tr td:first-child').allTextContents();

  await admin.follow(() => admin.page.getByRole('link', { name: 'Projects', exact: true }).click(), {
    path: '/projects', h1: 'Projects', shot: 'projects',
  });
  assert.deepEqual(await names(), [site.project.name]);
  run.step('the list shows the seeded project');

  await main.getByLabel('Org').selectOption(beta.slug);
  await admin.follow(() => main.getByRole('button', { name: 'Filter' }).click(), {
    path: `/projects?org=${beta.slug}&q=`, h1: 'Projects', shot: 'projects-none-match',
  });
  assert.equal(await admin.text('.empty h2'), 'No project matches these filters');
  run.step(`filtered to ${beta.name}, the list says nothing matches and how to clear it`);

  await admin.follow(() => main.getByRole('link', { name: 'New project' }).click(), {
    path: `/projects/new?org=${beta.slug}`, h1: 'New project', shot: 'project-new',
  });
  assert.equal(await main.getByLabel('Org').inputValue(), beta.slug, 'the filtered org is chosen');
  const create = (expected) => admin.follow(() => main.getByRole('button', { name: 'Create project' }).click(), expected);
  await create({ status: 400, path: '/projects/new', h1: 'New project', shot: 'project-new-error' });
  assert.equal(await admin.page.getAttribute('#f-name', 'aria-invalid'), 'true');
  assert.equal(await admin.page.getAttribute('#f-name', 'aria-describedby'), 'f-name-error');
  assert.ok((await admin.text('#f-name-error')).length > 0, 'the refusal is said at the field');
  assert.equal(await admin.count('[aria-invalid=true]'), 1, 'only the name is blamed');
  await main.getByLabel('Name').fill(PROJECT);
  await main.getByLabel('About').fill('Pumps of the north field.');
  await create({ path: /^\/project\/[0-9a-f-]{36}$/, h1: PROJECT, shot: 'project-created' });
  const page = admin.where();
  assert.equal(await admin.text('.flash[role=status]'), 'Project created.');
  assert.equal(await admin.text('dl.props dd a[href^="/org/"]'), beta.name);
  assert.equal(await admin.text('section[aria-labelledby=variables-h] .empty h3'), 'No variables yet');
  run.step('a project without a name is refused at the field; with one it is made in the chosen org');

  await admin.follow(() => main.getByRole('link', { name: 'Edit name and about' }).click(), {
    path: `${page}/edit`, h1: `Edit ${PROJECT}`, shot: 'project-edit',
  });
  await main.getByLabel('Name').fill('');
  await admin.follow(() => main.getByRole('button', { name: 'Save' }).click(), {
    status: 400, path: `${page}/edit`, h1: `Edit ${PROJECT}`, shot: 'project-edit-error',
  });
  assert.equal(await admin.page.getAttribute('#f-name', 'aria-invalid'), 'true');
  await main.getByLabel('Name').fill('North pumps');
  await admin.follow(() => main.getByRole('button', { name: 'Save' }).click(), {
    path: page, h1: 'North pumps', shot: 'project-created',
  });
  assert.equal(await admin.text('.flash[role=status]'), 'The project was saved.');
  run.step('the project is renamed, after an empty name was refused');

  await admin.follow(() => main.getByRole('link', { name: 'New variable' }).click(), {
    path: `${page}/variables/new`, h1: 'New variable', shot: 'variable-new',
  });
  const makeVariable = (expected) => admin.follow(() => main.getByRole('button', { name: 'Create variable' }).click(), expected);
  await makeVariable({ status: 400, path: `${page}/variables/new`, h1: 'New variable', shot: 'variable-new-error' });
  const blamed = await admin.page.locator('[aria-invalid=true]').evaluateAll((els) => els.map((e) => e.name));
  assert.deepEqual(blamed, ['lid'], 'the stream id is needed');
  assert.equal(await admin.text('#f-lid-error'), 'This field is required.');
  await main.getByLabel('Name', { exact: true }).fill('Flow');
  await main.getByLabel('Stream id (hex)').fill('5010');
  await makeVariable({ path: page, h1: 'North pumps', shot: 'project' });
  assert.match(await admin.text('.flash[role=status]'), /^Variable v--[0-9a-f-]+--5010 created\.$/);
  const variables = await admin.page.locator('table[data-testid=variables] tbody tr').evaluateAll((trs) =>
    trs.map((tr) => [tr.cells[1].textContent.trim(), tr.cells[2].textContent.trim()]));
  assert.deepEqual(variables, [['Flow', '5010']]);
  run.step('a variable is refused without its stream id, then made and listed');

  await admin.open('/projects', { h1: 'Projects', shot: 'projects' });
  assert.deepEqual((await names()).sort(), ['North pumps', site.project.name].sort());
  assert.equal(await admin.count(`a[href="${page}/delete"]`), 0);
  await admin.open(`${page}/delete`, { status: 403, h1: 'Not allowed', shot: 'not-allowed' });
  assert.equal(await admin.text('main h1 + p'), 'Only staff can delete projects.');
  run.step('both projects are listed; an org owner is not offered deletion, and is refused it');

  const staff = await run.visitor('staff');
  await staff.signIn(site.users.staff, { path: '/', h1: 'Overview', shot: 'overview-staff' });
  await staff.open(page, { h1: 'North pumps', shot: 'project-as-staff' });
  await staff.follow(() => staff.page.getByRole('link', { name: 'Delete project' }).click(), {
    path: `${page}/delete`, h1: 'Delete the project North pumps?', shot: 'project-delete',
  });
  assert.match(await staff.page.locator('main').innerText(), /Its 1 variable and 0 streams are deleted with it/);
  await staff.follow(() => staff.page.getByRole('link', { name: 'Cancel' }).click(), {
    path: page, h1: 'North pumps', shot: 'project-as-staff',
  });
  await staff.open(`${page}/delete`, { h1: 'Delete the project North pumps?', shot: 'project-delete' });
  await staff.follow(() => staff.page.getByRole('button', { name: 'Delete project' }).click(), {
    path: '/projects', h1: 'Projects', shot: 'projects-after-delete',
  });
  assert.equal(await staff.text('.flash[role=status]'), 'The project North pumps was deleted.');
  await admin.open(page, { status: 404, h1: 'Not found', shot: 'not-found' });
  await admin.open('/projects', { h1: 'Projects', shot: 'projects' });
  assert.deepEqual(await names(), [site.project.name]);
  run.step('staff cancel, then confirm the deletion; the project is gone for its org too');

  await admin.open(`/projects?org=${acme.slug}&q=trial`, { h1: 'Projects', shot: 'projects-filtered' });
  assert.deepEqual(await names(), [site.project.name]);
  run.step('filtering by org and name finds the project');
});
