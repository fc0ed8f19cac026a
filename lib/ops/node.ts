// tf.node: tfjs-node's image decoding and encoding (decodeImage, decodePng, decodeJpeg, decodeBmp, decodeGif,
// encodePng, encodeJpeg) through sharp (libvips), kernelnet's optional image dependency. tfjs-node decodes
// synchronously and so does this: sharp's calls are asynchronous, so they run in a worker thread while the caller
// waits on an Atomics.wait (the worker is started at the first call and does not keep the process alive). The
// pixels become an int32 tensor natively (fromBytes, cast); encoding reads the tensor's values.
import { Worker, MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { DataError, ValidationError } from '../core/errors.js';
import { native } from '../core/native.js';
import { Tensor, handleOf } from '../core/tensor.js';
import { describe } from '../core/validate.js';
import { castTo, opsDevice, scoped } from './base.js';
import type { DecodeReply, DecodeRequest } from './decode-worker.js';

let worker: { w: Worker; port: import('node:worker_threads').MessagePort } | null = null;

function sharpAvailable(what: string): void {
  try {
    createRequire(import.meta.url).resolve('sharp');
  } catch {
    throw new DataError(`tf.node.${what} needs the sharp package to decode and encode images (npm install sharp)`);
  }
}

/** Runs one request in the worker and waits for its reply. */
function call(what: string, r: Omit<DecodeRequest, 'done'>): DecodeReply {
  sharpAvailable(what);
  if (!worker) {
    const { port1, port2 } = new MessageChannel();
    const w = new Worker(new URL('./decode-worker.js', import.meta.url), { workerData: { port: port2 }, transferList: [port2] });
    w.unref();
    port1.unref();
    worker = { w, port: port1 };
    w.on('error', () => {
      worker = null; // a new one at the next call
    });
  }
  const done = new Int32Array(new SharedArrayBuffer(4));
  worker.w.postMessage({ ...r, done });
  // the worker answers within a decode's time; a dead worker never does, so the wait is bounded
  if (Atomics.wait(done, 0, 0, 60_000) === 'timed-out') {
    void worker.w.terminate();
    worker = null;
    throw new DataError(`tf.node.${what}: the image worker did not answer within 60 s`);
  }
  const reply = receiveMessageOnPort(worker.port)?.message as DecodeReply | undefined;
  if (!reply) throw new DataError(`tf.node.${what}: the image worker gave no reply`);
  if (reply.error) throw new DataError(`tf.node.${what}: ${reply.error}`);
  return reply;
}

function bytesArg(what: string, contents: unknown): Uint8Array {
  if (!(contents instanceof Uint8Array))
    throw new ValidationError(
      `tf.node.${what}: expected contents to be a Uint8Array (or Buffer) but received ${describe(contents)}`,
      'ERR_KERNELNET_ARG',
    );
  return contents;
}

function channelsArg(what: string, channels: unknown): number {
  if (channels === undefined) return 0;
  if (channels !== 0 && channels !== 1 && channels !== 3 && channels !== 4)
    throw new ValidationError(`tf.node.${what}: expected channels to be 0, 1, 3 or 4 but received ${describe(channels)}`, 'ERR_KERNELNET_ARG');
  return channels;
}

/** Raw 8-bit pixels as an int32 tensor of this shape, converted natively. */
function pixels(data: Uint8Array, shape: number[]): Tensor {
  return scoped('decodeImage', opsDevice(), s => {
    const f = s.make(shape, 'float32');
    if (f.size) native.fromBytes(data, 1, f);
    return s.result(castTo(s, f, 'int32'));
  });
}

function decode(what: string, contents: unknown, channels: unknown, allFrames: boolean, expect?: string[]): Tensor {
  const bytes = bytesArg(what, contents);
  const r = call(what, { op: 'decode', bytes, channels: channelsArg(what, channels), allFrames });
  if (expect && !expect.includes(r.format ?? ''))
    throw new DataError(`tf.node.${what}: the contents are ${r.format ?? 'not an image'}, not ${expect.join(' or ')}`);
  const shape = [r.height!, r.width!, r.channels!];
  return pixels(r.data!, allFrames ? [r.frames!, ...shape] : shape);
}

function encode(what: string, image: Tensor, format: 'png' | 'jpeg', level: number): Promise<Uint8Array> {
  const h = handleOf(image, 'image');
  if (h.shape.length !== 3 || ![1, 3, 4].includes(h.shape[2]))
    return Promise.reject(
      new ValidationError(`tf.node.${what}: expected an image [height, width, 1 | 3 | 4] but received [${h.shape}]`, 'ERR_KERNELNET_SHAPE'),
    );
  if (h.dtype !== 'int32')
    return Promise.reject(new ValidationError(`tf.node.${what}: expected an int32 image but received ${h.dtype}`, 'ERR_KERNELNET_SHAPE'));
  try {
    const r = call(what, {
      op: 'encode',
      bytes: Uint8Array.from(h.read()),
      channels: h.shape[2],
      width: h.shape[1],
      height: h.shape[0],
      format,
      level,
    });
    return Promise.resolve(r.data!);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** tf.node: tfjs-node's image functions. */
export const node = {
  /** An image file (PNG, JPEG, BMP, GIF, WebP, ...) as an int32 [height, width, channels] tensor; a GIF as [frames, height, width, channels] unless expandAnimations is false. */
  decodeImage(contents: Uint8Array, channels = 0, dtype = 'int32', expandAnimations = true): Tensor {
    if (dtype !== 'int32')
      throw new ValidationError(`tf.node.decodeImage: dtype must be 'int32' (as tfjs-node) but received ${describe(dtype)}`, 'ERR_KERNELNET_ARG');
    const bytes = bytesArg('decodeImage', contents);
    const gif = bytes.length > 3 && bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46;
    return decode('decodeImage', bytes, channels, gif && expandAnimations);
  },
  /** A PNG file as an int32 [height, width, channels] tensor. */
  decodePng(contents: Uint8Array, channels = 0): Tensor {
    return decode('decodePng', contents, channels, false, ['png']);
  },
  /** A JPEG file as an int32 [height, width, channels] tensor (tfjs-node's ratio and dct options are not taken). */
  decodeJpeg(contents: Uint8Array, channels = 0, ratio = 1): Tensor {
    if (ratio !== 1) throw new ValidationError('tf.node.decodeJpeg: only ratio 1 is supported', 'ERR_KERNELNET_UNSUPPORTED');
    return decode('decodeJpeg', contents, channels, false, ['jpeg']);
  },
  /** A BMP file as an int32 [height, width, channels] tensor. */
  decodeBmp(contents: Uint8Array, channels = 0): Tensor {
    return decode('decodeBmp', contents, channels, false);
  },
  /** A GIF's frames as an int32 [frames, height, width, 3] tensor. */
  decodeGif(contents: Uint8Array): Tensor {
    return decode('decodeGif', contents, 3, true, ['gif']);
  },
  /** An int32 [height, width, 1 | 3 | 4] image as PNG bytes (compression 0 to 9, default 1, as tfjs-node). */
  encodePng(image: Tensor, compression = 1): Promise<Uint8Array> {
    if (!Number.isInteger(compression) || compression < 0 || compression > 9)
      return Promise.reject(
        new ValidationError(`tf.node.encodePng: expected compression in 0..9 but received ${describe(compression)}`, 'ERR_KERNELNET_ARG'),
      );
    return encode('encodePng', image, 'png', compression);
  },
  /** An int32 [height, width, 1 | 3] image as JPEG bytes (format '' and quality 95 as tfjs-node's defaults). */
  encodeJpeg(image: Tensor, format = '', quality = 95): Promise<Uint8Array> {
    if (format !== '' && format !== 'rgb' && format !== 'grayscale')
      return Promise.reject(new ValidationError(`tf.node.encodeJpeg: format '${format}' is not supported`, 'ERR_KERNELNET_UNSUPPORTED'));
    return encode('encodeJpeg', image, 'jpeg', quality);
  },
};
