// Draws the charts of the dashboard and the briefing with ECharts. The data comes from
// a json_script element (no inline script: CSP); each chart's div names its key.
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data") || document.getElementById("briefing-data");
  if (!source || typeof echarts === "undefined") return;
  var data = JSON.parse(source.textContent);
  var font = { fontFamily: "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif" };

  function bars(d) {
    return {
      textStyle: font, tooltip: {}, grid: { left: 8, right: 16, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: d.labels.slice().reverse() },
      series: [{ type: "bar", barMaxWidth: 22, data: d.values.slice().reverse(), label: { show: true, position: "right" } }]
    };
  }
  function lines(d, type, yMax) {
    return {
      textStyle: font, tooltip: { trigger: "axis" }, legend: { top: 0 },
      grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: d.labels, axisLabel: { rotate: type === "bar" ? 30 : 0 } },
      yAxis: { type: "value", minInterval: 1, max: yMax },
      series: d.series.map(function (s) { return { name: s.name, type: type, barMaxWidth: 28, data: s.values }; })
    };
  }
  var options = {
    trend: function (d) { return lines(d, "line"); },
    communities: function (d) { return lines(d, "bar", 100); },
    category: bars, channel: bars, tier: bars
  };
  var charts = [];
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var key = el.getAttribute("data-chart");
    if (!data[key] || !options[key]) return;
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption(options[key](data[key]));
    charts.push(chart);
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
