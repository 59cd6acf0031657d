package io.tapdisk4j.bench;

import io.tapdisk4j.ring.backend.DataPath;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A miniature seed run: every point lands in the CSV without errors, every chart is a readable PNG. */
class SeedBenchmarkTest {

    @TempDir
    Path out;

    @Test
    void writesCsvAndChartsForEveryPoint() throws Exception {
        SeedBenchmark.Options o = new SeedBenchmark.Options(List.of(1, 2), 1, List.of(4096, 65536),
                List.of(DataPath.MAP_COPY, DataPath.COPY), List.of(false, true), 0.3, "null:", out);
        List<SeedBenchmark.Point> points = SeedBenchmark.run(o, new PrintStream(new ByteArrayOutputStream()));
        assertEquals(2 * 2 * 2 * 2, points.size());
        assertTrue(points.stream().allMatch(p -> p.errors() == 0 && p.bytesPerSecond() > 0), points::toString);
        List<String> csv = Files.readAllLines(out.resolve("seed.csv"));
        assertEquals(1 + points.size(), csv.size());
        assertTrue(csv.getFirst().startsWith("data_path,rw,vms"));
        for (String chart : List.of("seed-copy-read.png", "seed-copy-write.png", "seed-map-copy-read.png",
                "seed-map-copy-write.png", "seed-copy-over-map-copy.png")) {
            BufferedImage img = ImageIO.read(out.resolve(chart).toFile());
            assertNotNull(img, chart);
            assertEquals(900, img.getWidth());
        }
    }
}
