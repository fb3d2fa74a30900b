// The REST API as the site's other clients use it (the SDK, a gateway), for what a journey
// does outside the browser: sign in for a token, read data, upload a streamer report.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { assert, site } from './lib.mjs';

/** One call: `{ status, body }` with the body parsed when it is JSON. */
export async function call(method, path, { jwt, json, form } = {}) {
  const headers = jwt ? { Authorization: `jwt ${jwt}` } : {};
  let body = form;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  }
  const response = await fetch(new URL(`/api/v1/${path}`, site.baseUrl), { method, headers, body });
  const text = await response.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: kept as text for the assertion message.
  }
  return { status: response.status, body: parsed };
}

/** An API token of `email`, as the SDK gets one. */
export async function token(email) {
  const { status, body } = await call('POST', 'auth/login/', { json: { email, password: site.password } });
  assert.equal(status, 200, `API sign-in of ${email}: ${JSON.stringify(body)}`);
  return body.jwt;
}

/**
 * Uploads a report file as a gateway does: multipart `file`, with the time the gateway
 * received it from the device (now, in UTC). The upload's answer.
 */
export async function uploadReport(jwt, file) {
  const form = new FormData();
  form.append('file', new Blob([readFileSync(file)]), basename(file));
  const received = encodeURIComponent(new Date().toISOString());
  return call('POST', `streamer/report/?timestamp=${received}`, { jwt, form });
}

/** Waits until the worker has taken the report off the queue; its record then. */
export async function processed(jwt, report) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { status, body } = await call('GET', `streamer/report/${report}/`, { jwt });
    assert.equal(status, 200, `report ${report}: ${JSON.stringify(body)}`);
    if (body.status !== 'scheduled') return body;
    assert.ok(Date.now() < deadline, `report ${report} still scheduled after 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Every reading of a stream, oldest first: `{ at` (Unix seconds, fractional) `, value }`. */
export async function readings(jwt, stream) {
  const { status, body } = await call('GET', `data/?filter=${stream}&page_size=1000`, { jwt });
  assert.equal(status, 200, `data of ${stream}: ${JSON.stringify(body)}`);
  assert.ok(body.count <= 1000, 'one page holds every reading');
  return body.results
    .map((r) => ({ at: Date.parse(r.timestamp) / 1000, value: r.value }))
    .sort((a, b) => a.at - b.at);
}
