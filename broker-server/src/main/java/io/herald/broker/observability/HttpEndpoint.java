package io.herald.broker.observability;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executor;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The broker's HTTP endpoint, on Netty's HTTP codec (no hand-written parser), sharing the gRPC
 * server's event loops: {@code GET /metrics} (Prometheus text), {@code /healthz} (the process
 * answers), {@code /readyz} (accepting traffic: 503 while starting or draining). Scrapes are
 * rendered on {@code scrapeExecutor}, never on an event loop. Owned and closed by the broker.
 */
public final class HttpEndpoint implements AutoCloseable {
  private final Channel channel;

  /** The HTTP address could not be bound. */
  public static final class BindFailed extends java.io.IOException {
    private static final long serialVersionUID = 1L;

    BindFailed(String message, Throwable cause) {
      super(message, cause);
    }
  }

  public HttpEndpoint(ServerBootstrap bootstrap, InetSocketAddress address, Supplier<String> metrics, BooleanSupplier ready,
      Executor scrapeExecutor) throws InterruptedException, BindFailed {
    var bound = bootstrap.childHandler(new ChannelInitializer<Channel>() {
      @Override
      protected void initChannel(Channel ch) {
        ch.pipeline().addLast(new HttpServerCodec(4096, 8192, 8192), new HttpObjectAggregator(64 * 1024),
            new SimpleChannelInboundHandler<FullHttpRequest>() {
              @Override
              protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
                boolean keepAlive = HttpUtil.isKeepAlive(req);
                String path = req.uri().split("\\?", 2)[0];
                if (!HttpMethod.GET.equals(req.method()) && !HttpMethod.HEAD.equals(req.method())) {
                  send(ctx, HttpResponseStatus.METHOD_NOT_ALLOWED, "only GET\n", keepAlive);
                  return;
                }
                switch (path) {
                  case "/healthz" -> send(ctx, HttpResponseStatus.OK, "ok\n", keepAlive);
                  case "/readyz" -> send(ctx, ready.getAsBoolean() ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE,
                      ready.getAsBoolean() ? "ready\n" : "not ready (starting or draining)\n", keepAlive);
                  case "/metrics" -> scrapeExecutor.execute(() -> {
                    String body;
                    try {
                      body = metrics.get();
                    } catch (RuntimeException e) {
                      send(ctx, HttpResponseStatus.INTERNAL_SERVER_ERROR, "scrape failed: " + e + "\n", keepAlive);
                      return;
                    }
                    FullHttpResponse r = response(HttpResponseStatus.OK, body, keepAlive);
                    r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
                    write(ctx, r, keepAlive);
                  });
                  default -> send(ctx, HttpResponseStatus.NOT_FOUND, "try /metrics, /healthz or /readyz\n", keepAlive);
                }
              }
            });
      }
    }).bind(address).await();
    if (!bound.isSuccess()) {
      throw new BindFailed("cannot listen for HTTP on " + address.getHostString() + ":" + address.getPort() + " ("
          + bound.cause().getMessage() + "); choose another with --http-listen / HERALD_HTTP_LISTEN, or 'off'", bound.cause());
    }
    this.channel = bound.channel();
  }

  private static FullHttpResponse response(HttpResponseStatus status, String body, boolean keepAlive) {
    ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
    r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
    r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
    if (keepAlive) {
      r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
    }
    return r;
  }

  private static void send(ChannelHandlerContext ctx, HttpResponseStatus status, String body, boolean keepAlive) {
    write(ctx, response(status, body, keepAlive), keepAlive);
  }

  private static void write(ChannelHandlerContext ctx, FullHttpResponse r, boolean keepAlive) {
    var f = ctx.writeAndFlush(r);
    if (!keepAlive) {
      f.addListener(ChannelFutureListener.CLOSE);
    }
  }

  public InetSocketAddress address() {
    return (InetSocketAddress) channel.localAddress();
  }

  @Override
  public void close() {
    channel.close().awaitUninterruptibly();
  }
}
