// tf.io in kernelnet/tfjs, against tfjs-core's io semantics and the real TensorFlow.js (@tensorflow/tfjs-core,
// -layers and -backend-cpu): artifacts handed over in memory (fromMemory, withSaveHandler) have tfjs's shape, a
// model loads over HTTP from a server this test starts on 127.0.0.1 (weights split across files, a
// weightPathPrefix, a model tfjs saved), HTTP errors and malformed JSON are coded errors naming the URL, and
// model.save to an http:// URL posts the multipart form tfjs's http handler sends.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '../lib/tfjs.js';
import { memory as knMemory } from '../lib/index.js';
import { close } from './helpers.js';

tfc.env().set('IS_TEST', true);
const T = suite('kernelnet/tfjs tf.io');
const dir = mkdtempSync(join(tmpdir(), 'kernelnet-tfjs-io-'));

/** What the test server serves (path -> body) and what it received (POSTed forms). */
const files = new Map<string, Buffer | string>();
const received: { url: string; contentType: string; form: FormData }[] = [];
let server: Server, base: string;

async function handle(req: IncomingMessage, res: ServerResponse) {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  if (req.method === 'POST' || req.method === 'PUT') {
    if (req.url === '/fail') return res.writeHead(500).end('no');
    // Parsed as a server would: the body as multipart/form-data with the request's boundary.
    const contentType = String(req.headers['content-type']);
    const form = await new Response(Buffer.concat(chunks), { headers: { 'content-type': contentType } }).formData();
    received.push({ url: req.url!, contentType, form });
    return res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  }
  const body = files.get(req.url!);
  if (body === undefined) return res.writeHead(404).end('not found');
  res.writeHead(200).end(body);
}

T.before(async () => {
  await tfc.setBackend('cpu');
  server = createHttpServer((req, res) => void handle(req, res));
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
T.after(async () => {
  await new Promise(r => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const N = 5;
const X = Float32Array.from({ length: N * 4 }, (_, i) => Math.sin(i * 0.7));

/** The same architecture in kernelnet/tfjs and in tfjs-layers, with the same names. */
function ours(): tf.LayersModel {
  const m = tf.sequential({ name: 'mlp' });
  m.add(tf.layers.dense({ units: 6, inputShape: [4], activation: 'relu', name: 'hidden' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }));
  return m;
}
function theirs(): tfl.Sequential {
  const m = tfl.sequential({ name: 'mlp' });
  m.add(tfl.layers.dense({ units: 6, inputShape: [4], activation: 'relu', name: 'hidden' }));
  m.add(tfl.layers.dense({ units: 3, activation: 'softmax', name: 'out' }));
  return m;
}
function predictOurs(m: tf.LayersModel): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor2d(X, [N, 4]);
    return (m.predict(x) as tf.Tensor).dataSync() as Float32Array;
  });
}
function predictTheirs(m: tfl.LayersModel): Float32Array {
  return tfc.tidy(() => (m.predict(tfc.tensor2d(X, [N, 4])) as tfc.Tensor).dataSync() as Float32Array);
}
async function artifactsOf(m: tf.LayersModel): Promise<tf.TfjsArtifacts> {
  let got: tf.TfjsArtifacts | undefined;
  await m.save(
    tf.io.withSaveHandler(async a => {
      got = a;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
    }),
  );
  return got!;
}
async function artifactsOfTheirs(m: tfl.LayersModel): Promise<tfc.io.ModelArtifacts> {
  let got: tfc.io.ModelArtifacts | undefined;
  await m.save(
    tfc.io.withSaveHandler(async a => {
      got = a;
      return { modelArtifactsInfo: tfc.io.getModelArtifactsInfoForJSON(a) };
    }),
  );
  return got!;
}
/** The code and message of what fn rejects with. */
async function rejection(fn: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await fn();
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('expected a rejection');
}
const live = () => knMemory().liveTensors;
/** What the model served under /kn/ predicts (the https test serves it again). */
let knExpected: Float32Array;

T(
  'fromMemory round trip: saved through withSaveHandler, loaded back, the same predictions (both fromMemory signatures, and fromMemorySync)',
  async () => {
    const before = live();
    const m = ours();
    const expected = predictOurs(m);
    const a = await artifactsOf(m);
    const saveResult = (await m.save(
      tf.io.withSaveHandler(async () => ({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })),
    )) as {
      modelArtifactsInfo: { modelTopologyType: string };
    };
    assert.is(saveResult.modelArtifactsInfo.modelTopologyType, 'JSON', 'model.save resolves to what the handler returns');
    const loaders = [
      tf.io.fromMemory(a),
      tf.io.fromMemory(a.modelTopology, a.weightSpecs, a.weightData),
      tf.io.fromMemorySync(a),
      tf.io.fromMemory({ ...a, weightData: [a.weightData.slice(0, 10), a.weightData.slice(10)] }),
    ];
    for (const [i, loader] of loaders.entries()) {
      const back = await tf.loadLayersModel(loader);
      close(predictOurs(back), expected, 0, 0, `loader ${i}`);
      back.dispose();
    }
    let sync: unknown;
    const r = await m.save(tf.io.withSaveHandlerSync(x => ((sync = x), { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(x) })));
    assert.ok(sync && (r as { modelArtifactsInfo: object }).modelArtifactsInfo, 'withSaveHandlerSync');
    m.dispose();
    assert.is(live(), before);
  },
);

T("withSaveHandler receives the artifacts real tfjs-layers' model.save hands it: the same keys and weightSpecs", async () => {
  const m = ours(),
    t = theirs();
  const a = await artifactsOf(m),
    b = await artifactsOfTheirs(t);
  assert.equal(Object.keys(a).sort(), Object.keys(b).sort());
  assert.equal(Object.keys(a).sort(), ['convertedBy', 'format', 'generatedBy', 'modelTopology', 'weightData', 'weightSpecs']);
  assert.equal(a.weightSpecs, b.weightSpecs);
  assert.is(a.format, b.format);
  assert.ok(a.weightData instanceof ArrayBuffer && b.weightData instanceof ArrayBuffer);
  assert.is(a.weightData.byteLength, (b.weightData as ArrayBuffer).byteLength);
  // And the topology tfjs wrote loads here from memory, predicting what tfjs predicts.
  const back = await tf.loadLayersModel(tf.io.fromMemory(b as tf.ModelArtifacts));
  close(predictOurs(back), predictTheirs(t), 1e-6, 1e-5, 'tfjs -> kernelnet through fromMemory');
  // The info helper agrees with tfjs-core's.
  const mine = tf.io.getModelArtifactsInfoForJSON(a),
    core = tfc.io.getModelArtifactsInfoForJSON(a as tfc.io.ModelArtifacts);
  assert.equal({ ...mine, dateSaved: 0 }, { ...core, dateSaved: 0 });
  back.dispose();
  m.dispose();
  t.dispose();
});

T('loadLayersModel over http: a model kernelnet saved, weights split across two files, loads and predicts the same', async () => {
  const before = live();
  const m = ours();
  const expected = predictOurs(m);
  const a = await artifactsOf(m);
  // Split inside the first kernel (kernelnet joins the files before reading weights), and at a weight's end for
  // tfjs's own loader (tfjs-core's loader misreads the weights after one that spans two of its files).
  for (const [dirName, cut] of [
    ['kn', 4 * 4 * 6],
    ['kn-odd', 30],
  ] as const) {
    files.set(`/${dirName}/group1-shard1of2.bin`, Buffer.from(a.weightData.slice(0, cut)));
    files.set(`/${dirName}/group1-shard2of2.bin`, Buffer.from(a.weightData.slice(cut)));
    files.set(
      `/${dirName}/model.json`,
      JSON.stringify({
        modelTopology: a.modelTopology,
        format: a.format,
        generatedBy: a.generatedBy,
        convertedBy: a.convertedBy,
        weightsManifest: [{ paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: a.weightSpecs }],
      }),
    );
  }
  knExpected = expected;
  const progress: number[] = [];
  for (const source of [
    `${base}/kn/model.json`,
    `${base}/kn-odd/model.json`,
    tf.io.http(`${base}/kn/model.json`, { onProgress: f => progress.push(f) }),
  ]) {
    const back = await tf.loadLayersModel(source);
    close(predictOurs(back), expected, 0, 0, String(source));
    back.dispose();
  }
  assert.equal(progress, [0.5, 1], 'onProgress after each weight file');
  // tfjs itself loads what the server serves (its http handler, through Node's fetch).
  const t = await tfl.loadLayersModel(`${base}/kn/model.json`);
  close(predictTheirs(t), expected, 1e-6, 1e-5, 'tfjs loads it over http too');
  t.dispose();
  m.dispose();
  assert.is(live(), before);
});

T('loadLayersModel over http: a model real tfjs-layers saved, its weights under a weightPathPrefix', async () => {
  const t = theirs();
  const b = await artifactsOfTheirs(t);
  files.set('/weights/tf-weights.bin', Buffer.from(b.weightData as ArrayBuffer));
  files.set(
    '/models/tf/model.json',
    JSON.stringify({ ...tf.io.getModelJSONForModelArtifacts(b as tf.ModelArtifacts, [{ paths: ['tf-weights.bin'], weights: b.weightSpecs! }]) }),
  );
  const expected = predictTheirs(t);
  const withPrefix = [
    await tf.loadLayersModel(`${base}/models/tf/model.json`, { weightPathPrefix: `${base}/weights/` }),
    await tf.loadLayersModel(tf.io.http(`${base}/models/tf/model.json`, { weightPathPrefix: `${base}/weights/` })),
    await tf.loadLayersModel(tf.io.browserHTTPRequest(`${base}/models/tf/model.json`, { weightPathPrefix: `${base}/weights/` })),
  ];
  for (const back of withPrefix) {
    close(predictOurs(back), expected, 1e-6, 1e-5, 'tfjs -> kernelnet over http');
    back.dispose();
  }
  // Without the prefix the weights are looked for beside model.json, which the server does not have.
  const e = await rejection(() => tf.loadLayersModel(`${base}/models/tf/model.json`));
  assert.is(e.code, 'ERR_KERNELNET_DATA');
  assert.match(e.message, `${base}/models/tf/tf-weights.bin`);
  assert.match(e.message, '404');
  t.dispose();
});

T('a 404, malformed JSON, a refused connection and a topology kernelnet lacks are coded errors naming the URL', async () => {
  const before = live();
  files.set('/bad/model.json', '{"modelTopology": {');
  files.set('/empty/model.json', '{"hello": 1}');
  const cases: [string, string, RegExp][] = [
    [`${base}/missing/model.json`, 'ERR_KERNELNET_DATA', /HTTP status 404/],
    [`${base}/bad/model.json`, 'ERR_KERNELNET_DATA', /does not parse/],
    [`${base}/empty/model.json`, 'ERR_KERNELNET_DATA', /neither a modelTopology nor a weightsManifest/],
    ['http://127.0.0.1:1/model.json', 'ERR_KERNELNET_DATA', /failed/],
  ];
  for (const [url, code, re] of cases) {
    const e = await rejection(() => tf.loadLayersModel(url));
    assert.is(e.code, code, url);
    assert.ok(e.message.includes(url), `${e.message} names ${url}`);
    assert.match(e.message, re);
  }
  files.set('/odd/model.json', JSON.stringify({ modelTopology: { class_name: 'Sequential', config: { layers: 3 } }, weightsManifest: [] }));
  const e = await rejection(() => tf.loadLayersModel(`${base}/odd/model.json`));
  assert.is(e.code, 'ERR_KERNELNET_ARG');
  assert.match(e.message, `loadLayersModel('${base}/odd/model.json')`);
  assert.is(live(), before);
});

T("model.save('http://...') posts tfjs's multipart form: model.json and model.weights.bin, which load back", async () => {
  const before = live();
  const m = ours();
  const expected = predictOurs(m);
  const a = await artifactsOf(m);
  received.length = 0;
  const result = (await m.save(`${base}/upload`)) as { modelArtifactsInfo: { weightDataBytes: number }; responses: Response[] };
  assert.is(result.modelArtifactsInfo.weightDataBytes, a.weightData.byteLength);
  assert.is(result.responses[0].status, 200);
  await m.save(tf.io.http(`${base}/upload`, { requestInit: { method: 'PUT', headers: { 'x-test': '1' } } }));
  assert.is(received.length, 2);
  const { url, contentType, form } = received[0];
  assert.is(url, '/upload');
  assert.match(contentType, /^multipart\/form-data; boundary=/);
  assert.equal([...form.keys()], ['model.json', 'model.weights.bin']);
  const jsonPart = form.get('model.json') as File,
    binPart = form.get('model.weights.bin') as File;
  assert.is(jsonPart.name, 'model.json');
  assert.is(jsonPart.type, 'application/json');
  assert.is(binPart.name, 'model.weights.bin');
  assert.is(binPart.type, 'application/octet-stream');
  const json = JSON.parse(await jsonPart.text());
  assert.equal(Object.keys(json).sort(), ['convertedBy', 'format', 'generatedBy', 'modelTopology', 'weightsManifest']);
  assert.equal(json.weightsManifest, [{ paths: ['./model.weights.bin'], weights: a.weightSpecs }]);
  const bin = await binPart.arrayBuffer();
  assert.equal(new Uint8Array(bin), new Uint8Array(a.weightData));
  const back = await tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: bin }),
  );
  close(predictOurs(back), expected, 0, 0, 'the posted model loads back');
  back.dispose();
  const e = await rejection(() => m.save(`${base}/fail`));
  assert.is(e.code, 'ERR_KERNELNET_DATA');
  assert.match(e.message, `${base}/fail`);
  assert.match(e.message, '500');
  m.dispose();
  assert.is(live(), before);
});

// Needs the openssl command to make the certificate: without it the test says skipped (it does not pass).
const HAS_OPENSSL = spawnSync('openssl', ['version']).status === 0;
(HAS_OPENSSL ? T : T.skip)('https with a self-signed certificate, trusted only by the fetchFunc passed in', async () => {
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { encoding: 'utf8' },
  );
  assert.ok(r.status === 0 && existsSync(join(dir, 'cert.pem')), `openssl made a certificate: ${r.stderr}`);
  const key = readFileSync(join(dir, 'key.pem')),
    cert = readFileSync(join(dir, 'cert.pem'));
  const secure = createHttpsServer({ key, cert }, (req, res) => void handle(req, res));
  await new Promise<void>(res => secure.listen(0, '127.0.0.1', res));
  const sbase = `https://127.0.0.1:${(secure.address() as AddressInfo).port}`;
  // A fetch that trusts this certificate alone, for this call only: no global setting changes.
  const fetchFunc = (url: string) =>
    new Promise<Response>((resolve, reject) => {
      httpsRequest(url, { ca: cert }, res => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode })));
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
  try {
    const back = await tf.loadLayersModel(`${sbase}/kn/model.json`, { fetchFunc });
    close(predictOurs(back), knExpected, 0, 0, 'loaded over https');
    back.dispose();
    // Node's own fetch does not trust the certificate: a coded error naming the URL.
    const e = await rejection(() => tf.loadLayersModel(`${sbase}/kn/model.json`));
    assert.is(e.code, 'ERR_KERNELNET_DATA');
    assert.match(e.message, `${sbase}/kn/model.json`);
  } finally {
    secure.closeAllConnections();
    await new Promise(res => secure.close(res));
  }
});

T('tf.io.fileSystem and file:// handlers save and load as model.save(file://) does', async () => {
  const before = live();
  const m = ours();
  const expected = predictOurs(m);
  const out = join(dir, 'fs');
  const r = (await m.save(tf.io.fileSystem(out))) as { modelArtifactsInfo: { modelTopologyType: string } };
  assert.is(r.modelArtifactsInfo.modelTopologyType, 'JSON');
  assert.ok(existsSync(join(out, 'model.json')) && existsSync(join(out, 'weights.bin')));
  const [loader] = tf.io.getLoadHandlers(`file://${join(out, 'model.json')}`);
  for (const source of [tf.io.fileSystem(join(out, 'model.json')), loader, `file://${join(out, 'model.json')}`]) {
    const back = await tf.loadLayersModel(source);
    close(predictOurs(back), expected, 0, 0, 'file system round trip');
    back.dispose();
  }
  const a = await tf.io.fileSystem(join(out, 'model.json')).load();
  assert.is(a.weightSpecs!.length, 4);
  assert.is((a.weightData as ArrayBuffer).byteLength, (4 * 6 + 6 + 6 * 3 + 3) * 4);
  const [saver] = tf.io.getSaveHandlers(`file://${join(dir, 'fs2')}`);
  await m.save(saver);
  assert.ok(existsSync(join(dir, 'fs2', 'model.json')));
  assert.ok(tf.io.getLoadHandlers(`${base}/x/model.json`)[0] instanceof Object);
  assert.equal(tf.io.getLoadHandlers('ftp://x'), []);
  assert.equal(tf.io.getSaveHandlers('s3://x'), []);
  const e = await rejection(async () => tf.loadLayersModel(tf.io.fileSystem(join(dir, 'nope', 'model.json'))));
  assert.is(e.code, 'ERR_KERNELNET_CHECKPOINT');
  m.dispose();
  assert.is(live(), before);
});

T('encodeWeights, decodeWeights and concatenateArrayBuffers agree with tfjs-core', async () => {
  const before = live();
  const w = tf.tensor2d([1.5, -2, 3, 4.25], [2, 2]),
    i = tf.tensor1d([7, -8, 9], 'int32'),
    b = tf.tensor1d([1, 0, 1], 'bool');
  const enc = await tf.io.encodeWeights({ w, i, b });
  const tw = tfc.tensor2d([1.5, -2, 3, 4.25], [2, 2]),
    ti = tfc.tensor1d([7, -8, 9], 'int32'),
    tb = tfc.tensor1d([true, false, true], 'bool');
  const theirsEnc = await tfc.io.encodeWeights({ w: tw, i: ti, b: tb });
  assert.equal(enc.specs, theirsEnc.specs);
  assert.equal(new Uint8Array(enc.data), new Uint8Array(theirsEnc.data as ArrayBuffer));
  const listed = await tf.io.encodeWeights([{ name: 'w', tensor: w }], 'g');
  assert.equal(listed.specs, [{ name: 'w', shape: [2, 2], dtype: 'float32', group: 'g' }]);
  const dec = tf.io.decodeWeights([theirsEnc.data as ArrayBuffer], theirsEnc.specs);
  assert.equal(Object.keys(dec), ['w', 'i', 'b']);
  assert.equal(Array.from(dec.w.dataSync()), [1.5, -2, 3, 4.25]);
  assert.equal(dec.w.shape, [2, 2]);
  assert.equal(Array.from(dec.i.dataSync()), [7, -8, 9]);
  assert.is(dec.i.dtype, 'int32');
  assert.equal(Array.from(dec.b.dataSync()), [1, 0, 1]);
  assert.is(dec.b.dtype, 'bool');
  const joined = tf.io.concatenateArrayBuffers([new Uint8Array([1, 2]).buffer, new Uint8Array([3]).buffer]);
  assert.equal(new Uint8Array(joined), new Uint8Array([1, 2, 3]));
  tf.dispose([w, i, b, ...Object.values(dec)]);
  tfc.dispose([tw, ti, tb]);
  assert.is(live(), before);
});

T('browser-only members and URL schemes, and unknown members, are refused by name', async () => {
  for (const name of ['browserFiles', 'browserDownloads', 'listModels', 'copyModel', 'registerLoadRouter']) {
    try {
      const got = (tf.io as unknown as Record<string, unknown>)[name];
      assert.unreachable(`${name}: ${typeof got}`);
    } catch (err) {
      assert.is((err as { code: string }).code, 'ERR_KERNELNET_UNSUPPORTED', name);
      assert.match((err as Error).message, `tf.io.${name}`);
    }
  }
  assert.throws(() => (tf.io as unknown as Record<string, unknown>).frobnicate, /tf\.io\.frobnicate .*kernelnet has fromMemory/);
  const m = ours();
  for (const url of ['localstorage://m', 'indexeddb://m', 'downloads://m']) {
    const e = await rejection(() => m.save(url));
    assert.is(e.code, 'ERR_KERNELNET_UNSUPPORTED', url);
    assert.match(e.message, 'only in a browser');
    const f = await rejection(() => tf.loadLayersModel(url));
    assert.is(f.code, 'ERR_KERNELNET_UNSUPPORTED', url);
  }
  const e = await rejection(() => m.save('ftp://host/m'));
  assert.is(e.code, 'ERR_KERNELNET_UNSUPPORTED');
  assert.throws(() => tf.io.http(`${base}/m`, { requestInit: { body: 'x' } }), /no body/);
  m.dispose();
});

T.run();
