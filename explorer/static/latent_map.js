// Body of gr.HTML(js_on_load=...) for the latent map. Gradio provides: element, trigger, props, watch, server.
// Plotly comes from the plotly Python package's own plotly.min.js, served by this app (see PLOTLY_HEAD in explorer/ui/style.py).
//
// props.value  : {model, projection}; the figure (explorer/latent_map.py: build_figure) is fetched with
//                server.get_figure, so the big figure never sits in props (every prop update would copy it)
// props.marker : {x, y} of the current z; moving it relayouts only layout.shapes[0] (no WebGL redraw)
// props.path   : an interpolation path, {pca: {x: [...], y: [...]}, tsne: {...}} (explorer/tools/interpolation.py: path_on_map)
//                or null; drawn as layout.shapes[1] (an SVG path in data coordinates) with "A" / "B" annotations,
//                again a relayout, never a WebGL redraw
// A click on a point sends trigger("select", {index, value}) with the test-image index from customdata.
(function () {
  const plot = element.querySelector(".xp-map-plot");
  const config = {
    displaylogo: false, responsive: true, scrollZoom: true,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "toImage", "autoScale2d"],
  };
  let drawnKey = null;
  let wantedKey = null;
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

  // props.value is {model, projection}; the figure itself comes from the server function get_figure.
  async function draw() {
    const v = props.value;
    if (!v || !v.model) return;
    const key = v.model + "|" + v.projection;
    if (key === drawnKey || key === wantedKey) return;
    wantedKey = key;
    const fig = await server.get_figure({ model: v.model, projection: v.projection });
    if (wantedKey !== key) return;  // a newer model or projection was picked meanwhile
    wantedKey = null;
    if (!fig || fig.error) { showError(fig ? fig.error : "no answer from the server"); return; }
    if (plot.querySelector(".xp-map-error")) plot.innerHTML = "";
    await Plotly.react(plot, fig.data, fig.layout, config);
    drawnKey = key;
    plot.dataset.projection = fig.projection || "";
    plot.dataset.model = v.model;
    plot.dataset.points = String(fig.n || 0);
    element.classList.add("xp-map-ready");
    if (!plot.__xpClick) {
      plot.__xpClick = true;
      plot.on("plotly_click", (ev) => {
        const p = (ev.points || []).find((q) => q.customdata !== undefined && q.customdata !== null);
        if (!p) return;
        const index = Array.isArray(p.customdata) ? p.customdata[0] : p.customdata;
        plot.dataset.clicked = String(index);
        trigger("select", { index: Number(index), value: p.data.name });
      });
    }
    moveMarker();
    drawPath();
  }

  // The interpolation path on the projection now drawn; the figure (layout.shapes[0]) never holds it, so a new
  // figure (model or projection change) is drawn without it and drawPath puts the right one back.
  function drawPath() {
    if (!plot.layout || drawnKey === null) return;
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

  function moveMarker() {
    const m = props.marker;
    if (!m || m.x === undefined) return;
    setMarker(m.x, m.y);
  }

  // The current-z marker to (x, y): moved at once where it is drawn (placeMarker), else with one relayout per
  // frame at most. Coalesced: during a drag only the newest position is drawn, and the decoded image never waits
  // for the map. Shared with static/decoder.js (window.__xpSetMarker).
  function setMarker(x, y) {
    if (!plot.layout) return;
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

  whenPlotly(() => {
    draw();
    watch("value", draw);
    watch("marker", moveMarker);
    watch("path", drawPath);
  });
})();
