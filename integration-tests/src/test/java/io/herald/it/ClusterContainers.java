package io.herald.it;

import static org.awaitility.Awaitility.await;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.model.ContainerNetwork;
import com.github.dockerjava.api.model.ExposedPort;
import com.github.dockerjava.api.model.PortBinding;
import com.github.dockerjava.api.model.Ports;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.herald.proto.v1.TopicAdminServiceGrpc;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.lifecycle.Startables;

/**
 * Three brokers from {@code broker-server/Dockerfile} forming one metadata Raft group, on one Docker
 * network where they reach each other as {@code herald-1..3} (network aliases): gRPC {@code :7070},
 * HTTP {@code :7071}, Raft {@code :7072}, {@code HERALD_PEERS=n1=herald-1:7072,...}, as in the root
 * docker-compose.yml. From the test, each node's gRPC and HTTP ports are bound to fixed free ports on
 * 127.0.0.1, so an address stays valid across {@code docker stop}/{@code start}, and each keeps its
 * data in its container's {@code /var/lib/herald} volume across those restarts.
 */
final class ClusterContainers implements AutoCloseable {
  static final String PEERS = "n1=herald-1:7072,n2=herald-2:7072,n3=herald-3:7072";
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private static final Pattern LEADER = Pattern.compile("(?m)^herald_raft_role\\{[^}]*role=\"leader\"[^}]*\\} 1(\\.0)?$");

  private final Network network = Network.newNetwork();
  /**
   * A second network every node is also on, without aliases (peers never find each other through
   * it): the test reaches a node at its address there ({@link #direct}) while the node is cut off
   * from the cluster network ({@link #disconnect}).
   */
  private final Network clients = Network.newNetwork();
  private final List<Node> nodes = new ArrayList<>();

  /** One broker of the cluster: {@code herald-<index>}, Raft id {@code n<index>}. */
  static final class Node extends GenericContainer<Node> {
    final int index;
    final String alias;
    final int grpcPort;
    final int httpPort;
    private ManagedChannel channel;

    Node(int index, Network network) {
      super(BrokerContainer.image());
      this.index = index;
      this.alias = "herald-" + index;
      this.grpcPort = BrokerContainer.freePort();
      this.httpPort = BrokerContainer.freePort();
      withNetwork(network);
      withNetworkAliases(alias);
      withEnv("HERALD_NODE_ID", "n" + index);
      withEnv("HERALD_PEERS", PEERS);
      withEnv("HERALD_RAFT_LISTEN", "0.0.0.0:7072");
      withEnv("HERALD_ADVERTISE", alias + ":7070"); // for the cluster wiring; ignored by brokers without --advertise
      withExposedPorts(BrokerContainer.GRPC, BrokerContainer.HTTP);
      withCreateContainerCmdModifier(cmd -> cmd.getHostConfig().withPortBindings(
          new PortBinding(Ports.Binding.bindIpAndPort("127.0.0.1", grpcPort), new ExposedPort(BrokerContainer.GRPC)),
          new PortBinding(Ports.Binding.bindIpAndPort("127.0.0.1", httpPort), new ExposedPort(BrokerContainer.HTTP))));
      waitingFor(Wait.forHttp("/readyz").forPort(BrokerContainer.HTTP).forStatusCode(200).withStartupTimeout(Duration.ofSeconds(90)));
    }

    String nodeId() {
      return "n" + index;
    }

    /** {@code 127.0.0.1:port} of this node's gRPC port; stable across stop/start. */
    String endpoint() {
      return "127.0.0.1:" + grpcPort;
    }

    synchronized ManagedChannel channel() {
      if (channel == null) {
        channel = NettyChannelBuilder.forAddress("127.0.0.1", grpcPort).usePlaintext().build();
      }
      return channel;
    }

    /** The admin API of this node with a deadline of {@code timeout}. */
    TopicAdminServiceGrpc.TopicAdminServiceBlockingStub admin(Duration timeout) {
      return TopicAdminServiceGrpc.newBlockingStub(channel()).withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** GET {@code path} on this node's HTTP port: status and body, or empty when it does not answer. */
    Optional<HttpResponse<String>> http(String path) {
      try {
        return Optional.of(HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + path))
            .timeout(Duration.ofSeconds(3)).build(), HttpResponse.BodyHandlers.ofString()));
      } catch (java.io.IOException e) {
        return Optional.empty();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return Optional.empty();
      }
    }

    boolean ready() {
      return http("/readyz").map(r -> r.statusCode() == 200).orElse(false);
    }

    /** True when this node's /metrics says it is the Raft leader ({@code herald_raft_role{role="leader"} 1}). */
    boolean saysItLeads() {
      return http("/metrics").map(r -> LEADER.matcher(r.body()).find()).orElse(false);
    }

    synchronized void closeChannel() {
      if (channel != null) {
        channel.shutdownNow();
        channel = null;
      }
    }
  }

  ClusterContainers() {
    for (int i = 1; i <= 3; i++) {
      nodes.add(new Node(i, network));
    }
  }

  /** Starts the three containers together (a node is ready before it has a quorum) and waits for every /readyz. */
  ClusterContainers start() {
    try {
      Startables.deepStart(nodes).get(180, TimeUnit.SECONDS);
      for (Node n : nodes) {
        docker().connectToNetworkCmd().withNetworkId(clients.getId()).withContainerId(n.getContainerId()).exec();
      }
    } catch (Exception e) {
      close();
      throw new IllegalStateException("the 3-node cluster did not start: " + e, e);
    }
    return this;
  }

  List<Node> nodes() {
    return nodes;
  }

  /** Node {@code index}, 1-based: herald-1 is {@code node(1)}. */
  Node node(int index) {
    return nodes.get(index - 1);
  }

  DockerClient docker() {
    return DockerClientFactory.instance().client();
  }

  /**
   * The Raft leader, from each node's /metrics ({@code herald_raft_role{role="leader"} 1}); empty
   * while no node claims it, and until the cluster wiring exports that metric.
   */
  Optional<Node> leader() {
    return nodes.stream().filter(Node::saysItLeads).findFirst();
  }

  /** Waits until every running node answers /readyz with 200. */
  void awaitReady(Duration atMost, Node... which) {
    List<Node> list = which.length == 0 ? nodes : List.of(which);
    await().atMost(atMost).pollInterval(Duration.ofMillis(250)).until(() -> list.stream().allMatch(Node::ready));
  }

  /** {@code docker stop} (SIGTERM, 30 s grace as in docker-compose.yml) every node, in parallel. The containers and their volumes stay. */
  void stopAll() {
    List<Thread> stoppers = new ArrayList<>();
    for (Node n : nodes) {
      n.closeChannel();
      stoppers.add(Thread.ofPlatform().start(() -> docker().stopContainerCmd(n.getContainerId()).withTimeout(30).exec()));
    }
    for (Thread t : stoppers) {
      try {
        t.join(Duration.ofSeconds(60));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
  }

  /** {@code docker start} the given nodes (all when none are named), same containers and volumes; waits for /readyz. */
  void startAgain(Duration atMost, Node... which) {
    List<Node> list = which.length == 0 ? nodes : List.of(which);
    for (Node n : list) {
      n.closeChannel();
      docker().startContainerCmd(n.getContainerId()).exec();
    }
    awaitReady(atMost, list.toArray(Node[]::new));
  }

  void kill(Node n) {
    n.closeChannel();
    docker().killContainerCmd(n.getContainerId()).exec();
  }

  void pause(Node n) {
    docker().pauseContainerCmd(n.getContainerId()).exec();
  }

  void unpause(Node n) {
    docker().unpauseContainerCmd(n.getContainerId()).exec();
  }

  /**
   * Cuts {@code n} off from the cluster network ({@code docker network disconnect}): the other nodes
   * no longer reach it nor it them (its alias stops resolving for them); the test still reaches it
   * through {@link #direct}.
   */
  void disconnect(Node n) {
    docker().disconnectFromNetworkCmd().withNetworkId(network.getId()).withContainerId(n.getContainerId()).withForce(true).exec();
  }

  /** Puts {@code n} back on the cluster network under its alias ({@code docker network connect --alias}). */
  void connect(Node n) {
    docker().connectToNetworkCmd().withNetworkId(network.getId()).withContainerId(n.getContainerId())
        .withContainerNetwork(new ContainerNetwork().withAliases(n.alias)).exec();
  }

  /** True while {@code n} is on the cluster network. */
  boolean isConnected(Node n) {
    return address(n, network) != null;
  }

  private String address(Node n, Network net) {
    String name = docker().inspectNetworkCmd().withNetworkId(net.getId()).exec().getName();
    var networks = docker().inspectContainerCmd(n.getContainerId()).exec().getNetworkSettings().getNetworks();
    ContainerNetwork cn = networks == null ? null : networks.get(name);
    return cn == null || cn.getIpAddress() == null || cn.getIpAddress().isEmpty() ? null : cn.getIpAddress();
  }

  /**
   * A new channel to {@code n}'s gRPC port at its address on the clients network (a container
   * address, reachable from this host; not through the published port): it keeps working while
   * {@code n} is cut off from the cluster network. The caller shuts it down.
   */
  ManagedChannel direct(Node n) {
    String ip = address(n, clients);
    if (ip == null) {
      throw new IllegalStateException(n.alias + " is not on the clients network");
    }
    return NettyChannelBuilder.forAddress(ip, BrokerContainer.GRPC).usePlaintext().build();
  }

  boolean isPaused(Node n) {
    return Boolean.TRUE.equals(docker().inspectContainerCmd(n.getContainerId()).exec().getState().getPaused());
  }

  /** The exit code of a stopped node's last run (137: it was SIGKILLed). */
  Long exitCode(Node n) {
    return docker().inspectContainerCmd(n.getContainerId()).exec().getState().getExitCodeLong();
  }

  boolean isRunning(Node n) {
    return Boolean.TRUE.equals(docker().inspectContainerCmd(n.getContainerId()).exec().getState().getRunning());
  }

  /**
   * What a stopped node logged from its last SIGTERM on, without Ratis's per-RPC noise: how long its
   * graceful stop took and what it waited for.
   */
  String lastShutdown(Node n) {
    String logs = n.getLogs();
    int from = logs.lastIndexOf("SIGTERM received");
    if (from < 0) {
      return n.alias + ": no SIGTERM in its log";
    }
    StringBuilder b = new StringBuilder();
    for (String line : logs.substring(logs.lastIndexOf('\n', from) + 1).split("\n")) {
      if (line.contains("io.herald") || line.contains("Timed out") || line.contains("ERROR")) {
        b.append(n.alias).append(" | ").append(line.length() > 220 ? line.substring(0, 220) + "..." : line).append('\n');
      }
    }
    return b.toString();
  }

  /** The last lines of every node's log, for a failure message. */
  String logs() {
    StringBuilder b = new StringBuilder();
    for (Node n : nodes) {
      try {
        String l = n.getLogs();
        String[] lines = l.split("\n");
        b.append("---- ").append(n.alias).append(" (last 40 lines)\n");
        for (int i = Math.max(0, lines.length - 40); i < lines.length; i++) {
          b.append(lines[i]).append('\n');
        }
      } catch (RuntimeException e) {
        b.append("---- ").append(n.alias).append(": no logs (").append(e.getMessage()).append(")\n");
      }
    }
    return b.toString();
  }

  /** Removes the containers (with their volumes) and the network; nothing is left behind (no Ryuk here). */
  @Override
  public void close() {
    for (Node n : nodes) {
      n.closeChannel();
      try {
        if (n.getContainerId() != null && isPaused(n)) {
          unpause(n);
        }
      } catch (RuntimeException ignored) {
        // already gone
      }
      try {
        n.stop();
      } catch (RuntimeException ignored) {
        // best effort: the others still go
      }
    }
    for (Network net : List.of(network, clients)) {
      try {
        net.close();
      } catch (RuntimeException ignored) {
        // best effort
      }
    }
  }
}
