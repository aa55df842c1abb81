/**
 * Slack's documented Block Kit limits (api.slack.com/reference/block-kit:
 * blocks, block elements, composition objects, views, chat.postMessage), as
 * a checker the fake Web API applies to every payload. Real Slack refuses a
 * breach with `invalid_blocks` (or `invalid_arguments` for a view), so a
 * breach here must fail the test that caused it.
 *
 * Lengths are counted in UTF-16 code units, as Slack counts them.
 */

export type Surface = 'message' | 'modal' | 'home';

export const LIMITS = {
  messageBlocks: 50,
  viewBlocks: 100,
  messageText: 40_000,
  textObject: 3000,
  sectionText: 3000,
  sectionFields: 10,
  sectionFieldText: 2000,
  headerText: 150,
  contextElements: 10,
  actionsElements: 25,
  inputLabel: 2000,
  inputHint: 2000,
  placeholder: 150,
  viewTitle: 24,
  viewSubmit: 24,
  viewClose: 24,
  privateMetadata: 3000,
  callbackId: 255,
  externalId: 255,
  blockId: 255,
  actionId: 255,
  buttonText: 75,
  buttonValue: 2000,
  buttonUrl: 3000,
  optionText: 75,
  optionValue: 150,
  optionDescription: 75,
  selectOptions: 100,
  optionGroups: 100,
  checkboxOptions: 10,
  radioOptions: 10,
  overflowOptions: 5,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  imageAltText: 2000,
  imageUrl: 3000,
  plainTextInputLength: 3000,
} as const;

type Json = Record<string, any>;

class Checker {
  readonly violations: string[] = [];

  fail(path: string, message: string): void {
    this.violations.push(`${path}: ${message}`);
  }

  maxLength(path: string, value: unknown, max: number): void {
    if (typeof value === 'string' && value.length > max) this.fail(path, `${value.length} characters, more than ${max}`);
  }

  maxItems(path: string, value: unknown, max: number, min = 0): void {
    if (!Array.isArray(value)) return;
    if (value.length > max) this.fail(path, `${value.length} items, more than ${max}`);
    if (value.length < min) this.fail(path, `${value.length} items, fewer than ${min}`);
  }

  /** A text object: plain_text or mrkdwn, 1 to `max` characters. */
  text(path: string, value: unknown, max: number = LIMITS.textObject, { plainOnly = false, required = true } = {}): void {
    if (value === undefined && !required) return;
    if (!value || typeof value !== 'object') {
      this.fail(path, 'a text object is required');
      return;
    }
    const t = value as Json;
    if (t.type !== 'plain_text' && t.type !== 'mrkdwn') this.fail(`${path}.type`, `"${t.type}" is not a text type`);
    if (plainOnly && t.type !== 'plain_text') this.fail(`${path}.type`, 'must be plain_text');
    if (typeof t.text !== 'string' || t.text.length === 0) this.fail(`${path}.text`, 'must be a non-empty string');
    else this.maxLength(`${path}.text`, t.text, Math.min(max, LIMITS.textObject));
  }

  option(path: string, o: Json): void {
    this.text(`${path}.text`, o?.text, LIMITS.optionText);
    if (typeof o?.value !== 'string' || o.value.length === 0) this.fail(`${path}.value`, 'must be a non-empty string');
    else this.maxLength(`${path}.value`, o.value, LIMITS.optionValue);
    this.text(`${path}.description`, o?.description, LIMITS.optionDescription, { required: false });
  }

  confirm(path: string, c: Json | undefined): void {
    if (c === undefined) return;
    this.text(`${path}.title`, c.title, LIMITS.confirmTitle, { plainOnly: true });
    this.text(`${path}.text`, c.text, LIMITS.confirmText);
    this.text(`${path}.confirm`, c.confirm, LIMITS.confirmButton, { plainOnly: true });
    this.text(`${path}.deny`, c.deny, LIMITS.confirmButton, { plainOnly: true });
  }

  /** initial_option(s) must be among the options, compared as Slack does: by value and text. */
  initialOptions(path: string, el: Json, options: Json[]): void {
    const same = (a: Json, b: Json) => a?.value === b?.value && a?.text?.text === b?.text?.text;
    if (el.initial_option !== undefined && !options.some((o) => same(o, el.initial_option))) {
      this.fail(`${path}.initial_option`, `"${el.initial_option?.value}" is not one of the options`);
    }
    if (el.initial_options !== undefined) {
      if (!Array.isArray(el.initial_options)) this.fail(`${path}.initial_options`, 'must be an array');
      else el.initial_options.forEach((io: Json, i: number) => {
        if (!options.some((o) => same(o, io))) this.fail(`${path}.initial_options[${i}]`, `"${io?.value}" is not one of the options`);
      });
    }
  }

  element(path: string, el: Json, actionIds: Set<string>): void {
    if (!el || typeof el !== 'object') {
      this.fail(path, 'an element is required');
      return;
    }
    if (el.action_id !== undefined) {
      this.maxLength(`${path}.action_id`, el.action_id, LIMITS.actionId);
      if (actionIds.has(el.action_id)) this.fail(`${path}.action_id`, `"${el.action_id}" is used twice in one block`);
      actionIds.add(el.action_id);
    }
    this.text(`${path}.placeholder`, el.placeholder, LIMITS.placeholder, { required: false });
    this.confirm(`${path}.confirm`, el.confirm);
    switch (el.type) {
      case 'button':
        this.text(`${path}.text`, el.text, LIMITS.buttonText, { plainOnly: true });
        this.maxLength(`${path}.value`, el.value, LIMITS.buttonValue);
        this.maxLength(`${path}.url`, el.url, LIMITS.buttonUrl);
        break;
      case 'static_select':
      case 'multi_static_select': {
        const options: Json[] = el.options ?? (el.option_groups ?? []).flatMap((g: Json) => g.options ?? []);
        if (el.options === undefined && el.option_groups === undefined) this.fail(path, 'options or option_groups is required');
        this.maxItems(`${path}.options`, el.options, LIMITS.selectOptions);
        this.maxItems(`${path}.option_groups`, el.option_groups, LIMITS.optionGroups);
        (el.option_groups ?? []).forEach((g: Json, i: number) => {
          this.text(`${path}.option_groups[${i}].label`, g.label, 75, { plainOnly: true });
          this.maxItems(`${path}.option_groups[${i}].options`, g.options, LIMITS.selectOptions);
        });
        options.forEach((o, i) => this.option(`${path}.options[${i}]`, o));
        this.initialOptions(path, el, options);
        break;
      }
      case 'checkboxes':
      case 'radio_buttons': {
        const max = el.type === 'checkboxes' ? LIMITS.checkboxOptions : LIMITS.radioOptions;
        this.maxItems(`${path}.options`, el.options, max, 1);
        (el.options ?? []).forEach((o: Json, i: number) => this.option(`${path}.options[${i}]`, o));
        this.initialOptions(path, el, el.options ?? []);
        break;
      }
      case 'overflow':
        this.maxItems(`${path}.options`, el.options, LIMITS.overflowOptions, 1);
        (el.options ?? []).forEach((o: Json, i: number) => this.option(`${path}.options[${i}]`, o));
        break;
      case 'plain_text_input':
        if (el.max_length !== undefined && (el.max_length > LIMITS.plainTextInputLength || el.max_length < 1)) this.fail(`${path}.max_length`, `must be 1 to ${LIMITS.plainTextInputLength}`);
        if (el.min_length !== undefined && (el.min_length > LIMITS.plainTextInputLength || el.min_length < 0)) this.fail(`${path}.min_length`, `must be 0 to ${LIMITS.plainTextInputLength}`);
        if (typeof el.initial_value === 'string' && el.max_length !== undefined && el.initial_value.length > el.max_length) {
          this.fail(`${path}.initial_value`, `${el.initial_value.length} characters, more than its max_length ${el.max_length}`);
        }
        break;
      case 'datepicker':
        if (el.initial_date !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(String(el.initial_date))) this.fail(`${path}.initial_date`, 'must be YYYY-MM-DD');
        break;
      case 'image':
        this.imageSource(path, el);
        break;
      case 'mrkdwn':
      case 'plain_text':
        // A text object as a context element.
        this.text(path, el);
        break;
      default:
        break;
    }
  }

  /**
   * An image block or element: alt_text (1 to 2,000 characters) and exactly one
   * source, `image_url` or `slack_file`; a slack_file object has exactly one of
   * `id` (F…) or `url` (a Slack file's url_private or permalink).
   */
  imageSource(path: string, image: Json): void {
    if (typeof image.alt_text !== 'string' || image.alt_text.length === 0) this.fail(`${path}.alt_text`, 'alt_text is required');
    this.maxLength(`${path}.alt_text`, image.alt_text, LIMITS.imageAltText);
    const sources = [image.image_url, image.slack_file].filter((v) => v !== undefined).length;
    if (sources !== 1) this.fail(path, 'an image needs exactly one of image_url or slack_file');
    this.maxLength(`${path}.image_url`, image.image_url, LIMITS.imageUrl);
    if (image.slack_file === undefined) return;
    const file = image.slack_file as Json;
    if (!file || typeof file !== 'object') {
      this.fail(`${path}.slack_file`, 'must be an object with id or url');
      return;
    }
    if ((file.id === undefined) === (file.url === undefined)) this.fail(`${path}.slack_file`, 'needs exactly one of id or url');
    if (file.id !== undefined && !(typeof file.id === 'string' && /^F[A-Z0-9]{2,}$/.test(file.id))) this.fail(`${path}.slack_file.id`, 'must be a Slack file id (F…)');
    if (file.url !== undefined && !(typeof file.url === 'string' && /^https?:\/\//.test(file.url))) this.fail(`${path}.slack_file.url`, 'must be a URL');
    this.maxLength(`${path}.slack_file.url`, file.url, LIMITS.imageUrl);
    const unknown = Object.keys(file).filter((k) => k !== 'id' && k !== 'url');
    if (unknown.length > 0) this.fail(`${path}.slack_file`, `unknown field ${unknown.join(', ')}`);
  }

  block(path: string, block: Json, surface: Surface, blockIds: Set<string>): void {
    if (!block || typeof block !== 'object') {
      this.fail(path, 'a block must be an object');
      return;
    }
    if (block.block_id !== undefined) {
      this.maxLength(`${path}.block_id`, block.block_id, LIMITS.blockId);
      if (blockIds.has(block.block_id)) this.fail(`${path}.block_id`, `"${block.block_id}" is used twice`);
      blockIds.add(block.block_id);
    }
    const actionIds = new Set<string>();
    switch (block.type) {
      case 'section':
        if (block.text === undefined && block.fields === undefined) this.fail(path, 'a section needs text or fields');
        this.text(`${path}.text`, block.text, LIMITS.sectionText, { required: false });
        this.maxItems(`${path}.fields`, block.fields, LIMITS.sectionFields);
        (block.fields ?? []).forEach((f: Json, i: number) => this.text(`${path}.fields[${i}]`, f, LIMITS.sectionFieldText));
        if (block.accessory !== undefined) this.element(`${path}.accessory`, block.accessory, actionIds);
        break;
      case 'header':
        this.text(`${path}.text`, block.text, LIMITS.headerText, { plainOnly: true });
        break;
      case 'context':
        this.maxItems(`${path}.elements`, block.elements, LIMITS.contextElements, 1);
        (block.elements ?? []).forEach((e: Json, i: number) => this.element(`${path}.elements[${i}]`, e, actionIds));
        break;
      case 'actions':
        this.maxItems(`${path}.elements`, block.elements, LIMITS.actionsElements, 1);
        (block.elements ?? []).forEach((e: Json, i: number) => this.element(`${path}.elements[${i}]`, e, actionIds));
        break;
      case 'input':
        if (surface === 'message') this.fail(path, 'input blocks are for modals and Home tabs');
        this.text(`${path}.label`, block.label, LIMITS.inputLabel, { plainOnly: true });
        this.text(`${path}.hint`, block.hint, LIMITS.inputHint, { plainOnly: true, required: false });
        this.element(`${path}.element`, block.element, actionIds);
        break;
      case 'divider':
        break;
      case 'image':
        this.imageSource(path, block);
        this.text(`${path}.title`, block.title, 2000, { plainOnly: true, required: false });
        break;
      case 'rich_text':
      case 'file':
      case 'video':
        break;
      default:
        this.fail(`${path}.type`, `unknown block type "${block.type}"`);
    }
  }

  blocks(path: string, blocks: unknown, surface: Surface): void {
    if (blocks === undefined) return;
    if (!Array.isArray(blocks)) {
      this.fail(path, 'blocks must be an array');
      return;
    }
    this.maxItems(path, blocks, surface === 'message' ? LIMITS.messageBlocks : LIMITS.viewBlocks);
    const blockIds = new Set<string>();
    blocks.forEach((b, i) => this.block(`${path}[${i}]`, b, surface, blockIds));
  }
}

/** Breaches in a message (chat.* arguments or a response_url body); [] when it is within every limit. */
export function checkMessage(message: Json): string[] {
  const c = new Checker();
  if (typeof message.text === 'string') c.maxLength('text', message.text, LIMITS.messageText);
  c.blocks('blocks', typeof message.blocks === 'string' ? tryParse(message.blocks) : message.blocks, 'message');
  for (const [i, a] of (Array.isArray(message.attachments) ? message.attachments : []).entries()) {
    c.blocks(`attachments[${i}].blocks`, a?.blocks, 'message');
  }
  return c.violations;
}

/** Breaches in a view (views.open/push/update/publish, or a response_action that carries one). */
export function checkView(view: Json): string[] {
  const c = new Checker();
  if (!view || typeof view !== 'object') return ['view: a view object is required'];
  const surface: Surface = view.type === 'home' ? 'home' : 'modal';
  if (view.type !== 'modal' && view.type !== 'home') c.fail('view.type', `"${view.type}" is not modal or home`);
  if (surface === 'modal') {
    c.text('view.title', view.title, LIMITS.viewTitle, { plainOnly: true });
    c.text('view.submit', view.submit, LIMITS.viewSubmit, { plainOnly: true, required: false });
    c.text('view.close', view.close, LIMITS.viewClose, { plainOnly: true, required: false });
    if ((view.blocks ?? []).some((b: Json) => b?.type === 'input') && view.submit === undefined) c.fail('view.submit', 'a modal with inputs needs a submit button');
  }
  c.maxLength('view.private_metadata', view.private_metadata, LIMITS.privateMetadata);
  c.maxLength('view.callback_id', view.callback_id, LIMITS.callbackId);
  c.maxLength('view.external_id', view.external_id, LIMITS.externalId);
  c.blocks('view.blocks', view.blocks, surface);
  return c.violations;
}

/** The check that fits a Web API method; undefined for methods that carry no Block Kit. */
export function checkPayload(method: string, body: Json): string[] | undefined {
  if (method.startsWith('views.')) return body.view === undefined ? ['view: missing'] : checkView(typeof body.view === 'string' ? tryParse(body.view) : body.view);
  if (method.startsWith('chat.') || method === 'response_url') return checkMessage(body);
  return undefined;
}

/** What an ack carries (Socket Mode, or the HTTP response to an interaction): a view for push/update, or a message. */
export function checkAckPayload(payload: Json): string[] {
  if (payload?.response_action === 'update' || payload?.response_action === 'push') return checkView(payload.view);
  if (payload && (payload.blocks !== undefined || payload.text !== undefined)) return checkMessage(payload);
  return [];
}

function tryParse(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
