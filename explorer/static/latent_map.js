// Body of gr.HTML(js_on_load=...) for the latent map. Gradio provides: element, trigger, props, watch.
// Plotly comes from the plotly Python package's own plotly.min.js, served by this app (see `head` in ui.py).
//
// props.value  : the figure {data, layout, ...} built in Python (explorer/latent_map.py: build_figure)
// props.marker : {x, y} of the current z; moving it restyles only the last (SVG) trace
// A click on a point sends trigger("select", {index, value}) with the test-image index from customdata.
(function () {
  const plot = element.querySelector(".xp-map-plot");
  const config = {
    displaylogo: false, responsive: true, scrollZoom: true,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "toImage", "autoScale2d"],
  };
  let drawnFigure = null;
  let pendingMarker = null;

  function whenPlotly(fn) {
    if (window.Plotly) { fn(); return; }
    const t = setInterval(() => { if (window.Plotly) { clearInterval(t); fn(); } }, 30);
  }

  function draw() {
    const fig = props.value;
    if (!fig || !fig.data) return;
    if (fig === drawnFigure) return;
    drawnFigure = fig;
    Plotly.react(plot, fig.data, fig.layout, config).then(() => {
      plot.dataset.projection = fig.projection || "";
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
    });
  }

  function moveMarker() {
    const m = props.marker;
    if (!m || !plot.data || m.x === undefined) return;
    // Coalesce: during a fast drag only the newest position is drawn, after the image has painted.
    const first = pendingMarker === null;
    pendingMarker = m;
    if (!first) return;
    requestAnimationFrame(() => {
      const q = pendingMarker;
      pendingMarker = null;
      const last = plot.data.length - 1;
      Plotly.restyle(plot, { x: [[q.x]], y: [[q.y]] }, [last]);
      plot.dataset.marker = q.x.toFixed(3) + "," + q.y.toFixed(3);
    });
  }

  whenPlotly(() => {
    draw();
    watch("value", draw);
    watch("marker", moveMarker);
  });
})();
