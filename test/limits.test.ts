// The edges of each op's shapes, on every backend present: empty batches, empty inner sums, no channels, and the
// paths a shape selects, each pinned where a review of both backends found a value never written, a stale
// scratch value read, a window that does not exist, or two paths that must agree and did not. Scratch is poisoned
// (KERNELNET_POISON_SCRATCH) so that a stale read shows as NaN. On CUDA (the emulated GPU in CI) the same cases
// run against the CPU.
import { suite } from 'uvu';
import { native, type ConvArgs, type Device, type PoolArgs } from '../lib/core/native.js';
import { I, T, convArgs, convOut, disposeAll, exact, intArray, out, randomArray, rng, type ConvCase } from './helpers.js';

const L = suite('shape edges');
const devices: Device[] = native.backends().cuda.available ? ['cpu', 'cuda'] : ['cpu'];
let saved: string | undefined;
L.before(() => {
  saved = process.env.KERNELNET_POISON_SCRATCH;
  process.env.KERNELNET_POISON_SCRATCH = '1';
});
L.after(() => {
  if (saved === undefined) delete process.env.KERNELNET_POISON_SCRATCH;
  else process.env.KERNELNET_POISON_SCRATCH = saved;
});
L.after.each(disposeAll);

const zeros = (n: number) => new Float32Array(n);
/** A stride-1 'valid' convolution with no activation. */
const LINEAR: ConvArgs = { strides: [1, 1], padding: 'valid', activation: 'linear' };

for (const device of devices) {
  // An empty batch: the weight and bias gradients are sums over no image, zeros (the CPU summed a stale chunk's
  // partials, or read a null buffer on a thread's first call). A first larger call leaves partials to be stale.
  L(`conv2dBackward of an empty batch gives zero dw and db (${device})`, () => {
    const r = rng(5);
    for (const n of [3, 0]) {
      const s: ConvCase = { n, h: 5, w: 5, c: 1, kh: 3, kw: 3, f: 4, sh: 1, sw: 1, same: false };
      const { oh, ow } = convOut(s);
      const x = T([n, 5, 5, 1], intArray(n * 25, r), device),
        w = T([3, 3, 1, 4], intArray(36, r), device);
      const y = T([n, oh, ow, 4], intArray(n * oh * ow * 4, r), device),
        dy = T([n, oh, ow, 4], intArray(n * oh * ow * 4, r), device);
      const dw = out([3, 3, 1, 4], device),
        db = out([4], device),
        dx = out([n, 5, 5, 1], device);
      native.conv2dBackward(x, w, y, dy, n ? null : dx, dw, db, LINEAR);
      if (n === 0) {
        exact(dw.read(), zeros(36), `dw of an empty batch (${device})`);
        exact(db.read(), zeros(4), `db of an empty batch (${device})`);
      }
    }
  });

  // No input channels: the product is an empty sum, so y = act(bias) (the CPU left y, or the Winograd path's stale
  // scratch, in place); and no filters: the input gradient is zero.
  L(`conv2dForward with no input channels is act(bias); conv2dBackward with no filters gives dx = 0 (${device})`, () => {
    // The emulated GPU runs a kernel thread by thread only once it has seen it reach its barriers: launch the
    // GEMMs with a non-empty sum first, as any model does before an edge case.
    const r0 = rng(9),
      wx = T([2, 5, 5, 3], intArray(150, r0), device),
      ww = T([3, 3, 3, 8], intArray(216, r0), device);
    const wy = out([2, 3, 3, 8], device);
    native.conv2dForward(wx, ww, null, wy, LINEAR);
    native.conv2dBackward(
      wx,
      ww,
      wy,
      T([2, 3, 3, 8], intArray(144, r0), device),
      out([2, 5, 5, 3], device),
      out([3, 3, 3, 8], device),
      out([8], device),
      LINEAR,
    );
    for (const [kh, kw] of [
      [1, 1],
      [3, 3],
    ]) {
      const x = T([2, 4, 4, 0], undefined, device),
        w = T([kh, kw, 0, 8], undefined, device);
      const b = T(
        [8],
        Float32Array.from({ length: 8 }, (_, i) => i - 4),
        device,
      );
      const oh = 4 - kh + 1,
        y = out([2, oh, oh, 8], device);
      native.conv2dForward(x, w, b, y, { ...LINEAR, activation: 'relu' });
      const want = Float32Array.from({ length: 2 * oh * oh * 8 }, (_, i) => Math.max((i % 8) - 4, 0));
      exact(y.read(), want, `relu(b) with C = 0, ${kh}x${kw} (${device})`);
    }
    const r = rng(6);
    const x = T([1, 5, 5, 3], intArray(75, r), device),
      w = T([3, 3, 3, 0], undefined, device);
    const y = T([1, 3, 3, 0], undefined, device),
      dy = T([1, 3, 3, 0], undefined, device),
      dx = out([1, 5, 5, 3], device);
    native.conv2dBackward(x, w, y, dy, dx, null, null, LINEAR);
    exact(dx.read(), zeros(75), `dx with F = 0 (${device})`);
  });

  // BatchNormalization: no channels is nothing to do (the CPU divided by zero); an empty batch's backward writes
  // zero dgamma and dbeta (CUDA returned before writing them).
  L(`batchNorm with no channels, and the backward of an empty batch (${device})`, () => {
    const none = () => T([0], undefined, device);
    native.batchNormForward(
      T([4, 0], undefined, device),
      T([4, 0], undefined, device),
      none(),
      none(),
      none(),
      none(),
      none(),
      none(),
      0.9,
      1e-3,
      true,
    );
    native.batchNormForward(
      T([4, 0], undefined, device),
      T([4, 0], undefined, device),
      none(),
      none(),
      none(),
      none(),
      none(),
      none(),
      0.9,
      1e-3,
      false,
    );
    native.batchNormBackward(
      T([4, 0], undefined, device),
      T([4, 0], undefined, device),
      none(),
      none(),
      none(),
      T([4, 0], undefined, device),
      none(),
      none(),
      true,
    );
    const c = 5,
      ones = () =>
        T(
          [c],
          Float32Array.from({ length: c }, () => 1),
          device,
        );
    const dg = out([c], device),
      dbeta = out([c], device);
    native.batchNormBackward(
      T([0, c], undefined, device),
      T([0, c], undefined, device),
      ones(),
      ones(),
      ones(),
      T([0, c], undefined, device),
      dg,
      dbeta,
      true,
    );
    exact(dg.read(), zeros(c), `dgamma of an empty batch (${device})`);
    exact(dbeta.read(), zeros(c), `dbeta of an empty batch (${device})`);
  });
}

// conv2dPoolForward is conv2dForward then maxPool2dForward bit for bit, on random floats, whatever path the shape and
// thread count select: a 3x3 stride-1 layer with channels a multiple of 8 is Winograd per image, or rows split
// across threads when the batch has fewer images than threads; the pair op took Winograd there regardless.
L('conv2dPoolForward is conv2dForward + maxPool2dForward bit for bit at every thread count (cpu)', () => {
  const before = native.numThreads();
  try {
    for (const threads of [1, 2, 4]) {
      native.numThreads(threads);
      const r = rng(7),
        s: ConvCase = { n: 2, h: 10, w: 10, c: 8, kh: 3, kw: 3, f: 16, sh: 1, sw: 1, same: false };
      const { oh, ow } = convOut(s);
      const x = T([2, 10, 10, 8], randomArray(1600, r)),
        w = T([3, 3, 8, 16], randomArray(1152, r)),
        b = T([16], randomArray(16, r));
      const y = out([2, oh, ow, 16]),
        p = out([2, 4, 4, 16]),
        a = I([2, 4, 4, 16]),
        p2 = out([2, 4, 4, 16]),
        a2 = I([2, 4, 4, 16]);
      native.conv2dForward(x, w, b, y, convArgs(s, 'relu'));
      native.maxPool2dForward(y, p, a, 2, 2, 2, 2);
      native.conv2dPoolForward(x, w, b, p2, a2, convArgs(s, 'relu'), { poolSize: [2, 2], padding: 'valid' });
      exact(p2.read(), p.read(), `pooled at ${threads} threads`);
      exact(a2.read(), a.read(), `argmax at ${threads} threads`);
    }
  } finally {
    native.numThreads(before);
  }
});

// A 'same' 2x2 pool over an odd conv output: its last windows are cut short by the edge. CUDA's pool epilogue
// computed all 4 positions of every window, so it pooled a conv pixel that does not exist and lost that window's
// gradient; such shapes now take the conv, then the pool.
if (devices.includes('cuda'))
  L("conv2dPool with a 'same' pool over an odd conv output matches the CPU (cuda)", () => {
    const r = rng(8),
      s: ConvCase = { n: 2, h: 7, w: 9, c: 8, kh: 3, kw: 3, f: 12, sh: 1, sw: 1, same: true }; // K = 72: not the direct kernel
    const { oh, ow } = convOut(s),
      ps = [2, Math.ceil(oh / 2), Math.ceil(ow / 2), 12];
    const xs = intArray(2 * 7 * 9 * 8, r),
      ws = intArray(9 * 8 * 12, r),
      bs = intArray(12, r),
      dps = intArray(
        ps.reduce((a, b) => a * b),
        r,
      );
    const conv = convArgs(s, 'relu'),
      pool: PoolArgs = { poolSize: [2, 2], padding: 'same' };
    const run = (device: Device) => {
      const x = T([2, 7, 9, 8], xs, device),
        w = T([3, 3, 8, 12], ws, device),
        b = T([12], bs, device);
      const p = out(ps, device),
        a = I(ps, undefined, device);
      native.conv2dPoolForward(x, w, b, p, a, conv, pool);
      const dx = out([2, 7, 9, 8], device),
        dw = out([3, 3, 8, 12], device),
        db = out([12], device);
      native.conv2dPoolBackward(x, w, p, a, T(ps, dps, device), dx, dw, db, conv, pool);
      return [p, a, dx, dw, db].map(t => t.read());
    };
    const [cpu, gpu] = [run('cpu'), run('cuda')];
    ['pooled', 'argmax', 'dx', 'dw', 'db'].forEach((name, i) => exact(gpu[i], cpu[i], `${name} of a 'same' pool over a 7x9 output`));
  });

L.run();
