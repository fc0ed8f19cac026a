// tf.io for kernelnet/tfjs, with tfjs-core's semantics (its io/passthrough, io/http, io/io_utils and tfjs-node's
// file system handler): IOHandlers that hand a model's artifacts over in memory (fromMemory, withSaveHandler),
// write and read model.json and weights.bin in a directory (fileSystem, 'file://'), and load over HTTP(S) through
// Node's fetch or save there as tfjs's multipart form (http, 'http(s)://'). The helpers users call on artifacts
// (encodeWeights, decodeWeights, ...) are here too. Browser stores and browser files are refused by name.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CheckpointError, DataError, ValidationError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import { tensor } from '../ops/ops.js';
import { removeStaleTemporaries, temporaryName } from './checkpoint.js';
import type { TfjsArtifacts } from './tfjs-format.js';

const unsupported = (what: string, hint: string) =>
  new ValidationError(`${what} is not supported by kernelnet/tfjs: ${hint}`, 'ERR_KERNELNET_UNSUPPORTED');

/** One weight in a manifest or in artifacts: its name, shape and dtype (and tfjs's optional group). */
export interface WeightsManifestEntry {
  /** The weight's name, "<layer>/<weight>" for a layers model. */
  name: string;
  /** The weight's shape. */
  shape: number[];
  /** Its element type: 'float32', 'int32' or 'bool' (a layers model's weights are float32). */
  dtype: string;
  /** The group tfjs files it under, if any. */
  group?: string;
}

/** One group of a model.json's weightsManifest: the files that hold its weights, and the weights, in order. */
export interface WeightsManifestGroupConfig {
  /** The weight files, relative to model.json (or to weightPathPrefix over HTTP). */
  paths: string[];
  /** The weights the files hold, one after the other. */
  weights: WeightsManifestEntry[];
}

/** tfjs's ModelArtifacts: what a save handler receives and a load handler gives. */
export interface ModelArtifacts {
  /** The Keras topology, as in model.json's modelTopology. */
  modelTopology?: unknown;
  /** Every weight's name, shape and dtype, in weightData's order. */
  weightSpecs?: WeightsManifestEntry[];
  /** The weights' values: one buffer, or parts that are concatenated. */
  weightData?: ArrayBuffer | ArrayBuffer[];
  /** 'layers-model' for a layers model. */
  format?: string;
  /** What wrote the artifacts. */
  generatedBy?: string;
  /** What converted them, or null. */
  convertedBy?: string | null;
  /** The compile settings tfjs may record (kernelnet ignores them: a loaded model is uncompiled). */
  trainingConfig?: unknown;
  /** Metadata a user attached (kept as it is). */
  userDefinedMetadata?: Record<string, unknown>;
}

/** What a loader's load() resolves to, in the shape tf.loadLayersModel takes. */
export interface LoadedArtifacts extends ModelArtifacts {
  /** The Keras topology, as in model.json's modelTopology. */
  modelTopology: unknown;
  /** Every weight's name, shape and dtype, in weightData's order. */
  weightSpecs?: TfjsArtifacts['weightSpecs'];
}

/** What tfjs's save handlers return: modelArtifactsInfo, and the HTTP responses for tf.io.http. */
export interface SaveResult {
  /** The sizes of what was saved and when. */
  modelArtifactsInfo: ModelArtifactsInfo;
  /** tf.io.http: the server's response. */
  responses?: Response[];
}

/** The sizes of saved artifacts, as tfjs's getModelArtifactsInfoForJSON gives them. */
export interface ModelArtifactsInfo {
  /** When they were saved. */
  dateSaved: Date;
  /** Always 'JSON'. */
  modelTopologyType: 'JSON';
  /** The bytes of the topology as JSON (UTF-8). */
  modelTopologyBytes?: number;
  /** The bytes of the weight specs as JSON (UTF-8). */
  weightSpecsBytes?: number;
  /** The bytes of the weight data. */
  weightDataBytes?: number;
}

/** A fetch-compatible function: Node's global fetch, or one the caller passes (a dispatcher, a test server's CA). */
export type FetchFunction = (url: string, init?: RequestInit) => Promise<Response>;

/** tfjs's LoadOptions as tf.io.http and tf.loadLayersModel take them over HTTP. */
export interface LoadOptions {
  /** fetch's options for every request (headers, credentials, method for a save); no body. */
  requestInit?: RequestInit;
  /** Where the weight files are, instead of beside model.json: prefixed to each path as it is (tfjs adds no slash). */
  weightPathPrefix?: string;
  /** The fetch to use (default: Node's global fetch). */
  fetchFunc?: FetchFunction;
  /** Called with the fraction loaded (0 to 1) as the weight files arrive. */
  onProgress?: (fraction: number) => void;
  /** Maps a weight path of the manifest to the URL it is fetched from. */
  weightUrlConverter?: (weightFileName: string) => Promise<string>;
  /** tfjs's strict flag: kernelnet always loads strictly (every weight must be there), so only true or undefined. */
  strict?: boolean;
  /** tfjs's streamed weights: not supported. */
  streamWeights?: boolean;
}

/** A load handler (fromMemory, fileSystem, http). */
export interface LoadHandler {
  /** Gives the artifacts to build the model from. */
  load: () => Promise<LoadedArtifacts>;
}

/** A save handler (withSaveHandler, fileSystem, http). */
export interface SaveHandler {
  /** Receives a model's artifacts. */
  save: (artifacts: TfjsArtifacts) => Promise<SaveResult>;
}

function concat(buffers: ArrayBuffer | ArrayBuffer[] | undefined): ArrayBuffer {
  if (buffers === undefined) return new ArrayBuffer(0);
  if (!Array.isArray(buffers)) return buffers;
  const out = new Uint8Array(buffers.reduce((n, b) => n + b.byteLength, 0));
  let at = 0;
  for (const b of buffers) {
    out.set(new Uint8Array(b), at);
    at += b.byteLength;
  }
  return out.buffer;
}

/** tf.io.concatenateArrayBuffers: one ArrayBuffer of the parts in order (a single buffer is returned as it is). */
export function concatenateArrayBuffers(buffers: ArrayBuffer | ArrayBuffer[]): ArrayBuffer {
  return concat(buffers);
}

/** tf.io.getModelArtifactsInfoForJSON: the sizes of the artifacts' topology, specs and data. */
export function getModelArtifactsInfoForJSON(modelArtifacts: ModelArtifacts): ModelArtifactsInfo {
  if (modelArtifacts.modelTopology instanceof ArrayBuffer)
    throw new ValidationError('getModelArtifactsInfoForJSON: expected a JSON model topology but received an ArrayBuffer');
  const bytes = (v: unknown) => (v == null ? 0 : Buffer.byteLength(JSON.stringify(v), 'utf8'));
  return {
    dateSaved: new Date(),
    modelTopologyType: 'JSON',
    modelTopologyBytes: bytes(modelArtifacts.modelTopology),
    weightSpecsBytes: bytes(modelArtifacts.weightSpecs),
    weightDataBytes: modelArtifacts.weightData == null ? 0 : concat(modelArtifacts.weightData).byteLength,
  };
}

/** The model.json object for artifacts and a weights manifest (tf.io.getModelJSONForModelArtifacts). */
export function getModelJSONForModelArtifacts(artifacts: ModelArtifacts, manifest: WeightsManifestGroupConfig[]): Record<string, unknown> {
  const result: Record<string, unknown> = {
    modelTopology: artifacts.modelTopology,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    weightsManifest: manifest,
  };
  if (artifacts.userDefinedMetadata != null) result.userDefinedMetadata = artifacts.userDefinedMetadata;
  if (artifacts.trainingConfig != null) result.trainingConfig = artifacts.trainingConfig;
  return result;
}

/** tf.io.getWeightSpecs: every group's weights of a manifest, in order. */
export function getWeightSpecs(weightsManifest: WeightsManifestGroupConfig[]): WeightsManifestEntry[] {
  return weightsManifest.flatMap(g => g.weights);
}

/** tf.io.getModelArtifactsForJSONSync: artifacts from a parsed model.json and its weights. */
export function getModelArtifactsForJSONSync(
  modelJSON: Record<string, unknown>,
  weightSpecs?: WeightsManifestEntry[],
  weightData?: ArrayBuffer | ArrayBuffer[],
): LoadedArtifacts {
  const a: LoadedArtifacts = {
    modelTopology: modelJSON.modelTopology,
    format: modelJSON.format as string | undefined,
    generatedBy: modelJSON.generatedBy as string | undefined,
    convertedBy: modelJSON.convertedBy as string | null | undefined,
  };
  if (modelJSON.trainingConfig != null) a.trainingConfig = modelJSON.trainingConfig;
  if (modelJSON.weightsManifest != null) {
    if (!weightSpecs) throw new ValidationError('getModelArtifactsForJSON: modelJSON has a weightsManifest but no weightSpecs were given');
    if (!weightData) throw new ValidationError('getModelArtifactsForJSON: modelJSON has a weightsManifest but no weightData was given');
    a.weightSpecs = weightSpecs as TfjsArtifacts['weightSpecs'];
    a.weightData = weightData;
  }
  if (modelJSON.userDefinedMetadata != null) a.userDefinedMetadata = modelJSON.userDefinedMetadata as Record<string, unknown>;
  return a;
}

/** tf.io.getModelArtifactsForJSON: artifacts from a parsed model.json, its weights read by loadWeights. */
export async function getModelArtifactsForJSON(
  modelJSON: Record<string, unknown>,
  loadWeights: (manifest: WeightsManifestGroupConfig[]) => Promise<[WeightsManifestEntry[], ArrayBuffer | ArrayBuffer[]]>,
): Promise<LoadedArtifacts> {
  let specs: WeightsManifestEntry[] | undefined, data: ArrayBuffer | ArrayBuffer[] | undefined;
  if (modelJSON.weightsManifest != null) [specs, data] = await loadWeights(modelJSON.weightsManifest as WeightsManifestGroupConfig[]);
  return getModelArtifactsForJSONSync(modelJSON, specs, data);
}

/** What tf.io.encodeWeights gives: the bytes and the specs that describe them. */
export interface EncodedWeights {
  /** The tensors' values one after the other. */
  data: ArrayBuffer;
  /** Each tensor's name, shape and dtype, in data's order. */
  specs: WeightsManifestEntry[];
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/**
 * tf.io.encodeWeights: the tensors' values one after the other (float32 and int32 as 4 bytes, bool as 1, little
 * endian) and their specs, from a name -> tensor map or a list of { name, tensor }.
 */
export async function encodeWeights(tensors: Record<string, Tensor> | { name: string; tensor: Tensor }[], group?: string): Promise<EncodedWeights> {
  const list = Array.isArray(tensors) ? tensors : Object.entries(tensors).map(([name, t]) => ({ name, tensor: t }));
  const specs: WeightsManifestEntry[] = [],
    parts: ArrayBuffer[] = [];
  for (const { name, tensor: t } of list) {
    if (!(t.dtype in BYTES)) throw new ValidationError(`encodeWeights: unsupported dtype in weight '${name}': ${t.dtype}`);
    const values = t.dataSync() as Float32Array | Int32Array | Uint8Array;
    parts.push(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength) as ArrayBuffer);
    specs.push(group == null ? { name, shape: [...t.shape], dtype: t.dtype } : { name, shape: [...t.shape], dtype: t.dtype, group });
  }
  return { data: concat(parts), specs };
}

/** tf.io.decodeWeights: a name -> tensor map from weight data and its specs (float32, int32 and bool; not quantized). */
export function decodeWeights(weightData: ArrayBuffer | ArrayBuffer[], specs: WeightsManifestEntry[]): Record<string, Tensor> {
  const data = concat(weightData);
  const out: Record<string, Tensor> = {};
  let at = 0;
  try {
    for (const spec of specs) {
      if ('quantization' in spec) throw unsupported(`decodeWeights of the quantized weight ${spec.name}`, 'save float32 weights');
      const width = BYTES[spec.dtype];
      if (!width) throw unsupported(`decodeWeights of the ${spec.dtype} weight ${spec.name}`, 'kernelnet decodes float32, int32 and bool weights');
      const size = spec.shape.reduce((n, d) => n * d, 1);
      if (at + size * width > data.byteLength) throw new ValidationError(`decodeWeights: the weight data ends before ${spec.name}`);
      const bytes = data.slice(at, at + size * width);
      const values = spec.dtype === 'float32' ? new Float32Array(bytes) : spec.dtype === 'int32' ? new Int32Array(bytes) : new Uint8Array(bytes);
      out[spec.name] = tensor(values, spec.shape, spec.dtype as 'float32' | 'int32' | 'bool');
      at += size * width;
    }
  } catch (err) {
    for (const t of Object.values(out)) t.dispose();
    throw err;
  }
  return out;
}

// --- in memory ------------------------------------------------------------------------------------------------

function memoryArtifacts(args: unknown[]): LoadedArtifacts {
  const [first, weightSpecs, weightData, trainingConfig] = args as [Record<string, unknown> | undefined, ...unknown[]];
  // tfjs's one-argument form takes ModelArtifacts; an object with neither key is a bare topology, as in the older form.
  if (args.length === 1 && first && (first.modelTopology != null || first.weightSpecs != null)) return first as unknown as LoadedArtifacts;
  return { modelTopology: first, weightSpecs, weightData, trainingConfig } as LoadedArtifacts;
}

/** A loader of artifacts held in memory (tf.io.fromMemory). */
export class MemoryLoader implements LoadHandler {
  /** @internal */
  constructor(private readonly artifacts: LoadedArtifacts) {}
  /** The artifacts it was given. */
  load(): Promise<LoadedArtifacts> {
    return Promise.resolve(this.artifacts);
  }
}

/** A loader of artifacts held in memory whose load() returns them at once (tf.io.fromMemorySync). */
export class MemoryLoaderSync {
  /** @internal */
  constructor(private readonly artifacts: LoadedArtifacts) {}
  /** The artifacts it was given. */
  load(): LoadedArtifacts {
    return this.artifacts;
  }
}

/**
 * tf.io.fromMemory(artifacts) or, tfjs's older form, fromMemory(modelTopology, weightSpecs, weightData,
 * trainingConfig): a load handler giving those artifacts to tf.loadLayersModel.
 */
export function fromMemory(modelArtifacts: ModelArtifacts | Record<string, unknown>): MemoryLoader;
export function fromMemory(
  modelTopology: unknown,
  weightSpecs?: WeightsManifestEntry[],
  weightData?: ArrayBuffer | ArrayBuffer[],
  trainingConfig?: unknown,
): MemoryLoader;
export function fromMemory(...args: unknown[]): MemoryLoader {
  return new MemoryLoader(memoryArtifacts(args));
}

/** tf.io.fromMemorySync: fromMemory whose load() returns the artifacts rather than a promise. */
export function fromMemorySync(modelArtifacts: ModelArtifacts | Record<string, unknown>): MemoryLoaderSync;
export function fromMemorySync(
  modelTopology: unknown,
  weightSpecs?: WeightsManifestEntry[],
  weightData?: ArrayBuffer | ArrayBuffer[],
  trainingConfig?: unknown,
): MemoryLoaderSync;
export function fromMemorySync(...args: unknown[]): MemoryLoaderSync {
  return new MemoryLoaderSync(memoryArtifacts(args));
}

/** A save handler that passes the artifacts to a function (tf.io.withSaveHandler, withSaveHandlerSync). */
export class PassthroughSaver<R> {
  /** @internal */
  constructor(private readonly handler: (artifacts: TfjsArtifacts) => R) {}
  /** Calls the function with the artifacts; resolves to what it returns. */
  async save(artifacts: TfjsArtifacts): Promise<Awaited<R>> {
    return await this.handler(artifacts);
  }
}

/** tf.io.withSaveHandler: model.save(handler) calls saveHandler with the artifacts and resolves to its result. */
export function withSaveHandler<R>(saveHandler: (artifacts: TfjsArtifacts) => Promise<R>): PassthroughSaver<Promise<R>> {
  if (typeof saveHandler !== 'function') throw new ValidationError('tf.io.withSaveHandler: expected a function(artifacts)');
  return new PassthroughSaver(saveHandler);
}

/** tf.io.withSaveHandlerSync: withSaveHandler for a function that returns its result rather than a promise. */
export function withSaveHandlerSync<R>(saveHandler: (artifacts: TfjsArtifacts) => R): PassthroughSaver<R> {
  if (typeof saveHandler !== 'function') throw new ValidationError('tf.io.withSaveHandlerSync: expected a function(artifacts)');
  return new PassthroughSaver(saveHandler);
}

// --- the file system ------------------------------------------------------------------------------------------

const stripFile = (p: string) => (p.startsWith('file://') ? p.slice('file://'.length) : p);

/**
 * tfjs-node's file system handler: save writes DIR/model.json and DIR/weights.bin (each written whole, then
 * renamed into place); load reads a model.json and the weight files its manifest names, beside it.
 */
export class FileSystemHandler implements LoadHandler, SaveHandler {
  /** The directory (save) or model.json (load), resolved. */
  readonly path: string;
  /** @internal */
  constructor(path: string) {
    if (typeof path !== 'string' || !path) throw new ValidationError(`tf.io.fileSystem: expected a path but received ${JSON.stringify(path)}`);
    this.path = resolve(stripFile(path));
  }
  /** Writes model.json and weights.bin into the directory. */
  async save(artifacts: TfjsArtifacts): Promise<SaveResult> {
    const dir = this.path;
    mkdirSync(dir, { recursive: true });
    const json = getModelJSONForModelArtifacts(artifacts, [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }]);
    for (const [file, data] of [
      ['weights.bin', new Uint8Array(concat(artifacts.weightData))],
      ['model.json', JSON.stringify(json)],
    ] as const) {
      removeStaleTemporaries(join(dir, file));
      const tmp = temporaryName(join(dir, file));
      writeFileSync(tmp, data);
      renameSync(tmp, join(dir, file));
    }
    return { modelArtifactsInfo: getModelArtifactsInfoForJSON(artifacts) };
  }
  /** Reads model.json and its weight files; a damaged one is a CheckpointError naming the file. */
  async load(): Promise<LoadedArtifacts> {
    const file = this.path;
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new CheckpointError(file, `is not a readable model.json: ${(err as Error).message}`, { cause: err });
    }
    if (json === null || typeof json !== 'object' || (json.modelTopology == null && json.weightsManifest == null))
      throw new CheckpointError(file, 'holds neither a modelTopology nor a weightsManifest');
    return getModelArtifactsForJSON(json, async manifest => {
      const parts: ArrayBuffer[] = [];
      for (const group of manifest)
        for (const p of group.paths) {
          try {
            const b = readFileSync(join(dirname(file), p));
            parts.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
          } catch (err) {
            throw new CheckpointError(file, `cannot read the weight file ${p} its manifest names: ${(err as Error).message}`, { cause: err });
          }
        }
      return [getWeightSpecs(manifest), concat(parts)];
    });
  }
}

/** tfjs-node's tf.io.fileSystem(path): save to a directory, load from its model.json ('file://' is optional). */
export function fileSystem(path: string | string[]): FileSystemHandler {
  if (Array.isArray(path))
    throw unsupported('tf.io.fileSystem([model.json, weights])', 'pass the path of the model.json; its manifest names the weight files');
  return new FileSystemHandler(path);
}

// --- HTTP -----------------------------------------------------------------------------------------------------

/** tfjs's isHTTPScheme: whether the URL starts with http:// or https://. */
export function isHTTPScheme(url: string): boolean {
  return /^https?:\/\//.test(url);
}

/** tfjs's parseUrl: the URL up to its last slash (with it), and its query if after that slash. */
function parseUrl(url: string): [string, string] {
  const slash = url.lastIndexOf('/'),
    query = url.lastIndexOf('?');
  return [`${url.substring(0, slash)}/`, query > slash ? url.substring(query) : ''];
}

/** tfjs's HTTP handler: load fetches model.json then its weight files; save POSTs tfjs's multipart form. */
export class HTTPRequest implements LoadHandler, SaveHandler {
  /** The model.json URL (load) or the URL the form is sent to (save). */
  readonly path: string;
  private readonly options: LoadOptions;
  private readonly fetch: FetchFunction;
  /** @internal */
  constructor(path: string, options: LoadOptions = {}) {
    if (typeof path !== 'string' || !path) throw new ValidationError(`tf.io.http: expected a URL but received ${JSON.stringify(path)}`);
    if (options.fetchFunc != null && typeof options.fetchFunc !== 'function')
      throw new ValidationError('tf.io.http: fetchFunc must be a function with the signature of fetch');
    if (options.requestInit?.body != null) throw new ValidationError('tf.io.http: requestInit must have no body (the model is sent as the body)');
    if (options.streamWeights) throw unsupported('tf.io.http with streamWeights', 'weights are loaded whole');
    if (options.strict === false) throw unsupported('loading with strict: false', 'every weight of the model must be in the file');
    this.path = path;
    this.options = options;
    this.fetch = options.fetchFunc ?? ((url, init) => globalThis.fetch(url, init));
  }

  private async request(url: string, init: RequestInit | undefined, what: string): Promise<Response> {
    let response: Response;
    try {
      response = await this.fetch(url, init);
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message;
      throw new DataError(`${what} ${url} failed: ${(err as Error).message}${cause ? ` (${cause})` : ''}`, 'ERR_KERNELNET_DATA', { url, cause: err });
    }
    if (!response.ok)
      throw new DataError(
        `${what} ${url} failed with HTTP status ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`,
        'ERR_KERNELNET_DATA',
        {
          url,
          status: response.status,
        },
      );
    return response;
  }

  /** POSTs (or requestInit.method) a multipart form: 'model.json' (topology and manifest) and 'model.weights.bin'. */
  async save(artifacts: TfjsArtifacts): Promise<SaveResult> {
    const body = new FormData();
    const json = getModelJSONForModelArtifacts(artifacts, [{ paths: ['./model.weights.bin'], weights: artifacts.weightSpecs }]);
    body.append('model.json', new Blob([JSON.stringify(json)], { type: 'application/json' }), 'model.json');
    if (artifacts.weightData != null)
      body.append('model.weights.bin', new Blob([concat(artifacts.weightData)], { type: 'application/octet-stream' }), 'model.weights.bin');
    const response = await this.request(this.path, { method: 'POST', ...this.options.requestInit, body }, 'saving the model to');
    return { modelArtifactsInfo: getModelArtifactsInfoForJSON(artifacts), responses: [response] };
  }

  /** Fetches model.json, then the weight files its manifest names (beside it, or under weightPathPrefix). */
  async load(): Promise<LoadedArtifacts> {
    const response = await this.request(this.path, this.options.requestInit, 'fetching the model.json');
    const text = await response.text();
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new DataError(`${this.path} is not a model.json: its JSON does not parse (${(err as Error).message})`, 'ERR_KERNELNET_DATA', {
        url: this.path,
        cause: err,
      });
    }
    if (json === null || typeof json !== 'object' || (json.modelTopology == null && json.weightsManifest == null))
      throw new DataError(`${this.path} holds neither a modelTopology nor a weightsManifest`, 'ERR_KERNELNET_DATA', { url: this.path });
    return getModelArtifactsForJSON(json, async manifest => {
      if (!Array.isArray(manifest) || manifest.some(g => !Array.isArray(g?.paths) || !Array.isArray(g?.weights)))
        throw new DataError(`${this.path}: its weightsManifest is not a list of { paths, weights }`, 'ERR_KERNELNET_DATA', { url: this.path });
      const [prefix, suffix] = parseUrl(this.path);
      const pathPrefix = this.options.weightPathPrefix || prefix;
      const paths = manifest.flatMap(g => g.paths);
      const urls = this.options.weightUrlConverter
        ? await Promise.all(paths.map(p => this.options.weightUrlConverter!(p)))
        : paths.map(p => pathPrefix + p + suffix);
      let done = 0;
      const parts = await Promise.all(
        urls.map(async url => {
          const r = await this.request(url, this.options.requestInit, 'fetching the weight file');
          const b = await r.arrayBuffer();
          this.options.onProgress?.(++done / urls.length);
          return b;
        }),
      );
      return [getWeightSpecs(manifest), concat(parts)];
    });
  }
}

/** tf.io.http(path, loadOptions): an HTTP(S) handler for tf.loadLayersModel and model.save, through fetch. */
export function http(path: string, loadOptions?: LoadOptions): HTTPRequest {
  return new HTTPRequest(path, loadOptions);
}

/** tf.io.browserHTTPRequest: tfjs's older name of http. */
export function browserHTTPRequest(path: string, loadOptions?: LoadOptions): HTTPRequest {
  return http(path, loadOptions);
}

// --- routing URLs to handlers ---------------------------------------------------------------------------------

const BROWSER_SCHEMES: Record<string, string> = {
  'localstorage://': "the browser's localStorage",
  'indexeddb://': "the browser's IndexedDB",
  'downloads://': "the browser's downloads",
};

/** @internal A browser-only URL scheme is refused by name (model.save, tf.loadLayersModel, getLoadHandlers). */
export function refuseBrowserScheme(url: string, what: string): void {
  for (const [scheme, store] of Object.entries(BROWSER_SCHEMES))
    if (url.toLowerCase().startsWith(scheme))
      throw unsupported(`${what}('${url}')`, `${store} exists only in a browser; in Node use a 'file://' or 'http(s)://' URL`);
}

/** tf.io.getLoadHandlers(url, loadOptions): [fileSystem] for 'file://', [http] for 'http(s)://', else []. */
export function getLoadHandlers(url: string | string[], loadOptions?: LoadOptions): (FileSystemHandler | HTTPRequest)[] {
  if (Array.isArray(url)) {
    if (url.length !== 1) return [];
    url = url[0];
  }
  refuseBrowserScheme(url, 'tf.io.getLoadHandlers');
  if (url.startsWith('file://')) return [fileSystem(url)];
  if (isHTTPScheme(url)) return [http(url, loadOptions)];
  return [];
}

/** tf.io.getSaveHandlers(url): [fileSystem] for 'file://', [http] for 'http(s)://', else []. */
export function getSaveHandlers(url: string | string[]): (FileSystemHandler | HTTPRequest)[] {
  if (Array.isArray(url)) {
    if (url.length !== 1) return [];
    url = url[0];
  }
  refuseBrowserScheme(url, 'tf.io.getSaveHandlers');
  if (url.startsWith('file://')) return [fileSystem(url)];
  if (isHTTPScheme(url)) return [http(url)];
  return [];
}

// --- the namespace ----------------------------------------------------------------------------------------------

const REFUSED: Record<string, string> = {
  browserDownloads: "it downloads files from a browser page; in Node save with model.save('file://DIR') or tf.io.fileSystem(DIR)",
  browserFiles: "it reads files a browser's file input gives; in Node load with tf.loadLayersModel('file://DIR/model.json')",
  browserLocalStorage: "localStorage exists only in a browser; in Node use a 'file://' or 'http(s)://' URL",
  browserIndexedDB: "IndexedDB exists only in a browser; in Node use a 'file://' or 'http(s)://' URL",
  copyModel: "it manages models in a browser's localStorage or IndexedDB; in Node copy the directory model.save('file://DIR') wrote",
  moveModel: "it manages models in a browser's localStorage or IndexedDB; in Node move the directory model.save('file://DIR') wrote",
  listModels: "it lists models in a browser's localStorage or IndexedDB; in Node list the directories model.save('file://DIR') wrote",
  removeModel: "it manages models in a browser's localStorage or IndexedDB; in Node remove the directory model.save('file://DIR') wrote",
  registerLoadRouter: "kernelnet routes 'file://' and 'http(s)://' URLs; pass your own IOHandler (an object with load()) to tf.loadLayersModel",
  registerSaveRouter: "kernelnet routes 'file://' and 'http(s)://' URLs; pass your own IOHandler (an object with save(artifacts)) to model.save",
  loadWeights: "it loads a graph model's weights; load a layers model with tf.loadLayersModel, or weights with tf.io.decodeWeights",
  weightsLoaderFactory: "it loads a graph model's weights; load a layers model with tf.loadLayersModel, or weights with tf.io.decodeWeights",
  decodeWeightsStream: 'weights are decoded whole: read the stream into an ArrayBuffer and call tf.io.decodeWeights',
};

/**
 * The members of tf.io. Browser-only and graph-model members are present but refused on access, by name, with
 * what to use in Node instead (they are not enumerable, so a refusal of an unknown member lists only what works).
 */
export function ioNamespace() {
  const ns = {
    /** tf.io.fromMemory(artifacts), or (modelTopology, weightSpecs, weightData, trainingConfig): a loader of those artifacts. */
    fromMemory,
    /** tf.io.fromMemorySync: fromMemory whose load() returns the artifacts at once. */
    fromMemorySync,
    /** tf.io.withSaveHandler(fn): model.save(handler) calls fn with the artifacts and resolves to what it resolves to. */
    withSaveHandler,
    /** tf.io.withSaveHandlerSync(fn): withSaveHandler for a function that returns its result. */
    withSaveHandlerSync,
    /** tf.io.fileSystem(path): save to a directory (model.json, weights.bin), load from its model.json. */
    fileSystem,
    /** tf.io.http(url, { requestInit, weightPathPrefix, fetchFunc, onProgress }): load over HTTP(S), or save as tfjs's multipart form. */
    http,
    /** tf.io.browserHTTPRequest: tfjs's older name of http. */
    browserHTTPRequest,
    /** tf.io.getLoadHandlers(url, loadOptions?): the handlers for a 'file://' or 'http(s)://' URL ([] for any other). */
    getLoadHandlers,
    /** tf.io.getSaveHandlers(url): the handlers for a 'file://' or 'http(s)://' URL ([] for any other). */
    getSaveHandlers,
    /** tf.io.isHTTPScheme(url): whether the URL starts with http:// or https://. */
    isHTTPScheme,
    /** tf.io.encodeWeights(tensors, group?): the tensors' bytes one after the other, and their specs. */
    encodeWeights,
    /** tf.io.decodeWeights(weightData, specs): a name -> tensor map (float32, int32, bool). */
    decodeWeights,
    /** tf.io.concatenateArrayBuffers(buffers): one ArrayBuffer of the parts in order. */
    concatenateArrayBuffers,
    /** tf.io.getModelArtifactsInfoForJSON(artifacts): the sizes of the topology, specs and weight data. */
    getModelArtifactsInfoForJSON,
    /** tf.io.getModelJSONForModelArtifacts(artifacts, manifest): the model.json object. */
    getModelJSONForModelArtifacts,
    /** tf.io.getModelArtifactsForJSON(modelJSON, loadWeights): artifacts from a parsed model.json. */
    getModelArtifactsForJSON,
    /** tf.io.getModelArtifactsForJSONSync(modelJSON, weightSpecs?, weightData?): artifacts from a parsed model.json. */
    getModelArtifactsForJSONSync,
    /** tf.io.getWeightSpecs(manifest): every group's weights, in order. */
    getWeightSpecs,
  };
  for (const [name, hint] of Object.entries(REFUSED))
    Object.defineProperty(ns, name, {
      enumerable: false,
      get() {
        throw unsupported(`tf.io.${name}`, hint);
      },
    });
  return ns;
}
