import type { App } from '@slack/bolt';
import { recentBatches } from '../service/promotions.js';
import { listSets } from '../service/sets.js';
import { homeView } from './blocks/home.js';
import { firstDelivery } from './retries.js';
import type { SlackDeps } from './deps.js';

export function register(app: App, deps: SlackDeps): void {
  const { core, permissions } = deps;

  // Events are acked by Bolt before listeners run; this only reads and publishes.
  app.event('app_home_opened', async ({ event, body, client }) => {
    if (event.tab !== 'home' || !(await firstDelivery(deps, body))) return;
    const [summaries, batches] = await Promise.all([listSets(core), recentBatches(core, { limit: 10 })]);
    await client.views.publish({ user_id: event.user, view: homeView(summaries, batches, permissions.isAdmin(event.user)) });
  });
}
