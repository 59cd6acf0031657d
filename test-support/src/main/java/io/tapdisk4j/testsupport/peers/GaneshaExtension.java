package io.tapdisk4j.testsupport.peers;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/** Hands the run's shared {@link Ganesha} to test constructors and methods. */
public final class GaneshaExtension implements ParameterResolver {

    @Override
    public boolean supportsParameter(ParameterContext p, ExtensionContext e) {
        return p.getParameter().getType() == Ganesha.class;
    }

    @Override
    public Object resolveParameter(ParameterContext p, ExtensionContext e) {
        return Ganesha.get(e);
    }
}
