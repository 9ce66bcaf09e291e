/**
 * What every converter produces the same way: constants appended to one float32 weights blob,
 * nodes with their output shapes, and the finished ModelJson with the hashes filled in.
 */
import { MODEL_FORMAT, MODEL_FORMAT_VERSION, type ConstTensor, type ModelJson } from '../graph/ir.ts';
import type { GraphNode } from '../ops/support/node.ts';
import { opOf } from '../ops/support/registry.ts';
import { weightsInfo } from '../graph/model_format.ts';
import type { LoadedModel } from '../graph/weights.ts';

/** Recorded in every converted model; bump it when converter output changes so caches rebuild. */
export const CONVERTER_VERSION = 'mobilessd-convert/3';

export type ModelMeta = Pick<
  ModelJson,
  'name' | 'description' | 'preprocess' | 'input' | 'outputs' | 'labels' | 'ssd'
> & {
  source: { file: string; sha256: string };
  quantization?: ModelJson['quantization'];
};

export class ModelBuilder {
  readonly shapes: Record<string, number[]> = {};
  readonly constants: Record<string, ConstTensor> = {};
  readonly nodes: GraphNode[] = [];
  private readonly chunks: Float32Array[] = [];
  private floats = 0;

  constant(name: string, shape: number[], data: Float32Array): string {
    if (Object.hasOwn(this.constants, name)) throw new Error(`converter bug: constant ${name} added twice`);
    const length = shape.reduce((a, b) => a * b, 1);
    if (data.length !== length)
      throw new Error(`converter bug: constant ${name} has ${data.length} values for shape [${shape}]`);
    this.constants[name] = { shape, offset: this.floats * 4, length };
    this.chunks.push(data);
    this.floats += length;
    return name;
  }

  /** `base`, or `base` with a numeric suffix when a constant of that name exists already. */
  freeName(base: string): string {
    let name = base;
    for (let k = 2; Object.hasOwn(this.constants, name); k++) name = `${base}#${k}`;
    return name;
  }

  /** Adds a node and records the shape of its single output, as its op infers it (ShapeError when it cannot). */
  node(n: GraphNode): number[] {
    const inputs = n.inputs.map((t) => {
      const s = this.shapes[t];
      if (!s) throw new Error(`converter bug: ${n.name} reads ${t} before any node computes it`);
      return s;
    });
    const shape = opOf(n).outputShape(n, inputs, { constShape: (name) => this.constants[name]?.shape });
    this.nodes.push(n);
    this.shapes[n.outputs[0]!] = shape;
    return shape;
  }

  async finish(meta: ModelMeta): Promise<LoadedModel> {
    const weights = new Float32Array(this.floats);
    let at = 0;
    for (const c of this.chunks) {
      weights.set(c, at);
      at += c.length;
    }
    const json: ModelJson = {
      format: MODEL_FORMAT,
      version: MODEL_FORMAT_VERSION,
      name: meta.name,
      description: meta.description,
      source: { ...meta.source, converter: CONVERTER_VERSION },
      weights: await weightsInfo(weights),
      preprocess: meta.preprocess,
      input: meta.input,
      shapes: this.shapes,
      constants: this.constants,
      nodes: this.nodes,
      outputs: meta.outputs,
      labels: meta.labels,
      ssd: meta.ssd,
      ...(meta.quantization ? { quantization: meta.quantization } : {}),
    };
    return { json, weights };
  }
}
