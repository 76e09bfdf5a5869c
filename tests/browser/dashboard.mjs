// Drives the operator dashboard in headless Chromium (Debian's package,
// never a downloaded browser) against a running system:
//   node tests/browser/dashboard.mjs <receiverUrl> <settledId> <cancelId> <deadLetterRequestId> <screenshot>
// Checks that the page's counts equal the API's, that the request table
// lists and filters requests and opens one, that the plots' legends name
// their lines, that the stage buttons pause and resume a stage, that the
// search box opens a request with its history, that the cancel button
// cancels, that dead letters are read only when their button is pressed,
// that the replay button puts a dead letter back to work, that no request
// leaves loopback and that the console stays free of errors. Exits non-zero
// on a failure.
import { chromium } from 'playwright-core';

const [url, settledId, cancelId, deadLetterRequestId, screenshot] = process.argv.slice(2);
if (!screenshot) {
  console.error('usage: dashboard.mjs <receiverUrl> <settledId> <cancelId> <deadLetterRequestId> <screenshot>');
  process.exit(2);
}

const problems = [];
const fail = (message) => { throw new Error(message); };
const api = async (path, options) => {
  const response = await fetch(`${url}${path}`, options);
  if (!response.ok) fail(`${path} answered ${response.status}`);
  return response.json();
};
const until = async (what, check, timeoutMs = 20000) => {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last === true) return;
    } catch (error) {
      last = error.message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  fail(`${what} (last: ${last})`);
};

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1300 } });
  await page.route('**/*', (route) => {
    const target = new URL(route.request().url());
    if (target.protocol === 'data:' || ['127.0.0.1', 'localhost'].includes(target.hostname)) return route.continue();
    problems.push(`a request left loopback: ${target.href}`);
    return route.abort();
  });
  let deadLetterReads = 0;
  page.on('request', (request) => {
    const target = new URL(request.url());
    if (target.pathname.startsWith('/api/operator/dead-letters') && request.method() === 'GET') deadLetterReads += 1;
    if (target.protocol !== 'data:' && !['127.0.0.1', 'localhost'].includes(target.hostname)) {
      problems.push(`a request left loopback: ${target.href}`);
    }
  });
  page.on('console', (message) => { if (message.type() === 'error') problems.push(`console error: ${message.text()}`); });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));

  await page.goto(`${url}/dashboard`);
  await page.waitForSelector('#count-Received');

  // The counts on the page are the API's.
  await until('the pipeline counts to equal healthz/all', async () => {
    const all = await api('/api/zpages/healthz/all');
    const byStatus = all.database.requests.byStatus;
    for (const status of ['Received', 'Allowed', 'NotAllowed', 'Sent', 'Succeeded', 'Failed', 'Cancelled']) {
      const shown = await page.textContent(`#count-${status}`);
      if (Number(shown) !== (byStatus[status] ?? 0)) return `${status}: page ${shown}, API ${byStatus[status] ?? 0}`;
    }
    for (const queue of all.queues) {
      const shown = await page.textContent(`#queues tr[data-queue="${queue.queue}"] td[data-field="depth"]`);
      if (Number(shown) !== queue.depth) return `${queue.queue} depth: page ${shown}, API ${queue.depth}`;
    }
    return true;
  });
  await until('the processes on the page to be those of healthz/all', async () => {
    const all = await api('/api/zpages/healthz/all');
    const shown = await page.locator('#processes tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.process).sort());
    const listed = all.processes.map((p) => p.name).sort();
    return JSON.stringify(shown) === JSON.stringify(listed) && listed.length >= 4 ? true : `page ${shown}, API ${listed}`;
  });

  // The request table lists the newest requests as the list API does, its
  // status filter narrows it, and a row opens its request.
  await until('the request table to list the newest requests', async () => {
    const listed = (await api('/api/backup-requests?limit=20')).items.map((r) => r.backupRequestId);
    const shown = await page.locator('#requests tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.request));
    return shown.length > 0 && JSON.stringify(shown) === JSON.stringify(listed) ? true : `page ${shown}, API ${listed}`;
  });
  await page.selectOption('#requests-status', 'Succeeded');
  await until('the table to hold only Succeeded requests', async () => {
    const statuses = await page.locator('#requests tbody td[data-field="status"]').allTextContents();
    return statuses.length > 0 && statuses.every((s) => s === 'Succeeded') ? true : statuses.join(',');
  });
  await page.click(`#requests tbody tr[data-request="${settledId}"]`);
  await until('the row to open its request', async () => (await page.textContent('#request-record')).includes(settledId));
  await page.selectOption('#requests-status', '');

  // Each plot's legend names its lines, each beside a swatch of its colour.
  const legend = await page.locator('#chart-throughput .swatch').evaluateAll((lines) => lines.map((l) => l.dataset.series));
  if (legend.join() !== 'Allowed,Sent,Succeeded,Failed,NotAllowed,Cancelled') fail(`the throughput legend is ${legend}`);

  // The stage buttons pause a stage and resume it, as the API then says.
  const stageState = (stage) => page.textContent(`#stages tr[data-stage="${stage}"] td[data-field="state"]`);
  const apiState = async (stage) => (await api('/api/operator/stages')).stages.find((s) => s.stage === stage)?.state;
  await page.waitForSelector('#stages tr[data-stage="send-to-interface"] button');
  await page.click('#stages tr[data-stage="send-to-interface"] button');
  await until('the stage to show paused', async () => (await stageState('send-to-interface')) === 'paused');
  if ((await apiState('send-to-interface')) !== 'paused') fail('the API does not say the stage is paused');
  await page.click('#stages tr[data-stage="send-to-interface"] button');
  await until('the stage to show running', async () => (await stageState('send-to-interface')) === 'running');
  if ((await apiState('send-to-interface')) !== 'running') fail('the API does not say the stage runs');

  // The search box opens a request with its record and history.
  await page.fill('#search-id', settledId);
  await page.click('#search button');
  await page.waitForSelector('#history tbody tr[data-status="Succeeded"]');
  const shownSteps = await page.locator('#history tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.status));
  const history = await api(`/api/backup-requests/${settledId}/history`);
  if (JSON.stringify(shownSteps) !== JSON.stringify(history.items.map((c) => c.status))) {
    fail(`history on the page ${shownSteps} is not the API's`);
  }
  if (!(await page.textContent('#request-backup')).includes(settledId)) fail('the Backup is not shown');

  // The cancel button cancels.
  await page.fill('#search-id', cancelId);
  await page.click('#search button');
  await until('the request to cancel to open', async () => (await page.textContent('#request-status')) === 'Received');
  await page.click('#cancel');
  await until('the page to show Cancelled', async () => (await page.textContent('#request-status')) === 'Cancelled');
  const cancelled = await api(`/api/backup-requests/${cancelId}`);
  if (cancelled.statusTypeCode !== 'Cancelled') fail(`the API says ${cancelled.statusTypeCode}`);
  await page.waitForSelector('#history tbody tr[data-status="Cancelled"]');

  // Dead letters are read on demand only: several refreshes went by above.
  if (deadLetterReads !== 0) fail(`the page read dead letters ${deadLetterReads} times unasked`);
  const row = page.locator('#dead-letters tbody tr', { hasText: deadLetterRequestId });
  if ((await row.count()) !== 0) fail('a dead letter is shown before it was asked for');
  await page.click('#dead-letters-refresh');
  await row.waitFor({ timeout: 20000 });
  await until('the parking counts to show', async () => (await page.textContent('#dead-letter-counts')).includes('check-allowed: 1'));
  const readsAfterClick = deadLetterReads;
  await page.waitForTimeout(5000);
  if (deadLetterReads !== readsAfterClick) fail('the page went on reading dead letters after one click');

  // The replay button puts the dead letter back to work.
  // One more refresh, so the picture shows the cancel in the counts too.
  await until('the pipeline to count the cancel', async () => Number(await page.textContent('#count-Cancelled')) === 1);
  await page.screenshot({ path: screenshot, fullPage: true });
  await row.locator('button[data-replay]').click();
  await until('the dead letter to leave the page', async () => (await row.count()) === 0);
  const dead = await api('/api/operator/dead-letters/check-allowed');
  if (dead.items.some((item) => item.backupRequestId === deadLetterRequestId)) fail('the dead letter is still parked');
} finally {
  await browser.close();
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('dashboard checks passed');
