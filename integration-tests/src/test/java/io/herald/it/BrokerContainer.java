package io.herald.it;

import com.github.dockerjava.api.model.ExposedPort;
import com.github.dockerjava.api.model.PortBinding;
import com.github.dockerjava.api.model.Ports;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.images.builder.ImageFromDockerfile;

/**
 * The broker image built from {@code broker-server/Dockerfile}, run with its gRPC port bound to a
 * fixed free host port on 127.0.0.1, so a client keeps its address across container restarts.
 */
final class BrokerContainer extends GenericContainer<BrokerContainer> {
  static final int GRPC = 7070;
  static final int HTTP = 7071;
  private static ImageFromDockerfile image;

  private final int hostPort;

  BrokerContainer() {
    super(image());
    this.hostPort = freePort();
    withExposedPorts(GRPC, HTTP);
    withCreateContainerCmdModifier(cmd -> cmd.getHostConfig().withPortBindings(
        new PortBinding(Ports.Binding.bindIpAndPort("127.0.0.1", hostPort), new ExposedPort(GRPC)),
        new PortBinding(Ports.Binding.bindIp("127.0.0.1"), new ExposedPort(HTTP))));
    waitingFor(Wait.forHttp("/readyz").forPort(HTTP).forStatusCode(200).withStartupTimeout(Duration.ofSeconds(60)));
  }

  static synchronized ImageFromDockerfile image() {
    if (image == null) {
      Path root = Path.of(System.getProperty("herald.root", "..")).toAbsolutePath().normalize();
      Path dockerfile = root.resolve("broker-server/Dockerfile");
      if (!Files.exists(root.resolve("broker-server/target/herald-broker.jar"))) {
        throw new IllegalStateException("broker-server/target/herald-broker.jar is missing: run ./mvnw package first");
      }
      // a fixed name: images do not pile up (no Ryuk to remove them here)
      image = new ImageFromDockerfile("herald/broker-it", false).withDockerfile(dockerfile);
    }
    return image;
  }

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** {@code 127.0.0.1:port} of the broker's gRPC port; stable across restarts. */
  String endpoint() {
    return "127.0.0.1:" + hostPort;
  }

  int grpcPort() {
    return hostPort;
  }
}
