// A Keras-style progress bar:
//   Epoch 3/12
//   469/469 [==============================] - 2s 4ms/step - loss: 0.0312 - accuracy: 0.9901 - val_loss: ...
// redrawn in place on a TTY (at most every 50 ms), one line per epoch otherwise.
/** Where fit's progress bar goes (fit's `out`): process.stdout, or any object with a write() method. */
export interface ProgressStream {
  /** True for a terminal: the bar is then redrawn in place; otherwise one line per epoch. */
  isTTY?: boolean;
  /** The terminal's width in characters, as process.stdout has it (the bar does not read it yet). */
  columns?: number;
  /** Writes a piece of the progress text. */
  write(s: string): unknown;
}

export function formatLogs(logs: Record<string, number>): string {
  return Object.entries(logs)
    .map(([k, v]) => ` - ${k}: ${v.toFixed(4)}`)
    .join('');
}

function formatDuration(seconds: number): string {
  if (seconds >= 3600)
    return `${Math.floor(seconds / 3600)}:${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}:${String(Math.floor(seconds) % 60).padStart(2, '0')}`;
  if (seconds >= 60) return `${Math.floor(seconds / 60)}:${String(Math.floor(seconds) % 60).padStart(2, '0')}`;
  return `${Math.round(seconds)}s`;
}

function perStep(seconds: number): string {
  if (seconds >= 1) return `${seconds.toFixed(0)}s/step`;
  if (seconds >= 1e-3) return `${Math.round(seconds * 1e3)}ms/step`;
  return `${Math.round(seconds * 1e6)}us/step`;
}

export class ProgressBar {
  private readonly start = performance.now();
  private lastDraw = 0;
  private readonly width = 30;

  /** total 0: unknown (a dataset whose length is counted in its first pass), shown as Keras does, `12/Unknown`. */
  constructor(
    private readonly total: number,
    private readonly out: ProgressStream,
  ) {}

  /** True when update() would redraw now (so the caller reads metrics only then). */
  wantsUpdate(step: number): boolean {
    return this.out.isTTY === true && (step === this.total || performance.now() - this.lastDraw >= 50);
  }

  update(step: number, logs: Record<string, number>): void {
    this.lastDraw = performance.now();
    const elapsed = (this.lastDraw - this.start) / 1e3;
    if (!this.total) {
      this.out.write(`\r${step}/Unknown - ${formatDuration(elapsed)} ${perStep(elapsed / step)}${formatLogs(logs)}\x1b[K`);
      return;
    }
    const digits = String(this.total).length;
    const done = step >= this.total ? this.width : Math.floor((this.width * step) / this.total);
    const bar =
      done >= this.width ? '='.repeat(this.width) : '='.repeat(Math.max(done - 1, 0)) + (done > 0 ? '>' : '') + '.'.repeat(this.width - done);
    const eta = step < this.total ? ` - ETA: ${formatDuration((elapsed / step) * (this.total - step))}` : '';
    this.out.write(`\r${String(step).padStart(digits)}/${this.total} [${bar}]${eta}${formatLogs(logs)}\x1b[K`);
  }

  /** The closing line of an epoch, with the validation metrics. */
  finish(logs: Record<string, number>, steps = this.total): void {
    const elapsed = (performance.now() - this.start) / 1e3;
    const line = `${steps}/${steps} [${'='.repeat(this.width)}] - ${formatDuration(elapsed)} ${perStep(elapsed / steps)}${formatLogs(logs)}`;
    this.out.write(this.out.isTTY ? `\r${line}\x1b[K\n` : `${line}\n`);
  }
}
