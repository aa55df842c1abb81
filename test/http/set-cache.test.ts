import { expect, it } from 'vitest';
import { describeEachDialect, useTestDatabase } from '../support/databases.js';
import { runCli, startServerProcess, type ServerProcess } from '../support/processes.js';

/**
 * A set-URL POST takes its set from the instance's cache (issue 13) and the
 * group commit re-reads it in the write transaction. Whatever another
 * instance or the CLI changes must count on every instance at once: an edit
 * (terms, allowlist), a rotation, an archive. Two server processes and the
 * CLI on one database; each instance has served the set before the change.
 */
const TOKEN = 'set-cache-admin-token-0123456789';

describeEachDialect('set cache across instances', (dialect) => {
  const ctx = useTestDatabase(dialect);

  it('an edit, a rotation and an archive made elsewhere count at once on an instance that cached the set', async () => {
    const created = await runCli(['sets', 'create', 'Cached', 'promo_value=10'], { DATABASE_URL: ctx.database.url });
    expect(created.code, created.stderr).toBe(0);
    const setId = Number(/^Created set (\d+)/.exec(created.stdout)?.[1]);
    const path = /\nURL: https?:\/\/[^/]+(\/sets\/\S+)/.exec(created.stdout)?.[1] ?? '';
    const [a, b]: ServerProcess[] = await Promise.all([0, 1].map(() => startServerProcess({ DATABASE_URL: ctx.database.url, ADMIN_API_TOKEN: TOKEN, AUTH_FAILURES_PER_MINUTE: '0' })));
    try {
      const post = async (server: ServerProcess, at = path) => {
        const res = await fetch(`${server.url}${at}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'notes=cached' });
        return { status: res.status, body: (await res.json()) as { value?: string; code?: string; message?: string } };
      };
      const edit = async (changes: Record<string, unknown>) => {
        const res = await fetch(`${a.url}/api/sets/${setId}`, { method: 'PATCH', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(changes) });
        expect(res.status, await res.clone().text()).toBe(200);
      };
      // Both instances serve (and so cache) the set.
      for (const server of [a, b]) expect(await post(server)).toMatchObject({ status: 200, body: { value: '10.00' } });

      // New terms through instance A: B's very next code carries them.
      await edit({ promo_value: '35' });
      for (const server of [b, a]) expect(await post(server)).toMatchObject({ status: 200, body: { value: '35.00' } });

      // The allowlist no longer admits 127.0.0.1: B refuses at once, and stores nothing.
      const before = await post(b);
      expect(before.status).toBe(200);
      await edit({ api_ip_address: '203.0.113.0/24' });
      for (const server of [b, a]) {
        const refused = await post(server);
        expect(refused.status).toBe(403);
        expect(refused.body).toMatchObject({ result: 'error', code: 'forbidden' });
      }
      await edit({ api_ip_address: 'any' });
      expect((await post(b)).status).toBe(200);

      // A refusal that came from the cached terms is confirmed against the database: once the
      // set is Fixed Amount, a value of 150 is fine on B at once (it was 400 as a Percentage).
      const fixed = async (server: ServerProcess) => {
        const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'value=150' });
        return { status: res.status, body: (await res.json()) as { value?: string; type?: string; code?: string } };
      };
      expect(await fixed(b)).toMatchObject({ status: 400, body: { code: 'validation_failed' } });
      await edit({ promo_code_type: 'Fixed Amount' });
      expect(await fixed(b)).toMatchObject({ status: 200, body: { value: '150.00', type: 'Fixed Amount' } });

      // Rotation through the CLI, a third process: the old URL is dead on both, the new one works on both.
      const rotated = await runCli(['sets', 'rotate', String(setId)], { DATABASE_URL: ctx.database.url });
      expect(rotated.code, rotated.stderr).toBe(0);
      const newPath = /New URL: https?:\/\/[^/]+(\/sets\/\S+)/.exec(rotated.stdout)?.[1] ?? '';
      for (const server of [b, a]) {
        expect(await post(server)).toMatchObject({ status: 404, body: { code: 'not_found' } });
        expect(await post(server, newPath)).toMatchObject({ status: 200, body: { value: '35.00' } });
        // And the old one stays dead after the new one was cached.
        expect((await post(server)).status).toBe(404);
      }

      // Archived through the CLI: no code from either instance.
      const archived = await runCli(['sets', 'archive', String(setId)], { DATABASE_URL: ctx.database.url });
      expect(archived.code, archived.stderr).toBe(0);
      for (const server of [b, a]) expect((await post(server, newPath)).status).toBe(404);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 120_000);

  it('a burst of cached POSTs racing a rotation: every code issued is from before it, none after', async () => {
    const created = await runCli(['sets', 'create', 'Racing'], { DATABASE_URL: ctx.database.url });
    expect(created.code, created.stderr).toBe(0);
    const setId = Number(/^Created set (\d+)/.exec(created.stdout)?.[1]);
    const path = /\nURL: https?:\/\/[^/]+(\/sets\/\S+)/.exec(created.stdout)?.[1] ?? '';
    // The old URL's 404s after the rotation would count as guessed tokens: this test is about the race, not that limit.
    const server = await startServerProcess({ DATABASE_URL: ctx.database.url, AUTH_FAILURES_PER_MINUTE: '0' });
    try {
      expect((await fetch(`${server.url}${path}`, { method: 'POST' })).status).toBe(200);
      let rotatedAt = 0;
      const rotation = runCli(['sets', 'rotate', String(setId)], { DATABASE_URL: ctx.database.url }).then((result) => {
        rotatedAt = Date.now();
        return result;
      });
      const statuses: number[] = [];
      const late: number[] = [];
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let i = 0; i < 400 && (rotatedAt === 0 || Date.now() - rotatedAt < 300); i++) {
            const sentAt = Date.now();
            const res = await fetch(`${server.url}${path}`, { method: 'POST' });
            await res.arrayBuffer();
            statuses.push(res.status);
            // Sent after the CLI reported the rotation committed: must be refused.
            if (rotatedAt !== 0 && sentAt > rotatedAt && res.status !== 404) late.push(res.status);
          }
        }),
      );
      expect((await rotation).code).toBe(0);
      expect(late).toEqual([]);
      expect(statuses.filter((s) => s !== 200 && s !== 404)).toEqual([]);
      expect(statuses).toContain(404);
    } finally {
      await server.stop();
    }
  }, 120_000);

  it('redemptions on instances that cached the set: an allowlist edit, a rotation and an archive made elsewhere count at once', async () => {
    const created = await runCli(['sets', 'create', 'Redeemed', 'max_uses=0'], { DATABASE_URL: ctx.database.url });
    expect(created.code, created.stderr).toBe(0);
    const setId = Number(/^Created set (\d+)/.exec(created.stdout)?.[1]);
    const path = /\nURL: https?:\/\/[^/]+(\/sets\/\S+)/.exec(created.stdout)?.[1] ?? '';
    const [a, b]: ServerProcess[] = await Promise.all([0, 1].map(() => startServerProcess({ DATABASE_URL: ctx.database.url, ADMIN_API_TOKEN: TOKEN, AUTH_FAILURES_PER_MINUTE: '0' })));
    try {
      const issued = await fetch(`${a.url}${path}`, { method: 'POST' });
      const { code } = (await issued.json()) as { code: string };
      expect(issued.status).toBe(200);
      const redeem = async (server: ServerProcess, at = path) => {
        const res = await fetch(`${server.url}${at}/redemptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
        return { status: res.status, body: (await res.json()) as { code?: string; promotion?: { uses: number } } };
      };
      const edit = async (changes: Record<string, unknown>) => {
        const res = await fetch(`${a.url}/api/sets/${setId}`, { method: 'PATCH', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(changes) });
        expect(res.status, await res.clone().text()).toBe(200);
      };
      // Both instances redeem (and so cache the set); every use is counted once.
      expect(await redeem(a)).toMatchObject({ status: 200, body: { promotion: { uses: 1 } } });
      expect(await redeem(b)).toMatchObject({ status: 200, body: { promotion: { uses: 2 } } });

      // The allowlist no longer admits 127.0.0.1: refused at once on both, nothing counted.
      await edit({ api_ip_address: '203.0.113.0/24' });
      for (const server of [b, a]) expect(await redeem(server)).toMatchObject({ status: 403, body: { code: 'forbidden' } });
      await edit({ api_ip_address: 'any' });
      expect(await redeem(b)).toMatchObject({ status: 200, body: { promotion: { uses: 3 } } });

      // Rotated by the CLI (a third process): the old URL is dead on both, the new one redeems on both.
      const rotated = await runCli(['sets', 'rotate', String(setId)], { DATABASE_URL: ctx.database.url });
      expect(rotated.code, rotated.stderr).toBe(0);
      const newPath = /New URL: https?:\/\/[^/]+(\/sets\/\S+)/.exec(rotated.stdout)?.[1] ?? '';
      expect(await redeem(b)).toMatchObject({ status: 404, body: { code: 'not_found' } });
      expect(await redeem(a)).toMatchObject({ status: 404, body: { code: 'not_found' } });
      expect(await redeem(b, newPath)).toMatchObject({ status: 200, body: { promotion: { uses: 4 } } });
      expect(await redeem(a, newPath)).toMatchObject({ status: 200, body: { promotion: { uses: 5 } } });
      expect((await redeem(b)).status).toBe(404);

      // Archived by the CLI: its issued codes stay redeemable on both (the URL is not dead for them).
      const archived = await runCli(['sets', 'archive', String(setId)], { DATABASE_URL: ctx.database.url });
      expect(archived.code, archived.stderr).toBe(0);
      expect(await redeem(b, newPath)).toMatchObject({ status: 200, body: { promotion: { uses: 6 } } });
      expect(await redeem(a, newPath)).toMatchObject({ status: 200, body: { promotion: { uses: 7 } } });
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 120_000);

  it('a burst of cached redemptions racing a rotation: every use counted is from before it, none after', async () => {
    const created = await runCli(['sets', 'create', 'Racing redemptions', 'max_uses=0'], { DATABASE_URL: ctx.database.url });
    expect(created.code, created.stderr).toBe(0);
    const setId = Number(/^Created set (\d+)/.exec(created.stdout)?.[1]);
    const path = /\nURL: https?:\/\/[^/]+(\/sets\/\S+)/.exec(created.stdout)?.[1] ?? '';
    const server = await startServerProcess({ DATABASE_URL: ctx.database.url, AUTH_FAILURES_PER_MINUTE: '0' });
    try {
      const { code } = (await (await fetch(`${server.url}${path}`, { method: 'POST' })).json()) as { code: string };
      const redeem = () => fetch(`${server.url}${path}/redemptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
      expect((await redeem()).status).toBe(200);
      let rotatedAt = 0;
      const rotation = runCli(['sets', 'rotate', String(setId)], { DATABASE_URL: ctx.database.url }).then((result) => {
        rotatedAt = Date.now();
        return result;
      });
      const statuses: number[] = [];
      const late: number[] = [];
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let i = 0; i < 400 && (rotatedAt === 0 || Date.now() - rotatedAt < 300); i++) {
            const sentAt = Date.now();
            const res = await redeem();
            await res.arrayBuffer();
            statuses.push(res.status);
            if (rotatedAt !== 0 && sentAt > rotatedAt && res.status !== 404) late.push(res.status);
          }
        }),
      );
      expect((await rotation).code).toBe(0);
      expect(late).toEqual([]);
      expect(statuses.filter((s) => s !== 200 && s !== 404)).toEqual([]);
      expect(statuses).toContain(404);
    } finally {
      await server.stop();
    }
  }, 120_000);
});
