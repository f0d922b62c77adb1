package io.herald.broker.transport;

import io.grpc.Attributes;
import io.grpc.Grpc;
import io.grpc.ServerTransportFilter;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Logs client connections as they open and close (a boundary), and counts the open ones. */
public final class ConnectionLog extends ServerTransportFilter {
  private static final Logger log = LoggerFactory.getLogger(ConnectionLog.class);
  private final AtomicInteger open = new AtomicInteger();

  @Override
  public Attributes transportReady(Attributes attrs) {
    log.info("client connected from {} ({} open)", attrs.get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR), open.incrementAndGet());
    return attrs;
  }

  @Override
  public void transportTerminated(Attributes attrs) {
    if (attrs != null && attrs.get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR) != null) {
      log.info("client disconnected from {} ({} open)", attrs.get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR), open.decrementAndGet());
    }
  }

  public int open() {
    return open.get();
  }
}
