// Body of gr.HTML(js_on_load=...) for a small static plotly figure (explorer/ui/tabs/dynamics.py: training dynamics).
// props.value is a figure {data, layout} (explorer/tools/dynamics.py: history_figure, kl_figure) or null.
// Plotly is the same plotly.min.js the latent map uses, served by this app (gr.Plot would load a second copy).
(function () {
  const plot = element.querySelector(".xp-plot");
  const config = { displaylogo: false, responsive: true,
                   modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"] };

  function whenPlotly(fn) {
    if (window.Plotly) { fn(); return; }
    const t = setInterval(() => { if (window.Plotly) { clearInterval(t); fn(); } }, 30);
  }

  async function draw() {
    const fig = props.value;
    if (!fig || !fig.data) {
      Plotly.purge(plot);
      plot.dataset.traces = "0";
      element.classList.remove("xp-plot-ready");
      plot.style.display = "none";
      return;
    }
    plot.style.display = "";
    await Plotly.react(plot, fig.data, fig.layout || {}, config);
    plot.dataset.traces = String(fig.data.length);
    plot.dataset.points = String(fig.data.reduce((n, t) => n + ((t.y || []).length), 0));
    element.classList.add("xp-plot-ready");
  }

  whenPlotly(() => {
    draw();
    watch("value", draw);
    // Drawn while its tab was hidden, the figure has no width: resize it when the tab shows it.
    new ResizeObserver(() => { if (plot.offsetWidth && plot.data) Plotly.Plots.resize(plot); }).observe(plot);
  });
})();
