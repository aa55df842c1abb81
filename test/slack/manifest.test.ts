import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { SLACK_EVENTS_PATH } from '../../src/slack/app.js';
import { COMMAND } from '../../src/slack/commands.js';

// Paths relative to the repository root: CI checks out ../shared beside the clone.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const schemaPath = join(root, '..', 'shared', 'vendor', 'slack-manifest-schema', 'manifest.schema.1.0.0.json');

describe('manifest.yml', () => {
  const manifest = parse(readFileSync(join(root, 'manifest.yml'), 'utf8'));

  it("validates against Slack's official manifest schema", () => {
    const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
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
    expect(manifest.settings.event_subscriptions.bot_events).toEqual(['app_home_opened', 'subteam_members_changed']);
    // Mentions in /promo access and /promo settings arrive as ids.
    expect(command.should_escape).toBe(true);
    expect(manifest.features.app_home.home_tab_enabled).toBe(true);
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual(['chat:write', 'commands', 'files:write', 'im:write', 'usergroups:read', 'users:read']);
  });

  it('the schema check can fail: a manifest with an unknown key is rejected', () => {
    const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
    const validate = new Ajv({ strict: false, validateFormats: false }).compile(schema);
    expect(validate({ ...manifest, settings: { ...manifest.settings, colour: 'red' } })).toBe(false);
    expect(validate({ features: manifest.features })).toBe(false);
  });
});
