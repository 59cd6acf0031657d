/**
 * The {@code serve} daemon ({@link io.tapdisk4j.app.daemon.Daemon}, started in-process by the CLI and the
 * demo), its control socket (one command line per connection, answered "ok"/"error" plus a text or JSON
 * body; {@link io.tapdisk4j.app.daemon.ControlClient} is the {@code ctl} side), and its Micrometer metrics
 * served in Prometheus text format, read from the rings' own counters and histograms at scrape time. {@link io.tapdisk4j.app.daemon.DeviceScaleMeasurement} measures the
 * resident memory of one serve process with N idle devices.
 */
package io.tapdisk4j.app.daemon;
