// A member of another org reaches nothing of Acme Water's: not its device, project, org,
// gateway or OTA pages by link, and no change by posting a form (with their own valid form
// token) to Acme's addresses. Each answer is a bare 403 or 404 with nothing of Acme in it, and Acme's
// owner finds everything as it was.
import { assert, journey, site } from '../lib.mjs';

await journey('isolation', async (run) => {
  const { acme } = site.orgs;
  const device = `/device/${site.device.slug}`;
  const project = `/project/${site.project.id}`;
  const org = `/org/${acme.slug}`;
  const { gateway, ota } = site;
  const deployment = `${org}/ota/deployments/${ota.deployment}`;
  const secrets = [
    acme.name, site.orgs.beta.name, site.project.name, site.users.admin, site.users.dev,
    'IOTile Device (000a)', gateway.name, gateway.key, ota.key.id, ota.script.slug, ota.fleet.name,
  ];
  const outsider = await run.visitor('member of another org');
  await outsider.signIn(site.users.member);
  const body = () => outsider.page.locator('body').innerText();
  const showsNothing = async (what) => {
    const text = await body();
    for (const secret of secrets) assert.ok(!text.includes(secret), `${what} shows nothing of Acme (${secret})`);
  };

  await outsider.open('/devices', { h1: 'Devices', shot: 'devices-empty' });
  assert.equal(await outsider.text('.empty h2'), 'No devices here');
  await outsider.open(`/devices?org=${acme.slug}`, { h1: 'Devices', shot: 'devices-none-match' });
  await showsNothing('the device list filtered to Acme');
  await outsider.open('/projects', { h1: 'Projects', shot: 'projects-empty' });
  assert.equal(await outsider.text('.empty h2'), 'No projects yet');
  await outsider.open(`/projects?org=${acme.slug}`, { h1: 'Projects', shot: 'projects-none-match' });
  await showsNothing('the project list filtered to Acme');
  await outsider.open('/devices/claim', { h1: 'Claim a device', shot: 'claim-no-project' });
  assert.equal(await outsider.text('.empty h2'), 'No project to claim into');
  run.step("their lists are empty, even filtered to Acme's org");

  const links = [
    device, `${device}/unclaim`, project, `${project}/edit`, `${project}/delete`,
    `${project}/variables/new`, org, `${org}/edit`, `${org}/members/admin/role`, `${org}/members/admin/remove`,
    `${org}/gateways`, `${org}/gateways/codes`, `${org}/gateways/${gateway.key}/revoke`, `${org}/ota`,
    `${org}/ota/scripts`, `${org}/ota/keys`, `${org}/ota/fleets/${ota.fleet.slug}`, deployment, `${deployment}/release`,
  ];
  const refused = { status: null, h1: /^(Not found|Not allowed)$/, shot: 'refused' };
  const seen = {};
  for (const path of links) {
    const response = await outsider.open(path, { ...refused, path });
    assert.ok([403, 404].includes(response.status()), `${path}: ${response.status()}`);
    seen[path] = response.status();
    await showsNothing(path);
  }
  const now = Math.floor(Date.now() / 1000);
  const chart = `${device}/chart?stream=${site.device.stream}&start=${now - 86400}&end=${now}&buckets=100`;
  const data = await outsider.context.request.get(new URL(chart, site.baseUrl).href);
  assert.ok([403, 404].includes(data.status()), `the chart's data: ${data.status()}`);
  assert.ok(!(await data.text()).includes('"t"'), 'no chart data');
  run.step(`${links.length} of Acme's pages and the chart data are refused: ${JSON.stringify(seen)}`);

  // Their own page's form gives a valid token; the form is pointed at Acme's addresses.
  await outsider.open('/projects/new', { h1: 'New project', shot: 'project-new' });
  const token = await outsider.page.inputValue('main form input[name=csrf]');
  const posts = [
    [`${device}/label`, { label: 'Taken' }],
    [`${device}/note`, { note: 'planted' }],
    [`${device}/property`, { name: 'planted', value: 'yes' }],
    [`${device}/config`, { name: ':planted', value: '1' }],
    [`${device}/location`, { lat: '1', lon: '1' }],
    [`${device}/unclaim`, {}],
    ['/devices/claim', { device: site.device.slug, project: site.project.id }],
    [`${project}/edit`, { name: 'Taken', about: '' }],
    [`${project}/variables/new`, { name: 'planted', lid: '5999' }],
    [`${project}/delete`, {}],
    [`${org}/edit`, { name: 'Taken', about: '' }],
    [`${org}/members`, { email: site.users.member, role: 'a1' }],
    [`${org}/members/admin/role`, { role: 'm1' }],
    [`${org}/members/admin/remove`, {}],
    [`${org}/gateways/codes`, { hours: '24' }],
    [`${org}/gateways/${gateway.key}/revoke`, {}],
    [`${org}/ota/keys/${ota.key.number}/revoke`, {}],
    [`${deployment}/release`, {}],
  ];
  for (const [action, fields] of posts) {
    const response = await outsider.follow(() => outsider.page.evaluate(({ action, fields, token }) => {
      const form = document.createElement('form');
      form.method = 'post';
      form.action = action;
      for (const [name, value] of Object.entries({ ...fields, csrf: token })) {
        const input = document.createElement('input');
        Object.assign(input, { type: 'hidden', name, value });
        form.append(input);
      }
      document.body.append(form);
      form.submit();
    }, { action, fields, token }), { ...refused, path: action });
    assert.ok([403, 404].includes(response.status()), `POST ${action}: ${response.status()}`);
    seen[`POST ${action}`] = response.status();
    await showsNothing(`POST ${action}`);
    await outsider.open('/projects/new', { h1: 'New project', shot: 'project-new' });
  }
  run.step(`${posts.length} forms posted to Acme's addresses are refused, showing nothing: ${JSON.stringify(seen)}`);

  const owner = await run.visitor('owner');
  await owner.signIn(site.users.admin);
  await owner.open(device, { h1: 'IOTile Device (000a)', shot: 'device' });
  const about = await owner.page.locator('section[aria-labelledby=about-h] dl.props').innerText();
  assert.match(about, /Project\s+Field trial/);
  assert.match(about, /Location\s+not set/);
  const annotations = await owner.page.locator('section[aria-labelledby=props-h]').innerText();
  assert.match(annotations, /No properties yet/);
  assert.match(annotations, /No notes yet/);
  await owner.open(project, { h1: site.project.name, shot: 'project' });
  assert.ok(!(await owner.page.locator('main').innerText()).includes('5999'), 'no planted variable');
  await owner.open(org, { h1: acme.name, shot: 'org' });
  const members = await owner.page.locator('table[data-testid=members] tbody tr').allInnerTexts();
  assert.equal(members.length, 2, 'still the owner and the developer');
  assert.ok(!members.join().includes(site.users.member), 'the outsider was not added');
  await owner.open(`${org}/gateways`, { h1: `Gateways of ${acme.name}`, shot: 'gateways' });
  assert.match(await owner.page.locator('[data-testid=gateway-row]').innerText(), /Active/);
  await owner.open(`${org}/gateways/codes`, { h1: 'Gateway registration codes', shot: 'gateway-codes' });
  assert.equal(await owner.count('[data-testid=code-row]'), 1, 'no code made for the outsider');
  await owner.open(`${org}/ota/keys`, { h1: `Release keys of ${acme.name}`, shot: 'ota-keys' });
  assert.match(await owner.page.locator('[data-testid=key-row]').innerText(), /Trusted/);
  await owner.open(deployment, { h1: `Deployment #${ota.deployment}`, shot: 'ota-deployment' });
  assert.equal(await owner.text('[data-testid=deployment-state]'), 'draft');
  run.step("Acme's owner finds its device, project, members, gateway, key and deployment as they were");
});
