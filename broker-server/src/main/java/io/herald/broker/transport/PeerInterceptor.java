package io.herald.broker.transport;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.net.SocketAddress;

/** Puts the caller's address in the call's {@link Context}, for logs and the admin API. */
public final class PeerInterceptor implements ServerInterceptor {
  public static final Context.Key<String> PEER = Context.key("herald-peer");

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    SocketAddress addr = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    String peer = addr == null ? "unknown" : addr.toString();
    return Contexts.interceptCall(Context.current().withValue(PEER, peer), call, headers, next);
  }

  /** The current call's peer, or "unknown". */
  public static String current() {
    String p = PEER.get();
    return p == null ? "unknown" : p;
  }
}
