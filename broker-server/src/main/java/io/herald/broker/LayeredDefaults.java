package io.herald.broker;

import io.herald.broker.config.ConfigFile;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine;

/**
 * Where a setting comes from when its flag is absent: the {@code HERALD_} environment variable
 * ({@code --drain-timeout} → {@code HERALD_DRAIN_TIMEOUT}), else the config file's key of the same
 * name ({@code drain-timeout}), else the built-in default. Unknown keys in the file are refused.
 */
final class LayeredDefaults implements CommandLine.IDefaultValueProvider {
  private final Map<String, String> env;
  private final ConfigFile file;

  LayeredDefaults(CommandLine cl, String[] args, Map<String, String> env) {
    this.env = env;
    Path path = null;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--config") && i + 1 < args.length) {
        path = Path.of(args[i + 1]);
      } else if (args[i].startsWith("--config=")) {
        path = Path.of(args[i].substring("--config=".length()));
      }
    }
    if (path == null && env.get("HERALD_CONFIG") != null) {
      path = Path.of(env.get("HERALD_CONFIG"));
    }
    Set<String> keys = new HashSet<>();
    for (CommandLine.Model.OptionSpec o : cl.getCommandSpec().options()) {
      String key = key(o);
      if (!key.equals("config") && !key.equals("help") && !key.equals("version")) {
        keys.add(key);
      }
    }
    this.file = path == null ? null : ConfigFile.load(path, keys);
  }

  private static String key(CommandLine.Model.OptionSpec o) {
    return o.longestName().replaceFirst("^--(\\[no-])?", "");
  }

  /** Where an option's value came from when it was not a flag: "HERALD_X" or the file's path; null for a flag or default. */
  String sourceOf(CommandLine.Model.ArgSpec arg, String[] args) {
    if (!(arg instanceof CommandLine.Model.OptionSpec o)) {
      return null;
    }
    for (String a : args) {
      for (String name : o.names()) {
        if (a.equals(name) || a.startsWith(name + "=")) {
          return null; // given as a flag
        }
      }
    }
    String key = key(o);
    String envName = "HERALD_" + key.toUpperCase(Locale.ROOT).replace('-', '_');
    if (env.get(envName) != null && !env.get(envName).isEmpty()) {
      return "environment variable " + envName;
    }
    if (file != null && file.get(key) != null) {
      return "config file " + file.path();
    }
    return null;
  }

  @Override
  public String defaultValue(CommandLine.Model.ArgSpec arg) {
    if (!(arg instanceof CommandLine.Model.OptionSpec o)) {
      return null;
    }
    String key = key(o);
    String fromEnv = env.get("HERALD_" + key.toUpperCase(Locale.ROOT).replace('-', '_'));
    if (fromEnv != null && !fromEnv.isEmpty()) {
      return fromEnv;
    }
    return file == null ? null : file.get(key);
  }
}
