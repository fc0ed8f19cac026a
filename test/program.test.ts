// Recorded programs (native.record / endRecord / program.run), which fit() uses for every full-batch step:
// a program does exactly the work of the calls it recorded, nothing runs while recording, what cannot be
// replayed is refused, and a program never touches a disposed tensor. The CUDA twins are in cuda.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../lib/core/native.js';
import { I, T, checkProgramMatchesCalls, disposeAll, out, smallModel, syntheticData } from './helpers.js';
import { Adadelta, Dataset } from '../lib/index.js';

const coded = (code: string, pattern: RegExp) => (e: Error & { code?: string }) => e.code === code && pattern.test(e.message);

const Program = suite('recorded programs');
Program.after.each(() => {
  try {
    native.endRecord().dispose(); // a failed test must not leave the environment recording
  } catch {
    // not recording
  }
  disposeAll();
});

Program('a program run N times matches the same calls made N times, bit for bit', () => {
  const { graph, reason } = checkProgramMatchesCalls('cpu');
  assert.is(graph, false);
  assert.match(reason, /runs ops as they are called/);
});

Program('while recording: reads, writes, host-side ops and a second record() are refused; the recording survives', () => {
  const t = T([4], new Float32Array(4)),
    y = out([4]),
    idx = I([4]);
  native.record();
  assert.throws(() => t.read(), coded('ERR_KERNELNET_STATE', /Tensor.read: not allowed while ops are being recorded/));
  assert.throws(() => t.write(new Float32Array(4)), coded('ERR_KERNELNET_STATE', /Tensor.write/));
  assert.throws(() => t.fill(1), coded('ERR_KERNELNET_STATE', /Tensor.fill/));
  assert.throws(() => native.permutation(idx, 1, 1), coded('ERR_KERNELNET_STATE', /^permutation: cannot be recorded/));
  assert.throws(() => native.fromBytes(new Uint8Array(4), 255, t), coded('ERR_KERNELNET_STATE', /^fromBytes: cannot be recorded/));
  assert.throws(() => native.synchronize(), coded('ERR_KERNELNET_STATE', /^synchronize: not allowed while/));
  assert.throws(() => native.record(), coded('ERR_KERNELNET_STATE', /^record: already recording/));
  assert.throws(() => native.dropoutForward(t, I([4]), 0.5, 1, 1), coded('ERR_KERNELNET_SHAPE', /dropoutForward/)); // checked as usual
  native.dropoutForward(t, y, 0.5, 1, 1);
  const p = native.endRecord();
  assert.is(p.ops, 1, 'the refused calls were not recorded');
  p.run();
  assert.equal(Array.from(y.read()), [0, 0, 0, 0]);
  p.dispose();
  assert.throws(() => native.endRecord(), coded('ERR_KERNELNET_STATE', /^endRecord: not recording/));
});

Program('a program refuses to run once a tensor it uses was disposed, or once disposed itself', () => {
  const x = T([8], new Float32Array(8).fill(1)),
    y = out([8]);
  native.record();
  native.dropoutForward(x, y, 0.5, 1, 1);
  const p = native.endRecord();
  p.run();
  x.dispose();
  assert.throws(() => p.run(), coded('ERR_KERNELNET_DISPOSED', /Program.run: a tensor the recorded ops use was disposed/));
  p.dispose();
  assert.ok(p.disposed);
  assert.throws(() => p.run(), coded('ERR_KERNELNET_DISPOSED', /Program.run: the program was disposed/));
  assert.throws(() => new (native as unknown as { Program: new () => unknown }).Program(), coded('ERR_KERNELNET_STATE', /made only by endRecord/));
});

Program('fit runs full batches as one recorded program per epoch, with the same results as op-by-op calls', async () => {
  const { x, y } = syntheticData(70); // 70 = 4 full batches of 16 and a short one of 6
  const train = async (graphs: boolean) => {
    const before = process.env.KERNELNET_GRAPHS;
    if (!graphs) process.env.KERNELNET_GRAPHS = '0';
    try {
      const m = smallModel(5);
      m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta(), metrics: ['accuracy'] });
      const h = await m.fit(x, y, { batchSize: 16, epochs: 3, verbose: 0 });
      const weights = m.getWeights().map(w => {
        const v = Array.from(w.dataSync());
        w.dispose();
        return v;
      });
      const info = m.lastStepProgram;
      m.dispose();
      return { h, weights, info };
    } finally {
      if (before === undefined) delete process.env.KERNELNET_GRAPHS;
      else process.env.KERNELNET_GRAPHS = before;
    }
  };
  const recorded = await train(true),
    calls = await train(false);
  // The step's 6 ops: the batch gather (inputs and labels in one call); the conv + pool + dropout forward as one op;
  // the head (the dense layer, the loss and its backward as one op); the dropout's and conv + pool's backward as
  // one op; the update; the counters' advance (the optimizer's iterations and the step in one call).
  assert.is(recorded.info?.ops, 6, `a program of the step's ops: ${JSON.stringify(recorded.info)}`);
  assert.is(calls.info, null, 'KERNELNET_GRAPHS=0 records nothing');
  assert.equal(recorded.h.history, calls.h.history);
  assert.equal(recorded.weights, calls.weights, 'same weights bit for bit');
  x.dispose();
  y.dispose();
});

// compile({ stepsPerExecution: N }), Keras's steps_per_execution: N batches per recorded program, the batch
// callbacks once per execution with Keras 3's indices (keras/src/trainers: on_train_batch_begin(begin_step) and
// on_train_batch_end(end_step, logs), end_step the execution's last batch, a shorter last execution included),
// and training itself unchanged: the same weights and history bit for bit as one step per execution, with or
// without programs. 70 samples in batches of 16: 4 full batches and a short one.
Program('stepsPerExecution: several steps per program, the batch callbacks per execution, the same training', async () => {
  const { x, y } = syntheticData(70);
  const train = async (per: number | undefined, graphs = true) => {
    const before = process.env.KERNELNET_GRAPHS;
    if (!graphs) process.env.KERNELNET_GRAPHS = '0';
    try {
      const m = smallModel(5),
        seen: string[] = [];
      m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta(), metrics: ['accuracy'], stepsPerExecution: per });
      const h = await m.fit(x, y, {
        batchSize: 16,
        epochs: 2,
        verbose: 0,
        callbacks: [
          {
            onBatchBegin: (b: number, logs?: { size?: number }) => {
              seen.push(`begin ${b} (${logs?.size})`);
            },
            onBatchEnd: (b: number) => {
              seen.push(`end ${b}`);
            },
          },
        ],
      });
      const weights = m.getWeights().map(w => {
        const v = Array.from(w.dataSync());
        w.dispose();
        return v;
      });
      const info = m.lastStepProgram,
        steps = m.steps,
        spe = m.stepsPerExecution;
      m.dispose();
      return { h, weights, info, seen, steps, spe };
    } finally {
      if (before === undefined) delete process.env.KERNELNET_GRAPHS;
      else process.env.KERNELNET_GRAPHS = before;
    }
  };
  const one = await train(undefined),
    three = await train(3),
    two = await train(2, false);
  assert.is(one.spe, 1, 'one step per execution by default');
  assert.equal(one.seen.slice(0, 10), [
    'begin 0 (16)',
    'end 0',
    'begin 1 (16)',
    'end 1',
    'begin 2 (16)',
    'end 2',
    'begin 3 (16)',
    'end 3',
    'begin 4 (6)',
    'end 4',
  ]);
  assert.equal(three.seen, ['begin 0 (16)', 'end 2', 'begin 3 (16)', 'end 4', 'begin 0 (16)', 'end 2', 'begin 3 (16)', 'end 4']);
  assert.equal(two.seen.slice(0, 6), ['begin 0 (16)', 'end 1', 'begin 2 (16)', 'end 3', 'begin 4 (6)', 'end 4']);
  for (const [r, what] of [
    [three, 'three'],
    [two, 'two, op by op'],
  ] as const) {
    assert.equal(r.weights, one.weights, `stepsPerExecution ${what}: the same weights bit for bit`);
    assert.equal(r.h.history, one.h.history, `stepsPerExecution ${what}: the same history`);
    assert.is(r.steps, one.steps, 'every batch a step');
  }
  assert.is(three.info!.ops, 3 * one.info!.ops, 'one program holds the three steps of an execution');
  // A dataset's batches come one by one: only the callbacks are grouped, the last shorter execution included.
  const m = smallModel(5),
    seen: string[] = [];
  m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta(), stepsPerExecution: 2 });
  await m.fit(Dataset.fromTensors(x, y, { batchSize: 16 }), {
    epochs: 1,
    verbose: 0,
    callbacks: [
      {
        onBatchBegin: (b: number) => {
          seen.push(`begin ${b}`);
        },
        onBatchEnd: (b: number) => {
          seen.push(`end ${b}`);
        },
      },
    ],
  });
  m.dispose();
  assert.equal(seen, ['begin 0', 'end 1', 'begin 2', 'end 3', 'begin 4', 'end 4']);
  for (const bad of [0, 1.5, -2, 'auto', NaN])
    assert.throws(
      () => smallModel(1).compile({ loss: 'mse', optimizer: 'sgd', stepsPerExecution: bad as number }),
      (e: Error & { code?: string }) => e.code === 'ERR_KERNELNET_ARG' && /stepsPerExecution/.test(e.message),
      `stepsPerExecution ${String(bad)} refused`,
    );
  x.dispose();
  y.dispose();
});

Program.run();
