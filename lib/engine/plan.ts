// A model's graph and its plan. The graph: one node per layer, each naming the nodes whose outputs it takes (a
// Sequential model is a chain). The plan: the ops that run the nodes, in topological order, after the fusion
// rules. Each rule is a function over the graph that says where it applies, and applies only along
// single-consumer edges (a tensor another node also reads is never folded away); the model's executor
// (network.ts's forward and stepOps) only walks the plan. A rule that does not match leaves its nodes to their
// own ops, and every rule can be switched off (the model's fuse/fold switches), so tests compare each fused
// plan with the plan without it.
//
// The rules:
// - convPool: a Conv2D whose output goes only into a MaxPooling2D with non-overlapping windows runs with it as
//   one op (training and inference); in training a Dropout after the pair runs in the same op too (forward when
//   foldDropout is on, backward always).
// - foldedBatchNorm (inference): Conv2D/Dense + BatchNormalization (+ an Activation) as one op, the statistics
//   folded into the weights.
// - denseLossHead (training): a linear Dense last layer runs its forward, the loss and its backward as one op.
// - activationBelow (training): a Conv2D or Dense layer's activation, or a standalone Activation layer's (the
//   BatchNormalization-relu-conv of a BatchNorm CNN or a ResNet body), is applied by the input gradient of the
//   conv or dense above it, or by a Dropout's backward with its mask (the hidden Dense-Dropout of the seed model),
//   so the layer's own backward starts from dz (an Activation layer's passes it on).
import { KernelnetError } from '../core/errors.js';
import { Activation, BatchNormalization, Conv2D, Dense, Dropout, MaxPooling2D, type Layer } from '../layers/layers.js';
import { NEEDS_INPUT, type BelowAct, type NativeActivation } from '../core/native.js';

/** The fusion switches (all on by default; tests turn each off to compare). */
export interface FusionSwitches {
  fuseConvPool: boolean;
  fuseHead: boolean;
  foldInference: boolean;
  foldDropout: boolean;
  foldBelow: boolean;
}

/** Conv2D/Dense + BatchNormalization (+ Activation) in inference, as one op with folded weights. */
export interface FusedGroup {
  producer: Conv2D | Dense;
  bn: BatchNormalization;
  /** The BatchNormalization's node. */
  bnAt: number;
  /** The group's last node, whose output buffer receives the result. */
  last: number;
  activation: NativeActivation;
  alpha?: number;
}

/** The model's (first) input, as a node's input; input k is inputRef(k), a negative id. */
export const INPUT = -1;

/** Model input k as a node's input. */
export const inputRef = (k: number): number => -1 - k;

/** Which model input a negative node input names (inputRef's inverse). */
export const inputIndex = (ref: number): number => -1 - ref;

/** A node of the graph: a layer and the nodes whose outputs it takes, in order (negative: model inputs, inputRef). */
export interface GraphNode {
  readonly id: number;
  readonly layer: Layer;
  readonly inputs: readonly number[];
}

/** The layers of a model as a directed acyclic graph; node ids index the model's layers and their buffers. */
export class Graph {
  readonly nodes: readonly GraphNode[];
  /** The nodes whose outputs are the model's outputs, in order. */
  readonly outputs: readonly number[];
  /** The nodes in topological order (ties broken by id, so a chain runs in layer order). */
  readonly order: readonly GraphNode[];
  private readonly users: number[][];

  constructor(nodes: GraphNode[], outputs: number | number[]) {
    this.nodes = nodes;
    this.outputs = typeof outputs === 'number' ? [outputs] : outputs;
    this.users = nodes.map(() => []);
    // A node taking one tensor twice (Add of x and x) is its consumer twice: its gradient gets both terms.
    for (const n of nodes) for (const i of n.inputs) if (i >= 0) this.users[i].push(n.id);
    // Kahn's algorithm, always taking the ready node of lowest id.
    const waiting = nodes.map(n => n.inputs.filter(i => i >= 0).length);
    const ready = nodes.filter((_, i) => waiting[i] === 0).map(n => n.id);
    const order: GraphNode[] = [];
    while (ready.length) {
      ready.sort((a, b) => a - b);
      const id = ready.shift()!;
      order.push(nodes[id]);
      for (const u of new Set(this.users[id])) {
        waiting[u] -= this.users[id].filter(v => v === u).length;
        if (waiting[u] === 0) ready.push(u);
      }
    }
    if (order.length !== nodes.length) throw new KernelnetError('the layer graph has a cycle', 'ERR_KERNELNET_INTERNAL'); // models build DAGs
    this.order = order;
  }

  /** A chain: each layer takes the previous one's output (a Sequential model). */
  static chain(layers: readonly Layer[]): Graph {
    return new Graph(
      layers.map((layer, id) => ({ id, layer, inputs: [id === 0 ? INPUT : id - 1] })),
      layers.length - 1,
    );
  }

  /** The nodes that take node id's output. */
  consumers(id: number): readonly number[] {
    return this.users[id];
  }

  /** The node whose output is the model's only output (the single-output rules' head). */
  get output(): number {
    return this.outputs[0];
  }

  /**
   * Node id's one input, when it has one and that node feeds node id alone (a single-consumer edge, and not a
   * model output, whose value the loss reads too); else null.
   */
  soleInput(id: number): GraphNode | null {
    const { inputs } = this.nodes[id];
    if (inputs.length !== 1 || inputs[0] < 0 || this.users[inputs[0]].length !== 1 || this.outputs.includes(inputs[0])) return null;
    return this.nodes[inputs[0]];
  }

  /** The one node that takes node id's output, when exactly one does and takes nothing else, and id is no model output; else null. */
  soleConsumer(id: number): GraphNode | null {
    const users = this.users[id];
    return users.length === 1 && this.nodes[users[0]].inputs.length === 1 && !this.outputs.includes(id) ? this.nodes[users[0]] : null;
  }

  /** Whether several nodes (or one node twice) read node id's output, or the loss reads it besides a node: its gradient is a sum. */
  fansOut(id: number): boolean {
    return this.users[id].length + (this.outputs.includes(id) ? 1 : 0) > 1;
  }
}

/** One forward op of the plan; `at` is its first node, `out` the node whose output it produces. */
export type ForwardOp =
  | { op: 'layer'; at: number; out: number }
  | { op: 'convPool'; at: number; pool: number; /** the Dropout run in the same op, or null */ dropout: number | null; out: number }
  | { op: 'foldedBatchNorm'; at: number; group: FusedGroup; out: number };

/** One backward op of the plan, from the top; `below` is the activation of the node under it that it applies. */
export type BackwardOp =
  | { op: 'layer'; at: number; out: number; below?: BelowAct }
  | { op: 'convPool'; at: number; pool: number; dropout: number | null; out: number; below?: BelowAct };

/** A training step's plan: the forward ops, whether the head is fused with the loss, and the backward ops. */
export interface StepPlan {
  /** denseLossHead: the output node's forward, loss and backward as one op. */
  fusedHead: boolean;
  forward: ForwardOp[];
  backward: BackwardOp[];
  /** Whether node id's backward runs: it has weights that train, or some node it depends on does. */
  needsBackward: (id: number) => boolean;
}

/**
 * Rule foldedBatchNorm, where inference runs layers as one op: a Conv2D or Dense without activation, the
 * BatchNormalization after it and, if one follows, an Activation (or LeakyReLU) whose function the epilogue has
 * (not softmax, swish or gelu, and not a head the loss applies). With the moving statistics BatchNormalization is
 * an affine map per channel, so the GEMM runs with folded weights and bias (batchnorm.h) and the activation in its
 * epilogue: one op instead of three, and two passes over the activations fewer. Training (batch statistics) runs
 * the layers one by one. Keyed by the Conv2D/Dense node.
 */
export function foldedInference(graph: Graph): Map<number, FusedGroup> {
  const groups = new Map<number, FusedGroup>();
  for (const bnNode of graph.order) {
    const bn = bnNode.layer,
      producerNode = graph.soleInput(bnNode.id);
    const producer = producerNode?.layer;
    if (!(bn instanceof BatchNormalization) || !(producer instanceof Conv2D || producer instanceof Dense) || producer.activation !== 'linear')
      continue;
    const actNode = graph.soleConsumer(bnNode.id),
      act = actNode?.layer;
    const fusesAct = act instanceof Activation && !act.passes() && !NEEDS_INPUT.includes(act.activation as NativeActivation);
    groups.set(producerNode!.id, {
      producer,
      bn,
      bnAt: bnNode.id,
      last: fusesAct ? actNode!.id : bnNode.id,
      activation: fusesAct ? (act.activation as NativeActivation) : 'linear',
      alpha: fusesAct ? act.nativeAlpha : undefined,
    });
  }
  return groups;
}

/**
 * Rule convPool: where a Conv2D's output goes only into a MaxPooling2D whose windows do not overlap (strides
 * equal to the window, Keras's default), the two run as one op, native.conv2dPoolForward/Backward, in training
 * and inference alike. The conv's output is never stored: the pool reads it from cache, and backward builds the
 * conv's dz straight from the pooled gradient at each window's argmax and sums over those entries alone (a
 * quarter of the multiply-adds at 2x2): the layers' forward pass bit for bit, their gradients up to float32
 * rounding. Not for an activation whose derivative needs its input (swish, gelu). Conv2D node -> MaxPooling2D node.
 */
export function convPoolPairs(graph: Graph): Map<number, number> {
  const pairs = new Map<number, number>();
  for (const poolNode of graph.order) {
    const pool = poolNode.layer,
      convNode = graph.soleInput(poolNode.id),
      conv = convNode?.layer;
    if (
      pool instanceof MaxPooling2D &&
      pool.strides[0] === pool.poolSize[0] &&
      pool.strides[1] === pool.poolSize[1] &&
      conv instanceof Conv2D &&
      !NEEDS_INPUT.includes(conv.epilogueActivation)
    )
      pairs.set(convNode!.id, poolNode.id);
  }
  return pairs;
}

const isDropout = (l: Layer | undefined): l is Dropout => l instanceof Dropout && l.rate > 0;

/**
 * The forward ops, in topological order: in training (where every node's input is kept for backward) without
 * foldedBatchNorm, which is an inference rule; `skip`, a node the caller runs itself (the fused head).
 */
export function forwardPlan(graph: Graph, training: boolean, sw: FusionSwitches, skip?: number): ForwardOp[] {
  const folded = !training && sw.foldInference ? foldedInference(graph) : null;
  const pooled = sw.fuseConvPool ? convPoolPairs(graph) : null;
  const done = new Set<number>(skip === undefined ? [] : [skip]);
  const ops: ForwardOp[] = [];
  for (const { id } of graph.order) {
    if (done.has(id)) continue;
    const group = folded?.get(id),
      pool = pooled?.get(id);
    if (group) {
      ops.push({ op: 'foldedBatchNorm', at: id, group, out: group.last });
      done.add(group.bnAt).add(group.last);
    } else if (pool !== undefined) {
      const drop = graph.soleConsumer(pool);
      const dropout = training && sw.foldDropout && drop && drop.id !== skip && isDropout(drop.layer) ? drop.id : null;
      ops.push({ op: 'convPool', at: id, pool, dropout, out: dropout ?? pool });
      done.add(pool);
      if (dropout !== null) done.add(dropout);
    } else {
      ops.push({ op: 'layer', at: id, out: id });
    }
  }
  return ops;
}

/** A training step's plan. `trains(id)`: whether node id has weights that train. */
export function stepPlan(graph: Graph, trains: (id: number) => boolean, sw: FusionSwitches): StepPlan {
  // A node's backward runs when it, or a node it depends on, has weights that train: before them there is
  // nothing to learn.
  const needs = new Map<number, boolean>();
  for (const n of graph.order) needs.set(n.id, trains(n.id) || n.inputs.some(i => i >= 0 && needs.get(i)!));
  const needsBackward = (id: number) => id >= 0 && needs.get(id)!;
  const out = graph.nodes[graph.output];
  // Rule denseLossHead: a linear Dense head (logits for the loss, or outputs with no activation) runs its forward,
  // the loss and its backward as one op: the same results, one GPU kernel for a small head.
  const fusedHead =
    sw.fuseHead && graph.outputs.length === 1 && !graph.fansOut(out.id) && out.layer instanceof Dense && out.layer.linear && needsBackward(out.id);
  const pooled = sw.fuseConvPool ? convPoolPairs(graph) : null;
  const pairedPools = new Map([...(pooled ?? [])].map(([conv, pool]) => [pool, conv]));
  // Rule activationBelow: the activation of the node under an op (its single input, along a single-consumer
  // edge), when the op can apply it to its input gradient (its epilogue on a GPU): that node's backward then
  // starts from dz, and no pass of its own reads its output.
  const below = (id: number): BelowAct | undefined => {
    const under = graph.soleInput(id),
      l = under?.layer;
    if (!sw.foldBelow || !under || !needsBackward(under.id) || pooled?.has(under.id)) return undefined;
    if (l instanceof Activation) {
      const act = l.activation as NativeActivation;
      return l.passes() || NEEDS_INPUT.includes(act)
        ? undefined
        : { activation: act, ...(l.nativeAlpha === undefined ? {} : { alpha: l.nativeAlpha }) };
    }
    if (!(l instanceof Conv2D || l instanceof Dense)) return undefined;
    const act = l.epilogueActivation;
    return act === 'linear' || NEEDS_INPUT.includes(act) ? undefined : { activation: act };
  };
  const backward: BackwardOp[] = [];
  const done = new Set<number>(fusedHead ? [out.id] : []);
  for (const { id, layer } of [...graph.order].reverse()) {
    if (done.has(id) || !needsBackward(id)) continue;
    const under = graph.soleInput(id);
    if (isDropout(layer) && under && pairedPools.has(under.id)) {
      // A Dropout after a fused pair: its backward folded into the pair's (the same mask, one pass on a GPU).
      const conv = pairedPools.get(under.id)!;
      backward.push({ op: 'convPool', at: conv, pool: under.id, dropout: id, out: id, below: below(conv) });
      done.add(under.id).add(conv);
    } else if (pairedPools.has(id)) {
      // the MaxPooling2D of a fused pair: both layers at once
      const conv = pairedPools.get(id)!;
      backward.push({ op: 'convPool', at: conv, pool: id, dropout: null, out: id, below: below(conv) });
      done.add(conv);
    } else {
      // (a Dropout applies it with its mask: dropoutBackward's below, one pass over the gradient instead of two)
      const applies = layer instanceof Conv2D || layer instanceof Dense || isDropout(layer);
      backward.push({ op: 'layer', at: id, out: id, below: applies ? below(id) : undefined });
    }
  }
  return { fusedHead, forward: forwardPlan(graph, true, sw, fusedHead ? out.id : undefined), backward, needsBackward };
}

/**
 * What each node's buffers hold under the plan: a fused pair's conv stores no output (the pool reads it from
 * cache), and its pool no input gradient (the conv's dz is built from the pooled gradient inside the op).
 */
export function bufferNeeds(graph: Graph, training: boolean, sw: FusionSwitches): { output: boolean; inputGrad: boolean }[] {
  const pooled = sw.fuseConvPool ? convPoolPairs(graph) : new Map<number, number>();
  const pools = new Set(pooled.values());
  return graph.nodes.map(n => ({ output: !pooled.has(n.id), inputGrad: training && n.inputs.some(i => i >= 0) && !pools.has(n.id) }));
}
