/**
 * Static activation-memory plan: every intermediate tensor gets an offset in one arena buffer,
 * computed once from tensor lifetimes (first producing step .. last consuming step). Tensors whose
 * lifetimes overlap never share bytes; others reuse them. Greedy by size, largest first, each at
 * the lowest offset that fits between already-placed tensors live at the same time (the strategy
 * TFLite's arena planner and wonnx use).
 */
export interface PlanRequest {
  id: string;
  bytes: number;
  /** Step that writes it first, and the last step that reads it (inclusive). */
  first: number;
  last: number;
}

export interface MemoryPlan {
  offsets: Map<string, number>;
  /** Arena size in bytes. */
  total: number;
  /** What one buffer per tensor would take. */
  naive: number;
}

export function planMemory(requests: readonly PlanRequest[], alignment: number): MemoryPlan {
  const align = (n: number) => Math.ceil(n / alignment) * alignment;
  const order = [...requests].sort((a, b) => b.bytes - a.bytes || a.first - b.first || (a.id < b.id ? -1 : 1));
  const placed: { r: PlanRequest; offset: number; end: number }[] = [];
  const offsets = new Map<string, number>();
  let total = 0;
  for (const r of order) {
    if (offsets.has(r.id)) throw new Error(`planner: tensor ${r.id} requested twice`);
    if (!(r.first <= r.last)) throw new Error(`planner: tensor ${r.id} has lifetime ${r.first}..${r.last}`);
    const size = align(Math.max(r.bytes, 16));
    const busy = placed.filter((p) => p.r.first <= r.last && r.first <= p.r.last).sort((a, b) => a.offset - b.offset);
    let offset = 0;
    for (const p of busy) {
      if (offset + size <= p.offset) break;
      offset = Math.max(offset, p.end);
    }
    placed.push({ r, offset, end: offset + size });
    offsets.set(r.id, offset);
    total = Math.max(total, offset + size);
  }
  const naive = requests.reduce((s, r) => s + align(Math.max(r.bytes, 16)), 0);
  return { offsets, total, naive };
}
