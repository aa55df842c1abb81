import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SLACK_EVENTS_PATH } from '../../src/slack/app.js';
import { COMMAND } from '../../src/slack/commands.js';
import { HELP_TEXT } from '../../src/slack/blocks/messages.js';
import { readSharedFile } from '../support/shared-files.js';
import { startSlackHarness, type SlackHarness } from '../support/slack-harness.js';
import { waitFor } from '../support/wait-for.js';
import { SHORTCUTS } from '../../src/slack/shortcuts.js';
import { STEPS } from '../../src/slack/workflow-steps.js';

// Paths relative to the repository root: CI checks out ../shared beside the clone.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const slackSchema = () => JSON.parse(readSharedFile('vendor/slack-manifest-schema/manifest.schema.1.0.0.json', "Checking manifest.yml against Slack's schema"));

describe('manifest.yml', () => {
  const manifest = parse(readFileSync(join(root, 'manifest.yml'), 'utf8'));

  it("validates against Slack's official manifest schema", () => {
    const schema = slackSchema();
    const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
    const validate = ajv.compile(schema);
    const valid = validate(manifest);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('declares what the app uses, pointing at the events path, with only the scopes it needs', () => {
    const [command] = manifest.features.slash_commands;
    expect(command.command).toBe(COMMAND);
    expect(new URL(command.url).pathname).toBe(SLACK_EVENTS_PATH);
    expect(new URL(manifest.settings.interactivity.request_url).pathname).toBe(SLACK_EVENTS_PATH);
    expect(new URL(manifest.settings.event_subscriptions.request_url).pathname).toBe(SLACK_EVENTS_PATH);
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(manifest.settings.event_subscriptions.bot_events).toEqual(['app_home_opened', 'subteam_members_changed', 'function_executed']);
    // Mentions in /promo access and /promo settings arrive as ids.
    expect(command.should_escape).toBe(true);
    expect(manifest.features.app_home.home_tab_enabled).toBe(true);
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual(['chat:write', 'commands', 'files:write', 'im:write', 'usergroups:read', 'users:read']);
  });

  it('declares the workflow steps with exactly the inputs and outputs of DESIGN.md, and the two shortcuts, all handled by the app', () => {
    // Custom steps appear in Workflow Builder only for an org-ready app.
    expect(manifest.settings.org_deploy_enabled).toBe(true);
    const shape = Object.fromEntries(Object.entries(manifest.functions as Record<string, any>).map(([id, f]) => [id, {
      inputs: Object.keys(f.input_parameters),
      required: Object.entries(f.input_parameters).filter(([, p]: [string, any]) => p.is_required).map(([name]) => name),
      outputs: Object.keys(f.output_parameters),
    }]));
    expect(shape).toEqual({
      issue_promo_code: {
        inputs: ['set', 'requested_by', 'recipient', 'client_id', 'client_email', 'value', 'expiry_date', 'note'],
        required: ['set', 'requested_by'],
        outputs: ['code', 'promotion_id', 'expiration_date', 'whmcs_id'],
      },
      issue_promo_codes: {
        inputs: ['set', 'requested_by', 'amount', 'client_id', 'client_email', 'value', 'expiry_date', 'note'],
        required: ['set', 'requested_by', 'amount'],
        outputs: ['batch_id', 'count', 'file_id'],
      },
      check_promo_code: { inputs: ['set', 'code'], required: ['set', 'code'], outputs: ['valid', 'reason', 'uses', 'max_uses'] },
      void_promo_code: { inputs: ['code', 'requested_by'], required: ['code', 'requested_by'], outputs: ['voided'] },
    });
    for (const [id, f] of Object.entries(manifest.functions as Record<string, any>)) {
      expect(Object.values(STEPS)).toContain(id);
      expect(f.title.length).toBeGreaterThan(0);
      expect(f.description.length).toBeGreaterThan(0);
      for (const [name, p] of Object.entries({ ...f.input_parameters, ...f.output_parameters }) as [string, any][]) {
        expect({ id, name, named: p.name, titled: typeof p.title === 'string' && typeof p.description === 'string' }).toEqual({ id, name, named: name, titled: true });
      }
      expect(f.input_parameters.requested_by?.type ?? 'slack#/types/user_id').toBe('slack#/types/user_id');
    }
    expect(manifest.functions.issue_promo_code.input_parameters.recipient.type).toBe('slack#/types/user_id');
    expect(manifest.features.shortcuts.map((s: any) => [s.type, s.callback_id])).toEqual([['global', SHORTCUTS.issueCode], ['message', SHORTCUTS.issueCodeForMessage]]);
  });

  it('the schema check can fail: a manifest with an unknown key is rejected', () => {
    const schema = slackSchema();
    const validate = new Ajv({ strict: false, validateFormats: false }).compile(schema);
    expect(validate({ ...manifest, settings: { ...manifest.settings, colour: 'red' } })).toBe(false);
    expect(validate({ features: manifest.features })).toBe(false);
    const { title: _title, ...untitled } = manifest.functions.issue_promo_code;
    expect(validate({ ...manifest, functions: { ...manifest.functions, issue_promo_code: untitled } })).toBe(false);
  });

  it('its comments point to files and README sections that exist', () => {
    const comments = readFileSync(join(root, 'manifest.yml'), 'utf8').split('\n').filter((line) => line.startsWith('#')).join('\n');
    const files = [...comments.matchAll(/\b([\w./-]+\.md)\b/g)].map((m) => m[1]);
    expect(files).toContain('README.md');
    for (const file of files) expect(existsSync(join(root, file)), file).toBe(true);
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const sections = [...comments.matchAll(/section "([^"]+)"/g)].map((m) => m[1]);
    expect(sections.length).toBeGreaterThan(0);
    for (const section of sections) expect(readme.split('\n'), section).toContain(`## ${section}`);
  });
});

/** The words of `usage_hint`: "[help | codes <set> [amount] | …]" -> [["help"], ["codes", "<set>", "[amount]"], …]. */
function hintEntries(hint: string): string[][] {
  expect(hint.startsWith('[') && hint.endsWith(']')).toBe(true);
  return hint.slice(1, -1).split(' | ').map((entry) => entry.trim().split(/\s+/));
}

describe("manifest.yml's usage_hint and the subcommands /promo really handles", () => {
  const manifest = parse(readFileSync(join(root, 'manifest.yml'), 'utf8'));
  const entries = hintEntries(manifest.features.slash_commands[0].usage_hint);
  let slack: SlackHarness;
  beforeAll(async () => {
    slack = await startSlackHarness();
  });
  afterAll(() => slack.stop());

  /** What /promo answers to `text`: its reply, or the form it opened. */
  async function answer(text: string): Promise<string> {
    const { res, responseUrl, triggerId } = await slack.command(text);
    expect(res.status).toBe(200);
    const path = new URL(responseUrl).pathname;
    const call = await waitFor(() => slack.fake.calls.find((c) => (c.method === 'response_url' && c.path === path) || (c.method === 'views.open' && c.body.trigger_id === triggerId)), (c) => c !== undefined, `an answer to /promo ${text}`);
    return call!.method === 'views.open' ? `(opened ${call!.body.view?.callback_id})` : JSON.stringify(call!.body);
  }

  it('lists every subcommand the handler has a case for, and nothing else', () => {
    // The handler's own switch: a subcommand added there without a hint fails here.
    const handled = [...readFileSync(join(root, 'src', 'slack', 'commands.ts'), 'utf8').matchAll(/case '([a-z-]+)':/g)].map((m) => m[1]);
    expect(handled.length).toBeGreaterThan(10);
    expect(entries.map(([verb]) => verb).sort()).toEqual([...new Set(handled)].sort());
  });

  it('every hint is a subcommand /promo answers (not "I don\'t know"), and one it does not know is caught', async () => {
    for (const [verb] of entries) expect(await answer(verb), verb).not.toContain("I don't know");
    expect(await answer('frobnicate')).toContain("I don't know `frobnicate`");
  });

  it('shows <set> wherever the help text (HELP_TEXT) does (edit, rotate, archive, …)', () => {
    for (const [verb, argument] of entries) {
      if (HELP_TEXT.includes(`\`/promo ${verb} <set>`)) expect(argument, verb).toBe('<set>');
    }
    expect(entries.filter(([, argument]) => argument === '<set>').map(([verb]) => verb).sort()).toEqual(['archive', 'audit', 'code', 'codes', 'edit', 'info', 'report', 'rotate', 'webhooks']);
  });
});
