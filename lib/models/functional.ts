// The functional API (Keras's Functional model, tfjs's tf.model): a model made from symbolic tensors, from its
// inputs (input()) through layer.apply() to its outputs, with one or several of each. Its graph is made once, at
// construction: every applied layer becomes a node (a layer applied twice, two nodes sharing its weights), and a
// model applied as a layer inside another is expanded into its own layers' nodes, which the two models share.
import { ValidationError } from '../core/errors.js';
import { Graph, inputRef, type GraphNode } from '../engine/plan.js';
import { SymbolicTensor, symbolicList, type AppliedModel, type InputLayer } from '../engine/symbolic.js';
import { defaultLayerName, type Layer } from '../layers/layers.js';
import { checkOptions } from '../core/validate.js';
import { LayersModel, Sequential } from './model.js';
import { loadModelAs } from '../io/serialization.js';
import type { GraphConfig } from '../engine/network.js';

/** The options of new Model(...) / model(...) (tfjs's tf.model config, Keras's Model(inputs, outputs)). */
export interface ModelArgs {
  /** The model's inputs: symbolic tensors from input(), one or an array. */
  inputs: SymbolicTensor | SymbolicTensor[];
  /** The model's outputs: symbolic tensors from layer.apply(), one or an array (their order is predict's). */
  outputs: SymbolicTensor | SymbolicTensor[];
  /** The model's name (default 'functional'), shown in summary() and error messages. */
  name?: string;
  /** Seed of every random stream of the model (uint32); random when omitted. */
  seed?: number;
  /** Where the weights and buffers live and the ops run: 'cpu', or 'cuda' / 'cuda:0' (default: the environment's backend). */
  device?: string;
}

const MODEL_SCHEMA = { what: 'Model args', supported: ['inputs', 'outputs', 'name', 'seed', 'device'] };

/** One application of a model as a layer: the outputs it made share this key, so its nodes are made once. */
interface Application {
  readonly model: AppliedModel;
  readonly inputs: SymbolicTensor[];
}

const applications = new WeakMap<SymbolicTensor, Application>();

/** The tensors resolved so far within one model's scope, and its nested applications'. */
interface Scope {
  env: Map<SymbolicTensor, number>;
  done: Map<Application, Scope>;
}

/**
 * A model of layers connected as a graph (Keras's functional Model, tfjs's LayersModel from tf.model): several
 * inputs and outputs, merges, shared layers, and other models applied as layers.
 */
export class Model extends LayersModel implements AppliedModel {
  /** The model's inputs, in order. */
  readonly inputs: readonly SymbolicTensor[];
  /** The model's outputs, in order. */
  readonly outputs: readonly SymbolicTensor[];
  /** @internal The graph's nodes, and for each the symbolic tensor it makes (the layers' "inbound nodes"). */
  readonly nodeTensors: SymbolicTensor[] = [];
  private readonly nodes: GraphNode[] = [];
  private readonly outputRefs: number[];
  private trainableFlag = true;

  constructor(args: ModelArgs) {
    const own = checkOptions(args, MODEL_SCHEMA);
    if (own === undefined) throw new ValidationError('Model: pass { inputs, outputs }');
    super(own, 'functional');
    const inputs = symbolicList(own.inputs, 'Model inputs'),
      outputs = symbolicList(own.outputs, 'Model outputs');
    for (const t of inputs)
      if (t.source.kind !== 'input')
        throw new ValidationError(`${this.name}: a model's inputs must come from input() (${t.name} is a layer's output)`, 'ERR_KERNELNET_SHAPE');
    if (new Set(inputs).size !== inputs.length) throw new ValidationError(`${this.name}: an input is listed twice in inputs`);
    this.inputs = inputs;
    this.outputs = outputs;
    // Names first (Keras's defaults, unique within the model), so that errors below can use them.
    this.nameInputs();
    const env = new Map<SymbolicTensor, number>(inputs.map((t, k) => [t, inputRef(k)]));
    this.outputRefs = outputs.map(t => this.resolve(t, env, new Map()));
    for (const [o, ref] of this.outputRefs.entries())
      if (ref < 0) throw new ValidationError(`${this.name}: output ${o} is an input itself; apply a layer to it first`, 'ERR_KERNELNET_SHAPE');
    if (new Set(this.outputRefs).size !== this.outputRefs.length) throw new ValidationError(`${this.name}: an output is listed twice in outputs`);
    const layers: Layer[] = [];
    for (const n of this.nodes) if (!layers.includes(n.layer)) layers.push(n.layer);
    this.nameLayers(layers);
    const names = this.outputRefs.map(id => this.nodes[id].layer.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice) throw new ValidationError(`${this.name}: two outputs come from layer ${twice}; give each output its own layer`);
    for (const l of layers) {
      if (l.models.size && l.params.length && l.params[0].value.device !== this.device)
        throw new ValidationError(
          `${this.name}: the shared layer ${l.name}'s weights live on ${l.params[0].value.device} but ${this.name} on ${this.device}`,
          'ERR_KERNELNET_DEVICE',
        );
      l.models.add(this);
      this.layers.push(l);
    }
    this.layersChanged();
  }

  /**
   * The node (or model input) that makes t, made on first visit. `env` maps tensors of the current scope (the
   * model, or one application of a nested model) to refs; `done` caches nested applications by key.
   */
  private resolve(t: SymbolicTensor, env: Map<SymbolicTensor, number>, done: Map<Application, Scope>): number {
    const known = env.get(t);
    if (known !== undefined) return known;
    const s = t.source;
    if (s.kind === 'input')
      throw new ValidationError(
        `${this.name}: graph disconnected: an output depends on input ${s.input.name || '(unnamed)'} of shape [N, ${s.input.shape.join(', ')}], ` +
          "which is not among the model's inputs",
        'ERR_KERNELNET_SHAPE',
      );
    let ref: number;
    if (s.kind === 'layer') {
      const inputs = s.inputs.map(x => this.resolve(x, env, done));
      ref = this.nodes.length;
      this.nodes.push({ id: ref, layer: s.layer as Layer, inputs });
      this.nodeTensors.push(t);
    } else {
      // A model applied as a layer: its own graph, its inputs bound to this application's.
      const app = applications.get(t)!;
      let inner = done.get(app);
      if (!inner) {
        const outer = app.inputs.map(x => this.resolve(x, env, done));
        inner = { env: new Map(s.model.inputs.map((x, j) => [x, outer[j]])), done: new Map() };
        done.set(app, inner);
      }
      ref = this.resolve(s.model.outputs[s.index], inner.env, inner.done);
    }
    env.set(t, ref);
    return ref;
  }

  /** Unnamed inputs get Keras 3's names: input_layer, input_layer_1, ... */
  private nameInputs(): void {
    const layers = this.inputs.map(t => (t.source as { input: InputLayer }).input);
    const taken = new Set(layers.map(l => l.name).filter(Boolean));
    let n = 0;
    for (const l of layers) {
      if (l.name) continue;
      while (taken.has(n ? `input_layer_${n}` : 'input_layer')) n++;
      l.name = n ? `input_layer_${n}` : 'input_layer';
      taken.add(l.name);
    }
  }

  /** Unnamed layers get Keras's names (conv2d, conv2d_1, ...), unique within the model with its inputs'; named ones must be unique. */
  private nameLayers(layers: Layer[]): void {
    const taken = new Set<string>(this.inputNames);
    for (const l of layers) {
      if (!l.name) continue;
      if (taken.has(l.name))
        throw new ValidationError(
          `${this.name}: two layers (or a layer and an input) are named '${l.name}'; names must be unique within a model (as in Keras)`,
        );
      taken.add(l.name);
    }
    const counts = new Map<string, number>();
    for (const l of layers) {
      if (l.name) continue;
      const base = defaultLayerName(l.className);
      for (;;) {
        const n = counts.get(base) ?? 0;
        counts.set(base, n + 1);
        const name = n ? `${base}_${n}` : base;
        if (!taken.has(name)) {
          l.name = name;
          taken.add(name);
          break;
        }
      }
    }
  }

  /** @internal The graph as a checkpoint stores it. */
  override graphConfig(): GraphConfig {
    return {
      inputs: this.inputs.map((t, k) => ({ name: this.inputNames[k], shape: t.perExample })),
      nodes: this.nodes.map(n => ({ layer: this.layerIndex(n.layer), inputs: [...n.inputs] })),
      outputs: [...this.outputRefs],
    };
  }

  /** @internal */
  protected override buildGraph(): Graph {
    return new Graph(this.nodes, this.outputRefs);
  }

  override get inputShapes(): number[][] {
    return this.inputs.map(t => t.perExample);
  }

  override get inputNames(): string[] {
    return this.inputs.map(t => (t.source as { input: InputLayer }).input.name);
  }

  /**
   * Whether fit trains the model's layers (Keras's model.trainable): setting it sets every layer's, a nested
   * model's included (as Keras), so `base.trainable = false` freezes a feature extractor; it takes effect at the
   * next compile() or fit().
   */
  get trainable(): boolean {
    return this.trainableFlag;
  }
  /** Sets every layer's trainable flag, a nested model's included. */
  set trainable(value: boolean) {
    if (typeof value !== 'boolean') throw new ValidationError(`${this.name}.trainable: expected a boolean but received ${String(value)}`);
    this.trainableFlag = value;
    for (const l of this.layers) l.trainable = value;
  }

  /**
   * Applies the model to symbolic tensors as one layer (Keras's model(x), tfjs's model.apply): its outputs for
   * those inputs, sharing its layers and weights. Several outputs come back as an array, in order.
   */
  apply(inputs: SymbolicTensor | SymbolicTensor[]): SymbolicTensor | SymbolicTensor[] {
    this.alive('apply');
    const list = symbolicList(inputs, this.name);
    if (list.length !== this.inputs.length)
      throw new ValidationError(
        `${this.name}.apply: the model takes ${this.inputs.length} input(s) but received ${list.length}`,
        'ERR_KERNELNET_SHAPE',
      );
    list.forEach((t, j) => {
      if (t.perExample.join() !== this.inputs[j].perExample.join())
        throw new ValidationError(
          `${this.name}.apply: input ${j} has shape [N, ${t.perExample.join(', ')}] but the model takes [N, ${this.inputs[j].perExample.join(', ')}]`,
          'ERR_KERNELNET_SHAPE',
        );
    });
    const app: Application = { model: this, inputs: list };
    const outs = this.outputs.map((o, index) => {
      const t = new SymbolicTensor(o.perExample, { kind: 'model', model: this, inputs: list, index });
      applications.set(t, app);
      return t;
    });
    return outs.length === 1 ? outs[0] : outs;
  }

  /**
   * Keras's summary table, printed with printFn (default console.log) and returned: with its "Connected to"
   * column where the graph is more than a chain (Keras 3's rule: a node with several inputs, a tensor read twice,
   * a layer applied twice, several inputs or outputs).
   */
  override summary(printFn: (line: string) => void = console.log): string {
    const g = this.graph;
    const chain =
      this.inputs.length === 1 &&
      this.outputs.length === 1 &&
      this.nodes.every(n => n.inputs.length === 1 && !g.fansOut(n.id)) &&
      new Set(this.nodes.map(n => n.layer)).size === this.nodes.length;
    return this.summaryTable(printFn, chain ? undefined : this.summaryRows());
  }

  /** One row per input and per layer (as Keras 3's print_summary): a shared layer once, connected to every input it was applied to. */
  private summaryRows(): string[][] {
    const refName = (ref: number) => (ref < 0 ? `${this.inputNames[-1 - ref]}[0][0]` : `${this.nodes[ref].layer.name}[${this.nodeIndex(ref)}][0]`);
    const rows = this.inputs.map(t => [`${t.name} (InputLayer)`, `(None, ${t.perExample.join(', ')})`, '0', '-']);
    for (const layer of this.layers) {
      const inbound = this.nodes.filter(n => n.layer === layer).flatMap(n => n.inputs.map(refName));
      rows.push([`${layer.name} (${layer.className})`, `(None, ${layer.outputShape.join(', ')})`, String(layer.countParams()), inbound.join(', ')]);
    }
    return rows;
  }

  /** Which application of its layer node id is (0 for the first), as Keras's node index. */
  private nodeIndex(id: number): number {
    const layer = this.nodes[id].layer;
    return this.nodes.filter(n => n.layer === layer && n.id < id).length;
  }
}

/** A functional model (tfjs's tf.model, Keras's keras.Model(inputs, outputs)). */
export function model(args: ModelArgs): Model {
  return new Model(args);
}

/**
 * Loads a model saved by `model.save(path)`, compiled and ready to predict or to resume training exactly, on
 * options.device (default: the environment's backend): a Sequential model, or a functional Model when the file
 * holds a graph (name the class for its type: `loadModel<Model>(path)`).
 */
export function loadModel<M extends LayersModel = Sequential>(path: string, options?: { device?: string }): M {
  options = checkOptions(options, { what: 'loadModel options', supported: ['device'] });
  return loadModelAs({ Sequential, Model }, path, options?.device) as unknown as M;
}
