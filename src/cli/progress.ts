/**
 * Progress on stderr: a redrawn bar when stderr is a terminal, a line every few percent otherwise
 * (CI logs), nothing when quiet. Never writes to stdout, which carries results.
 */
export class Progress {
  private done = 0;
  private lastPct = -1;
  private readonly start = performance.now();
  private readonly tty: boolean;

  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly quiet = false,
    stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = !!stream.isTTY;
    this.stream = stream;
  }
  private readonly stream: NodeJS.WriteStream;

  tick(note = ''): void {
    this.done++;
    if (this.quiet || this.total <= 1) return;
    const pct = Math.floor((100 * this.done) / this.total);
    const elapsed = (performance.now() - this.start) / 1000;
    const rate = this.done / Math.max(elapsed, 1e-6);
    const eta = (this.total - this.done) / Math.max(rate, 1e-6);
    if (this.tty) {
      const width = 28;
      const fill = Math.round((width * this.done) / this.total);
      this.stream.write(
        `\r${this.label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${this.done}/${this.total} ${rate.toFixed(1)}/s eta ${eta.toFixed(0)}s ${note}`
          .slice(0, 120)
          .padEnd(120),
      );
      if (this.done === this.total) this.stream.write('\n');
    } else if (pct >= this.lastPct + 10 || this.done === this.total) {
      this.lastPct = pct;
      this.stream.write(
        `${this.label}: ${this.done}/${this.total} (${pct}%) ${rate.toFixed(1)}/s${note ? ` ${note}` : ''}\n`,
      );
    }
  }
}
