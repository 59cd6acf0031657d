package io.tapdisk4j.bench;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.CategorySeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Line charts in the style of the tapdisk3 paper's figures: throughput against block size, one line per
 * series. Block sizes are categories (512, 1K, … 4M), evenly spaced as on a log2 axis.
 */
public final class Charts {

    private Charts() {
    }

    /**
     * @param series  name to points {block size in bytes, value}
     * @param ceiling optional horizontal reference per block size (same order as the sorted block sizes)
     */
    public static void throughputByBlockSize(Path png, String title, String yLabel,
                                             Map<String, List<double[]>> series, double[] ceiling,
                                             String ceilingName) throws IOException {
        TreeSet<Integer> sizes = new TreeSet<>();
        series.values().forEach(points -> points.forEach(p -> sizes.add((int) p[0])));
        List<String> categories = sizes.stream().map(Charts::blockSizeLabel).toList();
        CategoryChart chart = new CategoryChartBuilder().width(900).height(560).title(title)
                .xAxisTitle("block size (bytes)").yAxisTitle(yLabel).build();
        chart.getStyler().setDefaultSeriesRenderStyle(CategorySeries.CategorySeriesRenderStyle.Line);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setYAxisMin(0.0);
        chart.getStyler().setOverlapped(true); // lines share the x positions instead of being grouped like bars
        if (categories.isEmpty()) {
            BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
            return;
        }
        series.forEach((name, points) -> {
            if (points.isEmpty()) {
                return;
            }
            List<Double> y = new ArrayList<>();
            for (int size : sizes) {
                y.add(points.stream().filter(p -> (int) p[0] == size).mapToDouble(p -> p[1]).findFirst().orElse(Double.NaN));
            }
            chart.addSeries(name, categories, y).setMarker(SeriesMarkers.CIRCLE);
        });
        if (ceiling != null && ceiling.length == categories.size()) {
            List<Double> y = new ArrayList<>();
            for (double c : ceiling) {
                y.add(c);
            }
            CategorySeries s = chart.addSeries(ceilingName, categories, y);
            s.setMarker(SeriesMarkers.NONE);
            s.setLineStyle(SeriesLines.DASH_DASH);
        }
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    static String blockSizeLabel(int bytes) {
        if (bytes >= 1 << 20 && bytes % (1 << 20) == 0) {
            return bytes / (1 << 20) + "M";
        }
        if (bytes >= 1 << 10 && bytes % (1 << 10) == 0) {
            return bytes / (1 << 10) + "K";
        }
        return Integer.toString(bytes);
    }
}
