package io.herald.broker.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * A broker config file: {@code .yaml}/{@code .yml} (a flat map) or {@code .properties}, with the
 * flags' names as keys ({@code listen: 0.0.0.0:7070}, {@code drain-timeout: 30s}). Unknown keys
 * are refused at start with the list of known ones.
 */
public final class ConfigFile {
  private final Path path;
  private final Map<String, String> values;

  private ConfigFile(Path path, Map<String, String> values) {
    this.path = path;
    this.values = values;
  }

  public static ConfigFile load(Path path, Set<String> knownKeys) {
    Map<String, String> values = new LinkedHashMap<>();
    String name = path.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
    try (Reader r = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
      if (name.endsWith(".properties")) {
        Properties p = new Properties();
        p.load(r);
        p.forEach((k, v) -> values.put(k.toString().trim(), v.toString().trim()));
      } else if (name.endsWith(".yaml") || name.endsWith(".yml")) {
        Object doc = new Yaml(new SafeConstructor(new LoaderOptions())).load(r);
        if (doc != null) {
          if (!(doc instanceof Map<?, ?> map)) {
            throw new IllegalArgumentException("config file " + path + " must be a map of settings, e.g. 'listen: 0.0.0.0:7070'");
          }
          for (Map.Entry<?, ?> e : map.entrySet()) {
            if (e.getValue() instanceof Map || e.getValue() instanceof Iterable) {
              throw new IllegalArgumentException("config file " + path + ": '" + e.getKey() + "' must be a single value");
            }
            values.put(String.valueOf(e.getKey()), e.getValue() == null ? "" : String.valueOf(e.getValue()));
          }
        }
      } else {
        throw new IllegalArgumentException("config file " + path + " must end in .yaml, .yml or .properties");
      }
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read config file " + path + ": " + e.getMessage(), e);
    } catch (org.yaml.snakeyaml.error.YAMLException e) {
      throw new IllegalArgumentException("config file " + path + " is not valid YAML: " + e.getMessage(), e);
    }
    Set<String> unknown = new TreeSet<>(values.keySet());
    unknown.removeAll(knownKeys);
    if (!unknown.isEmpty()) {
      throw new IllegalArgumentException("config file " + path + " has unknown setting(s) " + unknown + "; known: " + new TreeSet<>(knownKeys));
    }
    return new ConfigFile(path, values);
  }

  public String get(String key) {
    return values.get(key);
  }

  public Path path() {
    return path;
  }
}
