import { describe, expect, it } from 'vitest';
import { GroupQueue, type Settle } from '../../src/service/group-queue.js';

/**
 * The scheduling contract of a group commit (src/service/group-queue.ts):
 * members are settled only after their group was written; with `overlap`
 * (PostgreSQL) the members that waited meanwhile are sent before the written
 * group is settled, without it (SQLite) after.
 */
function recordingQueue(overlap: boolean) {
  const events: string[] = [];
  const written: ((settle: Settle) => void)[] = [];
  let groups = 0;
  const queue = new GroupQueue<string>(
    100,
    (group) => {
      const n = ++groups;
      events.push(`write ${n}: ${group.join(',')}`);
      return new Promise<Settle>((resolve) => written.push(resolve)).then(() => () => events.push(`settle ${n}`));
    },
    overlap,
  );
  return { queue, events, finishWrite: (n: number) => written[n - 1](() => {}) };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
/** Every promise reaction queued now, and none of the next turn's setImmediate callbacks. */
const microtasks = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('GroupQueue', () => {
  it('takes what arrived in one turn as one group, and the members that arrive while it is written as the next', async () => {
    const { queue, events, finishWrite } = recordingQueue(false);
    queue.push('a');
    queue.push('b');
    await turn();
    queue.push('c');
    queue.push('d');
    await turn();
    expect(events).toEqual(['write 1: a,b']);
    finishWrite(1);
    await turn();
    await turn();
    expect(events).toEqual(['write 1: a,b', 'settle 1', 'write 2: c,d']);
  });

  it('with overlap, sends the waiting members before settling the written group, and settles each group only after it was written', async () => {
    const { queue, events, finishWrite } = recordingQueue(true);
    queue.push('a');
    await turn();
    queue.push('b');
    queue.push('c');
    finishWrite(1);
    await microtasks();
    // Group 2 is on its way before group 1's members hear anything.
    expect(events).toEqual(['write 1: a', 'write 2: b,c']);
    await turn();
    expect(events).toEqual(['write 1: a', 'write 2: b,c', 'settle 1']);
    // Group 2 is not settled until it is written, and nothing waits: no third group.
    await turn();
    expect(events).toEqual(['write 1: a', 'write 2: b,c', 'settle 1']);
    finishWrite(2);
    await turn();
    expect(events).toEqual(['write 1: a', 'write 2: b,c', 'settle 1', 'settle 2']);
  });

  it('with overlap and nobody waiting, settles the written group at once and takes the next arrival as usual', async () => {
    const { queue, events, finishWrite } = recordingQueue(true);
    queue.push('a');
    await turn();
    finishWrite(1);
    await microtasks();
    expect(events).toEqual(['write 1: a', 'settle 1']);
    queue.push('b');
    await turn();
    expect(events).toEqual(['write 1: a', 'settle 1', 'write 2: b']);
  });
});
