// Body of gr.HTML(js_on_load=...) for #decode-mode: decodes every slider move in the page, so a move needs no
// round trip to the server (see explorer/ui/browser_decode.py). Gradio provides: element, props, watch.
// Two engines, one slider handling:
// - an image model: onnxruntime-web (WebAssembly) runs the model's exported decoder (decoder.onnx);
// - a text model (a text VAE / CVAE): static/text_decoder.js, prepended to this file in the page
//   (window.__xpTextDecoder), runs its greedy GRU decoder in plain JavaScript on text_decoder.safetensors
//   (explorer/backends/browser_text_decoder.py) and writes the sentence as the server's tokenizer does.
//
// props.decoder : image: {model, url, latent_dim, num_classes, shape: [H, W], sha256, pca_mean, pca_components};
//                 text:  {model, kind: "text", url, sha256, latent_dim, num_classes, empty, probes, pca_mean,
//                         pca_components}, probes: [{z, label, text}] the server's sentences for a few z, which the
//                         page's decoder must reproduce before it is used; empty: the text shown for an empty sentence;
//                 {model, reason} when this model is decoded on the server (no usable decoder file, ...)
// props.runtime : {module, wasm}: the URLs of the vendored onnxruntime-web files (explorer/static/vendor)
//
// How a move is handled, in "browser" mode:
// - a capturing listener on the document takes the slider's own `input` event before Gradio's handler sees it
//   (so no request is sent) and decodes the sliders' z in the page: an image model's 28x28 picture goes into
//   #decoded-image's <img> src (a PNG data URL; CSS upscales it, pixelated) and at once into a canvas laid over it;
//   a text model's sentence goes into #decoded-image .xp-sentence; a conditional model's class row is decoded once
//   the sliders rest; on the PCA map the current-z marker moves too (z projected with the stored PCA basis);
// - decodes are coalesced: while one runs, only the newest z is kept for the next;
// - on release (the range's `change`; for keys, once they stop for SYNC_MS) the last move is handed to Gradio
//   as an ordinary input event, so the server learns the final z (its slider values, the map marker on t-SNE or
//   UMAP, the tools) with one request;
// - a text CVAE: a new class in the class picker is decoded in the page at once too (the server, which also hears
//   the change, answers with the same sentence and marks the class in the row).
// In "server" mode (no WebAssembly for an image model, no usable decoder file, a decoder that fails to load or
// disagrees with the server) nothing is intercepted: the page decodes on the server as before, and the line in
// #decode-mode says why.
(function () {
  const ROW_IDLE_MS = 120;    // a conditional model's class row is redrawn once the sliders rest this long
  const SYNC_MS = 200;          // keys: hand the final z to the server once they have paused this long
  const st = window.__xpDecoder = window.__xpDecoder || {
    mode: "server", reason: "starting", model: null, runs: 0, lastMs: null, syncs: 0,
  };
  let runtime = null;           // Promise of the ort module, loaded once
  const sessions = new Map();   // url + sha -> Promise of an InferenceSession (image) or a parsed model (text)
  let cur = null;               // in browser mode: {kind, engine, model, D, C, pca_mean, pca_components, ...}
  let busy = false, again = false, passing = false;      // a decode running; another wanted; our own event
  let rowGen = 0, rowTimer = null, syncTimer = null;
  let lastMove = -1e9, ownSrc = null, ownNode = null, ownText = null;
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

  function oneLine(e) { return String((e && e.message) || e).split("\n")[0].slice(0, 200); }

  // ---- the image engine: onnxruntime-web running decoder.onnx ------------------------------------------------
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

  function cached(d, make) {
    const key = d.url + "#" + d.sha256;
    if (!sessions.has(key)) {
      const p = make();
      sessions.set(key, p);
      p.catch(() => sessions.delete(key));
    }
    return sessions.get(key);
  }

  function dataUrl(c, px, offset) {
    if (canvas.width !== c.W || canvas.height !== c.H) { canvas.width = c.W; canvas.height = c.H; }
    const img = ctx2d.createImageData(c.W, c.H);
    const a = img.data;
    // the server's rounding (explorer/modalities/image.py to_uint8): clip to [0, 1], *255, +0.5, floor
    const u8 = (p) => Math.floor((p < 0 ? 0 : p > 1 ? 1 : p) * 255 + 0.5);
    const n = c.W * c.H;
    for (let i = 0; i < n; i++) {
      const j = i * 4;
      if (c.K === 3) {  // colour: the decoder's (3, H, W) planes, red, green, blue
        a[j] = u8(px[offset + i]);
        a[j + 1] = u8(px[offset + n + i]);
        a[j + 2] = u8(px[offset + 2 * n + i]);
      } else {
        a[j] = a[j + 1] = a[j + 2] = u8(px[offset + i]);
      }
      a[j + 3] = 255;
    }
    ctx2d.putImageData(img, 0, 0);
    return canvas.toDataURL("image/png");
  }

  // The <img> keeps the src of every new image (tests, embedders, the download link read it), but a data: URL is
  // decoded asynchronously, so a pointer move (dispatched at the start of a frame) would reach the screen one
  // frame later. A canvas with the same pixels, laid over the image, is painted in the very frame of the move.
  function showLive(im) {
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

  const imageEngine = {
    async load(d) {
      if (typeof WebAssembly === "undefined" || typeof DecompressionStream === "undefined") {
        return { reason: "this browser has no WebAssembly, which the in-page decoder needs." };
      }
      try {
        const { ort, s } = await cached(d, async () => {
          const ort = await loadRuntime();
          const res = await fetch(d.url);
          if (!res.ok) throw new Error("its file answered HTTP " + res.status);
          const s = await ort.InferenceSession.create(new Uint8Array(await res.arrayBuffer()),
                                                      { executionProviders: ["wasm"] });
          return { ort, s };
        });
        const c = { ort, session: s, H: d.shape[0], W: d.shape[1], K: d.channels || 1 };
        // A decoder whose input does not fit this model fails here, before any slider move relies on it.
        const out = await this.decode({ ...c, D: d.latent_dim, C: d.num_classes || 0 },
                                      new Float32Array(d.latent_dim), d.num_classes ? 0 : null);
        if (out.length !== c.K * c.H * c.W) {
          throw new Error(`it returned ${out.length} values, not ${c.K}x${c.H}x${c.W}`);
        }
        return { c, line: "Decoding in your browser (onnxruntime-web, WebAssembly): the sliders need no round trip." };
      } catch (e) {
        return { reason: `the exported decoder of ${d.model} could not run in the page (${oneLine(e)}). ` +
                         "Re-export it with `python -m training export-decoder <folder>`." };
      }
    },
    // One forward pass of one z: `label` null (unconditional) or a class id.
    async decode(c, z, label) {
      const feeds = { z: new c.ort.Tensor("float32", Float32Array.from(z), [1, c.D]) };
      if (c.C) feeds.label = new c.ort.Tensor("int64", BigInt64Array.from([BigInt(label || 0)]), [1]);
      const out = await c.session.run(feeds);
      return out.image.data;
    },
    show(c, px) {
      const im = document.querySelector("#decoded-image img");
      if (!im) return;
      ownSrc = dataUrl(c, px, 0);
      im.src = ownSrc;
      showLive(im);
    },
    showRow(c, k, px) {
      const row = document.querySelectorAll("#class-row figure img");
      if (k >= row.length) return false;
      row[k].src = dataUrl(c, px, 0);
      return true;
    },
    // whether #decoded-image shows what the page drew itself (else a server answer redrew it)
    isOwn() {
      const im = document.querySelector("#decoded-image img");
      return !im || im.src === ownSrc;
    },
    // the uint8 pixels, in the server's order: (H, W) or, for colour, (H, W, 3) channels last
    value(px, c) {
      const u8 = (p) => Math.floor((p < 0 ? 0 : p > 1 ? 1 : p) * 255 + 0.5);
      if (!c || c.K !== 3) return Array.from(px, u8);
      const n = c.H * c.W, out = new Array(3 * n);
      for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) out[3 * i + k] = u8(px[k * n + i]);
      return out;
    },
  };

  // ---- the text engine: static/text_decoder.js on text_decoder.safetensors ----------------------------------
  // A sentence is shown as the server's HTML of it shows (explorer/modalities/text.py, parsed by the browser): its
  // text, with NUL dropped and CR / CRLF read as LF as the HTML parser does, or for an empty sentence
  // <span class="xp-none">(the decoder wrote nothing: ...)</span>.
  function writeSentence(el, c, text) {
    if (c.T.isEmpty(text)) {
      if (el.querySelector(":scope > .xp-none") && el.textContent === c.empty) return;
      const span = document.createElement("span");
      span.className = "xp-none";
      span.textContent = c.empty;
      el.replaceChildren(span);
      return;
    }
    const shown = text.replace(/\r\n?/g, "\n").replace(/\0/g, "");
    if (el.textContent !== shown || el.children.length) el.textContent = shown;
  }

  const textEngine = {
    async load(d) {
      const T = window.__xpTextDecoder;
      if (!T || typeof TextDecoder === "undefined") {
        return { reason: "this browser lacks what the in-page text decoder needs (TextDecoder)." };
      }
      try {
        const m = await cached(d, async () => {
          const res = await fetch(d.url);
          if (!res.ok) throw new Error("its file answered HTTP " + res.status);
          return T.parse(await res.arrayBuffer());
        });
        if (m.L !== d.latent_dim || m.C !== (d.num_classes || 0)) {
          throw new Error(`the file is for ${m.L} latent dimensions and ${m.C} classes, not ` +
                          `${d.latent_dim} and ${d.num_classes || 0}`);
        }
        // The server's own sentences for a few codes: the page's decoder must write exactly the same.
        for (const p of d.probes || []) {
          const got = T.decode(m, p.z, p.label);
          if (got !== p.text) {
            throw new Error(`it wrote ${JSON.stringify(got.slice(0, 60))} where the server writes ` +
                            JSON.stringify(String(p.text).slice(0, 60)));
          }
        }
        return { c: { m, T, empty: d.empty || "" },
                 line: "Decoded in the browser (the GRU decoder in JavaScript): the sliders need no round trip." };
      } catch (e) {
        return { reason: `the in-page text decoder of ${d.model} could not run in the page (${oneLine(e)}).` };
      }
    },
    async decode(c, z, label) { return c.T.decode(c.m, z, label); },
    show(c, text) {
      const el = document.querySelector("#decoded-image .xp-sentence");
      if (!el) return;
      el.classList.remove("xp-blank");
      writeSentence(el, c, text);
      el.dataset.drawn = String(st.runs + 1);
      ownNode = el;
      ownText = el.textContent;
      st.lastText = text;
    },
    showRow(c, k, text) {
      const row = document.querySelectorAll("#class-row figure");
      if (k >= row.length) return false;
      const el = row[k].querySelector(".xp-sentence-small");
      if (el) writeSentence(el, c, text);
      return true;
    },
    isOwn() {
      const el = document.querySelector("#decoded-image .xp-sentence");
      return !el || (el === ownNode && el.textContent === ownText);
    },
    value(text) { return text; },
  };

  const ENGINES = { image: imageEngine, text: textEngine };

  async function setup() {
    const d = props.decoder;
    if (!d || !d.model) return;
    st.model = d.model;
    if (d.reason) { server(d.reason); return; }
    const engine = ENGINES[d.kind || "image"];
    if (!engine) { server(`the page has no decoder for a ${d.kind} model.`); return; }
    line("Loading the decoder into the page…", "loading");
    st.mode = "loading";
    cur = null;
    const r = await engine.load(d);
    if (!props.decoder || props.decoder.model !== d.model || props.decoder.url !== d.url) return;  // moved on
    if (r.reason) { server(r.reason); return; }
    cur = { ...r.c, kind: d.kind || "image", engine, model: d.model, D: d.latent_dim, C: d.num_classes || 0,
            pca_mean: d.pca_mean, pca_components: d.pca_components };
    st.mode = "browser";
    st.reason = null;
    line(r.line, "browser");
  }

  // ---- the shared slider handling ---------------------------------------------------------------------------
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

  async function decodeNow() {
    const c = cur;
    if (!c) return;
    const t0 = performance.now();
    const z = readZ(c), label = readLabel(c);
    const out = await c.engine.decode(c, z, label);
    if (cur !== c) return;  // the model changed meanwhile
    c.engine.show(c, out);
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
      const out = await c.engine.decode(c, z, k);
      if (cur !== c || gen !== rowGen || !c.engine.showRow(c, k, out)) return;
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
        server("the in-page decoder failed (" + oneLine(e) + ").");
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
      const t = ev.target;
      // A text CVAE's class picker: the new class is decoded here at once; Gradio still hears the change (the
      // server answers with the same sentence and marks the class in the row). An image model's class change is
      // left to the server, whose picture is the 280-px one.
      if (cur && cur.kind === "text" && t instanceof HTMLInputElement && t.type === "radio" &&
          t.closest("#class-picker")) {
        lastMove = performance.now();
        schedule();
        return;
      }
      if (passing || !cur || !isSlider(t)) return;
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
  // draws their newest z again: the same picture (or sentence) when they did not.
  const watched = document.querySelector("#decoded-image");
  if (watched && !watched.__xpObserved) {
    watched.__xpObserved = true;
    new MutationObserver(() => {
      const im = watched.querySelector("img");
      if (im && im.src !== ownSrc && im.parentElement) im.parentElement.classList.remove("xp-live-on");  // the server's image is shown
      if (!cur || cur.engine.isOwn()) return;
      if (performance.now() - lastMove < 1500) requestAnimationFrame(schedule);
    }).observe(watched, { subtree: true, childList: true, characterData: true, attributes: true,
                          attributeFilter: ["src"] });
  }

  // For tests and benchmarks: the page's own decode of any z (an image as 0..255 values; a text model's sentence).
  st.decode = (z, label) => {
    const c = cur;
    if (!c) return Promise.resolve(null);
    return c.engine.decode(c, Float32Array.from(z), c.C ? (label || 0) : null).then((out) => c.engine.value(out, c));
  };

  setup();
  watch("decoder", setup);
})();
