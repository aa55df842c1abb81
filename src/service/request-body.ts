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
 * when it stopped reading early.
 */
export async function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
  return readRaw(req, limit);
}

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

