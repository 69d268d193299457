// The bar chart of the groups (ECharts 5.6, only the parts used: bar chart, grid, tooltip,
// legend, aria, canvas renderer). The table under it carries every figure; the chart is a
// picture of two of them, described by its aria label.
import { init, use } from "echarts/core";
import { BarChart } from "echarts/charts";
import { AriaComponent, GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";
import { lang, t } from "../lib/page.js";

use([BarChart, GridComponent, TooltipComponent, LegendComponent, AriaComponent, CanvasRenderer]);

export const CHART_LIMIT = 20;
let chart = null;

/** Draw the rate and the overdue count of the `rows` (already labelled: {label, row}). */
export function drawChart(box, items, groupName) {
  if (!chart) {
    chart = init(box, null, { renderer: "canvas", locale: lang === "zh" ? "ZH" : "EN" });
    window.addEventListener("resize", () => chart.resize());
  }
  const shown = [...items]
    .sort((a, b) => (b.row.overdue_unhandled - a.row.overdue_unhandled) || (b.row.due_handling - a.row.due_handling))
    .slice(0, CHART_LIMIT);
  const rateName = t("kpi_column_on_time_handling_rate");
  const overdueName = t("kpi_column_overdue_unhandled");
  const description = t("dash_chart_label", { group: groupName, rate: rateName, overdue: overdueName, count: shown.length });
  chart.setOption({
    aria: { enabled: true, label: { description } },
    tooltip: { trigger: "axis" },
    legend: { data: [rateName, overdueName], top: 0 },
    grid: { left: 48, right: 48, top: 36, bottom: 90 },
    xAxis: { type: "category", data: shown.map((x) => x.label), axisLabel: { rotate: 40, interval: 0, width: 110, overflow: "truncate" } },
    yAxis: [
      { type: "value", name: "%", min: 0, max: 100 },
      { type: "value", minInterval: 1, splitLine: { show: false } }, // named by the legend
    ],
    series: [
      { name: rateName, type: "bar", yAxisIndex: 0, itemStyle: { color: "#1f5fa8" },
        data: shown.map((x) => (x.row.on_time_handling_rate === null ? null : Math.round(x.row.on_time_handling_rate * 1000) / 10)) },
      { name: overdueName, type: "bar", yAxisIndex: 1, itemStyle: { color: "#b3261e" },
        data: shown.map((x) => x.row.overdue_unhandled) },
    ],
  }, { notMerge: true });
  box.setAttribute("aria-label", description);
  return shown.length;
}
