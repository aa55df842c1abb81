import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { z } from 'zod';
import { buildOpenApiDocument } from '../../src/http/openapi.js';
import { ERROR_CODES, errorResponse } from '../../src/http/schemas.js';

/**
 * The HTTP contract check every test response goes through (see rawRequest
 * in test/http/helpers.ts): the operation is looked up by method and path
 * template in the same OpenAPI document GET /openapi.json serves; its status
 * must be documented and a JSON body must match the documented schema.
 */
const document = buildOpenApiDocument('http://localhost') as { paths: Record<string, Record<string, any>> };
const ajv = new Ajv2020({ strict: false, allErrors: true });
const compiled = new Map<object, ValidateFunction>();
/** Outside any operation, the router's refusals (404, 405) come in the error shape with any code. */
const ANY_ERROR = z.toJSONSchema(errorResponse(ERROR_CODES), { target: 'draft-2020-12' });

/** Templates with fewer parameters first, so /api/sets/{id}/rotate beats nothing and literals win. */
const templates = Object.keys(document.paths)
  .map((template) => ({ template, params: (template.match(/\{/g) ?? []).length, regex: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`) }))
  .sort((a, b) => a.params - b.params);

/** Paths the document does not own: Slack's mounted receiver. */
const UNDOCUMENTED = ['/slack/events'];

export interface ContractReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** Throws, naming the operation and the problem, when a reply breaks the document. */
export function checkAgainstOpenApi(method: string, url: string, reply: ContractReply): void {
  const path = new URL(url, 'http://localhost').pathname;
  if (UNDOCUMENTED.includes(path)) return;
  const verb = method.toUpperCase() === 'HEAD' ? 'get' : method.toLowerCase();
  const found = templates.find(({ regex }) => regex.test(path));
  const contentType = String(reply.headers['content-type'] ?? '').split(';')[0].trim();
  const operation = found ? document.paths[found.template][verb] : undefined;
  const where = `${method} ${found?.template ?? path}`;
  if (!operation) {
    // Not an operation: only the router's own refusals may come back, in the error shape.
    // (A template's parameter is looser than its route's pattern: /batches/x.csv is a 404, not a 405.)
    if (![404, 405, 400, 413].includes(reply.status) || (!found && reply.status === 405)) throw new Error(`OpenAPI: ${where} is not documented, yet it answered ${reply.status}.`);
    validateJson(where, reply, { content: { 'application/json': { schema: ANY_ERROR } } });
    return;
  }
  const response = operation.responses[String(reply.status)];
  if (!response) throw new Error(`OpenAPI: ${where} answered ${reply.status}, which the document does not list (it lists ${Object.keys(operation.responses).join(', ')}).\n${reply.text.slice(0, 300)}`);
  if (method.toUpperCase() === 'HEAD') return;
  const content = response.content as Record<string, { schema: object }> | undefined;
  if (!content) return;
  if (!content[contentType]) throw new Error(`OpenAPI: ${where} ${reply.status} sent ${contentType || 'no content type'}; the document lists ${Object.keys(content).join(', ')}.`);
  validateJson(where, reply, response);
}

function validateJson(where: string, reply: ContractReply, response: { content?: Record<string, { schema: object }> }): void {
  const contentType = String(reply.headers['content-type'] ?? '').split(';')[0].trim();
  if (contentType !== 'application/json') return;
  const schema = response.content?.['application/json']?.schema;
  if (!schema) return;
  let validate = compiled.get(schema);
  if (!validate) compiled.set(schema, (validate = ajv.compile(schema)));
  let body: unknown;
  try {
    body = JSON.parse(reply.text);
  } catch {
    throw new Error(`OpenAPI: ${where} ${reply.status} is labelled JSON but is not: ${reply.text.slice(0, 200)}`);
  }
  if (!validate(body)) throw new Error(`OpenAPI: ${where} ${reply.status} does not match its schema: ${ajv.errorsText(validate.errors)}\n${reply.text.slice(0, 300)}`);
}
