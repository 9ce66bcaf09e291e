/** What a training run records per optimizer step and per epoch, and its loss-curve chart. */
import { lineChart } from '../charts/svg.ts';

export interface StepRecord {
  step: number;
  epoch: number;
  lr: number;
  /** (L_conf + alpha L_loc) / N and its two parts, each divided by N. */
  loss: number;
  conf: number;
  loc: number;
  /** N: matched default boxes in the step's batch. */
  matched: number;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  conf: number;
  loc: number;
  seconds: number;
  val?: { loss: number; mAP: number; ap: Record<string, number> };
}

export interface History {
  steps: StepRecord[];
  epochs: EpochRecord[];
}

/** Per-epoch training loss (total and parts) and validation loss and mAP, by epoch. */
export function lossChart(h: History, title: string): string {
  const e = h.epochs;
  const withVal = e.filter((r) => r.val);
  return lineChart(
    [
      { name: 'train loss', color: '#4e79a7', points: e.map((r) => [r.epoch, r.loss]) },
      { name: 'train L_conf / N', color: '#f28e2b', points: e.map((r) => [r.epoch, r.conf]) },
      { name: 'train L_loc / N', color: '#59a14f', points: e.map((r) => [r.epoch, r.loc]) },
      ...(withVal.length
        ? [
            {
              name: 'val loss',
              color: '#e15759',
              points: withVal.map((r): [number, number] => [r.epoch, r.val!.loss]),
            },
            {
              name: 'val mAP@0.5',
              color: '#b07aa1',
              points: withVal.map((r): [number, number] => [r.epoch, r.val!.mAP]),
            },
          ]
        : []),
    ],
    { title, xLabel: 'epoch', yLabel: 'loss (mAP for the val mAP curve)' },
  );
}
