package io.herald.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import io.grpc.StatusRuntimeException;
import io.herald.broker.transport.Errors;
import io.herald.proto.v1.CreateTopicRequest;
import io.herald.proto.v1.PublishRequest;
import io.herald.proto.v1.Retention;
import io.herald.proto.v1.TopicConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The proto comments state the contract a client author reads: every topic setting's default (as
 * a topic created without a config reports it) and the limits of a publish (as the broker enforces
 * them). Reads the .proto files shipped in the API jar.
 */
@Timeout(60)
class ProtoContractTest {

  static String proto(String file) throws IOException {
    try (InputStream in = ProtoContractTest.class.getClassLoader().getResourceAsStream("herald/v1/" + file)) {
      assertThat(in).as(file + " on the classpath").isNotNull();
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  /** Each field of {@code message} in {@code proto} with its leading comment, lines joined by spaces. */
  static Map<String, String> fieldComments(String proto, String message) {
    int start = proto.indexOf("\nmessage " + message + " {");
    assertThat(start).as("message " + message).isNotNegative();
    String body = proto.substring(start, proto.indexOf("\n}", start));
    Map<String, String> out = new LinkedHashMap<>();
    StringBuilder comment = new StringBuilder();
    Pattern field = Pattern.compile("^\\s*(?:optional |repeated )?[\\w.]+ (\\w+) = \\d+;");
    for (String line : body.split("\n")) {
      String t = line.trim();
      if (t.startsWith("//")) {
        comment.append(' ').append(t.substring(2).trim());
        continue;
      }
      Matcher m = field.matcher(line);
      if (m.find()) {
        out.put(m.group(1), comment.toString().trim());
      }
      comment.setLength(0);
    }
    return out;
  }

  /** How the comments write a value: 10,000; 16 MiB; 30 s, 2 min, 1 h; an enum's name. */
  static String render(FieldDescriptor f, Object value) {
    if (value instanceof EnumValueDescriptor e) {
      return e.getName();
    }
    if (value instanceof com.google.protobuf.Duration d) {
      long s = d.getSeconds();
      return s % 3600 == 0 ? s / 3600 + " h" : s % 60 == 0 ? s / 60 + " min" : s + " s";
    }
    if (value instanceof Boolean b) {
      return b.toString();
    }
    long n = ((Number) value).longValue();
    if (f.getName().endsWith("_bytes") && n > 0) {
      for (String unit : new String[] {"GiB", "MiB", "KiB"}) {
        long size = 1L << (unit.equals("GiB") ? 30 : unit.equals("MiB") ? 20 : 10);
        if (n % size == 0) {
          return n / size + " " + unit;
        }
      }
    }
    return String.format(Locale.ROOT, "%,d", n);
  }

  private static void assertEveryDefaultWritten(String proto, Message defaults) {
    Map<String, String> comments = fieldComments(proto, defaults.getDescriptorForType().getName());
    assertThat(comments.keySet()).as("fields of " + defaults.getDescriptorForType().getName())
        .containsExactlyInAnyOrderElementsOf(defaults.getDescriptorForType().getFields().stream().map(FieldDescriptor::getName).toList());
    for (FieldDescriptor f : defaults.getDescriptorForType().getFields()) {
      String comment = comments.get(f.getName()).toLowerCase(Locale.ROOT);
      if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && !f.getMessageType().getFullName().startsWith("google.")) {
        assertThat(comment).as(f.getName()).contains("defaults");
        continue;
      }
      assertThat(defaults.hasField(f)).as("the broker reports " + f.getName()).isTrue();
      String value = render(f, defaults.getField(f)).toLowerCase(Locale.ROOT);
      String shortEnum = value.replaceFirst("^(overflow_policy_|publish_overflow_)", "");
      assertThat(comment.contains("default " + value) || comment.contains("default " + shortEnum))
          .as("%s states its default %s: \"%s\"", f.getName(), value, comment).isTrue();
    }
  }

  @Test
  void everyTopicSettingStatesItsDefault() throws Exception {
    try (TestBroker b = new TestBroker()) {
      TopicConfig defaults = b.createTopic("d").getConfig();
      String topicProto = proto("topic.proto");
      assertEveryDefaultWritten(topicProto, defaults);
      Retention retention = defaults.getRetention();
      assertEveryDefaultWritten(topicProto, retention);
    }
  }

  @Test
  void publishLimitsAreWrittenWhereAClientAuthorLooks() throws Exception {
    String publishProto = proto("publish.proto");
    String request = fieldComments(publishProto, "PublishRequest").get("events");
    String streamRequest = fieldComments(publishProto, "PublishStreamRequest").get("events");
    try (TestBroker b = new TestBroker()) {
      b.createTopic("t");
      // events per publish: the limit the broker refuses with
      PublishRequest.Builder tooMany = PublishRequest.newBuilder().setTopic("t");
      for (int i = 0; i < 10_001; i++) {
        tooMany.addEvents(TestBroker.event(""));
      }
      StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> b.publisher().publish(tooMany.build()));
      long maxEvents = Long.parseLong(ErrorDetailsTest.errorInfo(e).getMetadataOrThrow("limit"));
      String written = "1 to " + String.format(Locale.ROOT, "%,d", maxEvents) + " events";
      assertThat(request).contains(written).contains("4 MiB");
      assertThat(streamRequest).contains(written).contains("4 MiB");
      assertThat(publishProto).contains(String.format(Locale.ROOT, "%,d bytes", Errors.MAX_MESSAGE_BYTES));

      // max_event_bytes: its maximum, and that two such events do not fit one message
      String maxEventBytes = fieldComments(proto("topic.proto"), "TopicConfig").get("max_event_bytes");
      assertThat(maxEventBytes).contains("1 byte..3 MiB").contains("4 MiB").contains("cannot share a batch");
      b.admin().createTopic(CreateTopicRequest.newBuilder().setName("max").setConfig(TopicConfig.newBuilder().setMaxEventBytes(3 << 20)).build());
      assertThat(catchThrowableOfType(StatusRuntimeException.class, () -> b.admin().createTopic(CreateTopicRequest.newBuilder()
          .setName("over").setConfig(TopicConfig.newBuilder().setMaxEventBytes((3 << 20) + 1)).build()))).isNotNull();
      assertThat(2L * (3 << 20)).isGreaterThan(Errors.MAX_MESSAGE_BYTES);
    }
  }
}
