import { execFile } from 'node:child_process';
import { request } from 'node:http';
import type { PromoSet } from '../../src/domain/set.js';
import { createSet } from '../../src/service/sets.js';
import { setUrl } from '../../src/service/set-urls.js';
import { checkAgainstOpenApi } from '../support/openapi-contract.js';
import type { TestService } from '../support/service.js';

/** Seed 001's set, field for field (its GET example), plus a 6-character code like "XABKKA". */
export const SEED_SET_FIELDS = {
  name: 'test',
  api_ip_address: '77.87.125.4',
  promo_code_type: 'Percentage',
  recurring: 1,
  recur_for: 0,
  promo_value: 25.5,
  applies_to: ['12', '40', '18'],
  requires: ['13', '50', 'D.ua'],
  requires_existing: 0,
  cycles: ['Quarterly', 'Semi-Annually', 'Annually', '5Years', '6Years', '7Years'],
  start_date: '2024-01-01',
  expiration_date: '2024-01-27',
  max_uses: 11,
  lifetime_promo: 0,
  apply_once: 1,
  new_signups: 1,
  once_per_client: 0,
  existing_client: 0,
  upgrades: 1,
  upgrade_type: 'product',
  upgrade_discount_type: 'Percentage',
  upgrade_value: '11',
  config_option_upgrades: ['11', '13'],
  notes: 'TEST TEST',
  code_length: 6,
};

/** A set with `fields` (defaults: allow any address, no dates), created through the core. */
export function makeSet(service: TestService, fields: Record<string, unknown> = {}): Promise<PromoSet> {
  return createSet(service.core, { name: `set-${Math.random().toString(36).slice(2, 10)}`, api_ip_address: 'any', promo_value: '10', ...fields }, 'test');
}

/** The set's URL on the test server (PUBLIC_URL names port 0 in tests). */
export function localSetUrl(service: TestService, set: PromoSet): string {
  return service.url + new URL(setUrl(service.core, set)).pathname;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/** A raw request over node:http: full control of headers and body bytes (fetch adds its own). */
export function rawRequest(url: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer; chunks?: Buffer[]; skipContract?: boolean } = {}): Promise<Reply> {
  // A body always framed by Content-Length unless the test frames it itself: node:http sends a DELETE's body without
  // one, and the server, rightly, reads those bytes as the next request (a 400 the agent then hands to the next request on the socket).
  const headers = { ...options.headers };
  const framed = Object.keys(headers).some((name) => /^(content-length|transfer-encoding)$/i.test(name));
  if (options.body !== undefined && !framed) headers['content-length'] = String(Buffer.byteLength(options.body));
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        const reply = { status: res.statusCode ?? 0, headers: res.headers, text, json };
        // Every reply a test receives must match the OpenAPI document (status and body).
        try {
          if (!options.skipContract) checkAgainstOpenApi(options.method ?? 'GET', url, reply);
        } catch (error) {
          reject(error);
          return;
        }
        resolve(reply);
      });
    });
    // The server may answer (413) and close before the whole upload is sent.
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    if (options.chunks) {
      for (const chunk of options.chunks) req.write(chunk);
      req.end();
    } else {
      req.end(options.body);
    }
  });
}

export function postForm(url: string, body: string, headers: Record<string, string> = {}): Promise<Reply> {
  return rawRequest(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  return rawRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/** Run a shell command line (a README or seed example, as written) and return its stdout. */
export function shell(commandLine: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', ['-c', commandLine], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${commandLine}\nfailed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** JSON types as the seed uses them: arrays and null told apart from objects. */
export function jsonTypes(value: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v]));
}
