package io.herald.it.loadgen;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A broker started as a child process from its jar, on a free loopback port, so that measurements
 * of its heap ({@code jcmd}), threads and CPU ({@code /proc}) are of the broker alone. Owns the
 * process: {@link #close()} sends SIGTERM and waits, then kills.
 */
public final class BrokerProcess implements AutoCloseable {
  private static final Pattern LISTENING = Pattern.compile("listening on /?([0-9.]+):(\\d+)");

  private final Process process;
  private final int port;
  private final Path java;

  private BrokerProcess(Process process, int port, Path java) {
    this.process = process;
    this.port = port;
    this.java = java;
  }

  /** Starts {@code jar} with the JVM running this driver; {@code jvmArgs} e.g. "-Xmx2g". */
  public static BrokerProcess start(Path jar, List<String> jvmArgs, List<String> brokerArgs) throws IOException, InterruptedException {
    if (!Files.isRegularFile(jar)) {
      throw new IOException("broker jar " + jar + " not found; build it with ./mvnw -DskipTests package");
    }
    Path java = Path.of(ProcessHandle.current().info().command().orElse("java"));
    List<String> cmd = new ArrayList<>();
    cmd.add(java.toString());
    cmd.add("--enable-native-access=ALL-UNNAMED");
    if (Runtime.version().feature() >= 23) {
      cmd.add("--sun-misc-unsafe-memory-access=allow");
    }
    cmd.addAll(jvmArgs);
    cmd.add("-jar");
    cmd.add(jar.toString());
    cmd.add("--listen");
    cmd.add("127.0.0.1:0");
    cmd.addAll(brokerArgs);
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    CompletableFuture<Integer> port = new CompletableFuture<>();
    Thread.ofPlatform().daemon().name("broker-log").start(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          Matcher m = LISTENING.matcher(line);
          if (!port.isDone() && m.find()) {
            port.complete(Integer.parseInt(m.group(2)));
          }
          if (line.contains("ERROR") || line.contains("WARN")) {
            System.err.println("[broker] " + line);
          }
        }
      } catch (IOException e) {
        port.completeExceptionally(e);
      }
      if (!port.isDone()) {
        port.completeExceptionally(new IOException("broker's output ended before it was listening"));
      }
    });
    try {
      return new BrokerProcess(p, port.get(60, TimeUnit.SECONDS), java);
    } catch (Exception e) {
      p.destroyForcibly();
      throw new IOException("broker did not start: " + e.getMessage(), e);
    }
  }

  public int port() {
    return port;
  }

  public long pid() {
    return process.pid();
  }

  /** Live OS threads of the broker process (all JVM threads: Java platform threads, GC, JIT). */
  public int osThreads() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid() + "/status"))) {
      if (line.startsWith("Threads:")) {
        return Integer.parseInt(line.substring(8).trim());
      }
    }
    throw new IOException("no Threads: line in /proc/" + pid() + "/status");
  }

  /** CPU seconds (user + system) the broker has used so far. */
  public double cpuSeconds() throws IOException {
    return cpuSecondsOf(pid());
  }

  /** CPU seconds (user + system) a process has used so far, from /proc. */
  public static double cpuSecondsOf(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
    return ticks / 100.0; // USER_HZ is 100 on Linux
  }

  /** Heap in use after a full GC, in bytes (jcmd GC.run, then GC.heap_info). */
  public long heapUsedAfterGc() throws IOException, InterruptedException {
    jcmd("GC.run");
    jcmd("GC.run");
    String info = jcmd("GC.heap_info");
    Matcher m = Pattern.compile("used (\\d+)K").matcher(info);
    if (!m.find()) {
      throw new IOException("cannot read heap use from jcmd GC.heap_info:\n" + info);
    }
    return Long.parseLong(m.group(1)) * 1024;
  }

  /** Names of the broker's Java platform threads, from a thread dump (jcmd Thread.print). */
  public List<String> javaPlatformThreads() throws IOException, InterruptedException {
    String dump = jcmd("Thread.print");
    List<String> names = new ArrayList<>();
    for (String line : dump.split("\n")) {
      if (line.startsWith("\"") && line.contains(" tid=")) {
        names.add(line.substring(1, line.indexOf('"', 1)));
      }
    }
    return names;
  }

  private String jcmd(String command) throws IOException, InterruptedException {
    Path jcmd = java.resolveSibling("jcmd");
    Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid()), command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("jcmd " + command + " failed: " + out);
    }
    return out;
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy(); // SIGTERM: graceful shutdown
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
    }
  }
}
