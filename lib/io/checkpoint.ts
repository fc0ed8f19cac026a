// Checkpoint files in the safetensors format (https://huggingface.co/docs/safetensors), readable by PyTorch
// (`safetensors.torch.load_file`) and other tools:
//   8 bytes: little-endian u64 N;  N bytes: JSON header;  then the tensors' raw little-endian data.
// The header maps each tensor name to { dtype: "F32", shape, data_offsets: [begin, end] } (offsets into the
// data section) and holds string metadata under "__metadata__": kernelnet's format name and version, the
// model's architecture, training state, and a SHA-256 of the data section, checked on every read.
// Writes are atomic: a temporary file in the same folder, fsync, rename over the target, fsync of the folder;
// a crash at any point leaves the previous file intact. A process killed mid-write leaves its temporary file
// behind; the next write to the same path deletes it (removeStaleTemporaries says when that is safe).
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CheckpointError } from '../core/errors.js';
import { fail } from '../core/validate.js';

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
  if (typeof path !== 'string' || path.length === 0) fail('a file path', 'path', path);
  return path;
}

// A write's temporary file: .<target's name>.<writer's pid>.<8 random hex digits>.tmp, beside the target. The
// pid says whose it is; the random part keeps two writes of one process (worker threads) apart.
const TEMPORARY = /^(\d+)\.[0-9a-f]{8}\.tmp$/;
export function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

// When this process started, by the clock file times use. Taken late (after Node's own start-up), and the rule
// below allows a second more because file times come from a coarser clock: both err towards keeping a file.
const STARTED_MS = Date.now() - process.uptime() * 1000;
// Temporary files of this thread's failed writes that it could not delete at the time.
const undeleted = new Set<string>();

/** Whether a process with this pid exists: EPERM (another user's) counts as alive, so does any doubt. */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Deletes the temporary files that earlier writes to `path` left behind and that can no longer be finished.
 * A file is deleted only when its writer is certainly gone, never on age alone (a write to a slow disk may
 * take minutes):
 * - its pid is not a running process (kill(pid, 0) fails with ESRCH), so no one will rename it;
 * - its pid is this process's own and the file was last written before this process started: a previous
 *   holder of the pid left it (the usual case in a container, where every run is pid 1). A file of this pid
 *   written since may belong to a write running in another worker thread, and is kept;
 * - it is a file this thread's own failed write could not delete then.
 * A file whose pid now belongs to an unrelated live process (pid reuse) is kept until that process ends. Pids
 * mean nothing across pid namespaces: processes in different containers must not write one path at once.
 * Cleaning never fails the save: whatever cannot be listed or deleted is left for the next one.
 */
export function removeStaleTemporaries(path: string): void {
  const dir = dirname(path),
    prefix = `.${basename(path)}.`;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    const owner = entry.startsWith(prefix) ? TEMPORARY.exec(entry.slice(prefix.length)) : null;
    if (!owner) continue;
    const pid = Number(owner[1]),
      tmp = join(dir, entry);
    if (!Number.isSafeInteger(pid) || pid <= 0) continue;
    try {
      const stale = pid === process.pid ? undeleted.has(tmp) || statSync(tmp).mtimeMs < STARTED_MS - 1000 : !processExists(pid);
      if (stale) {
        rmSync(tmp, { force: true });
        undeleted.delete(tmp);
      }
    } catch {
      // gone already (another process cleaned it), or not ours to delete: leave it
    }
  }
}

/**
 * Writes tensors and metadata to `path` atomically; file system errors become a CheckpointError. Temporary
 * files that killed writes to the same path left behind are deleted first.
 */
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

  writeAtomic(path, [head, ...tensors.map(t => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))]);
}

/**
 * Writes `chunks` to `path` atomically (a temporary file beside it, fsynced, then renamed over it): a reader sees
 * the old file or the whole new one. File system errors become a CheckpointError naming the path.
 */
export function writeAtomic(path: string, chunks: Uint8Array[]): void {
  checkPath(path);
  removeStaleTemporaries(path);
  const tmp = temporaryName(path);
  let fd = -1;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    for (const c of chunks) writeSync(fd, c);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (err) {
    try {
      if (fd >= 0) closeSync(fd);
      rmSync(tmp, { force: true });
    } catch {
      undeleted.add(tmp); // the next write to this path tries again
    }
    throw new CheckpointError(path, `cannot write: ${(err as Error).message}`, { cause: err });
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
    throw new CheckpointError(path, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  if (file.length < 8) throw new CheckpointError(path, `truncated: ${file.length} bytes, not even a header size`);
  const n = file.readBigUInt64LE(0);
  if (n > BigInt(Math.min(MAX_HEADER, file.length - 8)))
    throw new CheckpointError(
      path,
      `the header claims ${n} bytes but the file has ${file.length - 8} after the size (truncated or not a safetensors file)`,
    );
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
    const shape = e.shape,
      offsets = e.data_offsets;
    if (
      e.dtype !== 'F32' ||
      !Array.isArray(shape) ||
      !shape.every(d => Number.isInteger(d) && d >= 0) ||
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every(o => Number.isInteger(o) && o >= 0)
    )
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
