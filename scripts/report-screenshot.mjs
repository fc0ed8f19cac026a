// Regenerates docs/report.png, the README's picture of a training report:
//   npm run mnist -- --epochs 3 --train-limit 10000 --test-limit 2000 --seed 1 --report /tmp/report.html
//   node scripts/report-screenshot.mjs /tmp/report.html docs/report.png
// (Debian's chromium, or CHROMIUM_PATH, driven by puppeteer-core.)
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import puppeteer from 'puppeteer-core';
import sharp from 'sharp';

const [html, png] = process.argv.slice(2);
if (!html || !png) {
  console.error('usage: node scripts/report-screenshot.mjs REPORT.html OUT.png');
  process.exit(2);
}
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 980, height: 700, deviceScaleFactor: 1 });
  await page.goto(pathToFileURL(resolve(html)).href, { waitUntil: 'load' });
  const shot = await page.screenshot({ fullPage: true });
  await sharp(shot).png({ palette: true, effort: 10 }).toFile(png); // a small file for the repository
  console.log('wrote', png);
} finally {
  await browser.close();
}
