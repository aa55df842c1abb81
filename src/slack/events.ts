import type { App, types } from '@slack/bolt';
import { mostUsedSetIds } from '../service/charts.js';
import { setChartBlocks } from './charts.js';

/** Charts on the Home tab: a person's most-used sets, each its own image. */
const HOME_CHARTS = 3;
import { recentBatches } from '../service/promotions.js';
import { listSets } from '../service/sets.js';
import { usageOfBatches, usageOfSets } from '../service/usage.js';
import { homeView } from './blocks/home.js';
import { firstDelivery } from './retries.js';
import type { SlackDeps } from './deps.js';
import { may, slackActor } from '../service/access.js';
import { refreshGroup } from '../service/group-members.js';
import { usageToday } from '../service/issue-limits.js';
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
    const view = homeView(summaries, batches, await may(core, actor, 'create_set'), { sets: setUsage, batches: batchUsage }, { you, pending });
    // Charts of the sets this person issued most codes from (or, for someone new, the newest sets).
    const byId = new Map(summaries.map((s) => [s.set.id, s.set]));
    let chartIds = await mostUsedSetIds(core, `slack:${event.user}`, HOME_CHARTS);
    if (chartIds.length === 0) chartIds = [...byId.keys()].sort((a, b) => b - a).slice(0, HOME_CHARTS);
    const charts: types.KnownBlock[] = [];
    for (const id of chartIds) {
      const set = byId.get(id);
      if (set) charts.push(...(await setChartBlocks(deps, client, set)));
    }
    if (charts.length > 0) {
      // After the header and the New set button: what the person looks at first.
      const at = view.blocks.findIndex((b) => b.type === 'actions') + 1 || 1;
      view.blocks.splice(at, 0, { type: 'header', text: { type: 'plain_text', text: 'Your sets, last 30 days' } }, ...charts, { type: 'divider' });
    }
    await client.views.publish({ user_id: event.user, view });
  });

  // A user group changed: read its members again now, for every instance (the table is shared).
  app.event('subteam_members_changed', async ({ event, body }) => {
    if (!(await firstDelivery(deps, body))) return;
    const groupId = (event as { subteam_id?: string }).subteam_id;
    if (groupId) await refreshGroup(core, groupId);
  });
}
