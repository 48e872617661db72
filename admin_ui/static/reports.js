// Draws each report chart from the JSON in its data-chart attribute (the CSP
// allows no inline script, so the data travels in the markup). ECharts' own toolbox saves the
// chart: as PNG with the canvas renderer, as SVG with the SVG renderer.
(function () {
  "use strict";
  function draw(el) {
    var data = JSON.parse(el.dataset.chart);
    var chart = echarts.init(el, null, { renderer: el.dataset.renderer || "canvas" });
    var series = [{ name: data.name, type: data.kind, data: data.values }];
    if (data.lines) {  // several named lines on one scale (a campaign's groups)
      series = data.lines.map(function (line) { return { name: line.name, type: "line", data: line.values }; });
    }
    if (data.previous) {
      series.push({ name: data.previousName, type: "line", data: data.previous, lineStyle: { type: "dashed" } });
    }
    chart.setOption({
      animation: false,
      title: { text: data.title, textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis" },
      legend: { top: 0, right: 80 },
      toolbox: { feature: { saveAsImage: { title: "PNG/SVG", name: data.title } } },
      grid: { left: 60, right: 20, top: 40, bottom: 30 },
      xAxis: { type: "category", data: data.labels },
      yAxis: { type: "value", axisLabel: data.percent ? { formatter: function (v) { return (v * 100).toFixed(0) + "%"; } } : {} },
      series: series
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  function start() {
    document.querySelectorAll(".report-chart").forEach(draw);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
