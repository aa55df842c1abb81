import { describe, expect, it } from 'vitest';
import { newSetModal } from '../../src/slack/blocks/set-modal.js';
import { homeView } from '../../src/slack/blocks/home.js';
import { checkAckPayload, checkMessage, checkView } from '../support/block-kit-limits.js';
import { startFakeSlack } from '../support/fake-slack.js';

const x = (n: number) => 'x'.repeat(n);
const plain = (text: string) => ({ type: 'plain_text', text });
const option = (value: string, text = value) => ({ text: plain(text), value });
const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });
const button = (over: Record<string, unknown> = {}) => ({ type: 'button', action_id: 'b', text: plain('Go'), value: '1', ...over });
const input = (element: Record<string, unknown>, over: Record<string, unknown> = {}) => ({ type: 'input', block_id: 'field', label: plain('Field'), element: { action_id: 'value', ...element }, ...over });
const modal = (blocks: unknown[], over: Record<string, unknown> = {}) => ({
  type: 'modal', callback_id: 'cb', private_metadata: '{}', title: plain('Title'), submit: plain('Save'), close: plain('Cancel'), blocks, ...over,
});
const select = (options: unknown[], over: Record<string, unknown> = {}) => input({ type: 'static_select', options, ...over });

describe('the Block Kit limit checker of the fake Slack', () => {
  it('passes payloads at the limits, and the modals and Home promoset builds today', () => {
    expect(checkMessage({ text: x(40_000), blocks: [...Array(49)].map(() => section('a')).concat([section(x(3000))]) })).toEqual([]);
    expect(checkView(modal([input({ type: 'plain_text_input' }, { label: plain(x(2000)) }), select([...Array(100)].map((_, i) => option(`v${i}`, x(75))))].map((b, i) => ({ ...b, block_id: `b${i}` })), { title: plain(x(24)), private_metadata: x(3000), callback_id: x(255) }))).toEqual([]);
    expect(checkView(newSetModal('A name', { channelId: 'C1' }) as any)).toEqual([]);
    expect(checkView(homeView([], [], true) as any)).toEqual([]);
  });

  // Each case breaks exactly one documented limit; the checker must name it.
  const breaches: [string, () => string[], string][] = [
    ['51 blocks in a message', () => checkMessage({ text: 't', blocks: [...Array(51)].map(() => section('a')) }), 'blocks: 51 items, more than 50'],
    ['101 blocks in a modal', () => checkView(modal([...Array(101)].map(() => section('a')))), 'view.blocks: 101 items, more than 100'],
    ['101 blocks in the Home tab', () => checkView({ type: 'home', blocks: [...Array(101)].map(() => section('a')) }), 'view.blocks: 101 items'],
    ['message text over 40,000', () => checkMessage({ text: x(40_001) }), 'text: 40001 characters'],
    ['section text over 3,000', () => checkMessage({ text: 't', blocks: [section(x(3001))] }), 'blocks[0].text.text: 3001 characters'],
    ['empty section text', () => checkMessage({ text: 't', blocks: [section('')] }), 'blocks[0].text.text: must be a non-empty string'],
    ['11 section fields', () => checkMessage({ text: 't', blocks: [{ type: 'section', fields: [...Array(11)].map(() => plain('f')) }] }), 'blocks[0].fields: 11 items'],
    ['a section field over 2,000', () => checkMessage({ text: 't', blocks: [{ type: 'section', fields: [plain(x(2001))] }] }), 'blocks[0].fields[0].text: 2001 characters'],
    ['header text over 150', () => checkMessage({ text: 't', blocks: [{ type: 'header', text: plain(x(151)) }] }), 'blocks[0].text.text: 151 characters'],
    ['mrkdwn in a header', () => checkMessage({ text: 't', blocks: [{ type: 'header', text: { type: 'mrkdwn', text: 'h' } }] }), 'must be plain_text'],
    ['11 context elements', () => checkMessage({ text: 't', blocks: [{ type: 'context', elements: [...Array(11)].map(() => plain('c')) }] }), 'blocks[0].elements: 11 items'],
    ['26 elements in actions', () => checkMessage({ text: 't', blocks: [{ type: 'actions', elements: [...Array(26)].map((_, i) => button({ action_id: `a${i}` })) }] }), 'blocks[0].elements: 26 items'],
    ['an input label over 2,000', () => checkView(modal([input({ type: 'plain_text_input' }, { label: plain(x(2001)) })])), 'view.blocks[0].label.text: 2001 characters'],
    ['a modal title over 24', () => checkView(modal([], { title: plain(x(25)) })), 'view.title.text: 25 characters'],
    ['a submit label over 24', () => checkView(modal([], { submit: plain(x(25)) })), 'view.submit.text: 25 characters'],
    ['a close label over 24', () => checkView(modal([], { close: plain(x(25)) })), 'view.close.text: 25 characters'],
    ['button text over 75', () => checkMessage({ text: 't', blocks: [{ type: 'actions', elements: [button({ text: plain(x(76)) })] }] }), 'blocks[0].elements[0].text.text: 76 characters'],
    ['button value over 2,000', () => checkMessage({ text: 't', blocks: [{ type: 'actions', elements: [button({ value: x(2001) })] }] }), 'blocks[0].elements[0].value: 2001 characters'],
    ['confirm title over 100', () => checkMessage({ text: 't', blocks: [{ type: 'actions', elements: [button({ confirm: { title: plain(x(101)), text: plain('t'), confirm: plain('y'), deny: plain('n') } })] }] }), 'confirm.title.text: 101 characters'],
    ['option text over 75', () => checkView(modal([select([option('v', x(76))])])), 'view.blocks[0].element.options[0].text.text: 76 characters'],
    ['option value over 150', () => checkView(modal([select([option(x(151), 'ok')])])), 'view.blocks[0].element.options[0].value: 151 characters'],
    ['101 options in a select', () => checkView(modal([select([...Array(101)].map((_, i) => option(`v${i}`)))])), 'view.blocks[0].element.options: 101 items'],
    ['11 options in a checkbox group', () => checkView(modal([input({ type: 'checkboxes', options: [...Array(11)].map((_, i) => option(`v${i}`)) })])), 'view.blocks[0].element.options: 11 items'],
    ['block_id over 255', () => checkMessage({ text: 't', blocks: [{ ...section('a'), block_id: x(256) }] }), 'blocks[0].block_id: 256 characters'],
    ['a block_id used twice', () => checkMessage({ text: 't', blocks: [{ ...section('a'), block_id: 'b' }, { ...section('a'), block_id: 'b' }] }), 'blocks[1].block_id: "b" is used twice'],
    ['action_id over 255', () => checkMessage({ text: 't', blocks: [{ type: 'actions', elements: [button({ action_id: x(256) })] }] }), 'blocks[0].elements[0].action_id: 256 characters'],
    ['callback_id over 255', () => checkView(modal([], { callback_id: x(256) })), 'view.callback_id: 256 characters'],
    ['private_metadata over 3,000', () => checkView(modal([], { private_metadata: x(3001) })), 'view.private_metadata: 3001 characters'],
    ['an initial_option not among the options', () => checkView(modal([select([option('a'), option('b')], { initial_option: option('c') })])), 'initial_option: "c" is not one of the options'],
    ['an initial_option whose text differs from its option', () => checkView(modal([select([option('a', 'A')], { initial_option: option('a', 'other') })])), 'initial_option: "a" is not one of the options'],
    ['initial_options not among the checkboxes', () => checkView(modal([input({ type: 'checkboxes', options: [option('1')], initial_options: [option('2')] })])), 'initial_options[0]: "2" is not one of the options'],
    ['an initial_value longer than the max_length', () => checkView(modal([input({ type: 'plain_text_input', max_length: 80, initial_value: x(81) })])), 'initial_value: 81 characters, more than its max_length 80'],
    ['an input block in a message', () => checkMessage({ text: 't', blocks: [input({ type: 'plain_text_input' })] }), 'input blocks are for modals'],
    ['a push ack with a breaking view', () => checkAckPayload({ response_action: 'push', view: modal([], { title: plain(x(30)) }) }), 'view.title.text: 30 characters'],
  ];

  for (const [name, check, expected] of breaches) {
    it(`catches ${name}`, () => {
      const problems = check();
      expect(problems.some((p) => p.includes(expected)), `${expected} in ${JSON.stringify(problems)}`).toBe(true);
    });
  }

  it('the fake answers a breach with invalid_blocks and records it for the per-test guard', async () => {
    const fake = await startFakeSlack();
    try {
      const post = (body: unknown) => fetch(`${fake.apiUrl}chat.postMessage`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json());
      expect(await post({ channel: 'C1', text: 'fine', blocks: [section('ok')] })).toMatchObject({ ok: true });
      expect(await post({ channel: 'C1', text: 'too long', blocks: [section(x(3001))] })).toMatchObject({ ok: false, error: 'invalid_blocks' });
      const reply = await fetch(fake.responseUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 't', blocks: [...Array(51)].map(() => section('a')) }) });
      expect(reply.status).toBe(400);
      const opened = await fetch(`${fake.apiUrl}views.open`, { method: 'POST', body: new URLSearchParams({ trigger_id: 't', view: JSON.stringify(modal([], { title: plain(x(25)) })) }) }).then((r) => r.json());
      expect(opened).toMatchObject({ ok: false, error: 'invalid_arguments' });
      // Taken here, so the guard does not fail this test for breaches it sent on purpose.
      expect(fake.takeViolations().map((v) => v.method)).toEqual(['chat.postMessage', 'response_url', 'views.open']);
    } finally {
      await fake.stop();
    }
  });
});
