// The CUDA backend against its CPU twin: every op runs on the same data on both devices and the results are
// compared, bit for bit where the arithmetic is the same (small integers through the GEMMs, pooling, dropout
// masks, data movement) and within stated tolerances where the order of float sums or the math library
// differs. GPU outputs are poisoned with NaN first. Without a usable CUDA device these tests are skipped and
// say why ("skipped: no CUDA device").
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Adadelta,
  Conv2D,
  Dense,
  DeviceError,
  Dropout,
  Flatten,
  MaxPooling2D,
  Sequential,
  dispose,
  loadMnist,
  tensor,
  tidy,
  toCategorical,
  type Tensor,
} from '../lib/index.js';
import { NATIVE_ACTIVATIONS, NEEDS_INPUT, native, type ConvArgs, type NativeTensor, type PoolArgs, type ScheduleKind } from '../lib/core/native.js';
import {
  CONV_CASES,
  DENSE_CASES,
  I,
  T,
  checkProgramMatchesCalls,
  close,
  convArgs,
  convOut,
  disposeAll,
  exact,
  intArray,
  out,
  randomArray,
  rng,
  seedModel,
  smallModel,
  syntheticData,
  withEnv,
} from './helpers.js';
import { BINARY_CASES, BINARY_OPS, broadcastShape, operandData } from './sweep-refs.js';

const cuda = native.backends().cuda;
const GEMM_TOL = { atol: 1e-5, rtol: 1e-4 };

/** The same data on the CPU and on the GPU. */
function twin(shape: number[], data: Float32Array): [NativeTensor, NativeTensor] {
  return [T(shape, data, 'cpu'), T(shape, data, 'cuda')];
}

function outs(shape: number[]): [NativeTensor, NativeTensor] {
  return [out(shape, 'cpu'), out(shape, 'cuda')];
}

function same(pair: [NativeTensor, NativeTensor], what: string, tol?: { atol: number; rtol: number }): void {
  const [c, g] = pair.map(t => t.read());
  if (tol) close(g, c, tol.atol, tol.rtol, what);
  else exact(g, c, what);
}

const Cuda = suite('cuda backend vs cpu');

/** Fits make()'s compiled model on `examples` of syntheticData (batches of 16) with KERNELNET_GRAPHS = graphs. */
async function fitGraphs(graphs: string, examples: number, epochs: number, make: () => Sequential) {
  const saved = process.env.KERNELNET_GRAPHS;
  process.env.KERNELNET_GRAPHS = graphs; // read by each fit
  try {
    const { x, y } = syntheticData(examples, 'cuda');
    const m = make();
    const h = await m.fit(x, y, { batchSize: 16, epochs, verbose: 0 });
    const weights = tidy(() => m.getWeights().map(w => Array.from(w.dataSync())));
    const info = m.lastStepProgram;
    m.dispose();
    dispose([x, y]);
    return { loss: h.history.loss, weights, info };
  } finally {
    if (saved === undefined) delete process.env.KERNELNET_GRAPHS;
    else process.env.KERNELNET_GRAPHS = saved;
  }
}
Cuda.after.each(disposeAll);

if (!cuda.available) {
  console.log(`  skipped: no CUDA device (${cuda.reason})`);
  Cuda.skip('every op matches the CPU backend (skipped: no CUDA device)', () => {});
} else {
  Cuda('conv2d forward and backward', () => {
    const r = rng(21);
    for (const [kind, gen] of [
      ['int', intArray],
      ['float', randomArray],
    ] as const)
      for (const s of CONV_CASES)
        for (const relu of [false, true]) {
          const tol = kind === 'int' ? undefined : GEMM_TOL,
            label = `${kind} conv ${JSON.stringify(s)} relu=${relu}`;
          const { oh, ow } = convOut(s),
            conv = convArgs(s, relu ? 'relu' : 'linear');
          const x = twin([s.n, s.h, s.w, s.c], gen(s.n * s.h * s.w * s.c, r)),
            w = twin([s.kh, s.kw, s.c, s.f], gen(s.kh * s.kw * s.c * s.f, r));
          const b = twin([s.f], gen(s.f, r)),
            y = outs([s.n, oh, ow, s.f]);
          for (const d of [0, 1]) native.conv2dForward(x[d], w[d], b[d], y[d], conv);
          same(y, `y of ${label}`, tol);
          const dyData = gen(y[0].size, r);
          const dy = twin(y[0].shape, dyData),
            dx = outs(x[0].shape),
            dw = outs(w[0].shape),
            db = outs([s.f]);
          // Both backward passes use the CPU's y so that the ReLU masks agree exactly.
          y[1].write(y[0].read() as Float32Array);
          for (const d of [0, 1]) native.conv2dBackward(x[d], w[d], y[d], dy[d], dx[d], dw[d], db[d], conv);
          const gtol = tol && { atol: tol.atol * 10, rtol: tol.rtol * 10 };
          same(dx, `dx of ${label}`, gtol);
          same(dw, `dw of ${label}`, gtol);
          same(db, `db of ${label}`, gtol);
          // A frozen layer: dx alone, the same as with weight gradients.
          const dx2 = outs(x[0].shape);
          for (const d of [0, 1]) native.conv2dBackward(x[d], w[d], y[d], dy[d], dx2[d], null, null, conv);
          same(dx2, `dx alone of ${label}`, gtol);
          exact(dx2[1].read(), dx[1].read(), `dx alone equals dx of ${label} on CUDA`);
        }
  });

  // The conv + max-pool op: on CUDA one GEMM that pools in its epilogue (windows of 2 or 4 positions without
  // padding, on an implicit-GEMM conv) or else the two ops through scratch, on the CPU one pass; the same bits
  // on small-integer data (ties of the max included: both take the window's first maximum; ReLU makes many).
  // Cases: the seed's conv2 (2x2); a 7x9 output whose last row and column no 2x2 window covers; 1x2 and 2x1
  // windows (2 positions) on a dilated, strided conv; and two the epilogue does not take (a 6-position window
  // with 'same' padding, and the direct kernels' small window).
  Cuda('conv2d + max-pool as one op', () => {
    const r = rng(27);
    const cases = [
      [CONV_CASES.at(-1)!, 2, 2, 'valid', 'relu'],
      [CONV_CASES[9], 2, 2, 'valid', 'relu'],
      [CONV_CASES[11], 1, 2, 'valid', 'linear'],
      [CONV_CASES[11], 2, 1, 'valid', 'relu'],
      [CONV_CASES[2], 2, 3, 'same', 'linear'],
      [CONV_CASES[1], 2, 2, 'valid', 'relu'],
    ] as const;
    for (const [s, ph, pw, poolPad, act] of cases) {
      const label = `conv ${JSON.stringify(s)} pool ${ph}x${pw} ${poolPad} ${act}`;
      const conv = convArgs(s, act),
        pool: PoolArgs = { poolSize: [ph, pw], padding: poolPad };
      const { oh, ow } = convOut(s),
        po = (n: number, k: number) => (poolPad === 'same' ? Math.ceil(n / k) : Math.floor(n / k));
      const pshape = [s.n, po(oh, ph), po(ow, pw), s.f];
      const x = twin([s.n, s.h, s.w, s.c], intArray(s.n * s.h * s.w * s.c, r)),
        w = twin([s.kh, s.kw, s.c, s.f], intArray(s.kh * s.kw * s.c * s.f, r));
      const b = twin([s.f], intArray(s.f, r)),
        p = outs(pshape),
        a = [I(pshape, undefined, 'cpu'), I(pshape, undefined, 'cuda')];
      for (const d of [0, 1]) native.conv2dPoolForward(x[d], w[d], b[d], p[d], a[d], conv, pool);
      same(p, `pooled of ${label}`);
      same(a as [NativeTensor, NativeTensor], `argmax of ${label}`);
      // A Dropout after the pool, its forward in the op (in the SIMT epilogue for the first four cases, whose F are
      // multiples of 4; a pass after for the last two): the CPU's bits, pooled and argmax unchanged (rate 0.5 keeps
      // integers exact).
      const ctr: [NativeTensor, NativeTensor] = [I([1], Int32Array.of(4), 'cpu'), I([1], Int32Array.of(4), 'cuda')];
      const p2 = outs(pshape),
        a2 = [I(pshape, undefined, 'cpu'), I(pshape, undefined, 'cuda')],
        dropped = outs(pshape);
      for (const d of [0, 1])
        native.conv2dPoolForward(x[d], w[d], b[d], p2[d], a2[d], conv, pool, { rate: 0.5, seed: 5, offset: 13, counter: ctr[d] }, dropped[d]);
      same(dropped, `dropped of ${label}`);
      exact(p2[1].read(), p[1].read(), `pooled beside the dropout of ${label}`);
      exact(a2[1].read(), a[1].read(), `argmax beside the dropout of ${label}`);
      const dp = twin(pshape, intArray(p[0].size, r)),
        dx = outs(x[0].shape),
        dw = outs(w[0].shape),
        db = outs([s.f]);
      for (const d of [0, 1]) native.conv2dPoolBackward(x[d], w[d], p[d], a[d], dp[d], dx[d], dw[d], db[d], conv, pool);
      same(dx, `dx of ${label}`);
      same(dw, `dw of ${label}`);
      same(db, `db of ${label}`);
      // A Dropout after the pool, its backward folded in (the same Philox mask; rate 0.5 keeps integers exact).
      const counter: [NativeTensor, NativeTensor] = [I([1], Int32Array.of(2), 'cpu'), I([1], Int32Array.of(2), 'cuda')];
      const ddx = outs(x[0].shape),
        ddw = outs(w[0].shape),
        ddb = outs([s.f]);
      for (const d of [0, 1])
        native.conv2dPoolBackward(x[d], w[d], p[d], a[d], dp[d], ddx[d], ddw[d], ddb[d], conv, pool, {
          rate: 0.5,
          seed: 7,
          offset: 11,
          counter: counter[d],
        });
      same(ddx, `dx through the dropout of ${label}`);
      same(ddw, `dw through the dropout of ${label}`);
      same(ddb, `db through the dropout of ${label}`);
    }
  });

  // Kernel 1's two micro-tiles (cuda/gemm_layout.cuh): 4 x 4 outputs per thread (64 x 64 blocks, 128 x 32 for a
  // narrow input gradient) and 8 x 4 (128 x 64, 128 x 32 on 128 threads). Each output is one thread's sequential
  // sum over k either way, so the two give the same bits on any data: here float data through every path that
  // runs kernel 1 (plain GEMMs of each transpose, split-K, the implicit conv forward, weight gradient with
  // split-K, input gradient 64 wide and narrow, the pool and dropout epilogue), each forced by KERNELNET_SIMT_TILE
  // (read at each GEMM), compared bit for bit; and with 8 x 4 the CPU's bits on small integers.
  Cuda("FP32 GEMM micro-tiles: 8 x 4 and 4 x 4 give the same bits, and the CPU's on integers", async () => {
    const r = rng(29);
    const convCases = [CONV_CASES[8], CONV_CASES[12], CONV_CASES[14], CONV_CASES.at(-1)!];
    const denseCases = DENSE_CASES.filter(([n]) => n >= 5);
    /** Every kernel-1 op on the device `d` of the pairs, under KERNELNET_SIMT_TILE = tile: the outputs, read. */
    const run = (tile: string, gen: typeof intArray, seed: number, d: 0 | 1) =>
      withEnv('KERNELNET_SIMT_TILE', tile, () => {
        const g = rng(seed),
          got: { what: string; data: Float32Array | Int32Array }[] = [];
        const dev = d ? 'cuda' : 'cpu';
        const keep = (what: string, t: NativeTensor) => got.push({ what, data: t.read() as Float32Array | Int32Array });
        try {
          for (const [n, i, o] of denseCases) {
            const x = T([n, i], gen(n * i, g), dev),
              w = T([i, o], gen(i * o, g), dev),
              b = T([o], gen(o, g), dev),
              y = out([n, o], dev);
            native.denseForward(x, w, b, y, 'relu');
            keep(`dense y ${n}x${i}x${o}`, y);
            const dy = T([n, o], gen(n * o, g), dev),
              dx = out([n, i], dev),
              dw = out([i, o], dev),
              db = out([o], dev);
            native.denseBackward(x, w, y, dy, dx, dw, db, 'relu');
            for (const [name, t] of [
              ['dx', dx],
              ['dw', dw],
              ['db', db],
            ] as const)
              keep(`dense ${name} ${n}x${i}x${o}`, t);
          }
          for (const s of convCases) {
            const label = JSON.stringify(s),
              { oh, ow } = convOut(s),
              conv = convArgs(s, 'relu');
            const x = T([s.n, s.h, s.w, s.c], gen(s.n * s.h * s.w * s.c, g), dev),
              w = T([s.kh, s.kw, s.c, s.f], gen(s.kh * s.kw * s.c * s.f, g), dev),
              b = T([s.f], gen(s.f, g), dev),
              y = out([s.n, oh, ow, s.f], dev);
            native.conv2dForward(x, w, b, y, conv);
            keep(`conv y ${label}`, y);
            const dy = T(y.shape, gen(y.size, g), dev),
              dx = out(x.shape, dev),
              dw = out(w.shape, dev),
              db = out([s.f], dev);
            native.conv2dBackward(x, w, y, dy, dx, dw, db, conv);
            for (const [name, t] of [
              ['dx', dx],
              ['dw', dw],
              ['db', db],
            ] as const)
              keep(`conv ${name} ${label}`, t);
            if (s.sh !== 1 || s.same || s.dilH) continue;
            // The pool epilogue (2 x 2 windows) with a Dropout's mask drawn in it.
            const ps = [s.n, Math.floor(oh / 2), Math.floor(ow / 2), s.f];
            const p = out(ps, dev),
              a = I(ps, undefined, dev),
              dropped = out(ps, dev),
              ctr = I([1], Int32Array.of(3), dev);
            native.conv2dPoolForward(
              x,
              w,
              b,
              p,
              a,
              conv,
              { poolSize: [2, 2], padding: 'valid' },
              { rate: 0.5, seed: 9, offset: 5, counter: ctr },
              dropped,
            );
            for (const [name, t] of [
              ['pooled', p],
              ['argmax', a],
              ['dropped', dropped],
            ] as const)
              keep(`conv + pool ${name} ${label}`, t);
          }
        } finally {
          disposeAll();
        }
        return got;
      });
    const seed = Math.floor(r() * 1e6);
    const narrow = run('4x4', randomArray, seed, 1),
      wide = run('8x4', randomArray, seed, 1);
    assert.is(wide.length, narrow.length);
    wide.forEach((g, i) => exact(g.data, narrow[i].data, `8 x 4 against 4 x 4, float data: ${g.what}`));
    const cpu = run('4x4', intArray, seed + 1, 0),
      gpu = run('8x4', intArray, seed + 1, 1);
    gpu.forEach((g, i) => exact(g.data, cpu[i].data, `8 x 4 against the CPU, integers: ${g.what}`));
    // The setting reaches the launch: a recorded step names kernel 1's nodes by their tile.
    for (const [tile, name] of [
      ['4x4', '1 simt-fp32-64x64'],
      ['8x4', '1 simt-fp32-128x64-8x4'],
    ]) {
      const { info } = await withEnv('KERNELNET_SIMT_TILE', tile, () =>
        fitGraphs('1', 32, 1, () => {
          const m = new Sequential({
            seed: 3,
            device: 'cuda',
            layers: [
              new Flatten({ inputShape: [8, 8, 1] }),
              new Dense({ units: 16, activation: 'relu' }),
              new Dense({ units: 3, activation: 'softmax' }),
            ],
          });
          m.compile({ loss: 'categoricalCrossentropy', optimizer: 'sgd' });
          return m;
        }),
      );
      assert.ok(info?.kernels.includes(name), `${tile}: ${info?.kernels.join(', ')}`);
    }
  });

  // The layer below's activation (the op's input x its output) applied to the input gradient (epilogue.h's
  // BelowAct): relu and leaky_relu in the epilogue of the implicit input gradient's GEMM (stride 1), of col2im
  // (strided), of the dense input gradient (with split-K: K = 1100 > 1024 over an 8 x 40 output, the reduction's
  // epilogue) and of the conv + pool op; tanh and elu in a pass after. Exact against the CPU on integers (slopes
  // of 0.5 keep them exact), and equal on CUDA to the gradient without it followed by activationBackward.
  Cuda("the layer below's activation in the input gradient's epilogue", () => {
    const r = rng(29),
      acts = ['relu', 'leaky_relu', 'tanh', 'elu'] as const;
    const check = (dx: [NativeTensor, NativeTensor], plain: NativeTensor, x: NativeTensor, act: (typeof acts)[number], label: string) => {
      same(dx, `dx of ${label}`);
      const after = out(plain.shape, 'cuda');
      native.activationBackward(T(x.shape, x.read() as Float32Array, 'cuda'), x, plain, after, act, 0.5); // (x unused: a copy)
      exact(dx[1].read(), after.read(), `dx of ${label}: the gradient, then activationBackward`);
    };
    CONV_CASES.forEach((s, k) => {
      const act = acts[k % acts.length],
        label = `conv ${JSON.stringify(s)} below ${act}`;
      const { oh, ow } = convOut(s),
        conv = convArgs(s, 'relu');
      const x = twin([s.n, s.h, s.w, s.c], intArray(s.n * s.h * s.w * s.c, r)),
        w = twin([s.kh, s.kw, s.c, s.f], intArray(s.kh * s.kw * s.c * s.f, r));
      const y = twin([s.n, oh, ow, s.f], intArray(s.n * oh * ow * s.f, r)),
        dy = twin(y[0].shape, intArray(y[0].size, r));
      const dx = outs(x[0].shape),
        plain = out(x[0].shape, 'cuda');
      for (const d of [0, 1]) native.conv2dBackward(x[d], w[d], y[d], dy[d], dx[d], null, null, conv, { activation: act, alpha: 0.5 });
      native.conv2dBackward(x[1], w[1], y[1], dy[1], plain, null, null, conv);
      check(dx, plain, x[1], act, label);
    });
    for (const [n, i, o, act] of [
      [33, 70, 17, 'relu'],
      [8, 40, 1100, 'leaky_relu'],
      [8, 40, 1100, 'tanh'],
    ] as const) {
      const x = twin([n, i], intArray(n * i, r)),
        w = twin([i, o], intArray(i * o, r)),
        y = twin([n, o], intArray(n * o, r));
      const dy = twin([n, o], intArray(n * o, r)),
        dx = outs([n, i]),
        plain = out([n, i], 'cuda');
      for (const d of [0, 1]) native.denseBackward(x[d], w[d], y[d], dy[d], dx[d], null, null, 'linear', null, undefined, act, 0.5);
      native.denseBackward(x[1], w[1], y[1], dy[1], plain, null, null, 'linear');
      check(dx, plain, x[1], act, `dense ${n}x${i}x${o} below ${act}`);
    }
    const s = CONV_CASES.at(-1)!,
      { oh, ow } = convOut(s),
      ps = [s.n, oh >> 1, ow >> 1, s.f];
    const x = twin([s.n, s.h, s.w, s.c], intArray(s.n * s.h * s.w * s.c, r)),
      w = twin([s.kh, s.kw, s.c, s.f], intArray(s.kh * s.kw * s.c * s.f, r));
    const b = twin([s.f], intArray(s.f, r)),
      p = outs(ps),
      a = [I(ps, undefined, 'cpu'), I(ps, undefined, 'cuda')];
    const conv: ConvArgs = { strides: [s.sh, s.sw], padding: 'valid', activation: 'relu' },
      pool: PoolArgs = { poolSize: [2, 2], padding: 'valid' };
    for (const d of [0, 1]) native.conv2dPoolForward(x[d], w[d], b[d], p[d], a[d], conv, pool);
    const dp = twin(ps, intArray(p[0].size, r)),
      dx = outs(x[0].shape),
      plain = out(x[0].shape, 'cuda');
    for (const d of [0, 1])
      native.conv2dPoolBackward(x[d], w[d], p[d], a[d], dp[d], dx[d], null, null, conv, pool, undefined, { activation: 'leaky_relu', alpha: 0.5 });
    native.conv2dPoolBackward(x[1], w[1], p[1], a[1], dp[1], plain, null, null, conv, pool);
    check(dx, plain, x[1], 'leaky_relu', 'conv + pool below leaky_relu');
  });

  Cuda('every activation of the fused epilogue, conv and dense, forward and backward (pre stored for swish and gelu)', () => {
    const r = rng(26),
      s = CONV_CASES.at(-1)!,
      { oh, ow } = convOut(s);
    // Transcendentals differ from the host's by a few ulp on a GPU (CUDA C Programming Guide, appendix on
    // mathematical functions: expf 2 ulp, tanhf 2, erff 2, log1pf 1, expm1f 1): relative 1e-5 after the sums.
    const tol = { atol: 1e-5, rtol: 1e-5 },
      gtol = { atol: 1e-4, rtol: 1e-4 };
    for (const act of NATIVE_ACTIVATIONS) {
      const alpha = act === 'elu' ? 0.7 : act === 'leaky_relu' ? 0.2 : undefined;
      const x = twin([s.n, s.h, s.w, s.c], randomArray(s.n * s.h * s.w * s.c, r)),
        w = twin([s.kh, s.kw, s.c, s.f], randomArray(s.kh * s.kw * s.c * s.f, r));
      const b = twin([s.f], randomArray(s.f, r)),
        y = outs([s.n, oh, ow, s.f]);
      const pre = NEEDS_INPUT.includes(act) ? outs(y[0].shape) : [null, null];
      for (const d of [0, 1]) native.conv2dForward(x[d], w[d], b[d], y[d], convArgs(s, act, { pre: pre[d], alpha }));
      same(y, `conv ${act} y`, tol);
      y[1].write(y[0].read() as Float32Array);
      if (pre[0]) pre[1]!.write(pre[0].read() as Float32Array);
      const dy = twin(y[0].shape, randomArray(y[0].size, r)),
        dx = outs(x[0].shape),
        dw = outs(w[0].shape),
        db = outs([s.f]);
      for (const d of [0, 1]) native.conv2dBackward(x[d], w[d], y[d], dy[d], dx[d], dw[d], db[d], convArgs(s, act, { pre: pre[d], alpha }));
      for (const [t, name] of [
        [dx, 'dx'],
        [dw, 'dw'],
        [db, 'db'],
      ] as const)
        same(t, `conv ${act} ${name}`, gtol);
      const [n, i, o] = [33, 70, 17];
      const dxx = twin([n, i], randomArray(n * i, r)),
        dww = twin([i, o], randomArray(i * o, r)),
        dyy = outs([n, o]);
      const dpre = NEEDS_INPUT.includes(act) ? outs([n, o]) : [null, null];
      for (const d of [0, 1]) native.denseForward(dxx[d], dww[d], null, dyy[d], act, dpre[d], alpha);
      same(dyy, `dense ${act} y`, tol);
      const e = twin([n * o], randomArray(n * o, r, -8, 8)),
        ey = outs([n * o]),
        ed = outs([n * o]);
      for (const d of [0, 1]) native.activation(e[d], ey[d], act, alpha);
      same(ey, `elementwise ${act}`, tol);
      ey[1].write(ey[0].read() as Float32Array);
      const g = twin([n * o], randomArray(n * o, r));
      for (const d of [0, 1]) native.activationBackward(e[d], ey[d], g[d], ed[d], act, alpha);
      same(ed, `elementwise ${act} backward`, tol);
    }
  });

  Cuda('dense forward and backward', () => {
    const r = rng(22);
    for (const [kind, gen] of [
      ['int', intArray],
      ['float', randomArray],
    ] as const)
      for (const [n, i, o] of DENSE_CASES)
        for (const relu of [false, true]) {
          const tol = kind === 'int' ? undefined : { atol: 1e-4, rtol: 1e-4 },
            label = `${kind} dense ${n}x${i}x${o} relu=${relu}`;
          const x = twin([n, i], gen(n * i, r)),
            w = twin([i, o], gen(i * o, r)),
            b = twin([o], gen(o, r)),
            y = outs([n, o]);
          for (const d of [0, 1]) native.denseForward(x[d], w[d], b[d], y[d], relu ? 'relu' : 'linear');
          same(y, `y of ${label}`, tol);
          y[1].write(y[0].read() as Float32Array);
          const dy = twin([n, o], gen(n * o, r)),
            dx = outs([n, i]),
            dw = outs([i, o]),
            db = outs([o]);
          for (const d of [0, 1]) native.denseBackward(x[d], w[d], y[d], dy[d], dx[d], dw[d], db[d], relu ? 'relu' : 'linear');
          same(dx, `dx of ${label}`, tol);
          same(dw, `dw of ${label}`, tol);
          same(db, `db of ${label}`, tol);
        }
  });

  Cuda('the fused epilogue without a bias matches the CPU', () => {
    const r = rng(23);
    for (const act of ['linear', 'relu'] as const) {
      const x = twin([33, 300], intArray(33 * 300, r)),
        w = twin([300, 17], intArray(300 * 17, r)),
        y = outs([33, 17]);
      for (const d of [0, 1]) native.denseForward(x[d], w[d], null, y[d], act);
      same(y, `dense without a bias, ${act}`);
      const s = CONV_CASES.at(-1)!,
        { oh, ow } = convOut(s);
      const cx = twin([s.n, s.h, s.w, s.c], intArray(s.n * s.h * s.w * s.c, r)),
        cw = twin([s.kh, s.kw, s.c, s.f], intArray(s.kh * s.kw * s.c * s.f, r));
      const cy = outs([s.n, oh, ow, s.f]);
      for (const d of [0, 1]) native.conv2dForward(cx[d], cw[d], null, cy[d], convArgs(s, act));
      same(cy, `conv without a bias, ${act}`);
    }
  });

  Cuda('max-pool, dropout, softmax cross-entropy, data ops', () => {
    const r = rng(23);
    for (const [n, h, w, c, ph, pw, sh, sw] of [
      [2, 7, 7, 3, 2, 2, 2, 2],
      [3, 24, 24, 64, 2, 2, 2, 2],
      [1, 5, 6, 2, 3, 2, 1, 1],
    ]) {
      const oh = Math.floor((h - ph) / sh) + 1,
        ow = Math.floor((w - pw) / sw) + 1;
      const x = twin([n, h, w, c], intArray(n * h * w * c, r, -20, 20)),
        y = outs([n, oh, ow, c]);
      const arg: [NativeTensor, NativeTensor] = [I([n, oh, ow, c], undefined, 'cpu'), I([n, oh, ow, c], undefined, 'cuda')];
      for (const d of [0, 1]) native.maxPool2dForward(x[d], y[d], arg[d], ph, pw, sh, sw);
      same(y, 'pool y');
      same(arg, 'pool argmax');
      const dy = twin(y[0].shape, intArray(y[0].size, r)),
        dx = outs(x[0].shape);
      for (const d of [0, 1]) native.maxPool2dBackward(dy[d], arg[d], dx[d], ph, pw, sh, sw);
      same(dx, 'pool dx');
    }
    const x = twin([1001], randomArray(1001, r)),
      y = outs([1001]),
      dx = outs([1001]);
    for (const d of [0, 1]) native.dropoutForward(x[d], y[d], 0.4, 5, 77);
    same(y, 'dropout y (same Philox mask, same scaling)');
    for (const d of [0, 1]) native.dropoutBackward(x[d], dx[d], 0.4, 5, 77);
    same(dx, 'dropout dx');
    // The layer below's activation applied with the mask (a Dense's relu, sigmoid, leaky_relu's alpha), from that
    // layer's output: the mask's product first, then act_backward's, on both.
    const below = twin([1001], randomArray(1001, r, -1, 1));
    for (const b of [{ activation: 'relu' }, { activation: 'sigmoid' }, { activation: 'leaky_relu', alpha: 0.3 }] as const) {
      for (const d of [0, 1]) native.dropoutBackward(x[d], dx[d], 0.4, 5, 77, null, b, below[d]);
      same(dx, `dropout dx with the ${b.activation} below`);
    }
    // The step counter lives on each device; a replayed call (same arguments) draws the next mask.
    const counter: [NativeTensor, NativeTensor] = [I([1], new Int32Array([3]), 'cpu'), I([1], new Int32Array([3]), 'cuda')];
    for (let step = 0; step < 3; ++step) {
      for (const d of [0, 1]) native.dropoutForward(x[d], y[d], 0.4, 5, 77, counter[d]);
      same(y, `dropout y with the step counter at ${3 + step}`);
      for (const d of [0, 1]) native.advance(counter[d]);
    }
    same(counter, 'advanced counter');
    // Two counters in one call (a step's counter and its optimizer's iterations: one launch), saturating at 2^31 - 1.
    const top: [NativeTensor, NativeTensor] = [I([1], new Int32Array([2 ** 31 - 1]), 'cpu'), I([1], new Int32Array([2 ** 31 - 1]), 'cuda')];
    for (const d of [0, 1]) native.advance(counter[d], top[d]);
    same(counter, 'advanced with a second counter');
    same(top, 'the second counter saturated');
    assert.equal(Array.from(counter[1].read()), [7]);
    for (const [n, k] of [
      [1, 1],
      [7, 10],
      [128, 10],
      [3, 50],
    ]) {
      const z = twin([n, k], randomArray(n * k, r, -5, 5)),
        labels = new Float32Array(n * k);
      for (let i = 0; i < n; ++i) labels[i * k + Math.floor(r() * k)] = 1;
      const yl = twin([n, k], labels),
        dz = outs([n, k]),
        m = twin([8], new Float32Array([1, 2, 3, 0, 4, 5, 6, 0])),
        p = outs([n, k]);
      for (const d of [0, 1]) native.softmaxCrossEntropy(z[d], yl[d], dz[d], m[d], 7);
      same(m, `metrics n=${n} k=${k}`, { atol: 1e-4, rtol: 1e-5 });
      same(dz, `dlogits n=${n} k=${k}`, { atol: 1e-7, rtol: 1e-5 });
      // Weighted rows (sampleWeight / classWeight), small integers and a zero.
      const w = twin(
        [n],
        Float32Array.from({ length: n }, (_, i) => i % 4),
      );
      for (const d of [0, 1]) native.softmaxCrossEntropy(z[d], yl[d], dz[d], m[d], 7, null, w[d]);
      same(m, `weighted metrics n=${n} k=${k}`, { atol: 1e-4, rtol: 1e-5 });
      same(dz, `weighted dlogits n=${n} k=${k}`, { atol: 1e-7, rtol: 1e-5 });
      for (const d of [0, 1]) native.softmax(z[d], p[d]);
      same(p, `softmax n=${n} k=${k}`, { atol: 1e-7, rtol: 1e-5 });
    }
    // Every loss kind, with class labels and weights, on the GPU as on the CPU.
    for (const [kind, acc, k] of [
      ['crossentropy', 'sparse', 7],
      ['binary_crossentropy', 'binary', 3],
      ['mse', 'none', 40],
      ['mae', 'none', 2],
    ] as const) {
      const n = 37,
        z = twin([n, k], randomArray(n * k, r, -3, 3)),
        wt = twin([n], randomArray(n, r, 0, 2));
      const cls = Int32Array.from({ length: n }, () => Math.floor(r() * k));
      const labels: [NativeTensor, NativeTensor] =
        kind === 'crossentropy'
          ? [I([n], cls, 'cpu'), I([n], cls, 'cuda')]
          : twin(
              [n, k],
              Float32Array.from({ length: n * k }, () => (kind === 'binary_crossentropy' ? Math.round(r()) : r())),
            );
      const mm = twin([8], new Float32Array(8)),
        dd = outs([n, k]);
      for (const d of [0, 1]) native.loss(kind, acc, z[d], labels[d], wt[d], dd[d], mm[d], 3);
      same(mm, `${kind} metrics`, { atol: 1e-4, rtol: 1e-5 });
      same(dd, `${kind} gradient`, { atol: 1e-7, rtol: 1e-5 });
    }
    const src = twin([50, 3, 2], randomArray(300, r));
    const idx: [NativeTensor, NativeTensor] = [I([50], undefined, 'cpu'), I([50], undefined, 'cuda')];
    for (const d of [0, 1]) native.permutation(idx[d], 9, 4);
    same(idx, 'permutation');
    const g = outs([20, 3, 2]);
    for (const d of [0, 1]) native.gatherRows(src[d], idx[d], 30, g[d]);
    same(g, 'gatherRows');
    for (let batch = 0; batch < 4; ++batch) {
      // the third batch runs past the 50 indices: zero rows, no stray read
      for (const d of [0, 1]) counter[d].write(new Int32Array([batch]));
      for (const d of [0, 1]) native.gatherRows(src[d], idx[d], 0, g[d], counter[d]);
      same(g, `gatherRows of batch ${batch} by the step counter`);
    }
    // Several sources by the same indices in one call (inputs, labels, weights: one launch for up to 4, then the
    // rest): 5 sources of other row sizes and an int32 one, each equal to its own gatherRows.
    const srcs = [[3, 2], [1], [7], [4, 5], [2]].map(shape => twin([50, ...shape], randomArray(50 * shape.reduce((a, b) => a * b, 1), r)));
    const classes: [NativeTensor, NativeTensor] = [
      I(
        [50],
        Int32Array.from({ length: 50 }, (_, i) => i * 3),
        'cpu',
      ),
      I(
        [50],
        Int32Array.from({ length: 50 }, (_, i) => i * 3),
        'cuda',
      ),
    ];
    const many = [...srcs, classes];
    const dsts = many.map(sd =>
      [0, 1].map(d => (sd[d].dtype === 'int32' ? I([20], undefined, d ? 'cuda' : 'cpu') : out([20, ...sd[d].shape.slice(1)], d ? 'cuda' : 'cpu'))),
    );
    for (const batch of [0, 2]) {
      for (const d of [0, 1]) counter[d].write(new Int32Array([batch]));
      for (const d of [0, 1])
        native.gatherRows(
          many.map(sd => sd[d]),
          idx[d],
          0,
          dsts.map(dd => dd[d]),
          counter[d],
        );
      const one = outs([20, 3, 2]);
      for (const d of [0, 1]) native.gatherRows(srcs[0][d], idx[d], 0, one[d], counter[d]);
      exact(Array.from(dsts[0][1].read()), Array.from(one[0].read()), `gatherRows of 6 sources, batch ${batch}: the first as alone`);
      dsts.forEach((dd, k) => exact(Array.from(dd[1].read()), Array.from(dd[0].read()), `gatherRows of 6 sources, batch ${batch}, source ${k}`));
    }
    const bad = twin([1, 2], new Float32Array([NaN, 1])),
      badLabels = twin([1, 2], new Float32Array([1, 0])),
      bm = outs([8]);
    for (const d of [0, 1]) bm[d].fill(0);
    for (const d of [0, 1]) native.softmaxCrossEntropy(bad[d], badLabels[d], null, bm[d], 1000, counter[d]);
    const [mc, mg] = bm.map(t => Array.from(t.read()));
    assert.ok(Number.isNaN(mc[0]) && Number.isNaN(mg[0]), `a NaN loss on both devices: ${mc[0]}, ${mg[0]}`);
    exact(mg.slice(2, 5), mc.slice(2, 5), 'metrics with a non-finite loss: rows, step + counter + 1, and the weight sum');
    const u = outs([1003]);
    for (const d of [0, 1]) native.randomUniform(u[d], -0.3, 0.3, 12, 1);
    same(u, 'randomUniform');
    for (const d of [0, 1]) native.randomNormal(u[d], 0.7, 12, 2);
    same(u, 'randomNormal (truncated; logf, cosf within a few ulp)', { atol: 1e-6, rtol: 1e-5 });
    const labels: [NativeTensor, NativeTensor] = [I([5], new Int32Array([3, 0, 9, 1, 3]), 'cpu'), I([5], new Int32Array([3, 0, 9, 1, 3]), 'cuda')];
    const oh = outs([5, 10]);
    for (const d of [0, 1]) native.oneHot(labels[d], oh[d]);
    same(oh, 'oneHot');
    const bytes = Uint8Array.from({ length: 777 }, (_, i) => (i * 37) % 256),
      fb = outs([777]);
    for (const d of [0, 1]) native.fromBytes(bytes, 255, fb[d]);
    same(fb, 'fromBytes');
  });

  Cuda("learning-rate schedules: the device writes the host's rate, and adadelta reads it from device memory", () => {
    const schedules: [ScheduleKind, number[]][] = [
      ['exponential', [0.5, 10, 0.9, 0]],
      ['exponential', [2, 7, 0.5, 1]],
      ['piecewise', [3, 8, 1, 0.5, 0.1]],
      ['cosine', [1, 20, 0.1, NaN, 0]],
      ['cosine', [0, 20, 0, 0.8, 5]],
    ];
    const it = new native.Tensor([1], 'int32', Int32Array.of(0), 'cuda'),
      lr = new native.Tensor([1], 'float32', undefined, 'cuda');
    try {
      for (const [kind, params] of schedules)
        for (const t of [0, 1, 4, 5, 9, 10, 24, 25, 40]) {
          it.write(Int32Array.of(t));
          native.learningRate(kind, params, it, lr);
          // powf and cosf are within 2 ulp on the device (CUDA C Programming Guide, mathematical functions).
          close(lr.read(), [native.scheduleValue(kind, params, t)], 0, 4e-7, `${kind} ${params} at ${t}`);
        }
    } finally {
      it.dispose();
      lr.dispose();
    }
  });

  Cuda('tensor utilities: region copies, argMax and the asynchronous read match the CPU', async () => {
    const r = rng(25);
    const src = twin([3, 5, 4, 2], intArray(120, r)),
      dst = twin([4, 6, 4, 3], intArray(288, r));
    for (const d of [0, 1]) native.copyRegion(src[d], [1, 2, 0, 1], dst[d], [2, 0, 1, 0], [2, 3, 3, 1]);
    same(dst, 'copyRegion into the middle of dst');
    const ints: [NativeTensor, NativeTensor] = [
      I(
        [4, 3],
        Int32Array.from({ length: 12 }, (_, i) => i * 7 - 30),
        'cpu',
      ),
      I(
        [4, 3],
        Int32Array.from({ length: 12 }, (_, i) => i * 7 - 30),
        'cuda',
      ),
    ];
    const intOut: [NativeTensor, NativeTensor] = [I([2, 3], undefined, 'cpu'), I([2, 3], undefined, 'cuda')];
    for (const d of [0, 1]) native.copyRegion(ints[d], [2, 0], intOut[d], [0, 0], [2, 3]);
    exact(intOut[1].read(), intOut[0].read(), 'int32 rows');
    // Small integers with many ties: the first maximum must win on both.
    const x = twin(
      [5, 7, 3],
      Float32Array.from({ length: 105 }, () => Math.floor(r() * 3)),
    );
    for (const axis of [0, 1, 2]) {
      const shape = [5, 7, 3].filter((_, d) => d !== axis);
      const out: [NativeTensor, NativeTensor] = [I(shape, undefined, 'cpu'), I(shape, undefined, 'cuda')];
      for (const d of [0, 1]) native.argMax(x[d], axis, out[d]);
      exact(out[1].read(), out[0].read(), `argMax axis ${axis}`);
    }
    const big = twin([1000, 3], randomArray(3000, r));
    exact(await big[1].readAsync(), big[0].read(), 'readAsync on the GPU');
  });

  Cuda('broadcasting binary ops, their gradients, concatInto and sliceFrom match the CPU (exactly on small integers)', () => {
    const r = rng(26);
    for (const op of BINARY_OPS)
      for (const [as, bs] of [
        ...BINARY_CASES,
        [[64, 33], [33]] as [number[], number[]],
        [
          [3, 40, 5],
          [40, 1],
        ] as [number[], number[]],
      ])
        for (const kind of ['int', 'float'] as const) {
          const ys = broadcastShape(as, bs),
            na = as.reduce((p, d) => p * d, 1),
            nb = bs.reduce((p, d) => p * d, 1),
            n = ys.reduce((p, d) => p * d, 1);
          // Divisors never 0; small integers give ties to max and min and exact products and sums.
          const divisor = (k: number) => Float32Array.from({ length: k }, () => [-2, -1, 1, 2, 4][Math.floor(r() * 5)]);
          const [av, bv] = kind === 'int' ? [intArray(na, r), op === 'div' ? divisor(nb) : intArray(nb, r)] : operandData(op, na, nb, r);
          const dyv = kind === 'int' ? intArray(n, r) : randomArray(n, r);
          const [a, b, dy] = [twin(as, av), twin(bs, bv), twin(ys, dyv)];
          const [y, da, db] = [outs(ys), outs(as), outs(bs)];
          const scale = kind === 'int' ? 2 : 0.7;
          for (const d of [0, 1]) {
            native.binary(op, a[d], b[d], y[d], scale);
            native.binaryBackward(op, a[d], b[d], dy[d], da[d], db[d], scale);
          }
          const label = `${kind} ${op} ${JSON.stringify(as)} ${JSON.stringify(bs)}`;
          // Floats: the same operations in the same order, but a CPU compiler may fuse a product into a sum.
          const tol = kind === 'int' ? undefined : { atol: 1e-6, rtol: 1e-6 };
          same(y, `${label}: y`, tol);
          same(da, `${label}: da`, tol);
          same(db, `${label}: db`, tol);
        }
    // In place (y = a), and an operand broadcast against an empty tensor (its gradient 0).
    const a = twin([4, 6], intArray(24, r)),
      b = twin([6], intArray(6, r));
    for (const d of [0, 1]) native.binary('sub', a[d], b[d], a[d]);
    same(a, 'y = a');
    const db = outs([6]);
    for (const d of [0, 1])
      native.binaryBackward('add', T([0, 6], undefined, d ? 'cuda' : 'cpu'), b[d], T([0, 6], undefined, d ? 'cuda' : 'cpu'), null, db[d]);
    same(db, 'the gradient of an operand broadcast against an empty tensor');
    // concatInto and sliceFrom along every axis.
    const whole = twin([3, 5, 4], intArray(60, r));
    for (const axis of [0, 1, 2, -1]) {
      const ax = axis < 0 ? axis + 3 : axis;
      const partShape = [3, 5, 4].map((s, i) => (i === ax ? 1 : s));
      const part = twin(
        partShape,
        intArray(
          partShape.reduce((p, s) => p * s, 1),
          r,
        ),
      );
      for (const d of [0, 1]) native.concatInto(part[d], whole[d], axis, [3, 5, 4][ax] - 1);
      const back = outs(partShape);
      for (const d of [0, 1]) native.sliceFrom(whole[d], back[d], axis, [3, 5, 4][ax] - 1);
      same(back, `sliceFrom along ${axis}`);
    }
    same(whole, 'concatInto along every axis');
    assert.throws(
      () => native.binary('add', a[0], b[1], outs([4, 6])[1]),
      (e: Error & { code?: string }) => e.code === 'ERR_KERNELNET_DEVICE' && /b lives on cuda but a on cpu/.test(e.message),
    );
    assert.throws(
      () => native.concatInto(b[1], whole[0], 0, 0),
      (e: Error & { code?: string }) => e.code === 'ERR_KERNELNET_DEVICE',
    );
  });

  Cuda('SGD, Adam(W), RMSprop and Adagrad: one launch over many tensors, the rate and step count from device memory', () => {
    const r = rng(27);
    const cases: ['sgd' | 'adam' | 'rmsprop' | 'adagrad', number[], number][] = [
      ['sgd', [0, 0, 0, 0.9, 1, 0, 0, 0], 1],
      ['adam', [0.9, 0.999, 1e-7, 0, 0, 1, 0, 0.004], 3],
      ['rmsprop', [0.9, 0, 1e-7, 0.5, 0, 0, 1, 0], 3],
      ['adagrad', [0, 0, 1e-7, 0, 0, 0, 0, 0], 1],
    ];
    const shapes = Array.from({ length: 30 }, (_, i) => [1 + ((i * 5) % 11), 1 + (i % 4)]); // more than one launch group
    for (const [kind, hyper, nslots] of cases) {
      const p = shapes.map(s => twin(s, randomArray(s[0] * s[1], r))),
        g = shapes.map(s => twin(s, randomArray(s[0] * s[1], r)));
      // The first slot (RMSprop's second moment) well above the centred one's square: a real run's state.
      const slots = Array.from({ length: nslots }, (_, j) => shapes.map(s => twin(s, randomArray(s[0] * s[1], r, j ? 0 : 0.5, j ? 0.1 : 1))));
      const lr = twin([1], Float32Array.of(0.01));
      const it: [NativeTensor, NativeTensor] = [I([1], Int32Array.of(6), 'cpu'), I([1], Int32Array.of(6), 'cuda')];
      for (const d of [0, 1])
        native.optimizerStep(
          kind,
          hyper,
          p.map(t => t[d]),
          g.map(t => t[d]),
          slots.map(ts => ts.map(t => t[d])),
          lr[d],
          it[d],
        );
      p.forEach((t, i) => same(t, `${kind} param ${i}`, { atol: 1e-6, rtol: 1e-5 }));
      slots.forEach((ts, j) => ts.forEach((t, i) => same(t, `${kind} slot ${j} of ${i}`, { atol: 1e-7, rtol: 1e-5 })));
    }
  });

  Cuda('max and average pooling with same padding, and the affine op (Rescaling), match the CPU', () => {
    const r = rng(28);
    for (const [shape, ph, pw, sh, sw] of [
      [[2, 7, 6, 3], 3, 2, 2, 1],
      [[3, 5, 5, 4], 2, 2, 2, 2],
      [[1, 9, 4, 2], 4, 3, 3, 2],
    ] as const) {
      const oh = Math.ceil(shape[1] / sh),
        ow = Math.ceil(shape[2] / sw),
        size = (shape as readonly number[]).reduce((a, b) => a * b, 1);
      const x = twin([...shape], intArray(size, r)),
        y = outs([shape[0], oh, ow, shape[3]]),
        dy = twin(y[0].shape, intArray(y[0].size, r));
      const arg: [NativeTensor, NativeTensor] = [I(y[0].shape, undefined, 'cpu'), I(y[0].shape, undefined, 'cuda')];
      const dx = outs([...shape]);
      for (const d of [0, 1]) native.maxPool2dForward(x[d], y[d], arg[d], ph, pw, sh, sw, 'same');
      same(y, `max same ${shape}`);
      same(arg, `argmax same ${shape}`);
      for (const d of [0, 1]) native.maxPool2dBackward(dy[d], arg[d], dx[d], ph, pw, sh, sw, 'same');
      same(dx, `max same backward ${shape}`);
      for (const d of [0, 1]) native.avgPool2dForward(x[d], y[d], ph, pw, sh, sw, 'same');
      same(y, `avg same ${shape}`);
      for (const d of [0, 1]) native.avgPool2dBackward(dy[d], dx[d], ph, pw, sh, sw, 'same');
      same(dx, `avg same backward ${shape} (the same summation order)`);
    }
    const a = twin([1000], randomArray(1000, r, 0, 255)),
      b = outs([1000]);
    for (const d of [0, 1]) native.affine(a[d], b[d], 1 / 255, -0.5);
    same(b, 'affine');
  });

  Cuda('batch normalization: training and inference forward, moving averages, backward match the CPU', () => {
    const r = rng(29);
    for (const [m, c] of [
      [600, 6],
      [37, 70],
      [1, 3],
    ]) {
      for (const training of [true, false]) {
        const x = twin([m, c], randomArray(m * c, r, -2, 4)),
          y = outs([m, c]),
          g = twin([c], randomArray(c, r, 0.5, 2)),
          b = twin([c], randomArray(c, r));
        const mean = outs([c]),
          inv = outs([c]),
          mm = twin([c], randomArray(c, r)),
          mv = twin([c], randomArray(c, r, 0.5, 2));
        for (const d of [0, 1]) native.batchNormForward(x[d], y[d], g[d], b[d], mean[d], inv[d], mm[d], mv[d], 0.99, 1e-3, training);
        const tol = { atol: 1e-5, rtol: 1e-5 },
          what = `${m}x${c} training=${training}`;
        for (const [t, name] of [
          [y, 'y'],
          [mean, 'mean'],
          [inv, 'invstd'],
          [mm, 'moving mean'],
          [mv, 'moving variance'],
        ] as const)
          same(t, `${name} ${what}`, tol);
        const dy = twin([m, c], randomArray(m * c, r)),
          dx = outs([m, c]),
          dg = outs([c]),
          db = outs([c]);
        for (const d of [0, 1]) native.batchNormBackward(x[d], dy[d], g[d], mean[d], inv[d], dx[d], dg[d], db[d], training);
        for (const [t, name] of [
          [dx, 'dx'],
          [dg, 'dgamma'],
          [db, 'dbeta'],
        ] as const)
          same(t, `${name} ${what}`, { atol: 1e-4, rtol: 1e-4 });
      }
    }
    // Inference folded into the weights before the layer (batchnorm.h's fold: the same arithmetic both sides).
    for (const [k, c] of [
      [288, 64],
      [1, 300],
      [5, 1],
    ]) {
      const w = twin([k, c], randomArray(k * c, r)),
        b = twin([c], randomArray(c, r)),
        g = twin([c], randomArray(c, r, 0.5, 2));
      const be = twin([c], randomArray(c, r)),
        mm = twin([c], randomArray(c, r)),
        mv = twin([c], randomArray(c, r, 0.5, 2));
      const wOut = outs([k, c]),
        bOut = outs([c]);
      for (const d of [0, 1]) native.batchNormFold(w[d], b[d], g[d], be[d], mm[d], mv[d], 1e-3, wOut[d], bOut[d]);
      same(wOut, `folded w ${k}x${c}`);
      same(bOut, `folded b ${k}x${c}`, { atol: 1e-6, rtol: 1e-6 }); // a GPU may fuse its multiply-add
      for (const d of [0, 1]) native.batchNormFold(w[d], null, null, null, mm[d], mv[d], 1e-3, wOut[d], bOut[d]);
      same(bOut, `folded b without bias, gamma, beta ${k}x${c}`, { atol: 1e-6, rtol: 1e-6 });
    }
  });

  // The model's head as one op (native.denseLoss): on CUDA one kernel for a small head (K <= 32 classes, I <= 512
  // inputs), the three ops otherwise; on the CPU the three ops. Mean squared error with N and K powers of 2 keeps
  // every value exact on small integers (dlogits = 2 (out - y) / K / N), so logits, dlogits, dx, dw, db and the
  // metrics must match bit for bit; the cross-entropies (exp, log) to float tolerance, with rows that do not fill
  // the kernel's 8-row blocks, class indices, sample weights, a frozen head, and a head too big for the kernel.
  Cuda('the model head as one op: a linear Dense layer, the loss and its backward', () => {
    const r = rng(29);
    const cases = [
      [16, 128, 8, 'mse', 'none', false, false, false],
      [37, 128, 10, 'crossentropy', 'categorical', false, true, false],
      [9, 64, 10, 'crossentropy', 'sparse', true, false, true],
      [20, 30, 1, 'binary_crossentropy', 'binary', false, true, false],
      [12, 600, 40, 'crossentropy', 'categorical', false, false, false],
    ] as const;
    for (const [n, i, k, kind, acc, sparse, weighted, frozen] of cases) {
      const exactCase = kind === 'mse',
        gen = exactCase ? intArray : randomArray,
        what = `${kind} n=${n} i=${i} k=${k}`;
      const x = twin([n, i], gen(n * i, r)),
        w = twin([i, k], gen(i * k, r)),
        b = twin([k], gen(k, r));
      const cls = Int32Array.from({ length: n }, () => Math.floor(r() * k));
      const labels: [NativeTensor, NativeTensor] = sparse
        ? [I([n], cls, 'cpu'), I([n], cls, 'cuda')]
        : twin(
            [n, k],
            Float32Array.from({ length: n * k }, (_, e) =>
              kind === 'crossentropy'
                ? cls[Math.floor(e / k)] === e % k
                  ? 1
                  : 0
                : kind === 'binary_crossentropy'
                  ? Math.round(r())
                  : Math.round(4 * r()),
            ),
          );
      const wt = weighted ? twin([n], randomArray(n, r, 0, 2)) : [null, null];
      const z = outs([n, k]),
        dz = outs([n, k]),
        dx = outs([n, i]),
        dw = outs([i, k]),
        db = outs([k]),
        m = twin([8], new Float32Array(8));
      for (const d of [0, 1])
        native.denseLoss(kind, acc, x[d], w[d], b[d], z[d], labels[d], wt[d], dz[d], dx[d], frozen ? null : dw[d], frozen ? null : db[d], m[d], 2);
      const tol = exactCase ? undefined : { atol: 1e-5, rtol: 1e-4 };
      same(z, `logits of ${what}`, tol);
      same(dz, `dlogits of ${what}`, tol && { atol: 1e-7, rtol: 1e-4 });
      same(dx, `dx of ${what}`, tol);
      same(m, `metrics of ${what}`, tol);
      if (!frozen) {
        same(dw, `dw of ${what}`, tol);
        same(db, `db of ${what}`, tol);
      } else assert.ok(dw[1].read().every(Number.isNaN), `a frozen head's dw is not written (${what})`);
    }
  });

  Cuda('adadelta: one launch over many tensors', () => {
    const r = rng(24);
    const shapes = Array.from({ length: 30 }, (_, i) => [1 + ((i * 7) % 13), 1 + ((i * 3) % 5)]); // more than one group
    const make = (lo: number, hi: number) => shapes.map(s => twin(s, randomArray(s[0] * s[1], r, lo, hi)));
    const p = make(-1, 1),
      g = make(-1, 1),
      a = make(0, 0.1),
      dd = make(0, 0.01);
    const lr = twin([1], new Float32Array([1]));
    for (const d of [0, 1])
      native.adadelta(
        p.map(t => t[d]),
        g.map(t => t[d]),
        a.map(t => t[d]),
        dd.map(t => t[d]),
        lr[d],
        0.95,
        1e-7,
      );
    p.forEach((t, i) => same(t, `param ${i}`, { atol: 1e-6, rtol: 1e-5 }));
    a.forEach((t, i) => same(t, `accum ${i}`, { atol: 1e-7, rtol: 1e-5 }));
    dd.forEach((t, i) => same(t, `delta accum ${i}`, { atol: 1e-7, rtol: 1e-4 }));
  });

  Cuda('recorded programs run as one CUDA graph and do exactly the work of the calls', () => {
    const { graph, reason, branches } = checkProgramMatchesCalls('cuda');
    assert.ok(graph, `the last run was a graph launch (${reason})`);
    assert.is(branches, 1, 'denseBackward with dx, dw and db: its weight gradients a branch beside dx');
  });

  Cuda('fit on CUDA: full batches as a CUDA graph, the same weights as op-by-op calls (and with stepsPerExecution)', async () => {
    const run = (graphs: string, stepsPerExecution?: number) =>
      fitGraphs(graphs, 70, 3, () => {
        // 4 full batches of 16 and a short one
        const m = smallModel(5, 'cuda');
        m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta(), metrics: ['accuracy'], stepsPerExecution });
        return m;
      });
    const graphed = await run('1'),
      calls = await run('0'),
      two = await run('1', 2);
    assert.ok(graphed.info?.graph && graphed.info.device === 'cuda', `the step ran as a CUDA graph: ${JSON.stringify(graphed.info)}`);
    assert.is(calls.info, null);
    assert.equal(graphed.weights, calls.weights, 'same weights bit for bit');
    // The loss metrics are summed in block order (no atomics, cuda/loss.cu): the same bits both ways.
    assert.equal(graphed.loss, calls.loss, 'same loss bit for bit');
    // Two steps per execution: one graph of both steps, the same training.
    assert.ok(two.info?.graph && two.info.ops === 2 * graphed.info!.ops, `two steps per graph: ${JSON.stringify(two.info)}`);
    assert.equal(two.weights, graphed.weights, 'stepsPerExecution 2: the same weights bit for bit');
    assert.equal(two.loss, graphed.loss, 'stepsPerExecution 2: the same loss');
  });

  // Fork/join in the captured step (cuda/graph.cu's Branch): each backward op with both weight and input gradients
  // (conv2 under the conv + pool op, the hidden Dense) runs its db and dw on a second stream beside its dx. The
  // emulated GPU replays a graph in orders unlike the capture's (the latest-captured ready node first; the lanes
  // interleaved node by node), so a dependency the fork misses (a branch reading a dz not yet written, the next op
  // reading dw before the join) or a buffer the branches share shows as weights that differ from the op-by-op
  // calls' (a fork made from a stale point failed here).
  Cuda('fit on CUDA: the weight gradients as parallel branches of the graph, the same weights as op-by-op calls', async () => {
    const run = (graphs: string) =>
      fitGraphs(graphs, 48, 2, () => {
        const m = new Sequential({
          seed: 8,
          device: 'cuda',
          layers: [
            new Conv2D({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [8, 8, 1] }),
            new Conv2D({ filters: 8, kernelSize: 3, activation: 'relu' }),
            new MaxPooling2D({ poolSize: 2 }),
            new Dropout({ rate: 0.25 }),
            new Flatten(),
            new Dense({ units: 40, activation: 'relu' }),
            new Dense({ units: 3, activation: 'softmax' }),
          ],
        });
        m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta({ learningRate: 1 }) });
        return m;
      });
    const graphed = await run('1'),
      calls = await run('0');
    assert.ok(graphed.info?.graph, `the step ran as a CUDA graph: ${JSON.stringify(graphed.info)}`);
    assert.is(graphed.info!.branches, 2, `two backward ops forked their weight gradients: ${JSON.stringify(graphed.info)}`);
    assert.equal(graphed.weights, calls.weights, 'same weights bit for bit');
    assert.equal(graphed.loss, calls.loss, 'same loss bit for bit');
    // KERNELNET_GRAPH_BRANCHES=0 (read at capture, for timing the two): a chain, the same training.
    process.env.KERNELNET_GRAPH_BRANCHES = '0';
    const chain = await run('1').finally(() => delete process.env.KERNELNET_GRAPH_BRANCHES);
    assert.ok(chain.info?.graph && chain.info.branches === 0, `a graph without branches: ${JSON.stringify(chain.info)}`);
    assert.equal(chain.weights, graphed.weights, 'KERNELNET_GRAPH_BRANCHES=0: the same weights bit for bit');
  });

  // The seed model's step as captured (Program.kernels: the kernels in capture order, KN_LAUNCHED's names), pinned
  // where nodes were merged: one gather for the batch's inputs and labels, one counter kernel for the step and the
  // optimizer's iterations, no ReLU-mask pass for the hidden Dense (the Dropout's backward applies it), conv2's
  // bias gradient from the pool's per-thread sums (no column sums over its 4x larger dz: the one column_sums
  // launch left is the hidden Dense's, whose 8 rows are one group, summed in place), the head's and conv1's
  // weight and bias sums one launch each. The FP32 step at batch 8; `nodes` counts the graph's nodes (memsets
  // too), which the GPU check records at batch 128.
  Cuda("the seed model's step graph: merged nodes", async () => {
    const n = 16,
      x = tensor(
        Float32Array.from({ length: n * 784 }, (_, i) => 0.5 + 0.5 * Math.sin(i * 0.37)),
        [n, 28, 28, 1],
        { device: 'cuda' },
      ),
      onHost = toCategorical(
        Array.from({ length: n }, (_, i) => i % 10),
        10,
      ),
      y = onHost.to('cuda');
    onHost.dispose();
    const m = seedModel(3, true, 'cuda');
    await m.fit(x, y, { batchSize: 8, epochs: 1, verbose: 0 });
    const info = m.lastStepProgram!;
    m.dispose();
    dispose([x, y]);
    assert.ok(info.graph, `the step ran as a CUDA graph: ${info.reason}`);
    const count = (name: string) => info.kernels.filter(k => k === name).length;
    const list = info.kernels.join(', ');
    assert.is(count('gather_rows_kernel'), 1, list);
    assert.is(count('advance_kernel'), 1, list);
    assert.is(count('act_mask_kernel'), 0, list);
    assert.is(count('dropout_kernel'), 2, `the hidden Dropout's forward and backward: ${list}`);
    assert.is(count('column_sums_kernel'), 1, list);
    assert.is(count('sum_parts_kernel'), 3, `the head's dw and db, conv2's db, conv1's dw and db: ${list}`);
    assert.ok(info.kernels.length <= 22, `at most 22 kernels a step: ${info.kernels.length}: ${list}`);
    assert.ok(info.nodes >= info.kernels.length, `${info.nodes} nodes`);
  });

  // TF32 tensor cores exist from compute capability 8.0 (the device string names it, e.g. "(sm_90, 80 GiB)").
  const sm = Number(/\(sm_(\d+)/.exec(cuda.device)?.[1] ?? 0);
  if (sm < 80) console.log(`  skipped: TF32 GEMMs need sm_80 or newer; ${cuda.device}`);
  (sm >= 80 ? Cuda : Cuda.skip)('KERNELNET_TF32=1: the GEMMs on tensor cores match the CPU exactly on integers, to TF32 rounding on floats', () => {
    // The math mode is chosen at load, so this runs in a child process.
    const script = `
      const { native } = await import(${JSON.stringify(new URL('../lib/core/native.js', import.meta.url).href)});
      const h = await import(${JSON.stringify(new URL('./helpers.js', import.meta.url).href)});
      if (!native.backends().cuda.tf32) throw new Error('KERNELNET_TF32=1 did not turn TF32 on: ' + JSON.stringify(native.backends().cuda));
      if (!/^3 mma-tf32/.test(native.backends().cuda.kernels?.gemm ?? '')) throw new Error('TF32 GEMMs should run kernel 3: ' + JSON.stringify(native.backends().cuda.kernels));
      const r = h.rng(41), worst = { int: 0, float: 0 };
      const relNorm = (g, c) => { let d = 0, n = 0; for (let i = 0; i < c.length; ++i) { d += (g[i] - c[i]) ** 2; n += c[i] ** 2; } return Math.sqrt(d / (n || 1)); };
      const twin = (shape, data) => [h.T(shape, data, 'cpu'), h.T(shape, data, 'cuda')];
      const cmp = (pair, kind, what) => {
        const [c, g] = pair.map(t => t.read());
        if (kind === 'int') h.exact(g, c, what);
        else worst.float = Math.max(worst.float, relNorm(g, c));
      };
      for (const [kind, gen] of [['int', h.intArray], ['float', h.randomArray]]) {
        for (const [n, i, o] of h.DENSE_CASES) {
          const x = twin([n, i], gen(n * i, r)), w = twin([i, o], gen(i * o, r)), b = twin([o], gen(o, r)), y = [h.out([n, o], 'cpu'), h.out([n, o], 'cuda')];
          for (const d of [0, 1]) native.denseForward(x[d], w[d], b[d], y[d], 'linear');
          cmp(y, kind, 'dense y ' + n + 'x' + i + 'x' + o);
          const dy = twin([n, o], gen(n * o, r)), dx = [h.out([n, i], 'cpu'), h.out([n, i], 'cuda')], dw = [h.out([i, o], 'cpu'), h.out([i, o], 'cuda')], db = [h.out([o], 'cpu'), h.out([o], 'cuda')];
          for (const d of [0, 1]) native.denseBackward(x[d], w[d], y[d], dy[d], dx[d], dw[d], db[d], 'linear');
          cmp(dx, kind, 'dense dx'); cmp(dw, kind, 'dense dw');
        }
        for (const s of h.CONV_CASES) {
          const { oh, ow } = h.convOut(s);
          // Float data only shows the TF32 rounding (exactness is the integer pass's): the small cases suffice,
          // and spare the emulated GPU, whose warp-wide mma.sync costs two barriers of 32 threads per call.
          if (kind === 'float' && s.n * oh * ow * s.kh * s.kw * s.c * s.f > 5e5) continue;
          const x = twin([s.n, s.h, s.w, s.c], gen(s.n * s.h * s.w * s.c, r)), w = twin([s.kh, s.kw, s.c, s.f], gen(s.kh * s.kw * s.c * s.f, r)), b = twin([s.f], gen(s.f, r));
          const y = [h.out([s.n, oh, ow, s.f], 'cpu'), h.out([s.n, oh, ow, s.f], 'cuda')];
          for (const d of [0, 1]) native.conv2dForward(x[d], w[d], b[d], y[d], h.convArgs(s, 'linear'));
          cmp(y, kind, 'conv y ' + JSON.stringify(s));
          const dy = twin(y[0].shape, gen(y[0].size, r)), dx = [h.out(x[0].shape, 'cpu'), h.out(x[0].shape, 'cuda')], dw = [h.out(w[0].shape, 'cpu'), h.out(w[0].shape, 'cuda')], db = [h.out([s.f], 'cpu'), h.out([s.f], 'cuda')];
          // Every other case with the layer below's ReLU in the input gradient's epilogue.
          const below = h.CONV_CASES.indexOf(s) % 2 ? 'relu' : undefined;
          for (const d of [0, 1]) native.conv2dBackward(x[d], w[d], y[d], dy[d], dx[d], dw[d], db[d], h.convArgs(s, 'linear'), below && { activation: below });
          cmp(dx, kind, 'conv dx'); cmp(dw, kind, 'conv dw');
        }
      }
      console.log(JSON.stringify({ worst }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, KERNELNET_TF32: '1' }, encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { worst: { float: number } };
    // TF32 keeps 10 of float32's 23 mantissa bits: about 3e-4 relative error per product, less over long sums.
    assert.ok(result.worst.float < 2e-3, `float data: worst relative error ${result.worst.float}`);
    assert.ok(result.worst.float > 1e-6, `float data: the results differ from FP32 as TF32 rounding should (${result.worst.float})`);
  });

  // The conv + pool op's fused path, in a fresh process per math mode (FP32: the SIMT kernel's epilogue; TF32:
  // kernel 3's, whose windows span lanes 4 apart) so that the scratch it leaves can be read: forward stores no
  // conv output (no scratch at all: the implicit GEMM needs none, the two ops would need the conv's output), and
  // backward builds dz with the mask applied (the conv's own backward with a ReLU then still needs a buffer for
  // its masked dz: the two ops needed that one too, and the conv's output and its gradient). Exact against the
  // CPU on integers: the 2x2 and 1x2 windows, relu with its ties.
  for (const tf32 of [false, true]) {
    const mode = tf32 ? 'TF32' : 'FP32';
    (tf32 && sm < 80 ? Cuda.skip : Cuda)(`${mode}: the conv + pool op pools in the GEMM epilogue and keeps no conv output`, () => {
      const script = `
        const { native } = await import(${JSON.stringify(new URL('../lib/core/native.js', import.meta.url).href)});
        const h = await import(${JSON.stringify(new URL('./helpers.js', import.meta.url).href)});
        if (native.backends().cuda.tf32 !== ${tf32}) throw new Error('math mode: ' + JSON.stringify(native.backends().cuda));
        const r = h.rng(43), scratch = [];
        const twin = (shape, data) => [h.T(shape, data, 'cpu'), h.T(shape, data, 'cuda')];
        const outs = shape => [h.out(shape, 'cpu'), h.out(shape, 'cuda')];
        const cases = [[h.CONV_CASES.at(-1), 2, 2], ...(${tf32} ? [[h.CONV_CASES[11], 1, 2], [h.CONV_CASES[12], 2, 2]] : [])];
        for (const [s, ph, pw] of cases) {
          const { oh, ow } = h.convOut(s), label = JSON.stringify(s) + ' ' + ph + 'x' + pw;
          // The pair's conv without the case's dilation (its 'same' output has the same shape either way).
          const conv = { strides: [s.sh, s.sw], padding: s.same ? 'same' : 'valid', activation: 'relu' }, pool = { poolSize: [ph, pw], padding: 'valid' };
          const ps = [s.n, Math.floor(oh / ph), Math.floor(ow / pw), s.f];
          const x = twin([s.n, s.h, s.w, s.c], h.intArray(s.n * s.h * s.w * s.c, r)), w = twin([s.kh, s.kw, s.c, s.f], h.intArray(s.kh * s.kw * s.c * s.f, r));
          const b = twin([s.f], h.intArray(s.f, r)), p = outs(ps), a = [h.I(ps, undefined, 'cpu'), h.I(ps, undefined, 'cuda')];
          for (const d of [0, 1]) native.conv2dPoolForward(x[d], w[d], b[d], p[d], a[d], conv, pool);
          h.exact(p[1].read(), p[0].read(), 'pooled ' + label);
          h.exact(a[1].read(), a[0].read(), 'argmax ' + label);
          // A Dropout after the pool (FP32: its mask drawn in the epilogue; TF32: a pass after): the CPU's bits, and
          // on CUDA those of dropoutForward after the op; no scratch either way.
          const ctr = [h.I([1], Int32Array.of(6), 'cpu'), h.I([1], Int32Array.of(6), 'cuda')], dropped = outs(ps), p2 = outs(ps);
          const a2 = [h.I(ps, undefined, 'cpu'), h.I(ps, undefined, 'cuda')], after = h.out(ps, 'cuda');
          for (const d of [0, 1]) native.conv2dPoolForward(x[d], w[d], b[d], p2[d], a2[d], conv, pool, { rate: 0.5, seed: 3, offset: 17, counter: ctr[d] }, dropped[d]);
          native.dropoutForward(p[1], after, 0.5, 3, 17, ctr[1]);
          h.exact(dropped[1].read(), dropped[0].read(), 'dropped ' + label);
          h.exact(dropped[1].read(), after.read(), 'dropped, as dropoutForward after the op, ' + label);
          h.exact(p2[1].read(), p[1].read(), 'pooled beside the dropout ' + label);
          const afterForward = native.stats().scratchBytes;
          const dp = twin(ps, h.intArray(p[0].size, r)), dx = outs(x[0].shape), dw = outs(w[0].shape), db = outs([s.f]);
          for (const d of [0, 1]) native.conv2dPoolBackward(x[d], w[d], p[d], a[d], dp[d], dx[d], dw[d], db[d], conv, pool);
          for (const [t, name] of [[dx, 'dx'], [dw, 'dw'], [db, 'db']]) h.exact(t[1].read(), t[0].read(), name + ' ' + label);
          const afterBackward = native.stats().scratchBytes;
          // The conv's own backward with the ReLU's mask, on the same shape: the same GEMM scratch, plus dz.
          const y = h.out([s.n, oh, ow, s.f], 'cuda'), dy = h.T([s.n, oh, ow, s.f], h.intArray(s.n * oh * ow * s.f, r), 'cuda');
          native.conv2dBackward(x[1], w[1], y, dy, dx[1], dw[1], db[1], h.convArgs(s, 'relu'));
          scratch.push({ convBytes: 4 * s.n * oh * ow * s.f, dcolBytes: 4 * s.n * oh * ow * s.kh * s.kw * s.c, afterForward, afterBackward,
            afterMasked: native.stats().scratchBytes });
        }
        console.log(JSON.stringify(scratch));`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, KERNELNET_TF32: tf32 ? '1' : '0' },
        encoding: 'utf8',
      });
      assert.is(r.status, 0, r.stderr);
      const [first] = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
        convBytes: number;
        dcolBytes: number;
        afterForward: number;
        afterBackward: number;
        afterMasked: number;
      }[];
      assert.is(first.afterForward, 0, `${mode}: forward stored a conv output (${first.afterForward} B of scratch)`);
      assert.ok(first.afterBackward >= first.convBytes, `${mode}: backward's dz (${first.afterBackward} B)`);
      // The input gradient (32 channels, stride 1) as an implicit GEMM in both modes (FP32: kernel 1's narrow
      // tile): no dcol matrix beside dz.
      assert.ok(first.afterBackward < first.convBytes + first.dcolBytes, `${mode}: backward held a dcol matrix (${JSON.stringify(first)})`);
      assert.ok(
        first.afterMasked >= first.afterBackward + first.convBytes,
        `${mode}: the conv + pool backward held a masked dz of its own (${JSON.stringify(first)})`,
      );
    });
  }

  // The kernel lab (cuda/gemm.cuh's numbered GEMMs, bench/lab.ts): every variant, every transpose, shapes that
  // cross tile edges, K not a multiple of the 16-deep step, and leading dimensions both multiples of 4 (the
  // tensor-core kernel's 16-byte cp.async copies) and not (its 4-byte copies). Small integers: every variant,
  // TF32 included, must give the exact product, so a wrong tile index or fragment register fails here.
  Cuda('kernel lab: every GEMM variant gives the exact product on small integers, every transpose and edge', () => {
    const names = cuda.variants?.gemm ?? [];
    assert.ok(names.length >= 3, `GEMM variants: ${JSON.stringify(names)}`);
    names.forEach((name, i) => assert.ok(name.startsWith(`${i + 1} `), `numbered from 1: ${name}`));
    assert.is(cuda.kernels?.gemm, names[0], 'FP32 by default: the SIMT kernel');
    const r = rng(77);
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [37, 19, 23],
      [132, 68, 48],
      [257, 64, 200],
      [64, 288, 64],
    ];
    for (let v = 1; v <= names.length; ++v) {
      if (v > 1 && sm < 80) {
        const [a, b, c] = [T([4, 4], undefined, 'cuda'), T([4, 4], undefined, 'cuda'), out([4, 4], 'cuda')];
        assert.throws(
          () => native.gemmVariant(v, a, b, c, false, false),
          (e: Error & { code?: string }) => e.code === 'ERR_KERNELNET_DEVICE',
        );
        [a, b, c].forEach(t => t.dispose());
        continue;
      }
      for (const [m, n, k] of shapes)
        for (const ta of [false, true])
          for (const tb of [false, true]) {
            const av = intArray(m * k, r),
              bv = intArray(k * n, r);
            const a = T(ta ? [k, m] : [m, k], av, 'cuda'),
              b = T(tb ? [n, k] : [k, n], bv, 'cuda'),
              c = out([m, n], 'cuda');
            native.gemmVariant(v, a, b, c, ta, tb);
            const got = c.read(),
              want = new Float32Array(m * n);
            for (let i = 0; i < m; ++i)
              for (let j = 0; j < n; ++j) {
                let sum = 0;
                for (let p = 0; p < k; ++p) sum += av[ta ? p * m + i : i * k + p] * bv[tb ? j * k + p : p * n + j];
                want[i * n + j] = sum;
              }
            exact(got, want, `${names[v - 1]} ${m}x${n}x${k} ta=${ta} tb=${tb}`);
            [a, b, c].forEach(t => t.dispose());
          }
    }
    const [a, b, c] = [T([4, 4], undefined, 'cuda'), T([4, 4], undefined, 'cuda'), out([4, 4], 'cuda')];
    assert.throws(
      () => native.gemmVariant(names.length + 1, a, b, c, false, false),
      (e: Error & { code?: string }) => e.code === 'ERR_KERNELNET_ARG',
    );
    [a, b, c].forEach(t => t.dispose());
    const [x, y, z] = [T([4, 4], undefined, 'cpu'), T([4, 4], undefined, 'cpu'), out([4, 4], 'cpu')];
    assert.throws(
      () => native.gemmVariant(1, x, y, z, false, false),
      (e: Error & { code?: string }) => e.code === 'ERR_KERNELNET_DEVICE',
    );
    [x, y, z].forEach(t => t.dispose());
  });

  Cuda('errors: mixed devices are refused; an allocation too big for the GPU leaves it usable', () => {
    const c = T([4], new Float32Array(4), 'cpu'),
      g = T([4], new Float32Array(4), 'cuda');
    assert.throws(
      () => native.dropoutForward(c, g, 0.5, 1, 1),
      (e: Error & { code?: string }) => e.code === 'ERR_KERNELNET_DEVICE' && /y lives on cuda but x on cpu/.test(e.message),
    );
    assert.throws(
      () => new native.Tensor([2 ** 18, 2 ** 18], 'float32', undefined, 'cuda'),
      (e: Error & { code?: string }) => e.code === 'ERR_KERNELNET_OOM',
    );
    native.dropoutForward(g, out([4], 'cuda'), 0.5, 1, 1);
    native.synchronize('cuda');
    assert.equal(Array.from(g.read()), [0, 0, 0, 0]);
  });

  // On the GPU emulated by scripts/emulate-cuda.sh the seed model's steps take minutes each: the small model
  // stands in there.
  const emulated = /emulated/.test(cuda.device);
  Cuda(`the ${emulated ? 'small' : 'seed'} model trains the same on both devices from the same seed, in one process`, async () => {
    const losses: number[][] = [];
    for (const device of ['cpu', 'cuda'] as const) {
      let m: Sequential, x: Tensor, y: Tensor;
      if (emulated) {
        ({ x, y } = syntheticData(96, device));
        m = smallModel(5, device);
        m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta() });
      } else {
        const { train } = loadMnist(undefined, { trainLimit: 1024, testLimit: 0, device });
        x = train.images;
        y = toCategorical(train.labels, 10);
        train.labels.dispose();
        m = seedModel(5, true, device);
      }
      const h = await m.fit(x, y, { batchSize: emulated ? 16 : 128, epochs: 2, verbose: 0 });
      losses.push(h.history.loss);
      m.dispose();
      dispose([x, y]);
    }
    close(losses[1], losses[0], 1e-3, 1e-3, 'per-epoch training loss, cuda vs cpu');
  });

  Cuda('a model on one device refuses data on the other, naming both', async () => {
    const { x, y } = syntheticData(8, 'cpu');
    const m = smallModel(5, 'cuda');
    m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta() });
    try {
      await m.fit(x, y, { verbose: 0 });
      assert.unreachable('not refused');
    } catch (e) {
      assert.instance(e, DeviceError);
      assert.match((e as Error).message, /^x lives on cpu but sequential on cuda; make the data there/);
    }
    const moved = x.to('cuda:0'),
      movedY = y.to('cuda');
    assert.is(moved.device, 'cuda');
    await m.fit(moved, movedY, { verbose: 0 });
    m.dispose();
    dispose([x, y, moved, movedY]);
  });
}

Cuda.run();
