// TrainingReport: a fit callback that writes one self-contained HTML file about the run, rewritten atomically
// (a temporary file renamed over it) after every epoch and refreshing itself in the browser while training
// runs: the loss and each metric per epoch (training and validation) and per batch, the learning rate, the time
// per epoch, the model, backend and device; when training ends, a confusion matrix and a grid of misclassified
// validation images with their predicted and true classes. Charts are plain inline SVG drawn here; the images
// are embedded as bytes and drawn on canvases by a few lines of inline script: the file needs no network.
import { renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { KerasCallback } from './callbacks.js';
import { disposeBatch, isDataset, type Dataset } from '../data/data.js';
import { ValidationError } from '../core/errors.js';
import { native } from '../core/native.js';
import { Tensor, handleOf } from '../core/tensor.js';
import type { Logs } from '../engine/training.js';
import { checkOptions, fail, positiveInt } from '../core/validate.js';

/** TrainingReport's options. */
export interface TrainingReportArgs {
  /** Where the HTML file goes. */
  path: string;
  /**
   * The data of the confusion matrix and the misclassified grid, evaluated when training ends ([x, y] or a
   * Dataset; labels one-hot or class indices). Without it the report has the curves only.
   */
  validationData?: [Tensor, Tensor] | Dataset;
  /** Names of the classes, in label order (default: their indices). */
  classNames?: string[];
  /** Record the batch loss every N batches (default 1; on a GPU each record reads the device). */
  batchEvery?: number;
  /** Misclassified images shown, at most (default 32). */
  maxMisclassified?: number;
  /** Seconds between the page's reloads while training runs (default 5). */
  refreshSeconds?: number;
  /** The page's title (default 'Training <model name>'). */
  title?: string;
}

interface EpochRecord {
  epoch: number;
  logs: Logs;
  seconds: number;
}

interface Final {
  matrix: number[][];
  samples: number;
  wrong: { pixels: string; h: number; w: number; c: number; predicted: number; actual: number }[];
  wrongTotal: number;
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

const escape = (s: string) => s.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);

/** Round numbers for axis ticks: about `count` of them spanning [lo, hi]. */
function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count,
    mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

interface Series {
  name: string;
  points: [number, number][];
  dashed?: boolean;
  thin?: boolean;
}

/** A line chart as inline SVG: axes with round ticks, one polyline per series, a legend. */
function lineChart(title: string, xLabel: string, series: Series[]): string {
  const W = 440,
    H = 250,
    L = 56,
    R = 12,
    T = 28,
    B = 40;
  const all = series.flatMap(s => s.points).filter(([, y]) => Number.isFinite(y));
  if (!all.length) return '';
  let [x0, x1] = [Math.min(...all.map(p => p[0])), Math.max(...all.map(p => p[0]))];
  let [y0, y1] = [Math.min(...all.map(p => p[1])), Math.max(...all.map(p => p[1]))];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = [y0 - Math.abs(y0 || 1) * 0.1, y1 + Math.abs(y1 || 1) * 0.1];
  const sx = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R),
    sy = (y: number) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const fmt = (v: number) => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(4))));
  const parts = [
    `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escape(title)}">`,
    `<text x="${W / 2}" y="16" text-anchor="middle" class="title">${escape(title)}</text>`,
    `<text x="${W / 2}" y="${H - 6}" text-anchor="middle" class="axis">${escape(xLabel)}</text>`,
  ];
  for (const t of ticks(y0, y1))
    parts.push(
      `<line x1="${L}" x2="${W - R}" y1="${sy(t)}" y2="${sy(t)}" class="grid"/><text x="${L - 6}" y="${sy(t) + 4}" text-anchor="end" class="axis">${fmt(t)}</text>`,
    );
  for (const t of ticks(x0, x1, 6)) parts.push(`<text x="${sx(t)}" y="${H - B + 16}" text-anchor="middle" class="axis">${fmt(t)}</text>`);
  parts.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" class="frame"/>`);
  series.forEach((s, i) => {
    const pts = s.points
      .filter(([, y]) => Number.isFinite(y))
      .map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
      .join(' ');
    const style = `stroke="${COLORS[i % COLORS.length]}" stroke-width="${s.thin ? 1 : 2}"${s.dashed ? ' stroke-dasharray="5 3"' : ''}${s.thin ? ' stroke-opacity="0.45"' : ''}`;
    parts.push(`<polyline fill="none" ${style} points="${pts}"/>`);
    if (s.points.length === 1) parts.push(`<circle cx="${pts.split(',')[0]}" cy="${pts.split(',')[1]}" r="3" fill="${COLORS[i % COLORS.length]}"/>`);
    parts.push(
      `<line x1="${L + 8 + i * 110}" x2="${L + 26 + i * 110}" y1="${T + 10}" y2="${T + 10}" ${style}/><text x="${L + 30 + i * 110}" y="${T + 14}" class="legend">${escape(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

/**
 * Keras-style callback writing the report. Pass it in fit's callbacks: `callbacks: [new TrainingReport({ path:
 * 'report.html', validationData: [xTest, yTest] })]`.
 */
export class TrainingReport extends KerasCallback {
  /** Where the HTML file goes. */
  readonly path: string;
  private readonly args: TrainingReportArgs;
  private readonly batchEvery: number;
  private readonly epochs: EpochRecord[] = [];
  /** [epochs finished before, batch within the epoch, loss]. */
  private readonly batches: [number, number, number][] = [];
  private epochStart = 0;
  private running = false;
  private final: Final | null = null;
  private startedAt = '';

  constructor(args: TrainingReportArgs) {
    super();
    checkOptions(args, {
      what: 'TrainingReport args',
      supported: ['path', 'validationData', 'classNames', 'batchEvery', 'maxMisclassified', 'refreshSeconds', 'title'],
    });
    if (typeof args?.path !== 'string' || !args.path) fail('a file path', 'path', args?.path);
    const v = args.validationData;
    if (v !== undefined && !isDataset(v) && !(Array.isArray(v) && v.length === 2 && v.every(t => t instanceof Tensor)))
      fail('[x, y] tensors or a Dataset', 'validationData', v);
    if (args.classNames !== undefined && (!Array.isArray(args.classNames) || args.classNames.some(c => typeof c !== 'string')))
      fail('an array of strings', 'classNames', args.classNames);
    this.args = args;
    this.path = args.path;
    this.batchEvery = positiveInt(args.batchEvery ?? 1, 'batchEvery');
    positiveInt(args.maxMisclassified ?? 32, 'maxMisclassified');
    positiveInt(args.refreshSeconds ?? 5, 'refreshSeconds');
  }

  /** Writes the first page, which refreshes itself while training runs. */
  onTrainBegin(): void {
    this.running = true;
    this.final = null;
    this.startedAt = new Date().toISOString().replace('T', ' ').slice(0, 19);
    this.write();
  }

  /** Starts the epoch's clock. */
  onEpochBegin(): void {
    this.epochStart = performance.now();
  }

  /** Whether fit should pass this batch's logs: every batchEvery-th batch. */
  wantsBatchLogs(batch: number): boolean {
    return batch % this.batchEvery === 0;
  }

  /** Records the batch's loss. */
  onBatchEnd(batch: number, logs: Logs): void {
    this.batches.push([this.epochs.length, batch, logs.loss]);
  }

  /** Records the epoch's logs and time, and rewrites the page. */
  onEpochEnd(epoch: number, logs: Logs): void {
    this.epochs.push({ epoch: epoch + 1, logs: { ...logs }, seconds: (performance.now() - this.epochStart) / 1e3 });
    this.write();
  }

  /** Evaluates validationData, if given, for the confusion matrix and misclassified grid, and writes the final page. */
  async onTrainEnd(): Promise<void> {
    this.running = false;
    if (this.args.validationData) this.final = await this.evaluate(this.args.validationData);
    this.write();
  }

  /** Predictions on the validation data: the confusion matrix, and the first misclassified images. */
  private async evaluate(data: [Tensor, Tensor] | Dataset): Promise<Final> {
    const model = this.fitModel,
      k = model.outputShape[0] === 1 ? 2 : model.outputShape[0];
    const matrix = Array.from({ length: k }, () => new Array<number>(k).fill(0));
    const wrong: Final['wrong'] = [],
      max = this.args.maxMisclassified ?? 32;
    let samples = 0,
      wrongTotal = 0;
    const take = (x: Tensor, y: Tensor) => {
      const X = handleOf(x, 'validationData x'),
        Y = handleOf(y, 'validationData y');
      const n = X.shape[0];
      const p = model.predict(x, { batchSize: 256 });
      try {
        const classes = (t: Tensor | typeof Y) => {
          const h = t instanceof Tensor ? handleOf(t, 'tensor') : t;
          if (h.dtype === 'int32') return Int32Array.from(h.read()); // class indices, [N] or [N, 1]
          if (h.shape.length === 1 || h.shape[1] === 1)
            // a sigmoid column, or class indices as floats (as Keras takes them)
            return Int32Array.from(h.read(), v => (model.outputShape[0] === 1 ? (v > 0.5 ? 1 : 0) : v));
          const out = new native.Tensor([h.shape[0]], 'int32', undefined, h.device);
          try {
            native.argMax(h, 1, out);
            return out.read() as Int32Array;
          } finally {
            out.dispose();
          }
        };
        const predicted = classes(p),
          actual = classes(Y);
        const [h, w, c] = X.shape.length === 4 ? X.shape.slice(1) : [1, X.shape.slice(1).reduce((a, b) => a * b, 1), 1];
        const frame = h * w * c;
        let pixels: Float32Array | null = null;
        for (let i = 0; i < n; ++i) {
          if (!(actual[i] >= 0 && actual[i] < k))
            throw new ValidationError(`TrainingReport: validation label ${actual[i]} (example ${samples + i}) is not a class of the model's ${k}`);
          matrix[actual[i]][predicted[i]]++;
          if (predicted[i] === actual[i]) continue;
          wrongTotal++;
          if (wrong.length >= max || (c !== 1 && c !== 3 && c !== 4)) continue;
          pixels ??= X.read() as Float32Array;
          const img = pixels.subarray(i * frame, (i + 1) * frame);
          let hi = 0;
          for (const v of img) hi = Math.max(hi, v);
          const scale = hi > 1.5 ? 1 : 255; // 0-255 pixels, or 0-1
          const bytes = Buffer.from(Uint8Array.from(img, v => Math.max(0, Math.min(255, Math.round(v * scale)))));
          wrong.push({ pixels: bytes.toString('base64'), h, w, c, predicted: predicted[i], actual: actual[i] });
        }
        samples += n;
      } finally {
        p.dispose();
      }
    };
    if (isDataset(data)) {
      for await (const b of data.pass(model.device)) {
        try {
          if (!b.ys) throw new ValidationError('TrainingReport: the validation dataset has no targets (ys)');
          if (!(b.xs instanceof Tensor) || !(b.ys instanceof Tensor))
            throw new ValidationError(
              'TrainingReport: the report shows one image input and one output; this dataset has several',
              'ERR_KERNELNET_UNSUPPORTED',
            );
          take(b.xs, b.ys);
        } finally {
          disposeBatch(b);
        }
      }
    } else {
      take(data[0], data[1]);
    }
    return { matrix, samples, wrong, wrongTotal };
  }

  /** The page, written to a temporary file beside the report and renamed over it (readers never see half). */
  private write(): void {
    const tmp = join(dirname(this.path), `.${basename(this.path)}.${process.pid}.tmp`);
    writeFileSync(tmp, this.html());
    renameSync(tmp, this.path);
  }

  private html(): string {
    const model = this.model,
      backend = native.backend();
    const title = this.args.title ?? `Training ${model?.name ?? ''}`;
    const names = (i: number) => this.args.classNames?.[i] ?? String(i);
    const keys = [...new Set(this.epochs.flatMap(e => Object.keys(e.logs)))];
    const metrics = keys.filter(key => key !== 'lr' && !key.startsWith('val_'));
    const charts: string[] = [];
    for (const m of metrics) {
      const series: Series[] = [{ name: m, points: this.epochs.map(e => [e.epoch, e.logs[m]]) }];
      if (keys.includes(`val_${m}`))
        series.push({
          name: `val_${m}`,
          points: this.epochs.filter(e => `val_${m}` in e.logs).map(e => [e.epoch, e.logs[`val_${m}`]]),
          dashed: true,
        });
      charts.push(lineChart(m, 'epoch', series));
    }
    // x: epochs as a fraction (steps per epoch from fit, or counted for a dataset of unknown length).
    const steps = this.params?.steps || Math.max(1, ...this.batches.map(([, b]) => b + 1));
    if (this.batches.length > 1)
      charts.push(
        lineChart('loss per batch', 'epoch', [
          { name: 'batch loss', points: this.batches.map(([e, b, l]) => [e + (b + 1) / steps, l]), thin: true },
          { name: 'epoch mean', points: this.epochs.map(e => [e.epoch, e.logs.loss]) },
        ]),
      );
    if (keys.includes('lr')) charts.push(lineChart('learning rate', 'epoch', [{ name: 'lr', points: this.epochs.map(e => [e.epoch, e.logs.lr]) }]));
    if (this.epochs.length)
      charts.push(lineChart('seconds per epoch', 'epoch', [{ name: 'time', points: this.epochs.map(e => [e.epoch, e.seconds]) }]));
    const last = this.epochs.at(-1);
    const status = this.running
      ? `training: epoch ${this.epochs.length}/${this.params?.epochs ?? '?'} done`
      : `finished after ${this.epochs.length} epochs`;
    const table = last
      ? `<table class="logs"><tr>${Object.keys(last.logs)
          .map(k => `<th>${escape(k)}</th>`)
          .join('')}</tr>` +
        `<tr>${Object.values(last.logs)
          .map(v => `<td>${Number(v.toPrecision(5))}</td>`)
          .join('')}</tr></table>`
      : '';
    let final = '';
    if (this.final) {
      const f = this.final,
        k = f.matrix.length,
        peak = Math.max(1, ...f.matrix.flat());
      const rows = f.matrix
        .map(
          (row, i) =>
            `<tr><th>${escape(names(i))}</th>${row
              .map((v, j) => `<td class="${i === j ? 'diag' : v ? 'off' : ''}" style="--a:${(v / peak).toFixed(3)}">${v}</td>`)
              .join('')}</tr>`,
        )
        .join('');
      const correct = f.matrix.reduce((s, row, i) => s + row[i], 0);
      final = `<h2>Confusion matrix <span class="note">${f.samples} validation examples, ${((100 * correct) / f.samples).toFixed(2)}% correct; rows: true class, columns: predicted</span></h2>
<table class="matrix"><tr><th></th>${Array.from({ length: k }, (_, j) => `<th>${escape(names(j))}</th>`).join('')}</tr>${rows}</table>
<h2>Misclassified <span class="note">${f.wrong.length} of ${f.wrongTotal} shown</span></h2>
<div class="grid">${f.wrong
        .map(
          w =>
            `<figure><canvas class="img" width="${w.w}" height="${w.h}" data-c="${w.c}" data-px="${w.pixels}"></canvas>` +
            `<figcaption>predicted <b>${escape(names(w.predicted))}</b>, true <b>${escape(names(w.actual))}</b></figcaption></figure>`,
        )
        .join('')}</div>`;
    } else if (!this.running) {
      final = `<p class="note">${this.args.validationData ? 'No validation results.' : 'Pass validationData to TrainingReport for a confusion matrix and the misclassified images.'}</p>`;
    }
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
${this.running ? `<meta http-equiv="refresh" content="${this.args.refreshSeconds ?? 5}">` : ''}
<title>${escape(title)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:20px;color:#222;max-width:1400px}h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.note{color:#666;font-weight:normal;font-size:13px}.charts{display:flex;flex-wrap:wrap;gap:12px}
.chart{border:1px solid #ddd;background:#fff}.chart .title{font-size:13px;font-weight:600}.chart .axis,.chart .legend{font-size:11px;fill:#444}
.chart .grid{stroke:#eee}.chart .frame{fill:none;stroke:#999}
table{border-collapse:collapse}td,th{padding:3px 7px;text-align:right;border:1px solid #e5e5e5}
.matrix td{min-width:34px;background:rgba(31,119,180,var(--a))}.matrix td.off{background:rgba(214,39,40,calc(0.15 + var(--a)))}
.grid{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0;text-align:center;font-size:12px}
canvas.img{width:84px;height:84px;image-rendering:pixelated;border:1px solid #ccc}
</style></head><body>
<h1>${escape(title)}</h1>
<p class="note">${escape(status)} &middot; started ${this.startedAt} &middot; model ${escape(model?.name ?? '')} (${model?.countParams().toLocaleString('en-US') ?? '?'} parameters) on ${escape(model?.device ?? '')} &middot; backend ${escape(backend.name)}: ${escape(backend.device)}</p>
${table}
<div class="charts">${charts.join('\n')}</div>
${final}
<script>
for (const c of document.querySelectorAll('canvas.img')) {
  const ch = Number(c.dataset.c), px = Uint8Array.from(atob(c.dataset.px), s => s.charCodeAt(0));
  const img = c.getContext('2d').createImageData(c.width, c.height);
  for (let i = 0; i < c.width * c.height; ++i) {
    const g = px[i * ch];
    img.data.set(ch === 1 ? [g, g, g, 255] : [px[i * ch], px[i * ch + 1], px[i * ch + 2], ch === 4 ? px[i * ch + 3] : 255], i * 4);
  }
  c.getContext('2d').putImageData(img, 0, 0);
}
</script>
</body></html>
`;
  }
}
