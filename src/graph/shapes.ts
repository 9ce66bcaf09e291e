/**
 * Shape inference through the graph for a new input size: each op gives its output shape, and ops
 * whose attributes record a shape (reshape targets) update them.
 */
import { InvalidOptionError, ModelFormatError } from '../errors.ts';
import { ShapeError, type GraphNode, type ShapeContext } from '../ops/support/node.ts';
import { opOf } from '../ops/support/registry.ts';
import type { ModelJson } from './ir.ts';

/** Every tensor's shape with the input at `height` x `width`, and the nodes as they run there. */
export function inferShapes(
  json: ModelJson,
  height: number,
  width: number,
): { shapes: Record<string, number[]>; nodes: GraphNode[] } {
  const shapes: Record<string, number[]> = { [json.input]: [1, height, width, json.shapes[json.input]![3]!] };
  const shapeOf = (t: string): number[] => {
    const s = shapes[t];
    if (!s) throw new ModelFormatError(json.name, `tensor ${t} is used before it is computed`);
    return s;
  };
  const cx: ShapeContext = { constShape: (name) => json.constants[name]?.shape };
  const nodes = json.nodes.map((n): GraphNode => {
    const def = opOf(n, json.name);
    const inputs = n.inputs.map(shapeOf);
    try {
      const { node, shape } = def.withInputShapes
        ? def.withInputShapes(n, inputs, cx)
        : { node: n, shape: def.outputShape(n, inputs, cx) };
      shapes[n.outputs[0]!] = shape;
      return node;
    } catch (e) {
      if (!(e instanceof ShapeError)) throw e;
      throw new InvalidOptionError(
        'inputSize',
        [height, width],
        `a size node ${n.name} of ${json.name} accepts (${e.message})`,
      );
    }
  });
  return { shapes, nodes };
}
