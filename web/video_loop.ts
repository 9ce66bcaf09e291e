/**
 * Detection on video frames as requestVideoFrameCallback presents them. A file can run on every
 * frame: playback pauses while each frame is detected, since a software adapter takes seconds per
 * frame. A camera cannot wait, so in live mode the newest frame is detected whenever the previous
 * detection is done and the frames in between are skipped.
 */
export class VideoLoop {
  private stopped = false;
  private busy = false;
  private again = false;
  private lastMediaTime = Number.NaN;
  private handle: number | undefined;
  /** Playback should go on after a held frame: false once the user pauses. */
  private userPlaying = false;
  /** pause() calls of ours whose 'pause' event has not arrived yet (events come later, as tasks). */
  private ownPauses = 0;
  private readonly listeners: [string, () => void][] = [
    ['play', () => (this.userPlaying = true)],
    ['pause', () => (this.ownPauses > 0 ? this.ownPauses-- : (this.userPlaying = false))],
  ];

  constructor(
    private readonly video: HTMLVideoElement,
    /** Every frame (hold playback) or live (skip frames); read at each frame, so a checkbox can change it. */
    private readonly everyFrame: () => boolean,
    /** Detects and shows one frame; handles its own errors. */
    private readonly onFrame: (mediaTime: number) => Promise<void>,
  ) {}

  /**
   * Detects the frame on screen, then follows playback. A file's video must have been painted once
   * before its frame can be copied, hence the wait for two animation frames (or a second, when the
   * page is in a background tab and paints nothing).
   */
  async start(): Promise<void> {
    for (const [type, listener] of this.listeners) this.video.addEventListener(type, listener);
    this.handle = this.video.requestVideoFrameCallback(this.tick);
    // A stream has nothing to hold back: its first presented frame (the first tick) starts detection.
    // Detecting before that finds a <video> with no decoded frame, however ready it says it is.
    if (this.video.srcObject) return this.video.play();
    const painted = new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)));
    await Promise.race([painted, new Promise((ok) => setTimeout(ok, 1000))]);
    if (!this.busy && Number.isNaN(this.lastMediaTime)) await this.run(this.video.currentTime);
    if (!this.stopped) await this.video.play();
  }

  stop(): void {
    this.stopped = true;
    if (this.handle !== undefined) this.video.cancelVideoFrameCallback(this.handle);
    for (const [type, listener] of this.listeners) this.video.removeEventListener(type, listener);
  }

  /** Whether playback is meant to go on (the video may be paused meanwhile, holding a frame for detection). */
  get playing(): boolean {
    return this.userPlaying;
  }

  /** The user's play or pause. A pause during a held frame keeps playback from resuming after it. */
  setPlaying(on: boolean): void {
    this.userPlaying = on;
    if (on && !this.busy) this.video.play().catch(() => undefined);
    else if (!on && !this.video.paused) this.video.pause();
  }

  /** Runs the frame on screen again (options changed): at once, or after the detection in flight. */
  async refresh(): Promise<void> {
    if (this.busy) this.again = true;
    else if (!this.stopped && this.video.paused) await this.run(this.video.currentTime);
  }

  private readonly tick = (_now: number, meta: VideoFrameCallbackMetadata): void => {
    if (this.stopped) return;
    this.handle = this.video.requestVideoFrameCallback(this.tick);
    if (this.busy || meta.mediaTime === this.lastMediaTime) return;
    const hold = this.everyFrame() && !this.video.srcObject;
    if (hold && !this.video.paused) {
      this.ownPauses++;
      this.video.pause();
    }
    void this.run(meta.mediaTime).then(() => {
      // play() rejects when the source changed meanwhile; the new source has its own loop.
      if (hold && this.userPlaying && !this.stopped && !this.video.ended) this.video.play().catch(() => undefined);
    });
  };

  private async run(mediaTime: number): Promise<void> {
    this.busy = true;
    this.lastMediaTime = mediaTime;
    try {
      do {
        this.again = false;
        await this.onFrame(mediaTime);
      } while (this.again && !this.stopped && this.video.paused);
    } finally {
      this.busy = false;
    }
  }
}
