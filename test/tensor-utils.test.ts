// The tensor utilities a user needs around a model, with tfjs's names and defaults: data()/array() (promises),
// slice, gather (rows), argMax (axis 0 by default, first maximum on ties), concat, reshape with -1, and raw
// pixel bytes converted natively. Each runs natively on the tensor's device (cuda.test.ts checks the CUDA twins).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor, ValidationError, concat, dispose, fromPixels, memory, tensor, tidy } from '../lib/index.js';
import { throwsA } from './helpers.js';

const U = suite('tensor utilities');
const values = (t: Tensor) => Array.from(t.dataSync());

U('data() and array() resolve to dataSync() and arraySync()', async () => {
  const t = tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const pending = t.data();
  assert.instance(pending, Promise);
  assert.equal(Array.from(await pending), [1, 2, 3, 4, 5, 6]);
  assert.equal(await t.array(), [
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const i = tensor(Int32Array.of(7, -8));
  assert.instance(await i.data(), Int32Array);
  t.dispose();
  await t.data().then(
    () => assert.unreachable('disposed'),
    e => assert.is(e.code, 'ERR_KERNELNET_DISPOSED'),
  );
  i.dispose();
});

U('slice (tf.slice: begin and size per axis, fewer run whole, -1 to the end)', () => {
  tidy(() => {
    const t = tensor(
      Array.from({ length: 24 }, (_, i) => i),
      [2, 3, 4],
    );
    const s = t.slice([1, 1, 1], [1, 2, 2]);
    assert.equal(s.shape, [1, 2, 2]);
    assert.equal(values(s), [17, 18, 21, 22]);
    assert.equal(
      values(t.slice(1)),
      Array.from({ length: 12 }, (_, i) => 12 + i),
      'a number is the first axis',
    );
    assert.equal(values(t.slice([0, 2], [-1, 1])), [8, 9, 10, 11, 20, 21, 22, 23]);
    assert.equal(t.slice([0, 3]).shape, [2, 0, 4], 'an empty slice');
    throwsA(ValidationError, () => t.slice([1], [2]), /run past the shape \[2,3,4\] at axis 0/, 'past the end');
    throwsA(ValidationError, () => t.slice([0, 0, 0, 0]), /expected begin to be at most 3 non-negative integers/, 'too many axes');
  });
});

U('gather rows by index (tf.gather along axis 0), indices checked', () => {
  tidy(() => {
    const t = tensor([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    assert.equal(values(t.gather([2, 0, 2])), [5, 6, 1, 2, 5, 6]);
    assert.equal(values(t.gather(tensor(Int32Array.of(1)))), [3, 4]);
    throwsA(ValidationError, () => t.gather([3]), /indices\[0\] = 3 is not in \[0, 3\)/, 'out of range');
    assert.equal(values(t.gather([1, 1, 0], 1)), [2, 2, 1, 4, 4, 3, 6, 6, 5], 'along another axis (tf.gather)');
  });
});

U('argMax: axis 0 by default (tfjs), -1 the last; the first maximum wins ties', () => {
  tidy(() => {
    const t = tensor([
      [1, 9, 9],
      [7, 2, 3],
    ]);
    const a0 = t.argMax();
    assert.is(a0.dtype, 'int32');
    assert.equal(values(a0), [1, 0, 0]);
    assert.equal(values(t.argMax(-1)), [1, 0]);
    assert.equal(values(t.argMax(1)), [1, 0]);
    throwsA(ValidationError, () => t.argMax(2), /expected axis to be an integer in \[-2, 2\)/, 'axis');
  });
});

U('concat along any axis (tf.concat, axis 0 by default)', () => {
  tidy(() => {
    const a = tensor([
        [1, 2],
        [3, 4],
      ]),
      b = tensor([[5, 6]]),
      c = tensor([[7], [8]]);
    const rows = concat([a, b]);
    assert.equal(rows.shape, [3, 2]);
    assert.equal(values(rows), [1, 2, 3, 4, 5, 6]);
    const cols = concat([a, c], 1);
    assert.equal(values(cols), [1, 2, 7, 3, 4, 8]);
    assert.equal(values(concat([tensor(Int32Array.of(1, 2)), tensor(Int32Array.of(3))])), [1, 2, 3]);
    throwsA(ValidationError, () => concat([a, c]), /does not join float32 \[2,2\] on \w+ along axis 0/, 'mismatched');
  });
});

U('reshape with -1 infers one axis; a copy that outlives its source (tfjs)', () => {
  tidy(() => {
    const t = tensor(
      Array.from({ length: 12 }, (_, i) => i),
      [12],
    );
    assert.equal(t.reshape([-1, 4]).shape, [3, 4]);
    assert.equal(t.reshape([2, -1, 3]).shape, [2, 2, 3]);
    throwsA(ValidationError, () => t.reshape([5, -1]), /the new shape \[5,-1\] has a different size/, 'not divisible');
    throwsA(ValidationError, () => t.reshape([-1, -1]), /at most one -1/, 'two -1');
  });
});

U('pixel bytes become float32 natively (fromPixels, and tensor() of a Uint8Array with a shape)', () => {
  tidy(() => {
    const bytes = Uint8Array.of(0, 51, 255, 128);
    assert.equal(values(fromPixels(bytes, [2, 2, 1], { divisor: 255 })), [0, 0.2, 1, 128 / 255].map(Math.fround));
    assert.equal(values(fromPixels(Buffer.from(bytes), [4])), [0, 51, 255, 128]);
    assert.equal(values(fromPixels(new Uint8ClampedArray(bytes), [4], { divisor: 2 })), [0, 25.5, 127.5, 64]);
    const t = tensor(bytes, [1, 4]);
    assert.equal([t.dtype, ...t.shape], ['float32', 1, 4]);
    assert.equal(values(t), [0, 51, 255, 128]);
    throwsA(ValidationError, () => fromPixels(bytes, [3]), /needs 3 values but received 4/, 'shape');
    throwsA(ValidationError, () => fromPixels(bytes, [4], { divisor: 0 }), /positive number for divisor/, 'divisor');
  });
});

U('no utility leaks a tensor', () => {
  const before = memory().liveTensors;
  tidy(() => {
    const t = tensor([
      [1, 2],
      [3, 4],
    ]);
    [t.slice(1), t.gather([1]), t.argMax(1), concat([t, t]), t.reshape([-1]), fromPixels(Uint8Array.of(1), [1])].forEach(dispose);
  });
  assert.is(memory().liveTensors, before);
});

U.run();
