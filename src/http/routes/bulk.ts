import type { ServerResponse } from 'node:http';
import { PromoError } from '../../domain/errors.js';
import { generatePromotions } from '../../service/generate.js';
import { batchJsonElements, whmcsJsonRenderer } from '../../service/batches.js';
import { PROMOTION_CSV_HEADER, promotionCsvLine } from '../../domain/promotion.js';
import { batchBindings, promotionsCsv, type BoundCode } from '../../service/promotions.js';
import { bindingUsesNote } from '../../domain/binding.js';
import { getBatch } from '../../service/promotions.js';
import type { Batch } from '../../domain/batch.js';
import type { Core } from '../../service/core.js';
import { addToAccessLog } from '../access-log.js';
import { readBody } from '../body.js';
import { abandonIdempotent, beginIdempotent, finishIdempotent } from '../../service/idempotency.js';
import type { Route, RouteRequest } from '../routing.js';
import { streamPieces } from '../stream.js';
import { enforceRateLimit, resolveCaller } from './set-url.js';

type Format = 'json' | 'csv';

const BULK_BODY_BYTES = 1024 * 1024;

/**
 * CSV when asked by `format=csv` (query or body) or by an Accept header
 * naming text/csv; JSON otherwise. An explicit `format` wins over Accept.
 */
export function chooseFormat(explicit: unknown, accept: string | undefined): Format {
  if (explicit !== undefined && explicit !== '') {
    const value = typeof explicit === 'string' ? explicit.trim().toLowerCase() : '';
    if (value !== 'csv' && value !== 'json') {
      throw new PromoError('validation_failed', 'The format must be "json" or "csv".', { format: 'Use json or csv.' });
    }
    return value;
  }
  return accept !== undefined && /\btext\/csv\b/i.test(accept) ? 'csv' : 'json';
}

/** Coupontools-style bulk generation: `amount` codes in one transaction, then the batch streamed back. */
async function postCodes({ req, res, app, params, query }: RouteRequest): Promise<void> {
  const caller = await resolveCaller(app, req, params[0]);
  await enforceRateLimit(app.rateLimits.bulk, res, caller, 'bulk');
  // A `clients` list (one code per customer, up to 10,000) needs more room than the other fields.
  const body = await readBody(req, BULK_BODY_BYTES);
  const { format: bodyFormat, ...fields } = body.fields;
  const format = chooseFormat(query.get('format') ?? bodyFormat, req.headers.accept);
  const claim = await beginIdempotent(app.core, req.headers['idempotency-key'], caller.set.id, ['bulk', query.get('format') ?? '', body.raw], format);
  if (claim?.kind === 'replay') {
    // The first response, re-rendered from its batch (in its format), not a stored 100k-code body.
    const batch = await getBatch(app.core, claim.record.batchId ?? 0, caller.set.id);
    res.setHeader('idempotent-replayed', 'true');
    await sendBatch(res, app.core, batch, claim.record.format === 'csv' ? 'csv' : 'json');
    return;
  }
  let result;
  try {
    result = await generatePromotions(app.core, caller.set, fields, `http:${caller.ip}`, { requestKey: claim?.kind === 'new' ? claim.requestKey : undefined });
  } catch (error) {
    await abandonIdempotent(app.core, claim);
    throw error;
  }
  await finishIdempotent(app.core, claim, { status: 200, batchId: result.batchId, format });
  const batch = await getBatch(app.core, result.batchId);
  addToAccessLog(res, { batchId: batch.id, count: batch.count });
  // With WHMCS on, the ids shown are tblpromotions' (whmcsIds); a bound batch's codes may have been
  // replaced, bindings and all, so it is read back as stored.
  const { issued, bindings, whmcsIds } = result;
  if (app.core.whmcs && !whmcsIds) {
    await sendBatch(res, app.core, batch, format);
    return;
  }
  // Answered from the codes the INSERTs returned: reading 100k rows back cost about as much as writing them.
  const shownId = whmcsIds ? (i: number) => whmcsIds[i] : (i: number) => issued[i].id;
  if (format === 'csv') {
    sendCsv(res, `promoset-batch-${batch.id}.csv`, { 'x-batch-id': String(batch.id), 'x-count': String(batch.count) });
    await streamPieces(res, inPieces(issued, (row, i) => promotionCsvLine(shownId(i), row.code, 0, batch.terms, false, bindings?.[i]), PROMOTION_CSV_HEADER, ''));
    return;
  }
  const render = whmcsJsonRenderer(batch.terms);
  const tail = bindings ? bindingTail(issued.map((row, i) => ({ code: row.code, ...bindings[i] })), batch.terms.maxuses) : '';
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
  await streamPieces(res, inPieces(issued, (row, i) => (i === 0 ? '' : ',') + render(shownId(i), row.code, 0), `{"result":"success","batch_id":${batch.id},"count":${batch.count},"promotions":[`, `]${tail}}`));
}

/**
 * After `promotions`, for a batch of bound codes: `clients` (each code's
 * customer) and, when its codes can be used more than once, a `note` that says
 * what binding means then. Nothing for an unbound batch: its reply is as before.
 */
function bindingTail(clients: BoundCode[], maxuses: number): string {
  if (clients.length === 0) return '';
  const note = bindingUsesNote(maxuses);
  return `,"clients":${JSON.stringify(clients)}${note ? `,"note":${JSON.stringify(note)}` : ''}`;
}

/** Rendered rows between `head` and `tail`, in pieces of PIECE_ROWS, so a 100k-row answer is never one string. */
function* inPieces<T>(rows: T[], render: (row: T, index: number) => string, head: string, tail: string): Generator<string> {
  // Joined, not appended: a string built by += is a rope that node:http measures and then copies again.
  const lines: string[] = [head];
  for (let i = 0; i < rows.length; i++) {
    lines.push(render(rows[i], i));
    if ((i + 1) % PIECE_ROWS === 0) {
      yield lines.join('');
      lines.length = 0;
    }
  }
  lines.push(tail);
  yield lines.join('');
}

const PIECE_ROWS = 2000;

async function sendBatch(res: ServerResponse, core: Core, batch: Batch, format: Format): Promise<void> {
  addToAccessLog(res, { batchId: batch.id, count: batch.count });
  if (format === 'csv') {
    sendCsv(res, `promoset-batch-${batch.id}.csv`, { 'x-batch-id': String(batch.id), 'x-count': String(batch.count) });
    await streamPieces(res, promotionsCsv(core, { batchId: batch.id }));
    return;
  }
  const tail = bindingTail(await batchBindings(core, batch), batch.terms.maxuses);
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
  await streamPieces(res, wrapped(`{"result":"success","batch_id":${batch.id},"count":${batch.count},"promotions":[`, batchJsonElements(core, batch), `]${tail}}`));
}

async function* wrapped(head: string, pieces: AsyncIterable<string>, tail: string): AsyncGenerator<string> {
  yield head;
  yield* pieces;
  yield tail;
}

export function sendCsv(res: ServerResponse, filename: string, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${filename}"`, ...headers });
}

/** A batch's codes again, as CSV; a batch of another set is the same 404 as a missing one. */
async function getBatchCsv({ req, res, app, params }: RouteRequest): Promise<void> {
  const { set } = await resolveCaller(app, req, params[0]);
  const batch = await getBatch(app.core, Number(params[1]), set.id);
  addToAccessLog(res, { batchId: batch.id, count: batch.count });
  sendCsv(res, `promoset-batch-${batch.id}.csv`, { 'x-batch-id': String(batch.id), 'x-count': String(batch.count) });
  await streamPieces(res, promotionsCsv(app.core, { batchId: batch.id }));
}

export const bulkRoutes: Route[] = [
  { name: '/sets/{token}/codes', pattern: /^\/sets\/([^/]+)\/codes$/, methods: { POST: postCodes } },
  { name: '/sets/{token}/batches/{batchId}.csv', pattern: /^\/sets\/([^/]+)\/batches\/(\d{1,12})\.csv$/, methods: { GET: getBatchCsv } },
];
