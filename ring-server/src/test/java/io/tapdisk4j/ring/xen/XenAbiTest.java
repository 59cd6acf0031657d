package io.tapdisk4j.ring.xen;

import io.tapdisk4j.ring.blkif.Blkif;
import io.tapdisk4j.ring.blkif.BlkifLayout;
import io.tapdisk4j.ring.hv.GrantStatus;
import io.tapdisk4j.ring.hv.sim.SimLayout;
import io.tapdisk4j.ring.hv.xen.EvtchnAbi;
import io.tapdisk4j.ring.hv.xen.GntdevAbi;
import io.tapdisk4j.ring.hv.xen.GntdevCopyBatch;
import io.tapdisk4j.ring.hv.xen.XenHypervisor;
import io.tapdisk4j.ring.xenbus.XenbusState;
import io.tapdisk4j.ring.xenstore.XsMessage;
import io.tapdisk4j.ring.xenstore.XsType;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.StructLayout;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every number the Java side hard-codes about Xen's ABI, checked against the real headers: abi_check.c
 * (x86_64, compiled and run) prints them; abi_check_i386.c is compiled with gcc -m32 -S so the x86_32
 * blkif layout comes from a genuine 32-bit compile of Xen's blkif.h, not from our reading of it.
 */
class XenAbiTest {

    @TempDir
    static Path tmp;

    /** key -> value as compiled from the headers. */
    private static Map<String, Long> c;

    @BeforeAll
    static void compileAndRun() throws Exception {
        c = new LinkedHashMap<>();
        Path exe = CPrograms.compile(tmp.resolve("abi_check"), "abi_check.c");
        CPrograms.Result r = CPrograms.run(List.of(exe.toString()), 30);
        assertEquals(0, r.exit(), "abi_check failed:\n" + r.output());
        for (String line : r.output().split("\n")) {
            String[] kv = line.trim().split(" ");
            if (kv.length == 2 && !kv[0].startsWith("bytes.")) {
                c.put(kv[0], Long.parseLong(kv[1]));
            } else if (kv.length == 2) {
                bytes.put(kv[0], kv[1]);
            }
        }
        Path asm = CPrograms.compile(tmp.resolve("abi_check_i386.s"), "abi_check_i386.c", "-m32", "-ffreestanding",
                "-S");
        for (String line : Files.readAllLines(asm)) {
            String t = line.trim();
            if (t.startsWith("@abi ")) {
                String[] kv = t.substring(5).split(" ");
                c.put(kv[0], Long.parseLong(kv[1]));
            }
        }
        assertEquals(4, c.get("i386.sizeof.long"), "abi_check_i386.c was not compiled for a 32-bit target");
    }

    static final Map<String, String> bytes = new LinkedHashMap<>();

    @AfterAll
    static void removeLinks() throws Exception {
        XenHypervisorTest.removeFakeDevices(tmp);
    }

    /** Java name -> value, checked against C key -> value; collects every mismatch before failing. */
    private static final class Checks {
        private final List<String> failures = new ArrayList<>();
        private int count;

        void check(String what, long javaValue, String cKey) {
            count++;
            Long cValue = c.get(cKey);
            if (cValue == null) {
                failures.add(what + ": the C programs print no " + cKey);
            } else if (cValue != javaValue) {
                failures.add(what + " = " + javaValue + " but C says " + cKey + " = " + cValue);
            }
        }

        void done() {
            if (!failures.isEmpty()) {
                fail(failures.size() + " of " + count + " ABI checks failed:\n  " + String.join("\n  ", failures));
            }
            assertTrue(count > 0);
        }
    }

    /** Every named member of a layout, at every depth: offsetof.<struct>.<a.b.c>, plus sizeof.<struct>. */
    private static void checkLayout(Checks checks, String owner, StructLayout layout) {
        String struct = layout.name().orElseThrow();
        checks.check(owner + " " + struct + ".byteSize()", layout.byteSize(), "sizeof." + struct);
        walk(checks, owner + " " + struct, "offsetof." + struct, layout, 0);
    }

    private static void walk(Checks checks, String what, String key, GroupLayout group, long base) {
        long offset = 0;
        for (MemoryLayout m : group.memberLayouts()) {
            long at = base + (group instanceof StructLayout ? offset : 0);
            if (!(m instanceof PaddingLayout) && m.name().isPresent()) {
                String name = m.name().get();
                checks.check(what + "." + name + " offset", at, key + "." + name);
                if (m instanceof GroupLayout g) {
                    walk(checks, what + "." + name, key + "." + name, g, at);
                }
            } else if (m instanceof GroupLayout g && m.name().isEmpty()) {
                fail(what + " has an unnamed group member " + g);
            }
            offset += m.byteSize();
        }
    }

    private static List<Field> constants(Class<?> type, String prefix) {
        List<Field> out = new ArrayList<>();
        for (Field f : type.getDeclaredFields()) {
            int mod = f.getModifiers();
            if (Modifier.isPublic(mod) && Modifier.isStatic(mod) && Modifier.isFinal(mod)
                    && (f.getType() == int.class || f.getType() == long.class || f.getType() == short.class)
                    && f.getName().startsWith(prefix)) {
                out.add(f);
            }
        }
        return out;
    }

    private static long value(Field f) {
        try {
            return ((Number) f.get(null)).longValue();
        } catch (IllegalAccessException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void gntdevLayoutsAndIoctlNumbersMatchLinuxUapiHeader() {
        Checks checks = new Checks();
        for (StructLayout l : List.of(GntdevAbi.GRANT_REF, GntdevAbi.MAP_GRANT_REF, GntdevAbi.UNMAP_GRANT_REF,
                GntdevAbi.GET_OFFSET_FOR_VADDR, GntdevAbi.SET_MAX_GRANTS, GntdevAbi.UNMAP_NOTIFY,
                GntdevAbi.COPY_SEGMENT, GntdevAbi.GRANT_COPY)) {
            checkLayout(checks, "GntdevAbi", l);
        }
        List<Field> ioctls = constants(GntdevAbi.class, "IOCTL_");
        assertEquals(6, ioctls.size(), "gntdev ioctl constants");
        for (Field f : ioctls) {
            checks.check("GntdevAbi." + f.getName(), value(f), f.getName());
        }
        checks.check("GntdevAbi.GNTCOPY_SOURCE_GREF", GntdevAbi.GNTCOPY_SOURCE_GREF, "GNTCOPY_source_gref");
        checks.check("GntdevAbi.GNTCOPY_DEST_GREF", GntdevAbi.GNTCOPY_DEST_GREF, "GNTCOPY_dest_gref");
        checks.check("GntdevAbi.XEN_PAGE_SIZE", GntdevAbi.XEN_PAGE_SIZE, "XEN_PAGE_SIZE");
        checks.check("GntdevAbi.mapGrantRefSize(1)", GntdevAbi.mapGrantRefSize(1), "sizeof.ioctl_gntdev_map_grant_ref");
        checks.done();
    }

    @Test
    void evtchnLayoutsAndIoctlNumbersMatchLinuxUapiHeader() {
        Checks checks = new Checks();
        for (StructLayout l : List.of(EvtchnAbi.BIND_VIRQ, EvtchnAbi.BIND_INTERDOMAIN, EvtchnAbi.BIND_UNBOUND_PORT,
                EvtchnAbi.UNBIND, EvtchnAbi.NOTIFY, EvtchnAbi.RESTRICT_DOMID)) {
            checkLayout(checks, "EvtchnAbi", l);
        }
        List<Field> ioctls = constants(EvtchnAbi.class, "IOCTL_");
        assertEquals(7, ioctls.size(), "evtchn ioctl constants");
        for (Field f : ioctls) {
            checks.check("EvtchnAbi." + f.getName(), value(f), f.getName());
        }
        checks.check("EvtchnAbi.PORT_BYTES", EvtchnAbi.PORT_BYTES, "sizeof.evtchn_port_t");
        checks.done();
    }

    /** Each BlkifLayout constant and the C keys (x86_64 header; Linux-style x86_32 struct; real i386 compile). */
    private static Map<String, List<String>> blkifLayoutKeys() {
        Map<String, List<String>> m = new LinkedHashMap<>();
        m.put("PAGE_SIZE", List.of("XEN_PAGE_SIZE"));
        m.put("MAX_SEGMENTS_PER_REQUEST", List.of("BLKIF_MAX_SEGMENTS_PER_REQUEST"));
        m.put("MAX_INDIRECT_PAGES_PER_REQUEST", List.of("BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST"));
        m.put("SEGMENTS_PER_INDIRECT_FRAME", List.of("SEGS_PER_INDIRECT_FRAME"));
        m.put("SEGMENT_SIZE", List.of("sizeof.blkif_request_segment", "i386.sizeof.blkif_request_segment"));
        m.put("SEGMENT_GREF", List.of("offsetof.blkif_request_segment.gref"));
        m.put("SEGMENT_FIRST_SECT", List.of("offsetof.blkif_request_segment.first_sect"));
        m.put("SEGMENT_LAST_SECT", List.of("offsetof.blkif_request_segment.last_sect"));
        m.put("X86_64_RING_ENTRY_SIZE", List.of("sizeof.blkif_sring_entry"));
        m.put("X86_32_RING_ENTRY_SIZE", List.of("sizeof.blkif_x86_32_sring_entry", "i386.sizeof.blkif_sring_entry"));
        for (String f : List.of("REQ_PROD", "REQ_EVENT", "RSP_PROD", "RSP_EVENT", "RING")) {
            String field = f.toLowerCase(Locale.ROOT);
            m.put("SRING_" + f, List.of("offsetof.blkif_sring." + field, "i386.offsetof.blkif_sring." + field));
        }
        String[][] structs = {
                {"REQUEST", "blkif_request", "u.rw"},
                {"DISCARD", "blkif_request_discard", "u.discard"},
                {"INDIRECT", "blkif_request_indirect", "u.indirect"},
                {"RESPONSE", "blkif_response", null},
        };
        for (String[] s : structs) {
            for (String abi : List.of("X86_64_", "X86_32_")) {
                String prefix = abi + s[0] + "_";
                for (Field f : constants(BlkifLayout.class, prefix)) {
                    String field = f.getName().substring(prefix.length()).toLowerCase(Locale.ROOT);
                    List<String> keys = new ArrayList<>();
                    if (abi.equals("X86_64_")) {
                        keys.add(field.equals("size") ? "sizeof." + s[1] : "offsetof." + s[1] + "." + field);
                    } else {
                        keys.add(field.equals("size") ? "i386.sizeof." + s[1] : "i386.offsetof." + s[1] + "." + field);
                        keys.add(linuxX86_32Key(s, field));
                    }
                    m.put(f.getName(), keys);
                }
            }
        }
        return m;
    }

    /** The key of the Linux-common.h-style packed x86_32 struct (blkif_x86_32.h) for a field. */
    private static String linuxX86_32Key(String[] s, String field) {
        if (s[2] == null) {
            return field.equals("size") ? "sizeof.blkif_x86_32_response" : "offsetof.blkif_x86_32_response." + field;
        }
        if (field.equals("size")) {
            return s[0].equals("REQUEST") ? "sizeof.blkif_x86_32_request"
                    : "sizeof.blkif_x86_32_request." + s[2].substring(2);
        }
        if (field.equals("operation")) {
            return "offsetof.blkif_x86_32_request.operation";
        }
        if (s[0].equals("DISCARD") && field.equals("handle")) {
            return "offsetof.blkif_x86_32_request.u.discard.pad1"; // common.h: "was handle for read/write requests"
        }
        return "offsetof.blkif_x86_32_request." + s[2] + "." + field;
    }

    @Test
    void blkifLayoutMatchesXenHeaderAndBothX86_32Definitions() {
        Checks checks = new Checks();
        Map<String, List<String>> keys = blkifLayoutKeys();
        // Sector size is fixed by blkif.h's prose (first_sect/last_sect count 512-byte sectors), not a macro.
        Set<String> prose = Set.of("SECTOR_SIZE", "SECTORS_PER_PAGE");
        Set<String> unchecked = new TreeSet<>();
        for (Field f : constants(BlkifLayout.class, "")) {
            if (prose.contains(f.getName())) {
                continue;
            }
            List<String> cKeys = keys.get(f.getName());
            if (cKeys == null) {
                unchecked.add(f.getName());
                continue;
            }
            for (String k : cKeys) {
                checks.check("BlkifLayout." + f.getName(), value(f), k);
            }
        }
        assertEquals(Set.of(), unchecked, "BlkifLayout constants this test does not know how to check in C");
        assertEquals(512, BlkifLayout.SECTOR_SIZE);
        assertEquals(BlkifLayout.PAGE_SIZE, BlkifLayout.SECTOR_SIZE * BlkifLayout.SECTORS_PER_PAGE);
        // The Linux-style packed definition and the genuine 32-bit compile must agree with each other too.
        for (String k : List.copyOf(c.keySet())) {
            if (k.startsWith("i386.offsetof.blkif_request.") && !k.endsWith(".operation")) {
                String field = k.substring("i386.offsetof.blkif_request.".length());
                checks.check("x86_32 common.h-style rw." + field, c.get(k),
                        "offsetof.blkif_x86_32_request.u.rw." + field);
            }
        }
        for (int order = 0; order <= 4; order++) {
            // Both ABIs fit the same power-of-two number of entries per ring of 2^order pages.
            checks.check("x86_32 entries, order " + order, c.get("ring_size.blkif.order" + order),
                    "ring_size.blkif_x86_32.order" + order);
        }
        checks.check("x86_32 entries, order 0 (i386 compile)", c.get("ring_size.blkif.order0"),
                "i386.ring_size.blkif.order0");
        checks.done();
    }

    @Test
    void blkifOperationsAndStatusesMatchXenHeader() {
        Checks checks = new Checks();
        List<Field> ops = constants(Blkif.class, "OP_");
        assertEquals(7, ops.size(), "Blkif.OP_* constants");
        for (Field f : ops) {
            checks.check("Blkif." + f.getName(), value(f), "BLKIF_" + f.getName());
        }
        List<Field> rsps = constants(Blkif.class, "RSP_");
        assertEquals(3, rsps.size(), "Blkif.RSP_* constants");
        for (Field f : rsps) {
            checks.check("Blkif." + f.getName(), value(f), "BLKIF_" + f.getName());
        }
        checks.check("Blkif.DISCARD_SECURE", Blkif.DISCARD_SECURE, "BLKIF_DISCARD_SECURE");
        checks.done();
    }

    @Test
    void grantTableEntryStatusesAndFlagsMatchXenHeader() {
        Checks checks = new Checks();
        checks.check("SimLayout.GRANT_ENTRY_SIZE", SimLayout.GRANT_ENTRY_SIZE, "sizeof.grant_entry_v1");
        checks.check("SimLayout.GRANT_FLAGS", SimLayout.GRANT_FLAGS, "offsetof.grant_entry_v1.flags");
        checks.check("SimLayout.GRANT_DOMID", SimLayout.GRANT_DOMID, "offsetof.grant_entry_v1.domid");
        checks.check("SimLayout.GRANT_FRAME", SimLayout.GRANT_FRAME, "offsetof.grant_entry_v1.frame");
        checks.check("SimLayout.PAGE_SIZE", SimLayout.PAGE_SIZE, "XEN_PAGE_SIZE");
        int statuses = 0;
        for (Field f : constants(GrantStatus.class, "")) {
            String name = f.getName();
            if (name.startsWith("GTF_")) {
                checks.check("GrantStatus." + name, value(f), "GTF_" + name.substring(4).toLowerCase(Locale.ROOT));
            } else {
                statuses++;
                checks.check("GrantStatus." + name, value(f), "GNTST_" + name.toLowerCase(Locale.ROOT));
                assertEquals("GNTST_" + name.toLowerCase(Locale.ROOT), GrantStatus.name((int) value(f)));
            }
        }
        assertEquals(13, statuses, "GrantStatus covers GNTST_okay..GNTST_eagain");
        checks.done();
    }

    @Test
    void xenstoreWireNumbersAndXenbusStatesMatchHeaders() {
        Checks checks = new Checks();
        checks.check("XsMessage.HEADER_SIZE", XsMessage.HEADER_SIZE, "sizeof.xsd_sockmsg");
        checks.check("XsMessage.PAYLOAD_MAX", XsMessage.PAYLOAD_MAX, "XENSTORE_PAYLOAD_MAX");
        checks.check("XsMessage.ABS_PATH_MAX", XsMessage.ABS_PATH_MAX, "XENSTORE_ABS_PATH_MAX");
        checks.check("XsMessage.REL_PATH_MAX", XsMessage.REL_PATH_MAX, "XENSTORE_REL_PATH_MAX");
        for (XsType t : XsType.values()) {
            checks.check("XsType." + t, t.code(), "XS_" + t.name());
        }
        for (XenbusState st : XenbusState.values()) {
            // INIT_WAIT -> XenbusStateInitWait
            StringBuilder c = new StringBuilder("XenbusState");
            for (String word : st.name().split("_")) {
                c.append(word.charAt(0)).append(word.substring(1).toLowerCase(Locale.ROOT));
            }
            checks.check("XenbusState." + st, st.code(), c.toString());
            assertEquals(st, XenbusState.parse(st.value()));
        }
        checks.done();
    }

    /** The numbers /work/shared/reference/xen-abi.md states, as written there, against the headers. */
    @Test
    void referenceDocumentNumbersMatchHeaders() {
        Map<String, Long> doc = new LinkedHashMap<>();
        doc.put("sizeof.blkif_request_segment", 8L);
        doc.put("offsetof.blkif_request_segment.first_sect", 4L);
        doc.put("offsetof.blkif_request_segment.last_sect", 5L);
        doc.put("sizeof.blkif_request", 112L);
        doc.put("offsetof.blkif_request.handle", 2L);
        doc.put("offsetof.blkif_request.id", 8L);
        doc.put("offsetof.blkif_request.sector_number", 16L);
        doc.put("offsetof.blkif_request.seg", 24L);
        doc.put("sizeof.blkif_request_discard", 32L);
        doc.put("offsetof.blkif_request_discard.flag", 1L);
        doc.put("offsetof.blkif_request_discard.nr_sectors", 24L);
        doc.put("BLKIF_DISCARD_SECURE", 1L);
        doc.put("sizeof.blkif_request_indirect", 64L);
        doc.put("offsetof.blkif_request_indirect.indirect_op", 1L);
        doc.put("offsetof.blkif_request_indirect.nr_segments", 2L);
        doc.put("offsetof.blkif_request_indirect.id", 8L);
        doc.put("offsetof.blkif_request_indirect.sector_number", 16L);
        doc.put("offsetof.blkif_request_indirect.handle", 24L);
        doc.put("offsetof.blkif_request_indirect.indirect_grefs", 28L);
        doc.put("sizeof.blkif_response", 16L);
        doc.put("offsetof.blkif_response.operation", 8L);
        doc.put("offsetof.blkif_response.status", 10L);
        String[] ops = {"READ", "WRITE", "WRITE_BARRIER", "FLUSH_DISKCACHE", "RESERVED_1", "DISCARD", "INDIRECT"};
        for (int i = 0; i < ops.length; i++) {
            doc.put("BLKIF_OP_" + ops[i], (long) i);
        }
        doc.put("BLKIF_RSP_OKAY", 0L);
        doc.put("BLKIF_RSP_ERROR", -1L);
        doc.put("BLKIF_RSP_EOPNOTSUPP", -2L);
        doc.put("BLKIF_MAX_SEGMENTS_PER_REQUEST", 11L);
        doc.put("BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST", 8L);
        doc.put("SEGS_PER_INDIRECT_FRAME", 512L);
        doc.put("i386.offsetof.blkif_request.id", 4L);
        doc.put("offsetof.blkif_sring.req_prod", 0L);
        doc.put("offsetof.blkif_sring.req_event", 4L);
        doc.put("offsetof.blkif_sring.rsp_prod", 8L);
        doc.put("offsetof.blkif_sring.rsp_event", 12L);
        doc.put("offsetof.blkif_sring.ring", 64L);
        doc.put("sizeof.blkif_sring_entry", 112L);
        long[] entries = {32, 64, 128, 256, 512};
        for (int order = 0; order <= 4; order++) {
            doc.put("ring_size.blkif.order" + order, entries[order]);
        }
        doc.put("sizeof.grant_entry_v1", 8L);
        doc.put("offsetof.grant_entry_v1.flags", 0L);
        doc.put("offsetof.grant_entry_v1.domid", 2L);
        doc.put("offsetof.grant_entry_v1.frame", 4L);
        String[] gtf = {"GTF_invalid", "0", "GTF_permit_access", "1", "GTF_accept_transfer", "2", "GTF_transitive", "3",
                "GTF_type_mask", "3", "GTF_readonly", "4", "GTF_reading", "8", "GTF_writing", "16"};
        for (int i = 0; i < gtf.length; i += 2) {
            doc.put(gtf[i], Long.parseLong(gtf[i + 1]));
        }
        String[] gntst = {"okay", "general_error", "bad_domain", "bad_gntref", "bad_handle", "bad_virt_addr",
                "bad_dev_addr", "no_device_space", "permission_denied", "bad_page", "bad_copy_arg", "address_too_big",
                "eagain"};
        for (int i = 0; i < gntst.length; i++) {
            doc.put("GNTST_" + gntst[i], (long) -i);
        }
        doc.put("IOCTL_GNTDEV_MAP_GRANT_REF", 0x184700L);
        doc.put("sizeof.ioctl_gntdev_map_grant_ref", 24L);
        doc.put("offsetof.ioctl_gntdev_map_grant_ref.index", 8L);
        doc.put("offsetof.ioctl_gntdev_map_grant_ref.refs", 16L);
        doc.put("IOCTL_GNTDEV_UNMAP_GRANT_REF", 0x104701L);
        doc.put("IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR", 0x184702L);
        doc.put("IOCTL_GNTDEV_SET_MAX_GRANTS", 0x44703L);
        doc.put("IOCTL_GNTDEV_SET_UNMAP_NOTIFY", 0x104707L);
        doc.put("IOCTL_GNTDEV_GRANT_COPY", 0x104708L);
        doc.put("sizeof.ioctl_gntdev_grant_copy", 16L);
        doc.put("offsetof.ioctl_gntdev_grant_copy.segments", 8L);
        doc.put("sizeof.gntdev_grant_copy_segment", 24L);
        doc.put("offsetof.gntdev_grant_copy_segment.dest", 8L);
        doc.put("offsetof.gntdev_grant_copy_segment.source.foreign.offset", 4L);
        doc.put("offsetof.gntdev_grant_copy_segment.source.foreign.domid", 6L);
        doc.put("offsetof.gntdev_grant_copy_segment.len", 16L);
        doc.put("offsetof.gntdev_grant_copy_segment.flags", 18L);
        doc.put("offsetof.gntdev_grant_copy_segment.status", 20L);
        doc.put("GNTCOPY_source_gref", 1L);
        doc.put("GNTCOPY_dest_gref", 2L);
        doc.put("IOCTL_EVTCHN_BIND_INTERDOMAIN", 0x84501L);
        doc.put("IOCTL_EVTCHN_UNBIND", 0x44503L);
        doc.put("IOCTL_EVTCHN_NOTIFY", 0x44504L);
        doc.put("IOCTL_EVTCHN_RESET", 0x4505L);
        doc.put("sizeof.xsd_sockmsg", 16L);
        doc.put("offsetof.xsd_sockmsg.req_id", 4L);
        doc.put("offsetof.xsd_sockmsg.tx_id", 8L);
        doc.put("offsetof.xsd_sockmsg.len", 12L);
        doc.put("XENSTORE_PAYLOAD_MAX", 4096L);
        doc.put("XENSTORE_ABS_PATH_MAX", 3072L);
        String[] xs = {"CONTROL", "DIRECTORY", "READ", "GET_PERMS", "WATCH", "UNWATCH", "TRANSACTION_START",
                "TRANSACTION_END", "INTRODUCE", "RELEASE", "GET_DOMAIN_PATH", "WRITE", "MKDIR", "RM", "SET_PERMS",
                "WATCH_EVENT", "ERROR", "IS_DOMAIN_INTRODUCED", "RESUME", "SET_TARGET"};
        for (int i = 0; i < xs.length; i++) {
            doc.put("XS_" + xs[i], (long) i);
        }
        doc.put("XS_RESET_WATCHES", 21L);
        doc.put("XS_DIRECTORY_PART", 22L);
        String[] states = {"Unknown", "Initialising", "InitWait", "Initialised", "Connected", "Closing", "Closed",
                "Reconfiguring", "Reconfigured"};
        for (int i = 0; i < states.length; i++) {
            doc.put("XenbusState" + states[i], (long) i);
        }
        Checks checks = new Checks();
        doc.forEach((k, v) -> checks.check("xen-abi.md " + k, v, k));
        checks.done();
    }

    /** The bytes GntdevCopyBatch lays out are, byte for byte, what C puts in a gntdev_grant_copy_segment. */
    @Test
    void copyBatchLaysOutSegmentsAsTheKernelReadsThem() throws Exception {
        Path devices = XenHypervisorTest.fakeDevices(tmp.resolve("dev-xen"));
        try (XenHypervisor xen = XenHypervisor.open(devices)) {
            GntdevCopyBatch batch = (GntdevCopyBatch) xen.newCopyBatch(4);
            MemorySegment local = MemorySegment.ofAddress(0x1122334455667000L).reinterpret(4096);
            batch.fromGuest(0x0708, 0x01020304, 0x0506 & 0xfff, local, 0x200);
            batch.toGuest(local, 0x0001, 0x0a0b0c0d, 0x0e00, 0x200);
            MemorySegment seg = batch.segmentBytes();
            assertEquals(2 * GntdevAbi.COPY_SEGMENT.byteSize(), seg.byteSize());
            String fromGuest = bytes.get("bytes.gntdev_grant_copy_segment.from_guest");
            String toGuest = bytes.get("bytes.gntdev_grant_copy_segment.to_guest");
            // C used offset 0x0506; a copy may not cross the guest page, so Java queues 0x506 & 0xfff = 0x506.
            assertEquals(fromGuest, HexFormat.of().formatHex(seg.asSlice(0, 24).toArray(ValueLayout.JAVA_BYTE)));
            assertEquals(toGuest, HexFormat.of().formatHex(seg.asSlice(24, 24).toArray(ValueLayout.JAVA_BYTE)));
            MemorySegment request = batch.requestBytes();
            assertEquals(2, request.get(ValueLayout.JAVA_INT, 0));
            assertEquals(seg.address(), request.get(ValueLayout.JAVA_LONG,
                    c.get("offsetof.ioctl_gntdev_grant_copy.segments")));
        }
    }
}
