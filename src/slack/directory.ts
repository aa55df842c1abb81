import type { webApi } from '@slack/bolt';
import type { Directory } from '../service/access.js';

/**
 * Slack's user directory for service/access.ts: user groups' members
 * (usergroups.users.list, scope usergroups:read), whether a user exists and
 * is a workspace admin or owner (users.info, scope users:read), and whether
 * a user group exists (usergroups.list). The group cache itself lives in the
 * database (shared by every instance); users.info answers are kept here for
 * 5 minutes, as bootstrap asks on every check.
 */
export function slackDirectory(client: webApi.WebClient, token: string, now: () => number = Date.now): Directory {
  const users = new Map<string, { at: number; user: Awaited<ReturnType<Directory['user']>> }>();
  return {
    async groupMembers(groupId) {
      const answer = await client.usergroups.users.list({ token, usergroup: groupId, include_disabled: false });
      return (answer.users ?? []).filter((u): u is string => typeof u === 'string');
    },
    async user(userId) {
      const cached = users.get(userId);
      if (cached && now() - cached.at < 5 * 60 * 1000) return cached.user;
      let user: Awaited<ReturnType<Directory['user']>>;
      try {
        const answer = await client.users.info({ token, user: userId });
        const u = answer.user;
        user = u?.id ? { id: u.id, isAdmin: Boolean(u.is_admin || u.is_owner || u.is_primary_owner), deleted: Boolean(u.deleted) } : undefined;
      } catch (error) {
        if ((error as { data?: { error?: string } }).data?.error !== 'user_not_found') throw error;
        user = undefined;
      }
      users.set(userId, { at: now(), user });
      return user;
    },
    async group(groupId) {
      const answer = await client.usergroups.list({ token, include_disabled: false });
      const handle = groupId.replace(/^@/, '').toLowerCase();
      const group = (answer.usergroups ?? []).find((g) => g.id === groupId || g.handle?.toLowerCase() === handle);
      return group?.id ? { id: group.id, handle: group.handle ?? group.id } : undefined;
    },
  };
}
