package yilian.example;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Command-line options of the form {@code --name value}; {@code --help} prints the usage and exits
 * 0, a usage error prints it to stderr and exits 2. One instance per {@code main}; not thread-safe.
 */
final class Args {
  private final Map<String, String> values = new LinkedHashMap<>();
  private final String usage;

  private Args(String usage) {
    this.usage = usage;
  }

  static Args parse(String[] args, String usage) {
    Args a = new Args(usage);
    for (int i = 0; i < args.length; i++) {
      String name = args[i];
      if (name.equals("--help") || name.equals("-h")) {
        System.out.print(usage);
        System.exit(0);
      }
      if (!name.startsWith("--")) a.usageError("unexpected argument '" + name + "'");
      if (i + 1 >= args.length) a.usageError(name + " needs a value");
      a.values.put(name, args[++i]);
    }
    return a;
  }

  /** The value of {@code name} (consumed), or {@code fallback}. */
  String get(String name, String fallback) {
    String v = values.remove(name);
    return v != null ? v : fallback;
  }

  int getInt(String name, int fallback, int min, int max) {
    long v = getLong(name, fallback);
    if (v < min || v > max) usageError(name + " must be in [" + min + ", " + max + "]");
    return (int) v;
  }

  long getLong(String name, long fallback) {
    String v = get(name, null);
    if (v == null) return fallback;
    try {
      return Long.parseLong(v);
    } catch (NumberFormatException e) {
      usageError(name + " must be a whole number, not '" + v + "'");
      return fallback;
    }
  }

  /** A usage error for every option no {@code get} asked for. */
  void rejectUnknown() {
    if (!values.isEmpty()) usageError("unknown option " + values.keySet().iterator().next());
  }

  void usageError(String message) {
    System.err.println("error: " + message);
    System.err.print(usage);
    System.exit(2);
  }
}
