package yilian.example;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Just enough JSON for the example, with the JDK only: {@link #quote} writes a string literal, and
 * {@link #parse} reads a whole document into maps, lists, strings, numbers, booleans and null. It
 * is strict (one value, nothing after it, no comments, no trailing commas, bounded nesting), so a
 * broken or truncated answer is an error rather than a half-read object. Stateless; safe from any
 * thread.
 *
 * <p>The broker's JSON is protobuf's canonical proto3 mapping: {@code uint64} fields such as
 * {@code sequence} and {@code update_id} are JSON strings, enums are their names.
 */
public final class Json {
  private static final int MAX_DEPTH = 64;

  private Json() {}

  /** A JSON string literal holding {@code s}, quotes included. */
  public static String quote(String s) {
    StringBuilder out = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        default -> {
          // Control characters, and the two line separators JavaScript
          // does not allow in string literals.
          if (c < 0x20 || c == '\u2028' || c == '\u2029') {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append('"').toString();
  }

  /** Thrown for text that is not one well-formed JSON value. */
  public static final class ParseException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ParseException(String message, int at) {
      super(message + " at offset " + at);
    }
  }

  /**
   * The value of {@code text}: a {@code Map<String,Object>} (keys in document order), a {@code
   * List<Object>}, a {@code String}, a {@code BigDecimal}, a {@code Boolean} or {@code null}.
   */
  public static Object parse(String text) {
    Parser p = new Parser(text);
    p.skipSpace();
    Object value = p.value(0);
    p.skipSpace();
    if (p.pos != text.length()) throw new ParseException("unexpected text after the value", p.pos);
    return value;
  }

  /** {@code parse(text)} as an object; an error if it is something else. */
  @SuppressWarnings("unchecked")
  public static Map<String, Object> parseObject(String text) {
    Object v = parse(text);
    if (!(v instanceof Map)) throw new ParseException("expected a JSON object", 0);
    return (Map<String, Object>) v;
  }

  /** The member at {@code path} (keys of nested objects), or null when any step is missing. */
  @SuppressWarnings("unchecked")
  public static Object get(Object root, String... path) {
    Object v = root;
    for (String key : path) {
      if (!(v instanceof Map)) return null;
      v = ((Map<String, Object>) v).get(key);
    }
    return v;
  }

  /** The member at {@code path} as text ("" when missing or null; numbers and booleans printed). */
  public static String text(Object root, String... path) {
    Object v = get(root, path);
    if (v == null) return "";
    if (v instanceof BigDecimal d) return d.toPlainString();
    return v.toString();
  }

  /** The member at {@code path} as a list (empty when missing or not a list). */
  @SuppressWarnings("unchecked")
  public static List<Object> list(Object root, String... path) {
    Object v = get(root, path);
    return v instanceof List ? (List<Object>) v : List.of();
  }

  private static final class Parser {
    final String s;
    int pos;

    Parser(String s) {
      this.s = s;
    }

    void skipSpace() {
      while (pos < s.length()) {
        char c = s.charAt(pos);
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        pos++;
      }
    }

    ParseException error(String message) {
      return new ParseException(message, pos);
    }

    Object value(int depth) {
      if (depth > MAX_DEPTH) throw error("nested deeper than " + MAX_DEPTH);
      if (pos >= s.length()) throw error("unexpected end of text");
      char c = s.charAt(pos);
      return switch (c) {
        case '{' -> object(depth);
        case '[' -> array(depth);
        case '"' -> string();
        case 't' -> literal("true", Boolean.TRUE);
        case 'f' -> literal("false", Boolean.FALSE);
        case 'n' -> literal("null", null);
        default -> {
          if (c == '-' || (c >= '0' && c <= '9')) yield number();
          throw error("unexpected character '" + c + "'");
        }
      };
    }

    Object literal(String word, Object value) {
      if (!s.startsWith(word, pos)) throw error("expected " + word);
      pos += word.length();
      return value;
    }

    Map<String, Object> object(int depth) {
      Map<String, Object> out = new LinkedHashMap<>();
      pos++;  // {
      skipSpace();
      if (peek() == '}') {
        pos++;
        return out;
      }
      while (true) {
        skipSpace();
        if (peek() != '"') throw error("expected a member name");
        String key = string();
        skipSpace();
        expect(':');
        skipSpace();
        if (out.containsKey(key)) throw error("member '" + key + "' appears twice");
        out.put(key, value(depth + 1));
        skipSpace();
        if (peek() == ',') {
          pos++;
          continue;
        }
        expect('}');
        return out;
      }
    }

    List<Object> array(int depth) {
      List<Object> out = new ArrayList<>();
      pos++;  // [
      skipSpace();
      if (peek() == ']') {
        pos++;
        return out;
      }
      while (true) {
        skipSpace();
        out.add(value(depth + 1));
        skipSpace();
        if (peek() == ',') {
          pos++;
          continue;
        }
        expect(']');
        return out;
      }
    }

    String string() {
      pos++;  // opening quote
      StringBuilder out = new StringBuilder();
      while (true) {
        if (pos >= s.length()) throw error("unterminated string");
        char c = s.charAt(pos++);
        if (c == '"') return out.toString();
        if (c < 0x20) throw error("control character in a string");
        if (c != '\\') {
          out.append(c);
          continue;
        }
        if (pos >= s.length()) throw error("unterminated escape");
        char e = s.charAt(pos++);
        switch (e) {
          case '"', '\\', '/' -> out.append(e);
          case 'b' -> out.append('\b');
          case 'f' -> out.append('\f');
          case 'n' -> out.append('\n');
          case 'r' -> out.append('\r');
          case 't' -> out.append('\t');
          case 'u' -> {
            if (pos + 4 > s.length()) throw error("short \\u escape");
            try {
              out.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16));
            } catch (NumberFormatException ex) {
              throw error("bad \\u escape");
            }
            pos += 4;
          }
          default -> throw error("unknown escape \\" + e);
        }
      }
    }

    BigDecimal number() {
      int start = pos;
      if (peek() == '-') pos++;
      if (peek() == '0') {
        pos++;
      } else if (digits() == 0) {
        throw error("expected a digit");
      }
      if (peek() == '.') {
        pos++;
        if (digits() == 0) throw error("expected a digit after '.'");
      }
      if (peek() == 'e' || peek() == 'E') {
        pos++;
        if (peek() == '+' || peek() == '-') pos++;
        if (digits() == 0) throw error("expected an exponent");
      }
      return new BigDecimal(s.substring(start, pos));
    }

    int digits() {
      int n = 0;
      while (pos < s.length() && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') {
        pos++;
        n++;
      }
      return n;
    }

    char peek() {
      return pos < s.length() ? s.charAt(pos) : '\0';
    }

    void expect(char c) {
      if (peek() != c) throw error("expected '" + c + "'");
      pos++;
    }
  }
}
