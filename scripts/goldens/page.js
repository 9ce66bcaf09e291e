// Runs in headless Chromium on the page served by make.mjs, after the UMD bundles of tfjs-core,
// tfjs-backend-cpu and tfjs-tflite. Loads TFLite models and runs them on input tensors fetched from the
// local server; hands back every output tensor as base64 bytes with its name, shape and dtype.
/* global tf, tflite */
(() => {
  const models = {};

  const toBase64 = (bytes) => {
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  };

  window.goldens = {
    async init(wasmPath) {
      await tf.setBackend('cpu');
      await tf.ready();
      tflite.setWasmPath(wasmPath);
      return {
        tfjsCore: tf.version_core,
        backend: tf.getBackend(),
        userAgent: navigator.userAgent,
        crossOriginIsolated: self.crossOriginIsolated,
      };
    },
    async load(key, url, numThreads) {
      const t0 = performance.now();
      const model = await tflite.loadTFLiteModel(url, { numThreads });
      models[key] = model;
      return { loadMs: performance.now() - t0, inputs: model.inputs, outputs: model.outputs };
    },
    /** Runs `repeats` times on the same input; returns the last outputs and every predict() wall time. */
    async run(key, inputUrl, inputDtype, shape, repeats) {
      const buf = await (await fetch(inputUrl)).arrayBuffer();
      const x =
        inputDtype === 'uint8'
          ? tf.tensor(Int32Array.from(new Uint8Array(buf)), shape, 'int32')
          : tf.tensor(new Float32Array(buf), shape, 'float32');
      const model = models[key];
      const times = [];
      let out = null;
      for (let r = 0; r < repeats; r++) {
        if (out) tf.dispose(out);
        const t0 = performance.now();
        out = model.predict(x);
        times.push(performance.now() - t0);
      }
      tf.dispose(x);
      const map = out instanceof tf.Tensor ? { [model.outputs[0].name]: out } : out;
      const outputs = {};
      for (const [name, t] of Object.entries(map)) {
        const d = t.dataSync();
        outputs[name] = {
          shape: t.shape,
          dtype: t.dtype,
          base64: toBase64(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)),
        };
      }
      tf.dispose(out);
      return { times, outputs };
    },
  };
})();
