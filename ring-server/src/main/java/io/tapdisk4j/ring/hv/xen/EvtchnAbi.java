package io.tapdisk4j.ring.hv.xen;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The /dev/xen/evtchn ABI of Linux's uapi header xen/evtchn.h as FFM layouts, and its ioctl numbers
 * derived from them as the header's _IOC() does. read() on the device returns pending ports as u32s;
 * writing ports back unmasks them.
 */
public final class EvtchnAbi {

    /** struct ioctl_evtchn_bind_virq. */
    public static final StructLayout BIND_VIRQ = MemoryLayout.structLayout(
            JAVA_INT.withName("virq")).withName("ioctl_evtchn_bind_virq");

    /** struct ioctl_evtchn_bind_interdomain; the ioctl returns the local port. */
    public static final StructLayout BIND_INTERDOMAIN = MemoryLayout.structLayout(
            JAVA_INT.withName("remote_domain"),
            JAVA_INT.withName("remote_port")).withName("ioctl_evtchn_bind_interdomain");

    /** struct ioctl_evtchn_bind_unbound_port. */
    public static final StructLayout BIND_UNBOUND_PORT = MemoryLayout.structLayout(
            JAVA_INT.withName("remote_domain")).withName("ioctl_evtchn_bind_unbound_port");

    /** struct ioctl_evtchn_unbind. */
    public static final StructLayout UNBIND = MemoryLayout.structLayout(
            JAVA_INT.withName("port")).withName("ioctl_evtchn_unbind");

    /** struct ioctl_evtchn_notify. */
    public static final StructLayout NOTIFY = MemoryLayout.structLayout(
            JAVA_INT.withName("port")).withName("ioctl_evtchn_notify");

    /** struct ioctl_evtchn_restrict_domid. */
    public static final StructLayout RESTRICT_DOMID = MemoryLayout.structLayout(
            JAVA_SHORT.withName("domid")).withName("ioctl_evtchn_restrict_domid");

    public static final long IOCTL_EVTCHN_BIND_VIRQ = Ioc.none('E', 0, BIND_VIRQ.byteSize());
    public static final long IOCTL_EVTCHN_BIND_INTERDOMAIN = Ioc.none('E', 1, BIND_INTERDOMAIN.byteSize());
    public static final long IOCTL_EVTCHN_BIND_UNBOUND_PORT = Ioc.none('E', 2, BIND_UNBOUND_PORT.byteSize());
    public static final long IOCTL_EVTCHN_UNBIND = Ioc.none('E', 3, UNBIND.byteSize());
    public static final long IOCTL_EVTCHN_NOTIFY = Ioc.none('E', 4, NOTIFY.byteSize());
    public static final long IOCTL_EVTCHN_RESET = Ioc.none('E', 5, 0);
    public static final long IOCTL_EVTCHN_RESTRICT_DOMID = Ioc.none('E', 6, RESTRICT_DOMID.byteSize());

    /** Size of one pending-port entry read from (and written back to) the device: evtchn_port_t. */
    public static final int PORT_BYTES = 4;

    static final long BIND_REMOTE_DOMAIN = BIND_INTERDOMAIN.byteOffset(PathElement.groupElement("remote_domain"));
    static final long BIND_REMOTE_PORT = BIND_INTERDOMAIN.byteOffset(PathElement.groupElement("remote_port"));
    static final long UNBIND_PORT = UNBIND.byteOffset(PathElement.groupElement("port"));
    static final long NOTIFY_PORT = NOTIFY.byteOffset(PathElement.groupElement("port"));

    private EvtchnAbi() {
    }
}
