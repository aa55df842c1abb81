import type { App } from '@slack/bolt';
import { recentBatches } from '../service/promotions.js';
import { listSets } from '../service/sets.js';
import { usageOfBatches, usageOfSets } from '../service/usage.js';
import { homeView } from './blocks/home.js';
import { firstDelivery } from './retries.js';
import type { SlackDeps } from './deps.js';

export function register(app: App, deps: SlackDeps): void {
  const { core, permissions } = deps;

  // Events are acked by Bolt before listeners run; this only reads and publishes.
  app.event('app_home_opened', async ({ event, body, client }) => {
    if (event.tab !== 'home' || !(await firstDelivery(deps, body))) return;
    const [summaries, batches, setUsage] = await Promise.all([listSets(core), recentBatches(core, { limit: 10 }), usageOfSets(core)]);
    const batchUsage = await usageOfBatches(core, batches.map((b) => b.id));
    await client.views.publish({ user_id: event.user, view: homeView(summaries, batches, permissions.isAdmin(event.user), { sets: setUsage, batches: batchUsage }) });
  });
}
