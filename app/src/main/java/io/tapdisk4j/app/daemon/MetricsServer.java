package io.tapdisk4j.app.daemon;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

/** {@code GET /metrics} in the Prometheus text format, on the loopback address {@code serve --metrics} names. */
final class MetricsServer implements AutoCloseable {

    private final HttpServer server;

    MetricsServer(InetSocketAddress address, PrometheusMeterRegistry registry) throws IOException {
        server = HttpServer.create(address, 16);
        server.createContext("/metrics", exchange -> respond(exchange, registry));
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.start();
    }

    InetSocketAddress address() {
        return server.getAddress();
    }

    private static void respond(HttpExchange exchange, PrometheusMeterRegistry registry) throws IOException {
        try (exchange) {
            if (!exchange.getRequestMethod().equals("GET") && !exchange.getRequestMethod().equals("HEAD")) {
                exchange.sendResponseHeaders(405, -1);
                return;
            }
            byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
