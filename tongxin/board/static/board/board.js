// The board's charts (镜子墙). Data comes from the json_script block "board-data"; the
// tables beside each chart stay in the page for readers and browsers without scripts.
(function () {
  "use strict";
  var source = document.getElementById("board-data");
  if (!source || typeof window.echarts === "undefined") return;
  var data = JSON.parse(source.textContent);
  var charts = [];

  function draw(id, option) {
    var el = document.getElementById(id);
    if (!el) return;
    el.classList.add("is-on");
    var chart = window.echarts.init(el, null, { renderer: "svg" });
    chart.setOption(option);
    charts.push(chart);
    // The chart shows it; the table folds away but stays one tap from view.
    var table = el.parentNode.querySelector("details.tx-board-table");
    if (table) table.open = false;
  }

  draw("chart-trend", {
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 36, right: 12, top: 32, bottom: 28 },
    xAxis: { type: "category", data: data.months },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { name: data.labels.collected, type: "line", smooth: true, data: data.collected },
      { name: data.labels.resolved, type: "line", smooth: true, data: data.resolved }
    ]
  });

  var categories = data.categories.slice().reverse();
  draw("chart-categories", {
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    grid: { left: 8, right: 28, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", data: categories.map(function (c) { return c.name; }) },
    series: [{ type: "bar", data: categories.map(function (c) { return c.value; }),
               label: { show: true, position: "right" } }]
  });

  // A phone is too narrow for labels around a pie: the legend carries the counts.
  var counts = {};
  data.states.forEach(function (s) { counts[s.name] = s.value; });
  draw("chart-states", {
    tooltip: { trigger: "item", formatter: "{b}：{c}（{d}%）" },
    legend: { bottom: 0, left: "center", formatter: function (name) { return name + " " + counts[name]; } },
    series: [{ type: "pie", radius: ["38%", "62%"], center: ["50%", "40%"],
               label: { show: false }, data: data.states }]
  });

  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.resize(); });
  });
})();
