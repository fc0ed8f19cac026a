// Checkpoint files in the safetensors format (https://huggingface.co/docs/safetensors), readable by PyTorch
// (`safetensors.torch.load_file`) and other tools:
//   8 bytes: little-endian u64 N;  N bytes: JSON header;  then the tensors' raw little-endian data.
// The header maps each tensor name to { dtype: "F32", shape, data_offsets: [begin, end] } (offsets into the
// data section) and holds string metadata under "__metadata__": kernelnet's format name and version, the
// model's architecture, training state, and a SHA-256 of the data section, checked on every read.
// Writes are atomic: a temporary file in the same folder, fsync, rename over the target, fsync of the folder;
// a crash at any point leaves the previous file intact.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CheckpointError } from './errors.js';
import { fail } from './validate.js';

export const FORMAT = 'kernelnet';
export const FORMAT_VERSION = '1';
const MAX_HEADER = 100 << 20;

export { CheckpointError };

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

function checkPath(path: unknown): string {
  if (typeof path !== 'string' || path.length === 0)
    fail('a file path', 'path', path);
  return path;
}

/** Writes tensors and metadata to `path` atomically; file system errors become a CheckpointError. */
export function writeCheckpoint(path: string, tensors: NamedTensor[], metadata: Record<string, string>): void {
  checkPath(path);
  const header: Record<string, unknown> = {};
  let offset = 0;
  const hash = createHash('sha256');
  for (const t of tensors) {
    const bytes = t.data.byteLength;
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, bytes));
    offset += bytes;
  }
  header.__metadata__ = { ...metadata, format: FORMAT, format_version: FORMAT_VERSION, sha256: hash.digest('hex') };
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // align the data section to 8 bytes
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  head.write(json, 8);

  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd = -1;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    writeSync(fd, head);
    for (const t of tensors) writeSync(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    rmSync(tmp, { force: true });
    throw new CheckpointError(path, `cannot write: ${(err as Error).message}`);
  }
  try {
    const dir = openSync(dirname(path), 'r'); // make the rename itself durable
    fsyncSync(dir);
    closeSync(dir);
  } catch {
    // some file systems cannot fsync a directory; the rename is still atomic
  }
}

/** Reads and fully validates a checkpoint (header, offsets, checksum) before returning anything. */
export function readCheckpoint(path: string): { metadata: Record<string, string>; tensors: Map<string, NamedTensor> } {
  checkPath(path);
  let file: Buffer;
  try {
    file = readFileSync(path);
  } catch (err) {
    throw new CheckpointError(path, `cannot read: ${(err as Error).message}`);
  }
  if (file.length < 8) throw new CheckpointError(path, `truncated: ${file.length} bytes, not even a header size`);
  const n = file.readBigUInt64LE(0);
  if (n > BigInt(Math.min(MAX_HEADER, file.length - 8)))
    throw new CheckpointError(path, `the header claims ${n} bytes but the file has ${file.length - 8} after the size (truncated or not a safetensors file)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(file.subarray(8, 8 + Number(n)).toString('utf8'));
  } catch {
    throw new CheckpointError(path, 'the header is not valid JSON (corrupted or not a safetensors file)');
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new CheckpointError(path, 'the header is not a JSON object');
  const metadata = header.__metadata__ as Record<string, string> | undefined;
  if (!metadata || metadata.format !== FORMAT)
    throw new CheckpointError(path, 'not a kernelnet checkpoint (no "format": "kernelnet" in __metadata__)');
  if (metadata.format_version !== FORMAT_VERSION)
    throw new CheckpointError(path, `format version ${metadata.format_version}; this kernelnet reads version ${FORMAT_VERSION}`);
  const data = file.subarray(8 + Number(n));
  const sha = createHash('sha256').update(data).digest('hex');
  if (sha !== metadata.sha256) throw new CheckpointError(path, 'checksum mismatch: the data is truncated or corrupted');
  const tensors = new Map<string, NamedTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const shape = e.shape, offsets = e.data_offsets;
    if (e.dtype !== 'F32' || !Array.isArray(shape) || !shape.every(d => Number.isInteger(d) && d >= 0) ||
      !Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(o => Number.isInteger(o) && o >= 0))
      throw new CheckpointError(path, `tensor ${name}: expected an F32 entry with a shape and data offsets`);
    const [begin, end] = offsets as number[];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end > data.length || end - begin !== count * 4 || begin % 4)
      throw new CheckpointError(path, `tensor ${name}: offsets [${begin}, ${end}] do not fit its shape [${shape}] or the file`);
    const copy = new Float32Array(count);
    new Uint8Array(copy.buffer).set(data.subarray(begin, end));
    tensors.set(name, { name, shape: shape as number[], data: copy });
  }
  return { metadata, tensors };
}
