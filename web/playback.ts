/**
 * Play/pause and a seek bar for a video file, below the picture: the browser's own control bar would
 * sit inside the video, under the boxes drawn over it. Keyboard-reachable like any button and slider.
 */
import type { VideoLoop } from './video_loop.ts';

export class Playback {
  private shown: { video: HTMLVideoElement; loop: VideoLoop } | undefined;
  private readonly events = ['play', 'pause', 'ended', 'timeupdate', 'durationchange'];

  constructor(
    private readonly root: HTMLElement,
    private readonly button: HTMLButtonElement,
    private readonly seek: HTMLInputElement,
    private readonly time: HTMLOutputElement,
  ) {
    button.addEventListener('click', () => {
      this.shown?.loop.setPlaying(!this.shown.loop.playing);
      this.update();
    });
    seek.addEventListener('input', () => {
      if (this.shown) this.shown.video.currentTime = Number(seek.value);
    });
  }

  attach(video: HTMLVideoElement, loop: VideoLoop): void {
    this.detach();
    this.shown = { video, loop };
    for (const e of this.events) video.addEventListener(e, this.later);
    this.root.hidden = false;
    this.update();
  }

  detach(): void {
    for (const e of this.events) this.shown?.video.removeEventListener(e, this.later);
    this.shown = undefined;
    this.root.hidden = true;
  }

  /** After the loop's own listeners of the same event have run. */
  private readonly later = () => queueMicrotask(() => this.update());

  private update(): void {
    if (!this.shown) return;
    const { video: v, loop } = this.shown;
    // The loop pauses the video while it detects a held frame; the button follows the user's intent.
    this.button.textContent = loop.playing ? 'Pause' : 'Play';
    const duration = Number.isFinite(v.duration) ? v.duration : 0;
    this.seek.max = String(duration);
    this.seek.value = String(v.currentTime);
    this.time.value = `${v.currentTime.toFixed(1)} / ${duration.toFixed(1)} s`;
  }
}
