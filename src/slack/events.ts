import type { App } from '@slack/bolt';
import { recentBatches } from '../service/promotions.js';
import { listSets } from '../service/sets.js';
import { usageOfBatches, usageOfSets } from '../service/usage.js';
import { homeView } from './blocks/home.js';
import { firstDelivery } from './retries.js';
import type { SlackDeps } from './deps.js';
import { may, refreshGroup, slackActor, usageToday } from '../service/access.js';
import { youSection } from './access.js';
import { pendingForHome } from './approvals.js';

export function register(app: App, deps: SlackDeps): void {
  const { core } = deps;

  // Events are acked by Bolt before listeners run; this only reads and publishes.
  app.event('app_home_opened', async ({ event, body, client }) => {
    if (event.tab !== 'home' || !(await firstDelivery(deps, body))) return;
    const [summaries, batches, setUsage] = await Promise.all([listSets(core), recentBatches(core, { limit: 10 }), usageOfSets(core)]);
    const batchUsage = await usageOfBatches(core, batches.map((b) => b.id));
    const actor = slackActor(event.user);
    const you = await youSection(core, event.user, await usageToday(core, event.user));
    const pending = await pendingForHome(core, event.user, (set) => may(core, actor, 'decide', set));
    const access = { you, pending };
    await client.views.publish({ user_id: event.user, view: homeView(summaries, batches, await may(core, actor, 'create_set'), { sets: setUsage, batches: batchUsage }, access) });
  });

  // A user group changed: read its members again now, for every instance (the table is shared).
  app.event('subteam_members_changed', async ({ event, body }) => {
    if (!(await firstDelivery(deps, body))) return;
    const groupId = (event as { subteam_id?: string }).subteam_id;
    if (groupId) await refreshGroup(core, groupId);
  });
}
