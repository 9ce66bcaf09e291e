/**
 * Maps the labels a model emits to the class names of a dataset, so that, say, the Open Images model's
 * "Computer monitor" is scored as COCO's "tv" or VOC's "tvmonitor". Matching is case-insensitive. A
 * model label is resolved by, in order: the user's mapping (where null means "never score it"), the
 * same name in the dataset, then the built-in tables below. Several labels may feed one class ("Mug"
 * and "Coffee cup" both count as "cup"); then two labels on one object score one hit and one false
 * positive, as the model really did report the object twice.
 *
 * Deliberately unmapped Open Images labels: "Vehicle" is the parent of car, bus, truck, motorcycle
 * and more in the Open Images hierarchy, so naming it any one of them would score correct buses as
 * wrong cars; "Desk" and "Stationary bicycle" are distinct objects from COCO's "dining table" and
 * "bicycle"; Boot, High heels, Footwear, Box and Camera have no COCO or VOC counterpart. Their
 * detections are left out of the scores rather than counted as false positives.
 */
import { readFile } from 'node:fs/promises';
import { InvalidOptionError } from '../errors.ts';

/** Model label -> dataset class name; null drops the label even where a built-in mapping exists. */
export type UserClassMap = Readonly<Record<string, string | null>>;

export const OPEN_IMAGES_TO_COCO: Readonly<Record<string, string>> = {
  Bicycle: 'bicycle',
  Book: 'book',
  Bottle: 'bottle',
  Car: 'car',
  Cat: 'cat',
  Cattle: 'cow',
  Chair: 'chair',
  'Coffee cup': 'cup',
  'Computer monitor': 'tv',
  'Computer mouse': 'mouse',
  Dog: 'dog',
  Laptop: 'laptop',
  Mug: 'cup',
  Person: 'person',
  Table: 'dining table',
};

export const OPEN_IMAGES_TO_VOC: Readonly<Record<string, string>> = {
  Bicycle: 'bicycle',
  Bottle: 'bottle',
  Car: 'car',
  Cat: 'cat',
  Cattle: 'cow',
  Chair: 'chair',
  'Computer monitor': 'tvmonitor',
  Dog: 'dog',
  Person: 'person',
  Table: 'diningtable',
};

/** The six COCO names that differ from VOC's; the other fourteen VOC classes share COCO's spelling. */
export const COCO_TO_VOC: Readonly<Record<string, string>> = {
  airplane: 'aeroplane',
  couch: 'sofa',
  'dining table': 'diningtable',
  motorcycle: 'motorbike',
  'potted plant': 'pottedplant',
  tv: 'tvmonitor',
};

const BUILT_IN_TABLES = [OPEN_IMAGES_TO_COCO, OPEN_IMAGES_TO_VOC, COCO_TO_VOC].map(lowerKeys);

export interface ClassMapping {
  /** The dataset class a model label is scored as, or undefined when it has none. */
  datasetClassOf(label: string): string | undefined;
  /** Dataset classes at least one model label maps to, in dataset order. */
  mappedClasses: string[];
  /** Dataset class -> the model labels scored as it. */
  sources: Map<string, string[]>;
  /** Model labels scored as nothing (placeholders such as "???" left out). */
  unmappedLabels: string[];
}

export function buildClassMapping(
  modelLabels: readonly string[],
  datasetClasses: readonly string[],
  user: UserClassMap = {},
): ClassMapping {
  const datasetByLower = new Map(datasetClasses.map((c) => [key(c), c]));
  const userByLower = lowerKeys(user);
  const resolve = (label: string): string | undefined => {
    const k = key(label);
    if (userByLower.has(k)) {
      const target = userByLower.get(k);
      return target === null || target === undefined ? undefined : datasetByLower.get(key(target));
    }
    const same = datasetByLower.get(k);
    if (same !== undefined) return same;
    for (const table of BUILT_IN_TABLES) {
      const name = table.get(k);
      const target = name === undefined ? undefined : datasetByLower.get(key(name));
      if (target !== undefined) return target;
    }
    return undefined;
  };
  const byLabel = new Map<string, string | undefined>();
  const sources = new Map<string, string[]>();
  const unmappedLabels: string[] = [];
  for (const label of modelLabels) {
    if (byLabel.has(key(label))) continue;
    const target = resolve(label);
    byLabel.set(key(label), target);
    if (target === undefined) {
      if (!isPlaceholder(label)) unmappedLabels.push(label);
    } else sources.set(target, [...(sources.get(target) ?? []), label]);
  }
  return {
    datasetClassOf: (label) => byLabel.get(key(label)),
    mappedClasses: datasetClasses.filter((c) => sources.has(c)),
    sources,
    unmappedLabels,
  };
}

/** Reads a user mapping: a JSON object of "model label": "dataset class" (or null to drop the label). */
export async function loadClassMapFile(file: string): Promise<UserClassMap> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new InvalidOptionError(`class map ${file}`, (e as Error).message, 'a readable JSON file');
  }
  return parseClassMap(json, file);
}

export function parseClassMap(json: unknown, source: string): UserClassMap {
  const expected = 'a JSON object of "model label": "dataset class" or null';
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new InvalidOptionError(`class map ${source}`, json, expected);
  for (const [label, target] of Object.entries(json)) {
    if (target !== null && typeof target !== 'string')
      throw new InvalidOptionError(`class map ${source} entry "${label}"`, target, expected);
  }
  return json as UserClassMap;
}

function key(name: string): string {
  return name.trim().toLowerCase();
}

function lowerKeys<T>(table: Readonly<Record<string, T>>): Map<string, T> {
  return new Map(Object.entries(table).map(([k, v]) => [key(k), v]));
}

/** Label maps pad unused ids with "???" (TFLite) or leave them empty; they are not classes. */
function isPlaceholder(label: string): boolean {
  return /^\?*$/.test(label.trim());
}
