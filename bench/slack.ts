import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { findSetByName } from '../src/store/sets.js';
import { setToken } from '../src/service/set-urls.js';
import type { FreshDatabase } from './bulk.js';
import { BULK } from './bulk.js';
import { URL_SECRET, WHMCS, timedRequest } from './http.js';
import { startServerProcess } from './server.js';
import { percentile, summarise, type Sample } from './stats.js';

const SIGNING_SECRET = 'bench-signing-secret';

/** Just enough of Slack's Web API for the app to run; it notes when a reply to a response_url arrives. */
async function fakeSlack(): Promise<{ url: string; server: Server; replies: Map<string, number> }> {
  const replies = new Map<string, number>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const path = req.url ?? '';
      if (path.startsWith('/response/')) replies.set(path.slice('/response/'.length), performance.now());
      const method = path.replace(/^\/api\//, '');
      const answer: Record<string, unknown> = { ok: true };
      if (method.startsWith('views.')) answer.view = { id: 'V1' };
      if (method.startsWith('chat.')) Object.assign(answer, { ts: '1.000100', channel: 'C1' });
      if (method === 'files.getUploadURLExternal') Object.assign(answer, { upload_url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/upload`, file_id: 'F1' });
      if (method === 'files.completeUploadExternal') answer.files = [{ id: 'F1' }];
      if (method === 'conversations.open') answer.channel = { id: 'D1' };
      if (method === 'auth.test') Object.assign(answer, { user_id: 'UBOT', bot_id: 'BBOT', team_id: 'T1' });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, replies };
}

function signedCommand(text: string, responseUrl: string): { headers: Record<string, string>; body: string } {
  const body = new URLSearchParams({
    token: 'x', team_id: 'T1', team_domain: 'bench', channel_id: 'C1', channel_name: 'bench', user_id: 'UADMIN', user_name: 'bench',
    command: '/promo', text, response_url: responseUrl, trigger_id: `trig-${Math.random()}`, api_app_id: 'A1',
  }).toString();
  const ts = Math.floor(Date.now() / 1000).toString();
  const signature = `v0=${createHmac('sha256', SIGNING_SECRET).update(`v0:${ts}:${body}`).digest('hex')}`;
  return { body, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': signature } };
}

/**
 * On the 1M-code database: how long `/promo info` takes to render (until its
 * reply reaches Slack), and how fast `/promo codes` is acknowledged while a
 * 100k batch is being written by the same process.
 */
export async function benchSlack(fresh: FreshDatabase, runs: number): Promise<{ info: Sample; ack: { p50: number; p99: number; samples: number } }> {
  const slack = await fakeSlack();
  const server = await startServerProcess({
    DATABASE_URL: fresh.url, URL_SECRET, ...WHMCS,
    SLACK_BOT_TOKEN: 'xoxb-bench', SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: `${slack.url}/api/`,
  });
  const core = await fresh.open(URL_SECRET);
  const set = (await findSetByName(core.db, 'at-scale'))!;
  const setPath = `/sets/${setToken(core, set)}`;
  await core.db.destroy();
  try {
    const infoTimes: number[] = [];
    for (let i = 0; i < runs; i++) {
      const id = `info-${i}`;
      const started = performance.now();
      const { headers, body } = signedCommand('info at-scale', `${slack.url}/response/${id}`);
      const ack = await timedRequest(`${server.url}/slack/events`, { method: 'POST', headers, body });
      if (ack.status !== 200) throw new Error(`/promo info answered ${ack.status}`);
      // The reply is either the ack's own body or a later POST to response_url.
      while (ack.bytes === 0 && !slack.replies.has(id)) await new Promise((r) => setTimeout(r, 1));
      infoTimes.push((slack.replies.get(id) ?? started + ack.ms) - started);
    }

    const acks: number[] = [];
    for (let i = 0; i < runs; i++) {
      let batchDone = false;
      const batch = timedRequest(`${server.url}${setPath}/codes`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/csv' }, body: JSON.stringify({ amount: BULK }) }).then((r) => {
        batchDone = true;
        if (r.status !== 200) throw new Error(`bulk during ack test answered ${r.status}`);
      });
      await new Promise((r) => setTimeout(r, 20));
      while (!batchDone) {
        const { headers, body } = signedCommand('codes at-scale', `${slack.url}/response/ack`);
        const ack = await timedRequest(`${server.url}/slack/events`, { method: 'POST', headers, body });
        if (ack.status !== 200) throw new Error(`/promo codes answered ${ack.status}`);
        acks.push(ack.ms);
        await new Promise((r) => setTimeout(r, 20));
      }
      await batch;
    }
    return { info: summarise(infoTimes), ack: { p50: percentile(acks, 50), p99: percentile(acks, 99), samples: acks.length } };
  } finally {
    await server.stop();
    slack.server.close();
  }
}
