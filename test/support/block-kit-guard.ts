import { afterEach } from 'vitest';
import { liveFakes } from './fake-slack.js';

/**
 * Runs after every test (vitest setupFiles): a Block Kit limit breach that
 * reached a fake Slack during the test fails that test, naming the method
 * and the breach, even when the code under test swallowed Slack's refusal.
 */
afterEach(() => {
  const found = [...liveFakes].flatMap((fake) => fake.takeViolations());
  if (found.length > 0) {
    const lines = found.flatMap(({ method, problems }) => problems.slice(0, 10).map((p) => `${method}: ${p}`));
    throw new Error(`Slack would refuse ${found.length} payload(s) (Block Kit limits):\n${lines.join('\n')}`);
  }
});
