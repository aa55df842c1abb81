/**
 * What GET /readyz reports: one named probe per dependency. The composition
 * root (main.ts) adds them, one line each; a probe answers its dependency's
 * state ("ok", "unreachable", "refused", "off", …). Only `required` probes
 * decide readiness: the HTTP API works without Slack, not without its database.
 */
export interface ReadinessProbe {
  name: string;
  /** When true, any state but "ok" makes the instance not ready (503). */
  required: boolean;
  check(): Promise<ProbeAnswer> | ProbeAnswer;
}

/** A state, or a state with a sentence saying what is wrong and what to check; null: not applicable here, left out of the report. */
export type ProbeAnswer = string | { state: string; message?: string } | null;

export interface ReadinessReport {
  ready: boolean;
  body: { status: 'ready' | 'not_ready'; dependencies: Record<string, string>; messages?: Record<string, string> };
}

/** A probe that has not answered by then counts as unreachable: a load balancer's check must not hang. */
const PROBE_TIMEOUT_MS = 2_000;

export class Readiness {
  private readonly probes = new Map<string, ReadinessProbe>();

  /** Add (or replace) the probe for `name`. */
  add(name: string, check: ReadinessProbe['check'], options: { required?: boolean } = {}): this {
    this.probes.set(name, { name, check, required: options.required ?? false });
    return this;
  }

  names(): string[] {
    return [...this.probes.keys()];
  }

  /** Every probe at once, each bounded by PROBE_TIMEOUT_MS; a probe that throws reports "unreachable". */
  async report(): Promise<ReadinessReport> {
    const probes = [...this.probes.values()];
    const answered = await Promise.all(probes.map((probe) => withTimeout(probe)));
    const shown = probes.flatMap((probe, i) => {
      const answer = answered[i];
      if (answer === null) return [];
      return [{ probe, state: typeof answer === 'string' ? answer : answer.state, message: typeof answer === 'string' ? undefined : answer.message }];
    });
    const dependencies = Object.fromEntries(shown.map(({ probe, state }) => [probe.name, state]));
    const messages = Object.fromEntries(shown.flatMap(({ probe, message }) => (message ? [[probe.name, message]] : [])));
    const ready = shown.every(({ probe, state }) => !probe.required || state === 'ok');
    return { ready, body: { status: ready ? 'ready' : 'not_ready', dependencies, ...(Object.keys(messages).length > 0 ? { messages } : {}) } };
  }
}

async function withTimeout(probe: ReadinessProbe): Promise<ProbeAnswer> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<ProbeAnswer>((resolve) => {
    timer = setTimeout(() => resolve('unreachable'), PROBE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([Promise.resolve().then(() => probe.check()).catch((): ProbeAnswer => 'unreachable'), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
