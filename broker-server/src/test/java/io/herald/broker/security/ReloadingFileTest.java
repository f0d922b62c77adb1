package io.herald.broker.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

@Timeout(60)
class ReloadingFileTest {
  private static final Duration FAST = Duration.ofMillis(20);
  /** For tests that poll by hand: the timer never fires during the test. */
  private static final Duration NEVER = Duration.ofHours(1);
  private static final String SECRET = "hrld_do-not-log-me";

  @TempDir Path dir;
  private Path file;
  private ScheduledThreadPoolExecutor timer;
  private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
  private final ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(ReloadingFile.class);
  private Level oldLevel;

  @BeforeEach
  void setUp() {
    file = dir.resolve("tokens.txt");
    timer = new ScheduledThreadPoolExecutor(1, r -> new Thread(r, "test-reload-timer"));
    timer.setRemoveOnCancelPolicy(true);
    logged.start();
    oldLevel = logger.getLevel();
    logger.setLevel(Level.INFO);
    logger.addAppender(logged);
  }

  @AfterEach
  void tearDown() throws InterruptedException {
    logger.detachAppender(logged);
    logger.setLevel(oldLevel);
    timer.shutdownNow();
    assertThat(timer.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
  }

  private static String tokenLine(String principal, String token) {
    return principal + " sha256:" + TokenFile.sha256Hex(token) + "\n";
  }

  private void write(String text) throws IOException {
    Files.writeString(file, text, StandardCharsets.UTF_8);
  }

  private List<String> warnings() {
    return logged.list.stream().filter(e -> e.getLevel() == Level.WARN).map(ILoggingEvent::getFormattedMessage).toList();
  }

  private ReloadingFile<TokenFile> open(Duration poll) {
    return ReloadingFile.open(file, TokenFile::parse, timer, poll);
  }

  @Test
  void parsesAtOnceAndSwapsInTheNewVersionWhenTheFileChanges() throws IOException {
    write(tokenLine("a", "t1"));
    try (ReloadingFile<TokenFile> tokens = open(FAST)) {
      assertThat(tokens.current().authenticate("t1")).isPresent();
      List<TokenFile> seen = new CopyOnWriteArrayList<>();
      tokens.onReload(seen::add);

      write(tokenLine("a", "t1") + tokenLine("b", "t2"));

      await().atMost(Duration.ofSeconds(10)).until(() -> tokens.current().authenticate("t2").isPresent());
      assertThat(seen).hasSize(1);
      assertThat(seen.get(0)).isSameAs(tokens.current());
      assertThat(tokens.file()).isEqualTo(file);
    }
  }

  @Test
  void seesASameSizeRewriteThatKeptTheModificationTime() throws IOException {
    write(tokenLine("a", "t1"));
    FileTime modified = Files.getLastModifiedTime(file);
    try (ReloadingFile<TokenFile> tokens = open(NEVER)) {
      write(tokenLine("b", "t2")); // same length
      Files.setLastModifiedTime(file, modified);

      assertThat(tokens.poll()).as("a recently modified file is read again even if its time and size are unchanged").isTrue();
      assertThat(tokens.current().authenticate("t2")).isPresent();
      assertThat(tokens.poll()).as("unchanged content is not parsed again").isFalse();
    }
  }

  @Test
  void followsASymlinkSwapLikeAKubernetesConfigMapUpdate() throws IOException {
    // file -> ..data/tokens.txt, ..data -> ..v1; the update points ..data at ..v2 in one rename
    Path v1 = Files.createDirectory(dir.resolve("..v1"));
    Path v2 = Files.createDirectory(dir.resolve("..v2"));
    Files.writeString(v1.resolve("tokens.txt"), tokenLine("a", "t1"));
    Files.writeString(v2.resolve("tokens.txt"), tokenLine("b", "t2"));
    Path data = dir.resolve("..data");
    Files.createSymbolicLink(data, v1.getFileName());
    file = Files.createSymbolicLink(dir.resolve("tokens-link.txt"), data.getFileName().resolve("tokens.txt"));

    try (ReloadingFile<TokenFile> tokens = open(FAST)) {
      assertThat(tokens.current().authenticate("t1")).isPresent();
      Path next = Files.createSymbolicLink(dir.resolve("..data_tmp"), v2.getFileName());
      Files.move(next, data, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);

      await().atMost(Duration.ofSeconds(10)).until(() -> tokens.current().authenticate("t2").isPresent());
      assertThat(tokens.current().authenticate("t1")).isEmpty();
    }
  }

  @Test
  void aBadVersionKeepsTheLastGoodValueAndWarnsOnceWithoutTheFilesSecrets() throws IOException {
    write(tokenLine("a", "t1"));
    try (ReloadingFile<TokenFile> tokens = open(NEVER)) {
      TokenFile good = tokens.current();
      write(tokenLine("a", "t1") + "b " + SECRET + "\n"); // the token itself where its hash belongs

      assertThat(tokens.poll()).isFalse();
      assertThat(tokens.poll()).isFalse();

      assertThat(tokens.current()).isSameAs(good);
      assertThat(warnings()).singleElement().satisfies(w -> assertThat(w)
          .contains(file.toString())
          .contains("not valid, keeping the version loaded at")
          .contains("line 2: the second field must be sha256:HEX")
          .doesNotContain(SECRET));

      write(tokenLine("a", "t1") + tokenLine("b", "t2"));
      assertThat(tokens.poll()).isTrue();
      assertThat(tokens.current().authenticate("t2")).isPresent();
    }
  }

  @Test
  void aMissingFileKeepsTheLastGoodValueUntilItComesBack() throws IOException {
    write(tokenLine("a", "t1"));
    try (ReloadingFile<TokenFile> tokens = open(NEVER)) {
      Files.delete(file);
      assertThat(tokens.poll()).isFalse();
      assertThat(tokens.poll()).isFalse();
      assertThat(tokens.current().authenticate("t1")).isPresent();
      assertThat(warnings()).singleElement().satisfies(w -> assertThat(w).contains(file.toString()).contains("no such file"));

      write(tokenLine("b", "t2"));
      assertThat(tokens.poll()).isTrue();
      assertThat(tokens.current().authenticate("t2")).isPresent();
    }
  }

  @Test
  void aFailingListenerDoesNotStopTheReloads() throws IOException {
    write(tokenLine("a", "t1"));
    try (ReloadingFile<TokenFile> tokens = open(FAST)) {
      AtomicInteger calls = new AtomicInteger();
      tokens.onReload(t -> {
        calls.incrementAndGet();
        throw new IllegalStateException("listener bug");
      });
      write(tokenLine("b", "t2"));
      await().atMost(Duration.ofSeconds(10)).until(() -> calls.get() == 1);
      write(tokenLine("c", "t3") + tokenLine("d", "t4"));
      await().atMost(Duration.ofSeconds(10)).until(() -> tokens.current().authenticate("t4").isPresent());
      assertThat(calls.get()).isEqualTo(2);
    }
  }

  @Test
  void closeCancelsThePollTaskAndLeavesTheTimerRunning() throws IOException {
    write(tokenLine("a", "t1"));
    AtomicInteger parses = new AtomicInteger();
    ReloadingFile<TokenFile> tokens = ReloadingFile.open(file, (text, source) -> {
      parses.incrementAndGet();
      return TokenFile.parse(text, source);
    }, timer, FAST);
    assertThat(timer.getQueue()).hasSize(1);

    tokens.close();
    tokens.close(); // idempotent

    assertThat(timer.getQueue()).as("the poll task was cancelled").isEmpty();
    assertThat(timer.isShutdown()).as("the timer is the caller's").isFalse();
    write(tokenLine("b", "t2"));
    await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5)).until(() -> parses.get() == 1);
    assertThat(tokens.poll()).isFalse();
    assertThat(tokens.current().authenticate("t1")).as("the last value stays").isPresent();
  }

  @Test
  void aBadFileAtStartIsRefusedNamingTheFileAndLine() throws IOException {
    write("# tokens\n" + tokenLine("a", "t1") + "b sha256:abc\n");
    assertThatThrownBy(() -> open(FAST))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(file + ": line 3: the hash has 3 hex digits");
    assertThat(timer.getQueue()).as("nothing was scheduled").isEmpty();
  }

  @Test
  void aMissingHugeOrBinaryFileAtStartIsRefused() throws IOException {
    assertThatThrownBy(() -> open(FAST)).hasMessage("cannot read " + file + ": no such file");

    Files.write(file, new byte[] {'a', ' ', (byte) 0xff, (byte) 0xfe});
    assertThatThrownBy(() -> open(FAST)).hasMessage(file + " is not UTF-8 text");

    try (var out = Files.newOutputStream(file)) {
      out.write(new byte[(int) ReloadingFile.MAX_BYTES + 1]);
    }
    assertThatThrownBy(() -> open(FAST)).hasMessageContaining("the limit is " + ReloadingFile.MAX_BYTES);

    assertThatThrownBy(() -> ReloadingFile.open(dir, TokenFile::parse, timer, FAST)).hasMessageContaining("not a regular file");
  }

  @Test
  void refusesANonPositivePollInterval() throws IOException {
    write(tokenLine("a", "t1"));
    assertThatThrownBy(() -> open(Duration.ZERO)).hasMessageContaining("must be positive");
    assertThatThrownBy(() -> open(Duration.ofSeconds(-1))).hasMessageContaining("must be positive");
  }
}
