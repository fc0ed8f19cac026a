// TrainingReport (lib/callbacks/report.ts): the HTML file is rewritten after every epoch (refreshing itself while training
// runs), and when training ends it holds the curves, a confusion matrix that counts every validation example and
// the misclassified images. Then a real browser (Debian's chromium, driven by puppeteer-core) opens it: the
// charts, the matrix and the images render, with no console error. Without chromium the browser test says
// `skipped` (CI installs it).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Conv2D, Dense, Flatten, MaxPooling2D, Sequential, TrainingReport, dispose, loadMnist, toCategorical } from '../lib/index.js';

const R = suite('training report');
const dir = mkdtempSync(join(tmpdir(), 'kernelnet-report-'));
R.after(() => rmSync(dir, { recursive: true, force: true }));
const path = join(dir, 'report.html');

/** A small convnet on 1,000 MNIST images, 3 epochs, reported. Returns what the file held after each epoch. */
async function trainReported(): Promise<string[]> {
  const { train, test } = loadMnist(undefined, { trainLimit: 1000, testLimit: 300 });
  const yTrain = toCategorical(train.labels, 10),
    yTest = toCategorical(test.labels, 10);
  const m = new Sequential({
    seed: 8,
    layers: [
      new Conv2D({ filters: 6, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }),
      new MaxPooling2D({ poolSize: 2 }),
      new Flatten(),
      new Dense({ units: 10, activation: 'softmax' }),
    ],
  });
  m.compile({ loss: 'categoricalCrossentropy', optimizer: 'adam', metrics: ['accuracy'] });
  const seen: string[] = [];
  await m.fit(train.images, yTrain, {
    epochs: 3,
    batchSize: 50,
    verbose: 0,
    validationData: [test.images, yTest],
    callbacks: [
      new TrainingReport({
        path,
        validationData: [test.images, test.labels],
        classNames: [...'0123456789'].map(d => `digit ${d}`),
        maxMisclassified: 12,
      }),
      {
        onEpochEnd: () => {
          seen.push(readFileSync(path, 'utf8'));
        },
      },
    ],
  });
  dispose([train.images, train.labels, test.images, test.labels, yTrain, yTest]);
  m.dispose();
  return seen;
}

R(
  'the report is rewritten each epoch, and when training ends holds the curves, the whole confusion matrix and the misclassified images',
  async () => {
    const seen = await trainReported();
    assert.is(seen.length, 3);
    seen.forEach((html, e) => {
      assert.match(html, /<meta http-equiv="refresh" content="5">/, 'refreshes itself while training');
      assert.ok(html.includes(`training: epoch ${e + 1}/3 done`), `epoch ${e + 1}`);
    });
    const html = readFileSync(path, 'utf8');
    assert.not.match(html, /http-equiv="refresh"/, 'no reload once training ended');
    assert.match(html, /finished after 3 epochs/);
    for (const t of ['loss', 'accuracy', 'loss per batch', 'learning rate', 'seconds per epoch']) assert.ok(html.includes(`aria-label="${t}"`), t);
    const matrix = html.match(/<table class="matrix">([\s\S]*?)<\/table>/)![1];
    const cells = [...matrix.matchAll(/<td[^>]*>(\d+)<\/td>/g)].map(c => Number(c[1]));
    assert.is(cells.length, 100);
    assert.is(
      cells.reduce((a, b) => a + b, 0),
      300,
      'every validation example counted once',
    );
    const wrong = 300 - [...Array(10)].reduce((s, _, i) => s + cells[i * 11], 0);
    assert.ok(html.includes(`${Math.min(12, wrong)} of ${wrong} shown`), `${wrong} misclassified`);
    assert.is([...html.matchAll(/<canvas class="img"/g)].length, Math.min(12, wrong));
    assert.match(html, /predicted <b>digit \d<\/b>, true <b>digit \d<\/b>/);
    assert.not.match(html, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'nothing fetched from the network');
  },
);

const chromium = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(p => existsSync(p));
if (!chromium) {
  console.log('  skipped: no chromium (apt-get install chromium, or set CHROMIUM_PATH) for the browser test of the report');
  R.skip('the report renders in headless Chromium (skipped: no chromium)', () => {});
} else {
  R('the report renders in headless Chromium: charts, matrix and images drawn, no console errors', async () => {
    if (!existsSync(path)) await trainReported();
    const { default: puppeteer } = await import('puppeteer-core');
    // As root (CI) Chromium needs --no-sandbox.
    const browser = await puppeteer.launch({
      executablePath: chromium,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', msg => {
        if (msg.type() === 'error') errors.push(msg.text());
      });
      page.on('pageerror', err => errors.push(String(err)));
      page.on('requestfailed', req => errors.push(`request failed: ${req.url()}`));
      await page.setViewport({ width: 1000, height: 800 });
      await page.goto(pathToFileURL(path).href, { waitUntil: 'load' });
      const seen = await page.evaluate(() => ({
        charts: [...document.querySelectorAll('svg.chart')].map(s => {
          const r = s.getBoundingClientRect();
          return [r.width, r.height, s.querySelectorAll('polyline').length];
        }),
        cells: [...document.querySelectorAll('table.matrix td')].map(td => td.getBoundingClientRect().width),
        images: [...document.querySelectorAll<HTMLCanvasElement>('canvas.img')].map(c => {
          const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
          let lit = 0;
          for (let i = 0; i < d.length; i += 4) if (d[i] > 0) lit++;
          return [c.getBoundingClientRect().width, lit];
        }),
      }));
      assert.is(seen.charts.length, 5);
      assert.ok(
        seen.charts.every(([w, h, lines]) => w > 100 && h > 100 && lines >= 1),
        JSON.stringify(seen.charts),
      );
      assert.ok(seen.cells.length === 100 && seen.cells.every(w => w > 10), 'the matrix laid out');
      assert.ok(seen.images.length > 0 && seen.images.every(([w, lit]) => w > 50 && lit > 20), `drawn digits: ${JSON.stringify(seen.images)}`);
      const shot = await page.screenshot({ fullPage: true });
      assert.ok(shot.length > 20_000, `a screenshot of ${shot.length} bytes`);
      assert.equal(errors, [], 'no console errors');
    } finally {
      await browser.close();
    }
  });
}

R.run();
