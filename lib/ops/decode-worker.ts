// The worker behind lib/ops/node.ts's synchronous image decoding: it runs sharp (which only has asynchronous
// calls) for one request at a time, posts the result on its port, then wakes the caller blocked in Atomics.wait.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';

/** A request: decode `bytes` to raw pixels, or encode raw pixels to an image file. */
export interface DecodeRequest {
  op: 'decode' | 'encode';
  bytes: Uint8Array;
  /** decode: the channels wanted (0: as in the file); encode: the pixels' channels. */
  channels: number;
  /** decode: every frame of an animation (a GIF) instead of the first. */
  allFrames?: boolean;
  /** encode: the image's size and format. */
  width?: number;
  height?: number;
  format?: 'png' | 'jpeg';
  /** encode: png's compressionLevel, jpeg's quality. */
  level?: number;
  /** Set to 1 and notified when the reply is on the port. */
  done: Int32Array;
}

/** A reply: raw pixels with their geometry, an encoded file, or an error's message. */
export interface DecodeReply {
  data?: Uint8Array;
  width?: number;
  height?: number;
  channels?: number;
  frames?: number;
  format?: string;
  error?: string;
}

const port = (workerData as { port: MessagePort }).port;
const sharp = createRequire(import.meta.url)('sharp') as typeof import('sharp');

async function handle(r: DecodeRequest): Promise<DecodeReply> {
  if (r.op === 'encode') {
    let img = sharp(r.bytes, { raw: { width: r.width!, height: r.height!, channels: r.channels as 1 | 2 | 3 | 4 } });
    if (r.channels === 1) img = img.toColourspace('b-w'); // a grey file, not an RGB one
    img = r.format === 'jpeg' ? img.jpeg({ quality: r.level }) : img.png({ compressionLevel: r.level });
    return { data: new Uint8Array(await img.toBuffer()) };
  }
  const meta = await sharp(r.bytes).metadata();
  let img = sharp(r.bytes, { failOn: 'error', ...(r.allFrames ? { pages: -1 } : {}) });
  // as in the file, but a GIF is RGB (tfjs-node's decodeGif)
  const wanted = r.channels || (meta.format === 'gif' ? 3 : (meta.channels ?? 3));
  if (wanted === 1) img = img.toColourspace('b-w');
  else if (wanted === 3) img = img.removeAlpha().toColourspace('srgb');
  else if (wanted === 4) img = img.ensureAlpha().toColourspace('srgb');
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  const frames = r.allFrames ? (meta.pages ?? 1) : 1;
  return { data: new Uint8Array(data), width: info.width, height: info.height / frames, channels: info.channels, frames, format: meta.format };
}

parentPort!.on('message', (r: DecodeRequest) => {
  handle(r)
    .catch((err: Error): DecodeReply => ({ error: err.message }))
    .then(reply => {
      port.postMessage(reply);
      Atomics.store(r.done, 0, 1);
      Atomics.notify(r.done, 0);
    });
});
