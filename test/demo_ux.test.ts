/**
 * The demo page as a user meets it (issue 21), in headless Chromium on SwiftShader with Chromium's
 * fake camera filming samples/dog.jpg: the camera detects without a false error; stopping a source or switching the model
 * leaves no stale boxes, list or figures; a phone-sized viewport shows the picture above the fold with
 * readable labels; every control is reachable by Tab with a visible focus ring; the status names the
 * loading stage, settings survive a model switch, and the page says why nothing is shown. Screenshots
 * go to artifacts/.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { Detection } from '../src/detect_types.ts';
import { iou as boxIou } from '../src/eval/iou.ts';
import { FAKE_CAMERA_ARGS, openDemoBrowser, waitForResults, type DemoBrowser } from './support/demo_browser.ts';
import { repoRoot } from './support/goldens.ts';

declare global {
  interface Window {
    /** Every text #status showed, in order (recorded by an init script, before the page's own scripts run). */
    testStatusLog: string[];
    /** Every message title the page showed, in order. */
    testMessageLog: string[];
  }
}

let b: DemoBrowser;
let page: Page;

before(async () => {
  b = await openDemoBrowser({ args: FAKE_CAMERA_ARGS, camera: join(repoRoot(), 'samples/dog.jpg') });
  page = b.page;
  await b.context.addInitScript(() => {
    window.testStatusLog = [];
    window.testMessageLog = [];
    new MutationObserver(() => {
      const status = document.getElementById('status')?.textContent ?? '';
      if (status && window.testStatusLog.at(-1) !== status) window.testStatusLog.push(status);
      const message = document.getElementById('message');
      const title = document.getElementById('message-title')?.textContent ?? '';
      if (message && !message.hidden && title && window.testMessageLog.at(-1) !== title)
        window.testMessageLog.push(title);
    }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  });
});

after(async () => {
  await b?.close();
});

async function ready(p: Page = page): Promise<void> {
  await p.waitForFunction(() => window.mobilessdDemo?.status === 'ready', null, { timeout: 60_000, polling: 100 });
}

/** Waits for `count` more results of `source` than there are now. */
async function moreResults(source: string, count: number): Promise<void> {
  const have = await page.evaluate((s) => window.mobilessdDemo.results.filter((r) => r.source === s).length, source);
  await page.waitForFunction(
    ([s, n]) =>
      window.mobilessdDemo.results.filter((r) => r.source === s).length >= n ||
      window.mobilessdDemo.message?.kind === 'error',
    [source, have + count] as const,
    { timeout: 90_000, polling: 100 },
  );
  await waitForResults(b, 0);
}

const messagesShown = () => page.evaluate(() => window.testMessageLog);

/** What the stage shows besides the picture: list, figures, and whether any overlay pixel is drawn. */
function shownState(p: Page = page) {
  return p.evaluate(() => {
    const overlay = document.getElementById('overlay') as HTMLCanvasElement;
    const px = overlay.width ? overlay.getContext('2d')!.getImageData(0, 0, overlay.width, overlay.height).data : [];
    let drawn = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i]) drawn++;
    const text = (id: string) => document.getElementById(id)!.textContent.trim();
    return {
      list: text('detections'),
      figures: ['fps', 't-upload', 't-gpu', 't-readback', 't-result', 't-total'].map(text),
      overlayPixels: drawn,
      video: document.querySelectorAll('#stage video').length,
    };
  });
}

test('1. the fake camera detects with no error banner, after a stop and a restart too', async (t) => {
  await page.goto(`${b.server.origin}/?image=`);
  await ready();
  await page.click('#camera');
  await moreResults('camera', 2);
  assert.deepEqual(await messagesShown(), [], 'no message while the camera starts');
  assert.ok(!b.consoleLines.some((l) => l.includes('cannot copy video frames')), 'camera frames copied on the GPU');
  await page.click('#camera');
  await page.click('#camera');
  await moreResults('camera', 1);
  assert.deepEqual(await messagesShown(), [], 'no message after a stop and a restart');
  assert.ok(await page.locator('#message').isHidden());
  // A message about something else (a file that is no picture) stays while the camera goes on detecting.
  await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('text') });
  await page.waitForFunction(() => window.mobilessdDemo.message?.code === 'not-media');
  const have = await page.evaluate(() => window.mobilessdDemo.results.length);
  await page.waitForFunction((n) => window.mobilessdDemo.results.length > n, have, { timeout: 60_000 });
  assert.equal(await page.evaluate(() => window.mobilessdDemo.message?.code), 'not-media');
  await page.click('#message-close');
  // The frames the GPU copied are the camera's pixels: a held frame detects alike through an ImageBitmap.
  const both = await page.evaluate(async () => {
    const video = document.querySelector('#stage video') as HTMLVideoElement;
    video.pause();
    const det = window.mobilessdDemo.detector as unknown as {
      detect(input: unknown, o: object): Promise<Detection[]>;
    };
    const o = { scoreThreshold: 0.05 };
    // A frame already queued can still be presented after pause() (seen under load): the direct detection
    // counts only if the element shows the same pixels before and after it.
    const pixels = (bmp: ImageBitmap) => {
      const c = new OffscreenCanvas(bmp.width, bmp.height);
      const g = c.getContext('2d')!;
      g.drawImage(bmp, 0, 0);
      return g.getImageData(0, 0, bmp.width, bmp.height).data;
    };
    for (let tries = 1; tries <= 5; tries++) {
      const before = await createImageBitmap(video);
      const direct = await det.detect(video, o);
      const after = await createImageBitmap(video);
      const [a, z] = [pixels(before), pixels(after)];
      if (a.length === z.length && a.every((v, i) => v === z[i])) {
        const bitmap = await det.detect(after, o);
        return { direct, bitmap, tries };
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    return undefined;
  });
  assert.ok(both, 'the paused camera frame kept changing over 5 tries');
  // The two paths convert the camera's YUV to RGB each their own way: the same picture, not the same bits.
  const text = (ds: Detection[]) => ds.map((d) => `${d.label} ${d.score.toFixed(3)}`).join(', ');
  const confident = (ds: Detection[]) => ds.filter((d) => d.score >= 0.5);
  assert.ok(
    confident(both.direct).some((d) => d.label === 'Dog'),
    `the camera films samples/dog.jpg, yet: ${text(both.direct.slice(0, 5))}`,
  );
  // Every confident detection of either path is found by the other: same label, same box, a close score.
  for (const [from, to] of [
    [both.direct, both.bitmap],
    [both.bitmap, both.direct],
  ] as const) {
    for (const d of confident(from)) {
      const other = to.find((e) => e.label === d.label && boxIou(e.box, d.box) >= 0.9);
      assert.ok(other, `${text([d])} at ${JSON.stringify(d.box)} missing from ${text(to.slice(0, 5))}`);
      assert.ok(Math.abs(other.score - d.score) < 0.05, `${text([d])} vs ${text([other])}`);
    }
  }
  t.diagnostic(
    `a held camera frame (stable on try ${both.tries}), its best at score >= 0.05: ${text(both.direct.slice(0, 3))}; as an ImageBitmap: ${text(both.bitmap.slice(0, 3))}`,
  );
  await page.screenshot({ path: join(b.artifacts, 'demo-camera.png') });
});

test('2. stopping the camera or switching the model clears boxes, list and figures', async () => {
  await page.goto(`${b.server.origin}/?image=`);
  await ready();
  await page.click('#camera');
  // Counts results only, whatever test 1 says about messages, so this case fails or passes on its own.
  await page.waitForFunction(
    () => window.mobilessdDemo.results.filter((r) => r.source === 'camera').length >= 2,
    null,
    { timeout: 90_000 },
  );
  const running = await shownState();
  assert.equal(running.video, 1);
  assert.notEqual(running.figures[0], '–', 'the camera runs with an FPS figure');
  await page.click('#camera');
  const stopped = await shownState();
  assert.deepEqual(
    stopped,
    { list: '', figures: ['–', '–', '–', '–', '–', '–'], overlayPixels: 0, video: 0 },
    'nothing of the camera stays',
  );
  assert.ok(await page.locator('#drop-hint').isVisible(), 'the stage invites a new input');

  await page.selectOption('#sample', 'dog.jpg');
  await moreResults('image', 1);
  const shown = await shownState();
  assert.match(shown.list, /Dog/);
  assert.ok(shown.overlayPixels > 0, 'boxes drawn');
  await page.selectOption('#model', 'face');
  const switching = await shownState();
  assert.equal(switching.list, '', "the previous model's list goes at once");
  assert.equal(switching.overlayPixels, 0, "the previous model's boxes go at once");
  await page.waitForFunction(() => window.mobilessdDemo.results.at(-1)?.detections.every((d) => d.label === 'face'));
  assert.doesNotMatch((await shownState()).list, /Dog|Bicycle|Car/);
  await page.selectOption('#model', 'oid-v4');
  await moreResults('image', 1);
});

test('3. at 390x844 the picture is above the fold, nothing scrolls sideways, labels are readable', async (t) => {
  const phone = await b.context.newPage();
  try {
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${b.server.origin}/`);
    await phone.waitForFunction(() => window.mobilessdDemo?.results.length >= 1, null, { timeout: 90_000 });
    const m = await phone.evaluate(() => {
      const stage = document.getElementById('stage')!.getBoundingClientRect();
      const overlay = document.getElementById('overlay') as HTMLCanvasElement;
      const picture = document.getElementById('picture') as HTMLCanvasElement;
      // The strongest detection's tag is drawn last, so it is on top: measure its height in CSS pixels
      // down one column of its left padding, in the rows above the box (dog.jpg's Dog has room there).
      const d = window.mobilessdDemo.results.at(-1)!.detections[0]!;
      const toOverlay = overlay.width / picture.width;
      const cssPerOverlayPx = overlay.getBoundingClientRect().width / overlay.width;
      const x = Math.round(d.box.x * toOverlay + 1 / cssPerOverlayPx);
      const yEnd = Math.floor(d.box.y * toOverlay - 2 / cssPerOverlayPx);
      const yStart = Math.max(0, Math.floor(yEnd - 60 / cssPerOverlayPx));
      const column = overlay.getContext('2d')!.getImageData(x, yStart, 1, yEnd - yStart).data;
      const [r, g, bl] = [column[column.length - 4]!, column[column.length - 3]!, column[column.length - 2]!];
      let rows = 0;
      for (let i = column.length - 4; i >= 0; i -= 4) {
        const same = Math.abs(column[i]! - r) + Math.abs(column[i + 1]! - g) + Math.abs(column[i + 2]! - bl) < 24;
        if (!same || column[i + 3]! < 250) break;
        rows++;
      }
      return {
        stageTop: stage.top,
        stageBottom: stage.bottom,
        stageWidth: stage.width,
        scrollWidth: document.scrollingElement!.scrollWidth,
        tagCssPx: rows * cssPerOverlayPx,
        label: d.label,
      };
    });
    assert.ok(m.stageTop >= 0 && m.stageBottom <= 844, `the picture spans y ${m.stageTop}..${m.stageBottom}`);
    assert.ok(m.stageWidth >= 340, `the picture is ${m.stageWidth} px wide`);
    assert.ok(m.scrollWidth <= 390, `the page is ${m.scrollWidth} px wide`);
    assert.ok(m.tagCssPx >= 16, `the ${m.label} label is ${m.tagCssPx.toFixed(1)} CSS px high`);
    t.diagnostic(
      `390x844: picture at y ${m.stageTop.toFixed(0)}..${m.stageBottom.toFixed(0)}, ${m.stageWidth.toFixed(0)} px wide; ${m.label} label ${m.tagCssPx.toFixed(1)} CSS px high`,
    );
    await phone.screenshot({ path: join(b.artifacts, 'demo-phone.png') });
  } finally {
    await phone.close();
  }
});

test('4. Tab reaches every control, each with a visible focus ring; the file chooser opens by keyboard', async () => {
  await page.goto(`${b.server.origin}/`);
  await ready();
  const reached: { id: string; ring: boolean }[] = [];
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    const f = await page.evaluate(() => {
      const e = document.activeElement as HTMLElement | null;
      if (!e || e === document.body) return null;
      const visibleRing = (x: Element) => {
        let opacity = 1;
        for (let a: Element | null = x; a; a = a.parentElement) opacity *= Number(getComputedStyle(a).opacity);
        const s = getComputedStyle(x);
        const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
        return opacity > 0.5 && (outline || s.boxShadow !== 'none');
      };
      const label = e.closest('label');
      const id = e.id || `${label?.textContent?.trim().slice(0, 20) ?? e.tagName}`;
      return { id, ring: visibleRing(e) || (label !== null && visibleRing(label)) };
    });
    if (!f || reached.some((r) => r.id === f.id)) break;
    reached.push(f);
  }
  const ids = reached.map((r) => r.id);
  for (const id of ['model', 'model-folder', 'file', 'sample', 'camera', 'score', 'iou', 'classes-all'])
    assert.ok(ids.includes(id), `Tab reaches #${id}: ${ids.join(', ')}`);
  assert.deepEqual(
    reached.filter((r) => !r.ring).map((r) => r.id),
    [],
    'controls without a visible focus ring',
  );
  await page.focus('#file');
  await page.screenshot({ path: join(b.artifacts, 'demo-focus.png') });
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Space')]);
  await chooser.setFiles(join(b.root, 'samples/cat.jpg'));
  await page.waitForFunction(() => window.mobilessdDemo.results.at(-1)?.detections[0]?.label === 'Cat');
});

test('5. the status names each loading stage; settings survive a model switch; empty results say why', async (t) => {
  await page.goto(`${b.server.origin}/`);
  await waitForResults(b, 1);
  const log = await page.evaluate(() => window.testStatusLog);
  const at = (re: RegExp) => log.findIndex((s) => re.test(s));
  assert.ok(at(/download/i) >= 0, `a download stage: ${log.join(' | ')}`);
  assert.ok(at(/compil/i) > at(/download/i), `shader compilation after the download: ${log.join(' | ')}`);
  t.diagnostic(`status: ${log.filter((s) => !/\d MB$/.test(s)).join(' | ')}`);

  // The model selector shows its whole text.
  const select = await page.evaluate(() => {
    const s = document.getElementById('model') as HTMLSelectElement;
    const g = document.createElement('canvas').getContext('2d')!;
    g.font = getComputedStyle(s).font;
    return { text: g.measureText(s.selectedOptions[0]!.text).width, box: s.clientWidth };
  });
  assert.ok(select.text + 24 <= select.box, `"${select.text}" px of text in a ${select.box} px selector`);
  // Every class is in view without an inner scroll box.
  const list = await page.evaluate(() => {
    const l = document.getElementById('class-list')!;
    return { scroll: l.scrollHeight, client: l.clientHeight };
  });
  assert.ok(list.scroll <= list.client + 1, `the class list scrolls: ${list.scroll} > ${list.client}`);

  // An error banner does not move the picture.
  const stageTop = () => page.evaluate(() => document.getElementById('stage')!.getBoundingClientRect().top);
  const top = await stageTop();
  await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('text') });
  await page.waitForFunction(() => window.mobilessdDemo.message?.code === 'not-media');
  assert.equal(await stageTop(), top, 'the banner overlays, the picture stays put');
  assert.equal(await page.inputValue('#sample'), 'dog.jpg', 'the sample selector still names the picture shown');
  await page.screenshot({ path: join(b.artifacts, 'demo-message.png') });
  await page.click('#message-close');

  // The user's score threshold and class ticks outlive a switch to another model and back.
  await page.$eval('#score', (e: HTMLInputElement) => {
    e.value = '0.3';
    e.dispatchEvent(new Event('input', { bubbles: true }));
  });
  await page.locator('#class-list label', { hasText: 'Car' }).locator('input').uncheck();
  await page.selectOption('#model', 'face');
  await ready();
  assert.equal(await page.inputValue('#score'), '0.3', 'the score threshold applies to the face model too');
  await page.selectOption('#model', 'oid-v4');
  await ready();
  assert.equal(await page.inputValue('#score'), '0.3');
  assert.equal(await page.locator('#class-list label', { hasText: 'Car' }).locator('input').isChecked(), false);
  assert.equal(await page.locator('#class-list label', { hasText: 'Dog' }).locator('input').isChecked(), true);

  // With every class filtered out the page says so, rather than "nothing detected".
  await page.click('#classes-none');
  await page.waitForFunction(() => window.mobilessdDemo.results.at(-1)?.detections.length === 0);
  assert.match(await page.locator('#detections').innerText(), /every class is filtered out/i);
  await page.click('#classes-all');

  // A video file plays under the page's own controls, below the picture: no control bar under the boxes.
  const clip = join(b.scratch, 'dog.webm');
  const ff = spawnSync(
    'ffmpeg',
    ['-v', 'error', '-y', '-loop', '1', '-framerate', '2', '-t', '1', '-i', join(b.root, 'samples/dog.jpg')].concat([
      '-vf',
      'scale=640:480,format=yuv420p',
      '-c:v',
      'libvpx',
      '-b:v',
      '1M',
      clip,
    ]),
    { encoding: 'utf8' },
  );
  assert.equal(ff.status, 0, `ffmpeg: ${ff.stderr}`);
  await page.setInputFiles('#file', clip);
  await page.waitForFunction(() => document.querySelector<HTMLVideoElement>('#stage video')?.ended, null, {
    timeout: 90_000,
  });
  const player = await page.evaluate(() => ({
    controls: (document.querySelector('#stage video') as HTMLVideoElement).controls,
    stageBottom: document.getElementById('stage')!.getBoundingClientRect().bottom,
    playTop: document.getElementById('play')?.getBoundingClientRect().top,
  }));
  assert.equal(player.controls, false, 'no control bar inside the video, under the boxes');
  assert.ok(player.playTop !== undefined && player.playTop >= player.stageBottom, 'a play button below the picture');
  assert.equal(await page.locator('#play').innerText(), 'Play', 'at the end, the button offers to play again');
  const before = await page.evaluate(() => window.mobilessdDemo.results.length);
  // Play at the end starts over, and the frames are detected again (under load the first one may be skipped).
  await page.click('#play');
  await page.waitForFunction((n) => window.mobilessdDemo.results.slice(n).some((r) => r.source === 'video'), before, {
    timeout: 90_000,
  });
});
