/**
 * Who is in a Slack user group, for grants made to groups: kept in a table
 * every instance shares, asked of Slack again when older than five minutes
 * or when Slack says the group changed.
 */
import { getGroupMembers, putGroupMembers } from '../store/access.js';
import { nowIso, type Core } from './core.js';

/** How long a user group's members are trusted before usergroups.users.list is asked again. */
export const GROUP_CACHE_MS = 5 * 60 * 1000;

/** A group's members: from the shared table while fresher than 5 minutes, else from Slack. */
export async function groupMembers(core: Core, groupId: string): Promise<string[]> {
  const cached = await getGroupMembers(core.db, groupId);
  const fresh = cached && core.now().getTime() - Date.parse(cached.fetched_at) < GROUP_CACHE_MS;
  if (cached && (fresh || !core.access.directory)) return cached.members;
  if (!core.access.directory) return [];
  try {
    return await refreshGroup(core, groupId);
  } catch {
    // Slack unreachable: the last known members are better than none.
    return cached?.members ?? [];
  }
}

/** Read a group's members from Slack now (subteam_members_changed, a stale cache) and share them. */
export async function refreshGroup(core: Core, groupId: string): Promise<string[]> {
  const directory = core.access.directory;
  if (!directory) return [];
  const members = await directory.groupMembers(groupId);
  await putGroupMembers(core.db, groupId, members, nowIso(core));
  return members;
}
