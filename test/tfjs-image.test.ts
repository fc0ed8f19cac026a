// tf.node's image functions (tfjs-node's decodeImage, decodePng, decodeJpeg, decodeGif, encodePng, encodeJpeg) in
// kernelnet/tfjs, through sharp: synchronous decoding as tfjs-node's, int32 [height, width, channels] tensors (a
// GIF's frames as [frames, height, width, 3]), tfjs-node's channel conversions, and coded errors.
import { createRequire } from 'node:module';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '../lib/tfjs.js';
import { memory } from '../lib/index.js';

const I = suite('tf.node images');
const sharp = createRequire(import.meta.url)('sharp') as typeof import('sharp');

const raw = (h: number, w: number, c: number) => Uint8Array.from({ length: h * w * c }, (_, i) => (i * 37 + 11) % 256);

I('encodePng then decodeImage gives the pixels back exactly, as an int32 [h, w, c] tensor, synchronously', async () => {
  const before = memory().liveTensors;
  for (const c of [1, 3, 4]) {
    const img = tf.tensor3d(Int32Array.from(raw(5, 7, c)), [5, 7, c], 'int32');
    const png = await tf.node.encodePng(img);
    assert.ok(png instanceof Uint8Array && png[1] === 0x50 && png[2] === 0x4e && png[3] === 0x47, 'a PNG signature');
    const back = tf.node.decodeImage(png);
    assert.is(back.dtype, 'int32');
    assert.equal(back.shape, [5, 7, c]);
    assert.equal(Array.from(back.dataSync()), Array.from(img.dataSync()), `${c} channels round trip`);
    const png2 = tf.node.decodePng(png);
    assert.equal(Array.from(png2.dataSync()), Array.from(img.dataSync()), 'decodePng');
    tf.dispose([img, back, png2]);
  }
  assert.is(memory().liveTensors, before, 'no tensor left behind');
});

I('channels: 1 is grey, 3 drops alpha, 4 adds an opaque one (tfjs-node)', async () => {
  const rgb = await sharp(Buffer.from(raw(3, 4, 3)), { raw: { width: 4, height: 3, channels: 3 } })
    .png()
    .toBuffer();
  const grey = tf.node.decodeImage(rgb, 1),
    rgba = tf.node.decodeImage(rgb, 4),
    three = tf.node.decodeImage(rgb, 3);
  assert.equal(grey.shape, [3, 4, 1]);
  assert.equal(rgba.shape, [3, 4, 4]);
  const a = rgba.dataSync();
  for (let i = 3; i < a.length; i += 4) assert.is(a[i], 255, 'opaque alpha');
  assert.equal(Array.from(three.dataSync()), Array.from(raw(3, 4, 3)), 'rgb kept');
  tf.dispose([grey, rgba, three]);
});

I('JPEG and GIF: decodeJpeg is close to the pixels, a GIF is [frames, h, w, 3]', async () => {
  const flat = tf.fill([8, 8, 3], 120, 'int32');
  const jpeg = await tf.node.encodeJpeg(flat);
  const back = tf.node.decodeJpeg(jpeg);
  assert.equal(back.shape, [8, 8, 3]);
  assert.ok(
    Array.from(back.dataSync()).every(v => Math.abs(v - 120) <= 2),
    'a flat image survives JPEG',
  );
  const gif = await sharp(Buffer.from(raw(6, 5, 3)), { raw: { width: 5, height: 6, channels: 3 } })
    .gif()
    .toBuffer();
  const frames = tf.node.decodeImage(gif);
  assert.equal(frames.shape, [1, 6, 5, 3], 'a GIF: frames first (expandAnimations)');
  const first = tf.node.decodeImage(gif, 3, 'int32', false);
  assert.equal(first.shape, [6, 5, 3], 'expandAnimations false: one frame');
  tf.dispose([flat, back, frames, first]);
});

I('bad input: coded errors, nothing left behind', async () => {
  const before = memory().liveTensors;
  const code = (fn: () => unknown, want: string) => {
    try {
      fn();
    } catch (e) {
      assert.is((e as { code?: string }).code, want, (e as Error).message);
      return;
    }
    assert.unreachable(`expected ${want}`);
  };
  code(() => tf.node.decodeImage(Uint8Array.of(1, 2, 3, 4)), 'ERR_KERNELNET_DATA');
  code(() => tf.node.decodeImage('x' as never), 'ERR_KERNELNET_ARG');
  code(() => tf.node.decodeImage(Uint8Array.of(1), 2), 'ERR_KERNELNET_ARG');
  const z = tf.zeros([2, 2, 3], 'int32');
  const jpeg = await tf.node.encodeJpeg(z);
  z.dispose();
  code(() => tf.node.decodePng(jpeg), 'ERR_KERNELNET_DATA');
  const f = tf.zeros([2, 2, 3]);
  await tf.node.encodePng(f).then(
    () => assert.unreachable('a float32 image is refused'),
    (e: { code?: string }) => assert.is(e.code, 'ERR_KERNELNET_SHAPE'),
  );
  f.dispose();
  code(() => (tf.node as unknown as Record<string, () => unknown>).decodeTiff(), 'ERR_KERNELNET_UNSUPPORTED');
  assert.is(memory().liveTensors, before);
});

I.run();
