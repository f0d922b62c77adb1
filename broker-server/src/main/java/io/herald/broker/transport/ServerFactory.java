package io.herald.broker.transport;

import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds the Netty gRPC server: epoll where the native transport loads, NIO otherwise, with event
 * loop groups this object owns and shuts down ({@link #shutdown}). One worker thread per core by
 * default (measured faster than Netty's two per core for this workload).
 */
public final class ServerFactory {
  private static final Logger log = LoggerFactory.getLogger(ServerFactory.class);

  private final EventLoopGroup boss;
  private final EventLoopGroup workers;
  private final Class<? extends ServerChannel> channelType;
  private final Class<? extends SocketChannel> clientChannelType;
  private final String transport;

  public ServerFactory(int ioThreads) {
    boolean epoll = Epoll.isAvailable();
    if (epoll) {
      boss = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("herald-netty-boss", true), EpollIoHandler.newFactory());
      workers = new MultiThreadIoEventLoopGroup(ioThreads, new DefaultThreadFactory("herald-netty-io", true), EpollIoHandler.newFactory());
      channelType = EpollServerSocketChannel.class;
      clientChannelType = EpollSocketChannel.class;
      transport = "epoll";
    } else {
      boss = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("herald-netty-boss", true), NioIoHandler.newFactory());
      workers = new MultiThreadIoEventLoopGroup(ioThreads, new DefaultThreadFactory("herald-netty-io", true), NioIoHandler.newFactory());
      channelType = NioServerSocketChannel.class;
      clientChannelType = NioSocketChannel.class;
      transport = "nio (epoll unavailable: " + Epoll.unavailabilityCause() + ")";
    }
  }

  public String transport() {
    return transport;
  }

  /** A bootstrap for another listener (the HTTP endpoint) on the same event loops. */
  public io.netty.bootstrap.ServerBootstrap httpBootstrap() {
    return new io.netty.bootstrap.ServerBootstrap().group(boss, workers).channel(channelType);
  }

  public NettyServerBuilder builder(InetSocketAddress address) {
    return builder(address, null);
  }

  /** A server builder with {@code credentials} (TLS), or plaintext when null. */
  public NettyServerBuilder builder(InetSocketAddress address, io.grpc.ServerCredentials credentials) {
    return (credentials == null ? NettyServerBuilder.forAddress(address) : NettyServerBuilder.forAddress(address, credentials))
        .channelType(channelType)
        .bossEventLoopGroup(boss)
        .workerEventLoopGroup(workers);
  }

  /**
   * A client channel builder on the same I/O event loops ({@code herald-netty-io-*}), for calls to
   * other brokers: a peer connection adds no threads, and its callbacks run where the never-block
   * rule is checked. Close such channels before {@link #shutdown}.
   */
  public NettyChannelBuilder channelBuilder(String target) {
    return NettyChannelBuilder.forTarget(target)
        .eventLoopGroup(workers)
        .channelType(clientChannelType);
  }

  /** The same with {@code credentials} (TLS, a token): calls to brokers that require them. */
  public NettyChannelBuilder channelBuilder(String target, io.grpc.ChannelCredentials credentials) {
    return NettyChannelBuilder.forTarget(target, credentials)
        .eventLoopGroup(workers)
        .channelType(clientChannelType);
  }

  /** Shuts the event loops down; waits up to {@code timeoutMillis}. */
  public void shutdown(long timeoutMillis) {
    workers.shutdownGracefully(0, timeoutMillis, TimeUnit.MILLISECONDS);
    boss.shutdownGracefully(0, timeoutMillis, TimeUnit.MILLISECONDS);
    try {
      if (!workers.terminationFuture().await(timeoutMillis + 1000) || !boss.terminationFuture().await(timeoutMillis + 1000)) {
        log.warn("netty event loops did not stop within {} ms", timeoutMillis);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
