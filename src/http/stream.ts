import type { ServerResponse } from 'node:http';

/**
 * Write `pieces` to `res` honouring backpressure: when the socket's buffer is
 * full, wait for 'drain' before asking for more, so a 100k-code response never
 * sits in memory at once. Stops quietly if the client goes away.
 */
export async function streamPieces(res: ServerResponse, pieces: AsyncIterable<string> | Iterable<string>): Promise<void> {
  for await (const piece of pieces) {
    if (res.destroyed) return;
    if (!res.write(piece)) await drained(res);
    // A socket that takes each piece at once (a local client) emits 'drain' on the next
    // tick, so without a turn here a 100k-row answer rendered from memory held the event
    // loop for ~70 ms in one go, and Slack acks waited behind it.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  if (!res.destroyed) res.end();
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

const PIECE_CHARS = 64 * 1024;

/** `head`, then the items as a JSON array's elements, then `tail`, in pieces of about 64 KiB. */
export async function* jsonArrayPieces<T>(head: string, items: AsyncIterable<T>, tail: string): AsyncGenerator<string> {
  let piece = head;
  let first = true;
  for await (const item of items) {
    piece += (first ? '' : ',') + JSON.stringify(item);
    first = false;
    if (piece.length >= PIECE_CHARS) {
      yield piece;
      piece = '';
    }
  }
  yield piece + tail;
}
