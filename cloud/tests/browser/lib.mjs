// What every journey shares: Debian's Chromium driven by playwright-core, and the checks
// each page a journey lands on must pass. A journey is judged by looking: every page is
// audited with axe-core and photographed at desktop and phone widths.
//
// Run by cloud/tests/web_browser.rs, which sets:
//   IOTILE_SITE    JSON: baseUrl, password, users, orgs, project, device, claimable (a
//                  device to claim, with a report file to upload), gateway, ota (key,
//                  script, fleet, deployment), deadJob, expiredSession
//   NODE_PACKAGES  the directory whose node_modules holds the locked npm packages
//   CHROMIUM       the browser binary
//   SCREENSHOTS    where this run's screenshots, request log and summary go
//
// A journey fails on: a failed assertion; an axe violation of serious or critical impact;
// a page wider than the window; a request to anything but the site; a console error or an uncaught page error; a page
// landed on and never judged.

import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

function setting(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: journeys are run by cloud/tests/web_browser.rs`);
  return value;
}

export const site = JSON.parse(setting('IOTILE_SITE'));
export { assert };

// The packages live in a cache outside the source tree, so they are required from there.
const packages = createRequire(join(setting('NODE_PACKAGES'), 'package.json'));
const { chromium } = packages('playwright-core');
const axeSource = readFileSync(packages.resolve('axe-core/axe.min.js'), 'utf8');

const origin = new URL(site.baseUrl).origin;
const shots = setting('SCREENSHOTS');
const widths = [
  ['desktop', { width: 1280, height: 800 }],
  ['phone', { width: 390, height: 844 }],
];
const BLOCKING = new Set(['serious', 'critical']);
// Beyond this a journey is stuck, not slow.
const JOURNEY_LIMIT_MS = 240_000;
const STEP_LIMIT_MS = 15_000;

/** Runs `walk(run)` in a fresh headless browser and sets the exit status. */
export async function journey(name, walk) {
  mkdirSync(shots, { recursive: true });
  const run = new Run(join(shots, 'requests.log'));
  const stuck = setTimeout(() => {
    console.error(`FAILED ${name}: still running after ${JOURNEY_LIMIT_MS / 1000} s`);
    process.exit(2);
  }, JOURNEY_LIMIT_MS);
  console.log(`journey: ${name} on ${site.baseUrl}`);
  let failure = null;
  try {
    run.browser = await chromium.launch({
      executablePath: setting('CHROMIUM'),
      headless: true,
      // Chromium's sandbox cannot start as root (CI runs as root).
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
    await walk(run);
    run.finish();
  } catch (error) {
    failure = error;
  }
  await run.browser?.close().catch(() => {});
  clearTimeout(stuck);
  run.report();
  if (failure) {
    console.error(`FAILED ${name}: ${failure.stack ?? failure}`);
    process.exitCode = 1;
    return;
  }
  writeFileSync(
    join(shots, 'summary.json'),
    JSON.stringify({ journey: name, pages: [...run.judged], axeNotes: run.notes }, null, 2),
  );
  console.log(`passed: ${name} (${run.judged.size} pages judged)`);
}

class Run {
  constructor(requestLog) {
    this.requestLog = requestLog;
    writeFileSync(requestLog, '');
    this.browser = null;
    this.visitors = [];
    this.judged = new Set();
    this.notes = [];
    this.offsite = [];
    this.consoleErrors = [];
    this.pageErrors = [];
    this.skipped = [];
    // Documents that answered with an error status the journey expected: the console
    // error Chromium logs for each is not a fault.
    this.expectedFailures = [];
  }

  /** One person in a browser context of their own (own cookies). */
  async visitor(label) {
    const context = await this.browser.newContext({ viewport: widths[0][1] });
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_LIMIT_MS);
    const visitor = new Visitor(this, label, context, page);
    this.visitors.push(visitor);
    context.on('request', (request) => {
      const url = request.url();
      appendFileSync(this.requestLog, `${label} ${request.method()} ${url}\n`);
      const ours = url === origin || url.startsWith(`${origin}/`);
      if (!ours && !url.startsWith('data:') && url !== 'about:blank') {
        this.offsite.push(`${label}: ${request.method()} ${url}`);
      }
    });
    page.on('console', (message) => {
      if (message.type() === 'error') {
        this.consoleErrors.push({ label, text: message.text(), url: message.location().url });
      }
    });
    page.on('pageerror', (error) => this.pageErrors.push(`${label}: ${error.message}`));
    page.on('response', (response) => {
      const request = response.request();
      const landed = request.isNavigationRequest() && response.frame() === page.mainFrame();
      if (landed && (response.status() < 300 || response.status() >= 400)) {
        visitor.landedOn(response.url());
      }
    });
    return visitor;
  }

  step(text) {
    console.log(`  ok: ${text}`);
  }

  /** The faults gathered along the way; throws if there are any. */
  finish() {
    const faults = [];
    for (const visitor of this.visitors) {
      if (visitor.unjudged) faults.push(`${visitor.label} landed on ${visitor.unjudged} and it was never judged`);
    }
    faults.push(...this.skipped);
    faults.push(...this.offsite.map((r) => `request to another host: ${r}`));
    faults.push(...this.pageErrors.map((e) => `page error: ${e}`));
    for (const error of this.consoleErrors) {
      const expected = this.expectedFailures.some(
        ({ url, status }) => error.url === url && error.text.includes(`status of ${status} `),
      );
      if (!expected) faults.push(`console error (${error.label}) at ${error.url}: ${error.text}`);
    }
    if (faults.length > 0) throw new Error(`${faults.length} fault(s):\n  ${faults.join('\n  ')}`);
  }

  report() {
    const logged = readFileSync(this.requestLog, 'utf8').split('\n').filter(Boolean).length;
    console.log(`screenshots: ${shots} (${this.judged.size} pages at desktop and phone widths)`);
    console.log(`requests: ${logged} logged in ${this.requestLog}`);
    if (this.notes.length === 0) {
      console.log('axe: no violations');
    } else {
      console.log(`axe: ${this.notes.length} minor or moderate finding(s), none serious or critical:`);
      for (const note of this.notes) console.log(`  ${note}`);
    }
  }
}

/** A person's browser tab, with the steps a journey takes in it. */
class Visitor {
  constructor(run, label, context, page) {
    this.run = run;
    this.label = label;
    this.context = context;
    this.page = page;
    this.unjudged = null;
  }

  landedOn(url) {
    if (this.unjudged && this.unjudged !== url) {
      this.run.skipped.push(`${this.label} left ${this.unjudged} for ${url} without judging it`);
    }
    this.unjudged = url;
  }

  /** The path and query shown, e.g. `/login?next=%2F`. */
  where() {
    const url = new URL(this.page.url());
    return url.pathname + url.search;
  }

  /** Opens `path` and judges the page it ends on (see `judge`). */
  async open(path, expected) {
    this.refuseUnjudged();
    const response = await this.page.goto(new URL(path, site.baseUrl).href);
    return this.judge(response, expected);
  }

  /** Does `action` (a click, a key press) and judges the page it leads to. */
  async follow(action, expected) {
    this.refuseUnjudged();
    const [response] = await Promise.all([this.page.waitForNavigation(), action()]);
    return this.judge(response, expected);
  }

  /** Goes back in history and judges what the browser shows. */
  async back(expected) {
    this.refuseUnjudged();
    const response = await this.page.goBack();
    return this.judge(response, expected);
  }

  refuseUnjudged() {
    if (this.unjudged) throw new Error(`${this.label} is leaving ${this.unjudged} without judging it`);
  }

  /**
   * Checks the page: `status` (default 200), `path` (string or RegExp against path and
   * query), the one `h1`, then audits it as `shot`. A page another journey owns can be
   * left to it with `notJudged: 'why'` instead of `h1` and `shot`.
   */
  async judge(response, { status = 200, path, h1, shot, notJudged } = {}) {
    const url = this.page.url();
    if (response) {
      if (status !== null) assert.equal(response.status(), status, `status of ${url}`);
      if (response.status() >= 400) this.run.expectedFailures.push({ url, status: response.status() });
    }
    if (path instanceof RegExp) assert.match(this.where(), path, `address ${this.where()}`);
    else if (path !== undefined) assert.equal(this.where(), path, 'address');
    if (notJudged) {
      this.run.step(`${this.label} reached ${this.where()} (not judged here: ${notJudged})`);
      this.unjudged = null;
      return response;
    }
    assert.ok(h1 !== undefined && shot, `judging ${url} needs the expected h1 and a shot name`);
    const headings = await this.page.locator('h1').allTextContents();
    assert.equal(headings.length, 1, `${url} has one h1: ${JSON.stringify(headings)}`);
    if (h1 instanceof RegExp) assert.match(headings[0].trim(), h1, `h1 of ${url}`);
    else assert.equal(headings[0].trim(), h1, `h1 of ${url}`);
    await this.audit(shot);
    this.unjudged = null;
    return response;
  }

  /**
   * axe-core and the width check at both widths, then a full-page screenshot at each. A shot name already
   * taken in this journey was judged before (the same page seen again) and is skipped.
   */
  async audit(shot) {
    if (this.run.judged.has(shot)) return;
    for (const [width, size] of widths) {
      await this.page.setViewportSize(size);
      await this.axe(`${shot} (${width})`);
      await this.fitsWidth(`${shot} (${width})`);
      await this.page.screenshot({ path: join(shots, `${shot}-${width}.png`), fullPage: true });
    }
    await this.page.setViewportSize(widths[0][1]);
    this.run.judged.add(shot);
    this.run.step(`${this.label} on ${this.where()}: "${shot}" passes axe, photographed`);
  }

  /** Fails when the page is wider than the window: a phone would scroll all of it sideways. */
  async fitsWidth(where) {
    const overflow = await this.page.evaluate(() => {
      const { clientWidth, scrollWidth } = document.documentElement;
      if (scrollWidth <= clientWidth) return null;
      // The likely culprits: what ends nearest the page's right edge, by its box or by
      // content that overflows it (a long word).
      const ends = [...document.querySelectorAll('body *')]
        .map((el) => {
          const box = el.getBoundingClientRect();
          return { el, right: Math.max(box.right, box.left + el.scrollWidth) + scrollX };
        })
        .filter(({ right }) => right > clientWidth)
        .sort((a, b) => Math.abs(a.right - scrollWidth) - Math.abs(b.right - scrollWidth))
        .slice(0, 3)
        .map(({ el }) => el.tagName.toLowerCase() + [...el.classList].map((c) => `.${c}`).join(''));
      return `${scrollWidth} px wide in a ${clientWidth} px window (ending there: ${ends.join(', ')})`;
    });
    if (overflow) throw new Error(`${where} scrolls sideways: ${overflow}`);
  }

  async axe(where) {
    // Evaluated over the DevTools protocol, so the page's CSP (script-src 'self') allows it.
    if (!(await this.page.evaluate(() => typeof window.axe === 'object'))) {
      await this.page.evaluate(axeSource);
    }
    const { violations } = await this.page.evaluate(() =>
      window.axe.run(document, { resultTypes: ['violations'] }),
    );
    const blocking = [];
    for (const v of violations) {
      const nodes = v.nodes.map((n) => `      at ${n.target.join(' ')}: ${n.failureSummary?.replace(/\s+/g, ' ')}`);
      const text = `${v.impact} ${v.id} on ${where}: ${v.help} (${v.helpUrl})\n${nodes.join('\n')}`;
      if (BLOCKING.has(v.impact)) blocking.push(text);
      else this.run.notes.push(text);
    }
    if (blocking.length > 0) {
      throw new Error(`axe found ${blocking.length} serious or critical violation(s):\n${blocking.join('\n')}`);
    }
  }

  /** A screenshot of the viewport as it is now (a state, not a page: no audit). */
  async snap(name) {
    await this.page.screenshot({ path: join(shots, `${name}.png`) });
  }

  /** Signs in through the form and judges where it leads (the overview unless told). */
  async signIn(email, { password = site.password, ...expected } = {}) {
    if (!this.where().startsWith('/login')) {
      await this.open('/login', { h1: 'Sign in', shot: 'sign-in' });
    }
    await this.page.fill('#email', email);
    await this.page.fill('#password', password);
    const landing = Object.keys(expected).length > 0 ? expected : { path: '/', h1: 'Overview', shot: 'overview' };
    return this.follow(() => this.page.getByRole('button', { name: 'Sign in' }).click(), landing);
  }

  /** Signs out with the account menu's button. */
  async signOut(expected = { path: '/login?ended=true', h1: 'Sign in', shot: 'signed-out' }) {
    await this.page.locator('.user-menu summary').click();
    return this.follow(() => this.page.getByRole('button', { name: 'Sign out' }).click(), expected);
  }

  /** A cookie's value in this person's browser, or undefined. */
  async cookie(name) {
    const cookies = await this.context.cookies(site.baseUrl);
    return cookies.find((c) => c.name === name)?.value;
  }

  async setCookie(name, value) {
    await this.context.addCookies([{ name, value, url: site.baseUrl, httpOnly: true, sameSite: 'Lax' }]);
  }

  /** The text of the element matched by `selector` (exactly one), trimmed. */
  async text(selector) {
    const found = this.page.locator(selector);
    assert.equal(await found.count(), 1, `one ${selector} on ${this.where()}`);
    return (await found.textContent()).trim();
  }

  async count(selector) {
    return this.page.locator(selector).count();
  }

  /** What has keyboard focus, and whether a sighted person can see it and its focus ring. */
  async focused() {
    return this.page.evaluate(() => {
      const el = document.activeElement;
      const box = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      const onScreen = box.width > 1 && box.height > 1 && box.right > 0 && box.bottom > 0
        && box.left < innerWidth && box.top < innerHeight;
      // Clipped away (the visually-hidden pattern) or covered by something else.
      const clipped = /rect\(0px,? 0px,? 0px,? 0px\)/.test(style.clip) || style.clipPath === 'inset(50%)';
      const hit = onScreen && document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
      const uncovered = Boolean(hit) && (hit === el || el.contains(hit));
      return {
        tag: el.tagName.toLowerCase(),
        id: el.id,
        name: (el.getAttribute('aria-label') ?? el.textContent ?? '').trim().replace(/\s+/g, ' '),
        href: el.getAttribute('href'),
        visible: onScreen && !clipped && uncovered && style.visibility !== 'hidden' && style.opacity !== '0',
        ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
      };
    });
  }
}

/** An API call outside the browser (what another client of the same account would do). */
export async function api(method, path, jwt) {
  const response = await fetch(new URL(`/api/v1/${path}`, site.baseUrl), {
    method,
    headers: jwt ? { Authorization: `jwt ${jwt}` } : {},
  });
  return response.status;
}
