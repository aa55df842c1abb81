import type { IncomingMessage } from 'node:http';
import { PromoError } from '../domain/errors.js';

/**
 * Reading a request body, shared by both transports that take HTTP requests
 * (the HTTP routes and Slack's /slack/events), so it lives here: neither
 * imports the other.
 */
const tooLarge = (limit: number) =>
  new PromoError('payload_too_large', `The request body is larger than ${Math.round(limit / 1024)} KiB; send only the documented fields.`);

/**
 * The body's bytes, at most `limit` of them: the one reader for every route
 * and for Slack. It never destroys the request (the server still needs its
 * socket to answer and to log); the caller answers with `connection: close`
 * when it stopped reading early. A body that has already arrived is returned
 * at once, not as a promise: the hot routes then wait for nothing here.
 */
export function readRawBody(req: IncomingMessage, limit: number): Buffer | Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
  return arrivedBody(req, limit) ?? readRaw(req, limit);
}

/**
 * The body when all of it has already arrived (a small body comes with the
 * headers): taken from the stream's buffer at once, without listening for
 * it. Undefined when more is to come, or when it is not ours to take.
 */
function arrivedBody(req: IncomingMessage, limit: number): Buffer | undefined {
  if (!req.complete || req.readableFlowing !== null || req.readableEnded) return undefined;
  if (req.readableLength > limit) throw tooLarge(limit);
  return (req.read() as Buffer | null) ?? EMPTY;
}

const EMPTY = Buffer.alloc(0);

function readRaw(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new PromoError('bad_request', `The request body could not be read (${error.message.slice(0, 80)}).`));
    };
    // A client that hangs up mid-body must not leave this promise pending for ever.
    const onClose = () => {
      cleanup();
      reject(new PromoError('bad_request', 'The client closed the connection before the body was complete.'));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

