/**
 * Training checkpoints in the output folder: checkpoint.bin holds the trained parameters and the
 * momentum, flat as on the GPU; checkpoint.json the progress (epochs and steps done, the data
 * order generator, the history) and the settings, which a resumed run must share. Each file is
 * written atomically, the binary first, so a reader never pairs new progress with old weights.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError } from '../errors.ts';
import { writeAtomic } from '../node/model_files.ts';
import type { History } from './history.ts';

export const CHECKPOINT_JSON = 'checkpoint.json';
export const CHECKPOINT_BIN = 'checkpoint.bin';
const DAMAGED_HINT = `restore both checkpoint files, or remove ${CHECKPOINT_JSON} and ${CHECKPOINT_BIN} to start over`;

export interface CheckpointState {
  version: 1;
  /** Settings that decide what is trained and on what; a resumed run must match them. */
  settings: Record<string, unknown>;
  epochsDone: number;
  stepsDone: number;
  rngState: number;
  history: History;
  /** Floats in each of the parameter and momentum arrays. */
  floats: number;
}

export interface Checkpoint {
  state: CheckpointState;
  params: Float32Array<ArrayBuffer>;
  velocity: Float32Array<ArrayBuffer>;
}

export function hasCheckpoint(dir: string): boolean {
  return existsSync(join(dir, CHECKPOINT_JSON));
}

export async function saveCheckpoint(dir: string, c: Checkpoint): Promise<void> {
  const bin = new Float32Array(2 * c.state.floats);
  bin.set(c.params.subarray(0, c.state.floats));
  bin.set(c.velocity.subarray(0, c.state.floats), c.state.floats);
  await writeAtomic(join(dir, CHECKPOINT_BIN), new Uint8Array(bin.buffer));
  await writeAtomic(join(dir, CHECKPOINT_JSON), `${JSON.stringify(c.state)}\n`);
}

export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const state = JSON.parse(await readFile(join(dir, CHECKPOINT_JSON), 'utf8')) as CheckpointState;
  if (state.version !== 1)
    throw new CheckpointError(
      `${join(dir, CHECKPOINT_JSON)}: checkpoint version ${state.version} is not supported`,
      DAMAGED_HINT,
    );
  const bytes = await readFile(join(dir, CHECKPOINT_BIN));
  if (bytes.byteLength !== 8 * state.floats)
    throw new CheckpointError(
      `${join(dir, CHECKPOINT_BIN)}: ${bytes.byteLength} bytes, expected ${8 * state.floats}`,
      DAMAGED_HINT,
    );
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { state, params: all.subarray(0, state.floats), velocity: all.subarray(state.floats) };
}

/** The settings of `saved` that differ from `current`, as "name: saved -> current". */
export function settingsMismatch(saved: Record<string, unknown>, current: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(saved), ...Object.keys(current)]);
  return [...keys]
    .filter((k) => JSON.stringify(saved[k]) !== JSON.stringify(current[k]))
    .map((k) => `${k}: ${JSON.stringify(saved[k])} -> ${JSON.stringify(current[k])}`);
}
