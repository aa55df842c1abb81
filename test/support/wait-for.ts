/**
 * The one bounded wait-for-condition of the tests: `probe` is read again until
 * `ok` holds for its value, for at most `timeoutMs`; then the test fails
 * saying what it waited for and the last value seen. Never a fixed sleep:
 * the wait ends as soon as the condition holds.
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  ok: (value: T) => boolean,
  what: string,
  { timeoutMs = 30_000, intervalMs = 25, stopIf }: { timeoutMs?: number; intervalMs?: number; stopIf?: () => string | undefined } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    const stopped = stopIf?.();
    if (stopped !== undefined) throw new Error(`gave up waiting for ${what}: ${stopped}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${describe(value)}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Wait until `read()` holds a line matching `pattern`; returns that line. */
export async function waitForLine(read: () => string | string[], pattern: RegExp | string, what = String(pattern), options: Parameters<typeof waitFor>[3] = {}): Promise<string> {
  const matches = (line: string) => (typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line));
  const lines = () => {
    const text = read();
    return Array.isArray(text) ? text : text.split('\n');
  };
  const found = await waitFor(() => lines().find(matches), (line) => line !== undefined, `a line matching ${what}`, options);
  return found!;
}

function describe(value: unknown): string {
  try {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    return text === undefined ? String(value) : text.slice(-800);
  } catch {
    return String(value);
  }
}
