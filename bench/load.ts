/**
 * The load generator in a process of its own: autocannon here, the server in
 * another, the bench in a third, as an outside client would be. The bench
 * runs it for floor and promoset alike, so neither shares a core's event loop
 * with the load. It reads its job as JSON on stdin and prints the result as
 * one JSON line on stdout.
 *
 * Job: { url, method, seconds, connections?, body?, codes?: string[], pick?: 'hot' | 'random' }.
 * With `codes`, each request's body is {"code": …}: codes[0] (hot) or one at random.
 */
import autocannon from 'autocannon';

export interface LoadJob {
  url: string;
  method: 'GET' | 'POST';
  seconds: number;
  connections?: number;
  codes?: string[];
  pick?: 'hot' | 'random';
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
}

async function main(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const job = JSON.parse(input) as LoadJob;
  const { codes } = job;
  const headers = { 'content-type': 'application/json' };
  const pick = job.pick === 'random' && codes ? () => codes[Math.floor(Math.random() * codes.length)] : () => codes![0];
  const result = await autocannon({
    url: job.url,
    connections: job.connections ?? 50,
    duration: job.seconds,
    method: job.method,
    ...(codes
      ? { requests: [{ method: job.method, path: new URL(job.url).pathname, headers, setupRequest: (request: Record<string, unknown>) => ({ ...request, body: JSON.stringify({ code: pick() }) }) }] }
      : {}),
  });
  const out: LoadResult = { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx + result.errors };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
