package io.tapdisk4j.bench;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Line charts in the style of the tapdisk3 paper's figures: throughput against block size. */
public final class Charts {

    private Charts() {
    }

    /** One line per series (x = block size in bytes, log2 axis); an optional horizontal ceiling line. */
    public static void throughputByBlockSize(Path png, String title, String yLabel,
                                             Map<String, List<double[]>> series, double[] ceiling,
                                             String ceilingName) throws IOException {
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title)
                .xAxisTitle("block size (bytes, log scale)").yAxisTitle(yLabel).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setXAxisLabelRotation(45);
        chart.getStyler().setxAxisTickLabelsFormattingFunction(Charts::blockSizeLabel);
        series.forEach((name, points) -> {
            if (points.isEmpty()) {
                return;
            }
            double[] x = points.stream().mapToDouble(p -> p[0]).toArray();
            double[] y = points.stream().mapToDouble(p -> p[1]).toArray();
            chart.addSeries(name, x, y).setMarker(SeriesMarkers.CIRCLE);
        });
        if (ceiling != null && ceiling.length > 0 && !series.isEmpty()) {
            double[] x = series.values().iterator().next().stream().mapToDouble(p -> p[0]).toArray();
            if (x.length == ceiling.length) {
                XYSeries s = chart.addSeries(ceilingName, x, ceiling);
                s.setMarker(SeriesMarkers.NONE);
                s.setLineStyle(org.knowm.xchart.style.lines.SeriesLines.DASH_DASH);
            }
        }
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    static String blockSizeLabel(Double bytes) {
        double b = bytes;
        if (b >= 1 << 20) {
            return String.format("%.0fM", b / (1 << 20));
        }
        if (b >= 1 << 10) {
            return String.format("%.0fK", b / (1 << 10));
        }
        return String.format("%.0f", b);
    }
}
