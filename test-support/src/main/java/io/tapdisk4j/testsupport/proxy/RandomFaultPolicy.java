package io.tapdisk4j.testsupport.proxy;

import java.time.Duration;
import java.util.SplittableRandom;

/**
 * Random faults from a seed: with the same seed and the same sequence of frames, the same decisions
 * (replayable; print {@link #seed()} with every failure). Each rate is a probability per frame; the rates
 * are tried in a fixed order (cut, drop, duplicate, reorder, delay).
 */
public final class RandomFaultPolicy implements FaultPolicy {

    private final long seed;
    private final SplittableRandom random;
    private final double cut;
    private final double drop;
    private final double duplicate;
    private final double reorder;
    private final double delay;
    private final Duration maxDelay;
    private final Direction only;

    private RandomFaultPolicy(Builder b) {
        this.seed = b.seed;
        this.random = new SplittableRandom(b.seed);
        this.cut = b.cut;
        this.drop = b.drop;
        this.duplicate = b.duplicate;
        this.reorder = b.reorder;
        this.delay = b.delay;
        this.maxDelay = b.maxDelay;
        this.only = b.only;
    }

    public static Builder withSeed(long seed) {
        return new Builder(seed);
    }

    public long seed() {
        return seed;
    }

    @Override
    public synchronized FaultAction decide(FrameEvent event) {
        if (only != null && event.direction() != only) {
            return FaultAction.FORWARD;
        }
        double x = random.nextDouble();
        if ((x -= cut) < 0) {
            return FaultAction.CUT;
        }
        if ((x -= drop) < 0) {
            return FaultAction.DROP;
        }
        if ((x -= duplicate) < 0) {
            return FaultAction.DUPLICATE;
        }
        if ((x -= reorder) < 0) {
            return FaultAction.REORDER;
        }
        if ((x -= delay) < 0) {
            return FaultAction.delay(Duration.ofNanos(1 + random.nextLong(Math.max(1, maxDelay.toNanos()))));
        }
        return FaultAction.FORWARD;
    }

    public static final class Builder {
        private final long seed;
        private double cut;
        private double drop;
        private double duplicate;
        private double reorder;
        private double delay;
        private Duration maxDelay = Duration.ofMillis(20);
        private Direction only;

        private Builder(long seed) {
            this.seed = seed;
        }

        public Builder cut(double p) {
            this.cut = p;
            return this;
        }

        public Builder drop(double p) {
            this.drop = p;
            return this;
        }

        public Builder duplicate(double p) {
            this.duplicate = p;
            return this;
        }

        public Builder reorder(double p) {
            this.reorder = p;
            return this;
        }

        public Builder delay(double p, Duration max) {
            this.delay = p;
            this.maxDelay = max;
            return this;
        }

        /** Faults only in this direction. */
        public Builder only(Direction direction) {
            this.only = direction;
            return this;
        }

        public RandomFaultPolicy build() {
            if (cut + drop + duplicate + reorder + delay > 1.0) {
                throw new IllegalArgumentException("fault rates add up to more than 1");
            }
            return new RandomFaultPolicy(this);
        }
    }
}
