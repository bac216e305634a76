// Body of gr.HTML(js_on_load=...) for #decode-mode: decodes every slider move in the page, with onnxruntime-web
// (WebAssembly) running the model's exported decoder (decoder.onnx, see explorer/ui/browser_decode.py), so a move
// needs no round trip to the server. Gradio provides: element, props, watch.
//
// props.decoder : {model, url, latent_dim, num_classes, shape: [H, W], sha256, pca_mean, pca_components}, or
//                 {model, reason} when this model is decoded on the server (no exported decoder, not an image model)
// props.runtime : {module, wasm}: the URLs of the vendored onnxruntime-web files (explorer/static/vendor)
//
// How a move is handled, in "browser" mode:
// - a capturing listener on the document takes the slider's own `input` event before Gradio's handler sees it
//   (so no request is sent), decodes the sliders' z in the page and sets #decoded-image's <img> src to a PNG data
//   URL of the 28x28 canvas (CSS upscales it, pixelated), and shows the same pixels at once in a canvas laid
//   over it; a conditional model's class row is decoded in the same
//   run; on the PCA map the current-z marker moves too (z projected with the stored PCA basis);
// - decodes are coalesced: while one runs, only the newest z is kept for the next;
// - on release (the range's `change`; for keys, once they stop for SYNC_MS) the last move is handed to Gradio
//   as an ordinary input event, so the server learns the final z (its slider values, the map marker on t-SNE or
//   UMAP, the tools) with one request.
// In "server" mode (no WebAssembly, no exported decoder, a decoder that fails to load) nothing is intercepted: the
// page decodes on the server as before, and the line in #decode-mode says why.
(function () {
  const ROW_IDLE_MS = 120;    // a conditional model's class row is redrawn once the sliders rest this long
  const SYNC_MS = 200;          // keys: hand the final z to the server once they have paused this long
  const st = window.__xpDecoder = window.__xpDecoder || {
    mode: "server", reason: "starting", model: null, runs: 0, lastMs: null, syncs: 0,
  };
  let runtime = null;           // Promise of the ort module, loaded once
  const sessions = new Map();   // url + sha -> Promise of an InferenceSession
  let cur = null;               // {model, session, D, C, H, W, pca_mean, pca_components} in browser mode
  let busy = false, again = false, passing = false;      // a decode running; another wanted; our own event
  let rowGen = 0, rowTimer = null, syncTimer = null;
  let lastMove = -1e9, ownSrc = null;
  const dirty = new Set();      // sliders moved in the page whose values the server has not been given yet
  const canvas = document.createElement("canvas");
  const ctx2d = canvas.getContext("2d");

  function line(text, kind) {
    const el = element.querySelector(".xp-decode-line") || element;
    el.textContent = text;
    el.dataset.mode = kind;
  }

  function server(reason) {
    cur = null;
    st.mode = "server";
    st.reason = reason;
    line("Decoding on the server: " + reason, "server");
  }

  function loadRuntime() {
    if (runtime) return runtime;
    const r = props.runtime;
    runtime = (async () => {
      // The module is fetched and imported from a blob: URL, so its MIME type does not depend on the server.
      const src = await fetch(r.module);
      if (!src.ok) throw new Error("the runtime's script answered HTTP " + src.status);
      const blob = new Blob([await src.text()], { type: "text/javascript" });
      const ort = await import(URL.createObjectURL(blob));
      // The 14 MB WebAssembly binary is shipped gzipped (3.7 MB): inflate it here and hand it to the runtime.
      const res = await fetch(r.wasm);
      if (!res.ok) throw new Error("the runtime's WebAssembly file answered HTTP " + res.status);
      const raw = res.body.pipeThrough(new DecompressionStream("gzip"));
      ort.env.wasm.wasmBinary = await new Response(raw).arrayBuffer();
      ort.env.wasm.numThreads = 1;  // no cross-origin isolation here, and one 28x28 decode is far below a frame
      ort.env.wasm.proxy = false;
      ort.env.logLevel = "error";
      return ort;
    })();
    runtime.catch(() => { runtime = null; });  // a later model may try again
    return runtime;
  }

  async function session(d) {
    const key = d.url + "#" + d.sha256;
    if (!sessions.has(key)) {
      const p = (async () => {
        const ort = await loadRuntime();
        const res = await fetch(d.url);
        if (!res.ok) throw new Error("its file answered HTTP " + res.status);
        const s = await ort.InferenceSession.create(new Uint8Array(await res.arrayBuffer()),
                                                    { executionProviders: ["wasm"] });
        return { ort, s };
      })();
      sessions.set(key, p);
      p.catch(() => sessions.delete(key));
    }
    return sessions.get(key);
  }

  async function setup() {
    const d = props.decoder;
    if (!d || !d.model) return;
    st.model = d.model;
    if (d.reason) { server(d.reason); return; }
    if (typeof WebAssembly === "undefined" || typeof DecompressionStream === "undefined") {
      server("this browser has no WebAssembly, which the in-page decoder needs.");
      return;
    }
    line("Loading the decoder into the page…", "loading");
    st.mode = "loading";
    cur = null;
    try {
      const { ort, s } = await session(d);
      if (!props.decoder || props.decoder.model !== d.model || props.decoder.url !== d.url) return;  // moved on
      const c = { model: d.model, ort, session: s, D: d.latent_dim, C: d.num_classes || 0,
                  H: d.shape[0], W: d.shape[1], pca_mean: d.pca_mean, pca_components: d.pca_components };
      // A decoder whose input does not fit this model fails here, before any slider move relies on it.
      const out = await run(c, new Float32Array(c.D), c.C ? [0] : null);
      if (out.length !== c.H * c.W) throw new Error(`it returned ${out.length} values, not ${c.H}x${c.W}`);
      cur = c;
      st.mode = "browser";
      st.reason = null;
      line("Decoding in your browser (onnxruntime-web, WebAssembly): the sliders need no round trip.", "browser");
    } catch (e) {
      const msg = String((e && e.message) || e).split("\n")[0].slice(0, 200);
      server(`the exported decoder of ${d.model} could not run in the page (${msg}). ` +
             "Re-export it with `python -m training export-decoder <folder>`.");
    }
  }

  // One forward pass: `labels` null (unconditional) or a list of class ids, one output row each (same z).
  async function run(c, z, labels) {
    const n = labels ? labels.length : 1;
    const zs = new Float32Array(n * c.D);
    for (let i = 0; i < n; i++) zs.set(z, i * c.D);
    const feeds = { z: new c.ort.Tensor("float32", zs, [n, c.D]) };
    if (labels) feeds.label = new c.ort.Tensor("int64", BigInt64Array.from(labels.map(BigInt)), [n]);
    const out = await c.session.run(feeds);
    return out.image.data;
  }

  function readZ(c) {
    const z = new Float32Array(c.D);
    for (let i = 0; i < c.D; i++) {
      const el = document.querySelector("#z-" + i + " input[type=range]");
      const v = el ? Number(el.value) : 0;
      z[i] = Number.isFinite(v) ? v : 0;
    }
    return z;
  }

  function readLabel(c) {
    if (!c.C) return null;
    const radios = Array.from(document.querySelectorAll("#class-picker input[type=radio]"));
    const k = radios.findIndex((x) => x.checked);
    return k >= 0 && k < c.C ? k : 0;
  }

  function dataUrl(c, px, offset) {
    if (canvas.width !== c.W || canvas.height !== c.H) { canvas.width = c.W; canvas.height = c.H; }
    const img = ctx2d.createImageData(c.W, c.H);
    const a = img.data;
    for (let i = 0, n = c.W * c.H; i < n; i++) {
      const p = px[offset + i];
      // the server's rounding (explorer/modalities/image.py to_uint8): clip to [0, 1], *255, +0.5, floor
      const v = Math.floor((p < 0 ? 0 : p > 1 ? 1 : p) * 255 + 0.5);
      const j = i * 4;
      a[j] = a[j + 1] = a[j + 2] = v;
      a[j + 3] = 255;
    }
    ctx2d.putImageData(img, 0, 0);
    return canvas.toDataURL("image/png");
  }

  // The <img> keeps the src of every new image (tests, embedders, the download link read it), but a data: URL is
  // decoded asynchronously, so a pointer move (dispatched at the start of a frame) would reach the screen one
  // frame later. A canvas with the same pixels, laid over the image, is painted in the very frame of the move.
  function show(im) {
    let live = im.parentElement.querySelector("canvas.xp-live");
    if (!live) {
      live = document.createElement("canvas");
      live.className = "xp-img xp-live";
      live.setAttribute("aria-hidden", "true");
      im.parentElement.insertBefore(live, im);
    }
    if (live.width !== canvas.width || live.height !== canvas.height) {
      live.width = canvas.width;
      live.height = canvas.height;
    }
    live.getContext("2d").drawImage(canvas, 0, 0);
    live.dataset.drawn = String(st.runs + 1);
    im.parentElement.classList.add("xp-live-on");
  }

  async function decodeNow() {
    const c = cur;
    if (!c) return;
    const t0 = performance.now();
    const z = readZ(c), label = readLabel(c);
    const px = await run(c, z, c.C ? [label] : null);
    if (cur !== c) return;  // the model changed meanwhile
    const im = document.querySelector("#decoded-image img");
    if (im) {
      ownSrc = dataUrl(c, px, 0);
      im.src = ownSrc;
      show(im);
    }
    st.runs += 1;
    st.lastMs = performance.now() - t0;
    st.lastZ = Array.from(z);
    moveMarker(c, z);
    if (c.C) { rowGen++; clearTimeout(rowTimer); rowTimer = setTimeout(() => decodeRow(c), ROW_IDLE_MS); }
  }

  // A conditional model's row (the same z as every class) is C more decodes: drawn once the sliders rest, one
  // class per task, so that a move arriving meanwhile waits for one small decode at most, and then starts over.
  async function decodeRow(c) {
    const gen = ++rowGen;
    const z = readZ(c);
    for (let k = 0; k < c.C; k++) {
      if (cur !== c || busy || gen !== rowGen) return;
      const px = await run(c, z, [k]);
      const row = document.querySelectorAll("#class-row figure img");
      if (cur !== c || gen !== rowGen || k >= row.length) return;
      row[k].src = dataUrl(c, px, 0);
      await new Promise((r) => setTimeout(r, 0));
    }
  }

  function schedule() {
    if (busy) { again = true; return; }
    busy = true;
    (async () => {
      try {
        do { again = false; await decodeNow(); } while (again);
      } catch (e) {
        server("the in-page decoder failed (" + String((e && e.message) || e).slice(0, 200) + ").");
        if (dirty.size) sync();
      } finally { busy = false; }
    })();
  }

  // On the PCA map the marker is exact and cheap: (z - mean) . components, moved by the map's own setMarker
  // (static/latent_map.js: without a Plotly redraw where it can).
  function moveMarker(c, z) {
    const plot = document.querySelector("#latent-map .xp-map-plot");
    if (!plot || !plot.layout || plot.dataset.projection !== "pca" || plot.dataset.model !== c.model) return;
    if (!c.pca_mean || !c.pca_components) return;
    let x = 0, y = 0;
    for (let i = 0; i < c.D; i++) {
      const d = z[i] - c.pca_mean[i];
      x += d * c.pca_components[0][i];
      y += d * c.pca_components[1][i];
    }
    if (window.__xpSetMarker) window.__xpSetMarker(x, y);
  }

  // Hand the moved sliders to Gradio as normal input events: their values are stored, and the server's slider
  // events run once with the final z.
  function sync() {
    clearTimeout(syncTimer);
    syncTimer = null;
    const els = Array.from(dirty);
    dirty.clear();
    if (!els.length) return;
    passing = true;
    try { els.forEach((el) => el.dispatchEvent(new Event("input", { bubbles: true }))); } finally { passing = false; }
    st.syncs += 1;
  }

  function isSlider(t) {
    return t instanceof HTMLInputElement && t.type === "range" && t.closest("#latent-sliders");
  }

  if (!window.__xpDecoderListening) {
    window.__xpDecoderListening = true;
    document.addEventListener("input", (ev) => {
      if (passing || !cur || !isSlider(ev.target)) return;
      ev.stopPropagation();  // Gradio's handler does not see this move: no request
      const t = ev.target;
      const box = t.closest(".block") && t.closest(".block").querySelector("input[type=number]");
      if (box) box.value = t.value;
      const lo = Number(t.min), hi = Number(t.max);
      t.style.setProperty("--range_progress", (100 * (Number(t.value) - lo) / (hi - lo || 1)) + "%");
      // Every moved slider goes to the server at the release (or a pause in key presses), not now: Gradio's
      // handling of an event costs the page several ms, which would delay this move's frame.
      dirty.add(t);
      lastMove = performance.now();
      schedule();
    }, true);
    document.addEventListener("change", (ev) => {
      if (passing || !cur || !isSlider(ev.target)) return;
      ev.stopPropagation();  // Gradio would store the value and send a request now: sync() does it once instead
      if (!dirty.size) return;
      clearTimeout(syncTimer);
      syncTimer = setTimeout(sync, SYNC_MS);  // keys fire input + change per press: wait for a pause
    }, true);
    // Before anything else is clicked (a button, the map, a tab), the server gets the final z.
    document.addEventListener("pointerup", () => { if (dirty.size) sync(); }, true);
    document.addEventListener("pointerdown", (ev) => { if (dirty.size && !isSlider(ev.target)) sync(); }, true);
  }

  // A server answer (the final z after a drag, a random sample, a map click) redraws #decoded-image with the z it
  // knew. Shortly after a drag the sliders may have moved on since (a drag during the round trip), so the page then
  // draws their newest z again: the same picture when they did not.
  const watched = document.querySelector("#decoded-image");
  if (watched && !watched.__xpObserved) {
    watched.__xpObserved = true;
    new MutationObserver(() => {
      const im = watched.querySelector("img");
      if (!im || im.src === ownSrc) return;
      if (im.parentElement) im.parentElement.classList.remove("xp-live-on");  // the server's image is the one shown
      if (cur && performance.now() - lastMove < 1500) requestAnimationFrame(schedule);
    }).observe(watched, { subtree: true, childList: true, attributes: true, attributeFilter: ["src"] });
  }

  st.decode = (z, label) => {  // for tests and benchmarks: the page's own decode of any z, as 0..255 values
    const c = cur;
    if (!c) return Promise.resolve(null);
    const labels = c.C ? [label || 0] : null;
    return run(c, Float32Array.from(z), labels).then((px) => Array.from(px, (p) =>
      Math.floor((p < 0 ? 0 : p > 1 ? 1 : p) * 255 + 0.5)));
  };

  setup();
  watch("decoder", setup);
})();
