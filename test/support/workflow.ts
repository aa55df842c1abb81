import { randomUUID } from 'node:crypto';

const TEAM = { id: 'T0FAKE', domain: 'fake' };
const APP_ID = 'A0PROMO';

/** The token Slack hands a step's run (event.bot_access_token); Bolt calls the Web API with it. */
export const FUNCTION_TOKEN = 'xwfp-test-function-token';

/**
 * A `function_executed` event as Slack sends it when a workflow reaches one
 * of the app's custom steps; send it with SlackHarness.event (Events API) or
 * FakeSocketMode.event. Returns the event and its execution id.
 */
export function functionExecuted(callbackId: string, inputs: Record<string, unknown>): { event: Record<string, unknown>; executionId: string } {
  const executionId = `Fx${randomUUID().replace(/-/g, '').slice(0, 12).toUpperCase()}`;
  return {
    executionId,
    event: {
      type: 'function_executed',
      function: {
        id: `Fn${callbackId.length}ABC`, callback_id: callbackId, title: callbackId, description: '', type: 'app',
        input_parameters: [], output_parameters: [], app_id: APP_ID, date_created: 1_700_000_000, date_updated: 1_700_000_000, date_deleted: 0,
      },
      inputs,
      function_execution_id: executionId,
      workflow_execution_id: `Wx${randomUUID().replace(/-/g, '').slice(0, 12).toUpperCase()}`,
      event_ts: `${Date.now() / 1000}`,
      bot_access_token: FUNCTION_TOKEN,
    },
  };
}

/** A global shortcut's payload (type `shortcut`). */
export function globalShortcut(callbackId: string, user: string): Record<string, unknown> {
  return {
    type: 'shortcut', token: 'legacy-verification-token', action_ts: `${Date.now() / 1000}`, team: TEAM,
    user: { id: user, username: `name-${user}`, team_id: TEAM.id }, is_enterprise_install: false, enterprise: null,
    callback_id: callbackId, trigger_id: `trigger-${randomUUID()}`,
  };
}

/** A message shortcut's payload (type `message_action`) on a message in `channel`. */
export function messageShortcut(callbackId: string, user: string, channel: string, ts: string, responseUrl: string): Record<string, unknown> {
  return {
    type: 'message_action', token: 'legacy-verification-token', action_ts: `${Date.now() / 1000}`, team: TEAM,
    user: { id: user, username: `name-${user}`, team_id: TEAM.id }, channel: { id: channel, name: 'support' },
    is_enterprise_install: false, enterprise: null, callback_id: callbackId, trigger_id: `trigger-${randomUUID()}`,
    response_url: responseUrl, message_ts: ts,
    message: { type: 'message', user: 'UCUSTOMER', ts, text: 'The checkout broke twice today, I want my money back' },
  };
}
