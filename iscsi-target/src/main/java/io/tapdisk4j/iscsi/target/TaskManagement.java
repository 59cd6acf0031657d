package io.tapdisk4j.iscsi.target;

import io.netty.channel.ChannelHandlerContext;
import io.tapdisk4j.iscsi.pdu.Pdu;

import java.util.ArrayList;
import java.util.List;

/**
 * Task management functions (RFC 7143 11.5, 11.6): ABORT TASK, ABORT/CLEAR TASK SET, LOGICAL UNIT RESET,
 * TARGET WARM and COLD RESET. An aborted task gets no response of its own; a device operation already
 * under way still completes, its result is dropped. Resets reach the other sessions on their own loops.
 */
final class TaskManagement {

    static final int COMPLETE = 0;
    static final int NO_TASK = 1;
    static final int NO_LUN = 2;
    static final int REASSIGN_NOT_SUPPORTED = 4;
    static final int NOT_SUPPORTED = 5;

    private final FullFeatureHandler connection;

    TaskManagement(FullFeatureHandler connection) {
        this.connection = connection;
    }

    void handle(ChannelHandlerContext ctx, Pdu pdu) {
        int function = pdu.flags() & 0x7f;
        boolean lunOk = FullFeatureHandler.lunNumber(pdu.lun()) == 0;
        int response = switch (function) {
            case 1 -> abortTask(pdu.targetTransferTag(), lunOk);
            case 2, 4 -> {
                if (!lunOk) {
                    yield NO_LUN;
                }
                connection.abortAll();
                yield COMPLETE;
            }
            case 5 -> lunOk ? resetEverywhere() : NO_LUN;
            case 6 -> resetEverywhere();
            case 7 -> COMPLETE;
            case 8 -> REASSIGN_NOT_SUPPORTED;
            default -> NOT_SUPPORTED;
        };
        connection.send(ctx, TargetPdus.taskManagementResponse(pdu.initiatorTaskTag(), response), true);
        if (function == 7 && response == COMPLETE) {
            // A cold reset ends every session, this one included, once the response is out.
            ctx.channel().eventLoop().execute(() -> {
                for (TargetSession s : connection.target().sessions().all()) {
                    s.close();
                }
            });
        }
    }

    /** ABORT TASK: the referenced task tag travels in the TTT position (RFC 7143 11.5.2). */
    private int abortTask(int referencedTag, boolean lunOk) {
        if (!lunOk) {
            return NO_LUN;
        }
        Task t = connection.tasks().get(referencedTag);
        if (t == null) {
            return NO_TASK;
        }
        connection.abort(t);
        return COMPLETE;
    }

    private int resetEverywhere() {
        connection.abortAll();
        List<TargetSession> others = new ArrayList<>(connection.target().sessions().all());
        others.remove(connection.session());
        for (TargetSession s : others) {
            var ch = s.channel();
            if (ch != null) {
                ch.eventLoop().execute(() -> {
                    FullFeatureHandler h = ch.pipeline().get(FullFeatureHandler.class);
                    if (h != null) {
                        h.abortAll();
                    }
                });
            }
        }
        return COMPLETE;
    }
}
