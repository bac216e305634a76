// Body of gr.HTML(js_on_load=...) for the latent map. Gradio provides: element, trigger, props, watch, server.
// Plotly comes from the plotly Python package's own plotly.min.js, served by this app (see PLOTLY_HEAD in explorer/ui/style.py).
//
// props.value  : {model, projection}; the figure (explorer/latent_map.py: build_figure) is fetched with
//                server.get_figure, so the big figure never sits in props (every prop update would copy it)
// props.marker : {x, y} of the current z; moving it relayouts only layout.shapes[0] (no WebGL redraw); in 3-D its
//                xyz, the last trace's one point (a restyle of that trace)
// props.dims   : "2" or "3": the 2-D map, or the rotatable 3-D view of PCA / UMAP (explorer/latent_map.py:
//                build_figure_3d); thumbnails, the lasso and the interpolation path are 2-D only
// props.path   : an interpolation path, {pca: {x: [...], y: [...]}, tsne: {...}} (explorer/tools/interpolation.py: path_on_map)
//                or null; drawn as layout.shapes[1] (an SVG path in data coordinates) with "A" / "B" annotations,
//                again a relayout, never a WebGL redraw
// A click on a point sends trigger("select", {index, value}) with the test-image index from customdata.
// Zoomed in until the view holds at most MAX_THUMBS points, the map draws the images themselves at their positions
// (a canvas over the plot, clicks pass through to the points): server.get_thumbs sends the missing ones as one
// sprite, kept for the model; panning and zooming redraw them from that cache, and only the end of a gesture asks
// for more. plot.dataset.thumbs holds how many are drawn, plot.dataset.thumbMs how long the last redraw took.
// A map of test and training images has one trace per class and split (trace.xp_split) and a legend-only trace per
// class (trace.xp_legend): the split switch (#map-split, "both" / "test" / "train") hides the other split's
// traces in the page, before drawing and on its own change event; a class hidden in the legend stays hidden.
// plot.dataset.split holds what is shown.
// A lasso or box selection sends trigger("submit", {indices}) with the selected points' indices; clearing it (a
// double click) sends {indices: []} (explorer/ui/selection_panel.py).
(function () {
  const plot = element.querySelector(".xp-map-plot");
  const config = {
    displaylogo: false, responsive: true, scrollZoom: true,
    modeBarButtonsToRemove: ["toImage", "autoScale2d"],   // the box and the lasso select points
    // WebGL canvases at the screen's own resolution: plotly's default, 2, draws 4 times the pixels on a screen of
    // devicePixelRatio 1, which a software renderer (a machine without a GPU) pays for on every redraw
    plotGlPixelRatio: Math.min(2, Math.max(1, window.devicePixelRatio || 1)),
  };
  const MAX_THUMBS = 2000, THUMB_PX = 28;
  let thumbModel = null, thumbCache = new Map(), thumbWanted = false, thumbsOn = false;
  const canvas = document.createElement("canvas");
  canvas.className = "xp-thumbs";
  let drawnKey = null;
  let wantedKey = null;
  let drawGen = 0;   // counts the drawings begun: one that waited for a paint gives way to a newer one
  let lastClick = { index: "", at: 0 };   // the last point reported clicked, and when
  let pendingMarker = null;

  function whenPlotly(fn) {
    if (window.Plotly) { fn(); return; }
    const t = setInterval(() => { if (window.Plotly) { clearInterval(t); fn(); } }, 30);
  }

  function showError(message) {
    plot.innerHTML = "";
    const p = document.createElement("p");
    p.className = "xp-map-error";
    p.textContent = "The map could not be drawn: " + message;
    plot.appendChild(p);
  }

  // props.value is {model, projection}; the figure itself comes from the server function get_figure, or from
  // figCache: the model's other views, fetched once its first figure is drawn, so that a switch of projection or
  // of 2-D / 3-D (picked up from the radio buttons' own change events, before gradio's round trip) only redraws.
  const figCache = new Map();
  let cacheModel = null;
  const viewKey = (model, projection, dims) => model + "|" + projection + "|" + dims;

  const inflight = new Map();   // key -> the promise of a figure asked for and not yet answered
  async function fetchFigure(model, projection, dims) {
    const key = viewKey(model, projection, dims);
    if (cacheModel !== model) { figCache.clear(); cacheModel = model; }
    let fig = figCache.get(key);
    if (!fig) {
      let ask = inflight.get(key);
      if (!ask) {
        ask = server.get_figure({ model, projection, dims });
        inflight.set(key, ask);
      }
      try {
        fig = await ask;
      } finally {
        inflight.delete(key);
      }
      if (fig && !fig.error && cacheModel === model) figCache.set(key, fig);
    }
    // plotly keeps (and changes) the objects it draws: each drawing gets its own copy of the cached figure
    return fig && !fig.error ? structuredClone(fig) : fig;
  }

  // The views a click can ask for next: the projections the picker offers, in 2-D and (where it is on) in 3-D.
  function choices(selector) {
    return [...document.querySelectorAll(selector + " input")].filter((i) => !i.disabled).map((i) => i.value);
  }
  let prefetching = null;
  function prefetch(model) {
    if (prefetching === model) return;
    prefetching = model;
    setTimeout(async () => {
      const dims = plot.dataset.dims || "2";
      const views = choices("#projection-picker").map((p) => [p, dims]);
      if (dims === "2" && choices("#map-dims").includes("3")) views.push(["pca", "3"], ["umap", "3"]);
      if (dims === "3") views.push(["pca", "2"], ["tsne", "2"], ["umap", "2"]);
      for (const [p, d] of views) {
        if (cacheModel !== model || prefetching !== model) return;     // another model since
        if (figCache.has(viewKey(model, p, d))) continue;
        try { await fetchFigure(model, p, d); } catch (e) { /* a view the map lacks: fetched when picked */ }
      }
      if (cacheModel === model && prefetching === model) plot.dataset.prefetched = model;   // the page's own requests end
    }, 250);
  }

  let splitShown = null;    // the switch's last change seen here (its inputs can be two checked at once, see below)
  function wantedSplit() {
    if (splitShown) return splitShown;
    const r = document.querySelector("#map-split input:checked");
    return r ? r.value : "both";
  }

  // The visibility each split trace should have: hidden where its split is not shown, else as its class's legend.
  function splitVisibility(data, want) {
    const legend = {};
    for (const tr of data) if (tr.xp_legend) legend[tr.legendgroup] = tr.visible === undefined ? true : tr.visible;
    const out = [];
    data.forEach((tr, i) => {
      if (!tr.xp_split) return;
      const v = want === "both" || want === tr.xp_split ? (legend[tr.legendgroup] === "legendonly" ? "legendonly" : true) : false;
      out.push([i, v]);
    });
    return out;
  }

  // Gradio's radio inputs share no name: at the change event the one clicked is checked and the last one still too
  function applySplit(value) {
    const want = value || wantedSplit();
    splitShown = want;
    plot.dataset.split = want;
    if (!plot.data || drawnKey === null) return;
    const change = splitVisibility(plot.data, want).filter(([i, v]) => (plot.data[i].visible ?? true) !== v);
    if (change.length) Plotly.restyle(plot, { visible: change.map((c) => c[1]) }, change.map((c) => c[0]));
  }

  // The line over the map while a slow view is drawn (#latent-map .xp-map-busy; plot.dataset.busy is "1" then).
  const BUSY_POINTS = 2000;   // fewer draw within a few frames, even in software
  const busy = document.createElement("div");
  busy.className = "xp-map-busy";
  busy.setAttribute("role", "status");
  function showBusy(text) {
    if (!busy.isConnected) { plot.parentNode.style.position = "relative"; plot.parentNode.appendChild(busy); }
    busy.textContent = text;
    busy.hidden = false;
    plot.dataset.busy = "1";
  }
  function hideBusy() {
    busy.hidden = true;
    plot.dataset.busy = "0";
  }
  // resolves once the page has painted what was set before it
  const nextPaint = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));

  function draw() {
    const v = props.value;
    if (!v || !v.model) return;
    show(v.model, v.projection, props.dims === "3" ? "3" : "2");
  }

  async function show(model, projection, dims) {
    const key = viewKey(model, projection, dims);
    if (key === drawnKey || key === wantedKey) return;
    wantedKey = key;
    const gen = ++drawGen;
    const fig = await fetchFigure(model, projection, dims);
    if (wantedKey !== key) return;  // a newer model or projection was picked meanwhile
    wantedKey = null;
    if (!fig || fig.error) { hideBusy(); showError(fig ? fig.error : "no answer from the server"); return; }
    withMarker(fig, projection, dims);
    // A 3-D scene of many points takes seconds to draw without a GPU: say so at once, painted before Plotly
    // takes the main thread, and drop this drawing if another view was picked meanwhile
    if (dims === "3" && (fig.n || 0) >= BUSY_POINTS) {
      showBusy(`Drawing ${fig.n.toLocaleString("en-US")} points in 3-D…`);
      await nextPaint();
      if (gen !== drawGen) return;   // a newer drawing is under way: it hides the line when done
    }
    const want = wantedSplit();
    for (const [i, vis] of splitVisibility(fig.data, want)) fig.data[i].visible = vis;
    plot.dataset.split = want;
    if (plot.querySelector(".xp-map-error")) plot.innerHTML = "";
    try {
      await Plotly.react(plot, fig.data, fig.layout, config);
    } finally {
      hideBusy();
    }
    drawnKey = key;
    plot.dataset.projection = fig.projection || "";
    plot.dataset.dims = dims;
    plot.dataset.model = model;
    plot.dataset.points = String(fig.n || 0);
    element.classList.add("xp-map-ready");
    if (!plot.__xpClick) {
      plot.__xpClick = true;
      plot.on("plotly_click", (ev) => {
        const p = (ev.points || []).find((q) => q.customdata !== undefined && q.customdata !== null);
        if (!p) return;
        const index = Array.isArray(p.customdata) ? p.customdata[0] : p.customdata;
        // the 3-D scene reports a click on every frame drawn while the button is down: one request per click
        const now = performance.now();
        if (String(index) === lastClick.index && now - lastClick.at < 600) return;
        lastClick = { index: String(index), at: now };
        plot.dataset.clicked = String(index);
        trigger("select", { index: Number(index), value: p.data.name });
      });
      plot.on("plotly_selected", (ev) => {
        if (!ev) return;   // plotly also fires it, without points, while a new selection starts
        const indices = [];
        for (const q of ev.points || []) {
          const c = Array.isArray(q.customdata) ? q.customdata[0] : q.customdata;
          if (c !== undefined && c !== null) indices.push(Number(c));
        }
        plot.dataset.selected = String(indices.length);
        trigger("submit", { indices });
      });
      plot.on("plotly_deselect", () => {
        plot.dataset.selected = "0";
        trigger("submit", { indices: [] });
      });
    }
    moveMarker();
    drawPath();
    prefetch(model);
    if (thumbModel !== model) { thumbModel = model; thumbCache = new Map(); }
    plot.dataset.thumbnails = fig.thumbnails ? "1" : "0";
    if (!plot.__xpThumbs) {
      plot.__xpThumbs = true;
      plot.on("plotly_relayouting", (ev) => { const r = rangesOf(ev); if (r) drawThumbs(r); });   // the cache only
      plot.on("plotly_relayout", () => updateThumbs());
      plot.on("plotly_restyle", () => updateThumbs());                  // a class hidden in the legend
    }
    updateThumbs();
  }

  // The axes' ranges now, or those a relayouting event gives (the layout itself moves only at the gesture's end).
  function rangesOf(ev) {
    const fl = plot._fullLayout;
    if (!fl || !fl.xaxis || !fl.yaxis || plot.dataset.dims === "3") return null;   // the 3-D view has no thumbnails
    const xr = fl.xaxis.range.slice(), yr = fl.yaxis.range.slice();
    if (ev) {
      if (ev["xaxis.range[0]"] !== undefined) { xr[0] = ev["xaxis.range[0]"]; xr[1] = ev["xaxis.range[1]"]; }
      if (ev["yaxis.range[0]"] !== undefined) { yr[0] = ev["yaxis.range[0]"]; yr[1] = ev["yaxis.range[1]"]; }
      if (Array.isArray(ev["xaxis.range"])) xr.splice(0, 2, ...ev["xaxis.range"]);
      if (Array.isArray(ev["yaxis.range"])) yr.splice(0, 2, ...ev["yaxis.range"]);
    }
    return { xr, yr };
  }

  // The points inside the ranges, of the classes shown: [{i: index, x, y, color}].
  function visiblePoints(r) {
    const out = [];
    const [xa, xb] = [Math.min(...r.xr), Math.max(...r.xr)], [ya, yb] = [Math.min(...r.yr), Math.max(...r.yr)];
    for (const tr of plot.data || []) {
      if (!tr.customdata || tr.visible === "legendonly" || tr.visible === false) continue;
      const color = tr.marker && tr.marker.color;
      for (let k = 0; k < tr.x.length; k++) {
        const x = tr.x[k], y = tr.y[k];
        if (x >= xa && x <= xb && y >= ya && y <= yb) {
          out.push({ i: tr.customdata[k], x, y, color });
          if (out.length > MAX_THUMBS) return out;
        }
      }
    }
    return out;
  }

  // After a gesture: draw what the cache has, and ask the server for the visible images it lacks.
  async function updateThumbs() {
    const r = rangesOf();
    if (!r || plot.dataset.thumbnails !== "1") { clearThumbs(); return; }
    const pts = visiblePoints(r);
    if (pts.length > MAX_THUMBS) { clearThumbs(); return; }
    drawThumbs(r, pts);
    const missing = pts.map((p) => p.i).filter((i) => !thumbCache.has(i));
    if (!missing.length || thumbWanted) return;
    thumbWanted = true;
    const model = thumbModel;
    try {
      const t = await server.get_thumbs({ model, indices: missing });
      if (!t || t.error || model !== thumbModel) return;
      const img = new Image();
      img.src = t.sprite;
      await img.decode();
      t.indices.forEach((i, k) => thumbCache.set(i, { img, sx: (k % t.cols) * t.w, sy: Math.floor(k / t.cols) * t.h,
                                                       w: t.w, h: t.h }));
    } finally {
      thumbWanted = false;
    }
    updateThumbs();
  }

  function clearThumbs() {
    if (thumbsOn) { canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height); thumbsOn = false; }
    plot.dataset.thumbs = "0";
  }

  // The cached images of the points in ranges r, each centred on its point with a frame in its class's colour.
  function drawThumbs(r, pts) {
    const fl = plot._fullLayout;
    if (!fl || plot.dataset.thumbnails !== "1") return;
    pts = pts || visiblePoints(r);
    if (pts.length > MAX_THUMBS) { clearThumbs(); return; }
    const t0 = performance.now();
    const s = fl._size, dpr = window.devicePixelRatio || 1;
    // Inside plotly's own container, below its top SVG layer: the current-z marker and the hover boxes stay on top.
    const sc = plot.querySelector(".svg-container");
    const top = sc && [...sc.querySelectorAll(":scope > svg.main-svg")].pop();
    if (top && canvas.nextSibling !== top) sc.insertBefore(canvas, top);
    Object.assign(canvas.style, { left: s.l + "px", top: s.t + "px", width: s.w + "px", height: s.h + "px" });
    if (canvas.width !== Math.round(s.w * dpr) || canvas.height !== Math.round(s.h * dpr)) {
      canvas.width = Math.round(s.w * dpr); canvas.height = Math.round(s.h * dpr);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, s.w, s.h);
    ctx.imageSmoothingEnabled = false;
    const [x0, x1] = r.xr, [y0, y1] = r.yr;
    let drawn = 0;
    for (const p of pts) {
      const c = thumbCache.get(p.i);
      if (!c) continue;
      const px = (p.x - x0) / (x1 - x0) * s.w, py = (1 - (p.y - y0) / (y1 - y0)) * s.h;
      const h = THUMB_PX, w = THUMB_PX * c.w / c.h;
      ctx.drawImage(c.img, c.sx, c.sy, c.w, c.h, px - w / 2, py - h / 2, w, h);
      ctx.strokeStyle = p.color || "#888";
      ctx.lineWidth = 1.5;
      ctx.strokeRect(px - w / 2, py - h / 2, w, h);
      drawn++;
    }
    thumbsOn = drawn > 0;
    plot.dataset.thumbs = String(drawn);
    plot.dataset.thumbMs = (performance.now() - t0).toFixed(2);   // how long this redraw took
  }

  // The interpolation path on the projection now drawn; the figure (layout.shapes[0]) never holds it, so a new
  // figure (model or projection change) is drawn without it and drawPath puts the right one back.
  function drawPath() {
    if (!plot.layout || drawnKey === null || plot.dataset.dims === "3") return;
    const p = props.path;
    const xy = p && p[plot.dataset.projection];
    const n = xy && xy.x ? xy.x.length : 0;
    if (n < 2) {
      if ((plot.layout.shapes || []).length > 1 || (plot.layout.annotations || []).length) {
        Plotly.relayout(plot, { "shapes[1].visible": false, annotations: [] });
      }
      plot.dataset.path = "0";
      return;
    }
    let d = "";
    for (let i = 0; i < n; i++) d += (i ? " L" : "M") + xy.x[i] + "," + xy.y[i];
    const shape = { type: "path", path: d, xref: "x", yref: "y", layer: "above", visible: true,
                    line: { color: "#111111", width: 2.5 } };
    const label = (text, i) => ({ x: xy.x[i], y: xy.y[i], text: "<b>" + text + "</b>", showarrow: true,
                                  arrowhead: 0, ax: 0, ay: -22, font: { size: 13, color: "#111111" },
                                  bgcolor: "rgba(255,255,255,0.85)", bordercolor: "#111111", borderpad: 2 });
    Plotly.relayout(plot, { "shapes[1]": shape, annotations: [label("A", 0), label("B", n - 1)] });
    plot.dataset.path = String(n);
  }

  // The marker drawn with the figure itself (props.marker.views has it on every view): else a view switched in
  // the page would wait for the server's marker and then redraw the whole plot once more to show it.
  function withMarker(fig, projection, dims) {
    const m = props.marker, at = m && m.views && m.views[dims === "3" ? projection + "3" : projection];
    if (!Array.isArray(at) || !at.every(Number.isFinite)) return;
    if (dims === "3") {
      const last = fig.data[fig.data.length - 1];
      if (!last || last.name !== "current z") return;
      last.x = [at[0]]; last.y = [at[1]]; last.z = [at[2]];
    } else {
      const sh = fig.layout && fig.layout.shapes && fig.layout.shapes[0];
      if (!sh) return;
      sh.xanchor = at[0]; sh.yanchor = at[1]; sh.visible = true;
    }
    plot.dataset.marker = at.map((c) => c.toFixed(3)).join(",");
  }

  function moveMarker() {
    const m = props.marker;
    if (!m || m.x === undefined) return;
    // a view switched in the page is drawn before the server sends its marker: the last view's stays off it
    if (m.projection && m.projection !== plot.dataset.projection) return;
    if (plot.dataset.dims === "3") { setMarker3d(m.xyz); return; }
    setMarker(m.x, m.y);
  }

  // 3-D: the marker is the last trace, one point; restyled at most once a frame, newest position only.
  let pending3d = null;
  function setMarker3d(xyz) {
    if (!plot.data || !Array.isArray(xyz)) return;
    const last = plot.data[plot.data.length - 1];   // drawn there already (withMarker): no scene redraw
    if (pending3d === null && last && last.name === "current z" && last.x[0] === xyz[0] && last.y[0] === xyz[1] &&
        last.z[0] === xyz[2]) return;
    const first = pending3d === null;
    pending3d = xyz;
    if (!first) return;
    requestAnimationFrame(() => {
      const q = pending3d;
      pending3d = null;
      Plotly.restyle(plot, { x: [[q[0]]], y: [[q[1]]], z: [[q[2]]] }, [plot.data.length - 1]);
      plot.dataset.marker = q.map((c) => c.toFixed(3)).join(",");
    });
  }

  // The current-z marker to (x, y): moved at once where it is drawn (placeMarker), else with one relayout per
  // frame at most. Coalesced: during a drag only the newest position is drawn, and the decoded image never waits
  // for the map. Shared with static/decoder.js (window.__xpSetMarker).
  function setMarker(x, y) {
    if (!plot.layout || plot.dataset.dims === "3") return;   // the page's 2-D PCA marker; 3-D: setMarker3d
    if (placeMarker(plot, x, y)) return;
    const first = pendingMarker === null;
    pendingMarker = { x, y };
    if (!first) return;
    requestAnimationFrame(() => setTimeout(() => {
      const q = pendingMarker;
      pendingMarker = null;
      Plotly.relayout(plot, { "shapes[0].xanchor": q.x, "shapes[0].yanchor": q.y, "shapes[0].visible": true });
      plot.dataset.marker = q.x.toFixed(3) + "," + q.y.toFixed(3);
    }, 0));
  }
  window.__xpSetMarker = setMarker;

  // The marker moved without Plotly.relayout, which redraws the whole WebGL plot (about 50 ms in software GL): the
  // drawn circle (an SVG path) is shifted by the pixel offset to the new anchor, and the layout is told the anchor
  // so that the next redraw (zoom, pan, a new figure) puts it there itself. false when there is no drawn marker to
  // move (hidden, or not drawn yet): setMarker relayouts.
  function placeMarker(gd, x, y) {
    const fl = gd._fullLayout, sh = gd.layout && gd.layout.shapes && gd.layout.shapes[0];
    const fs = fl && fl.shapes && fl.shapes[0];
    const el = gd.querySelector('.shapelayer path[data-index="0"]');
    if (!fs || !sh || !el || !fs.visible || !fl.xaxis || !fl.yaxis || !Number.isFinite(x) || !Number.isFinite(y)) return false;
    const dx = fl.xaxis.l2p(x) - fl.xaxis.l2p(fs.xanchor), dy = fl.yaxis.l2p(y) - fl.yaxis.l2p(fs.yanchor);
    el.setAttribute("transform", `translate(${dx.toFixed(2)},${dy.toFixed(2)})`);
    sh.xanchor = x;
    sh.yanchor = y;
    gd.dataset.marker = x.toFixed(3) + "," + y.toFixed(3);
    return true;
  }

  // The projection and 2-D / 3-D radio buttons: the new view is drawn at once (from figCache once fetched); the
  // same change also goes to the server (main_view.on_projection / on_dims), whose update then finds it drawn.
  function onViewChange(ev) {
    const t = ev.target, v = props.value;
    if (!(t instanceof HTMLInputElement) || !t.checked || t.disabled || !v || !v.model || drawnKey === null) return;
    if (plot.dataset.model !== v.model) return;
    const dims = plot.dataset.dims || "2", projection = plot.dataset.projection || v.projection;
    if (t.closest("#map-split")) {
      applySplit(t.value);
    } else if (t.closest("#projection-picker")) {
      show(v.model, t.value, dims);
    } else if (t.closest("#map-dims") && (t.value === "2" || t.value === "3") && t.value !== dims) {
      // t-SNE has no 3-D view: the server picks PCA in its place, and so does the page
      show(v.model, t.value === "3" && projection === "tsne" ? "pca" : projection, t.value);
    }
  }
  document.addEventListener("change", onViewChange, true);

  // A model picked in the list: its map's figure is asked for at once, beside gradio's event to the server, so
  // that it is here (or on its way) when the server's update names the model. A new model opens in 2-D, on the
  // projection shown now where it has one (a view it lacks is answered with an error, and the server's update
  // then asks for the one it picked).
  document.addEventListener("mousedown", (ev) => {
    const option = ev.target instanceof Element && ev.target.closest("[role=option]");
    const picker = document.querySelector("#model-picker");
    if (!option || !picker) return;
    // the list open is the model picker's: it has the focus (its list may be drawn outside it) or says it is open
    if (!picker.contains(document.activeElement) && !picker.querySelector("[aria-expanded=true]")) return;
    const name = option.getAttribute("aria-label") || option.textContent.trim();
    if (!name || name === plot.dataset.model) return;
    fetchFigure(name, plot.dataset.projection || "pca", "2").catch(() => {});
  }, true);

  whenPlotly(() => {
    draw();
    // value and dims come in one server update but reach their watchers one after the other: one draw, once both
    // are set (else a 2-D -> 3-D switch would redraw the old view first)
    let drawQueued = false;
    const drawSoon = () => {
      if (drawQueued) return;
      drawQueued = true;
      setTimeout(() => { drawQueued = false; draw(); }, 0);
    };
    watch("value", drawSoon);
    watch("marker", moveMarker);
    watch("path", drawPath);
    watch("dims", drawSoon);
  });
})();
