package io.herald.client;

import io.herald.broker.Broker;
import io.herald.broker.config.BrokerConfig;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;

/** Starts real brokers on loopback for SDK tests. */
final class Brokers {
  private Brokers() { }

  static Broker start() throws IOException {
    return Broker.start(BrokerConfig.defaults("127.0.0.1:0"));
  }

  /** A broker on a given port with a data dir, so it can be restarted in place. */
  static Broker start(int port, Path dataDir) throws IOException {
    return Broker.start(BrokerConfig.defaults("127.0.0.1:" + port).withDataDir(dataDir));
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  static HeraldClient client(Broker b) {
    return HeraldClient.builder().endpoints("127.0.0.1:" + b.port()).name("sdk-test").build();
  }
}
