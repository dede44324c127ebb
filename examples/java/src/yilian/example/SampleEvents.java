package yilian.example;

import java.time.Instant;
import java.util.List;

/**
 * Sample ESTABLISHED events, one per enterprise, as {@code yilian.v1.EnterpriseEvent} JSON (proto
 * field names, enums by name, {@code uint64} as a string, times in RFC 3339): what a registration
 * platform publishes when it registers a new enterprise. Everything is derived from a seed and the
 * enterprise's number, so the same seed gives byte-for-byte the same events, which the broker then
 * confirms as {@code DUPLICATE}. Pure; safe from any thread.
 *
 * <p>The legal representative's ID number and phone are personal data: the example makes them up
 * (valid check characters, fictitious numbers) and never prints them.
 */
public final class SampleEvents {
  private static final List<String> PREFIXES =
      List.of("鹭岛", "海沧", "集美", "同安", "翔安", "思明", "湖里", "嘉禾", "五缘", "筼筜", "鼓浪", "东渡");
  private static final List<String> TRADES =
      List.of("软件科技", "供应链管理", "生物医药", "新能源科技", "智能制造", "文化传媒", "电子商务", "信息技术");
  private static final List<String> SURNAMES = List.of("王", "李", "张", "刘", "陈", "杨", "黄", "林");
  private static final List<String> GIVEN = List.of("伟", "芳", "敏", "静", "磊", "洋", "建华", "志强");
  private static final List<String> ROADS = List.of("观日路", "嘉禾路", "湖滨南路", "厦禾路", "仙岳路", "火炬北路");
  private static final List<String> BANKS = List.of("ICBC", "CCB");
  /** The time the sample registrations took effect; the n-th one a minute after the (n-1)-th. */
  private static final Instant OCCURRED_BASE = Instant.parse("2026-11-27T01:30:00Z");

  private SampleEvents() {}

  /** The event id of enterprise {@code n} (1-based) of {@code seed}: {@code java-<seed>-<n>}. */
  public static String eventId(long seed, int n) {
    return "java-" + seed + "-" + n;
  }

  /** The USCC of enterprise {@code n} of {@code seed} in {@code regionCode}. */
  public static String uscc(String regionCode, long seed, int n) {
    return CheckDigits.makeUscc(regionCode, seed * 1000 + n);
  }

  /** The ESTABLISHED event of enterprise {@code n} (1-based) of {@code seed}, one line of JSON. */
  public static String established(String regionCode, long seed, int n) {
    long k = Math.floorMod(seed * 7919 + n, 1_000_000L);
    String name = "厦门" + pick(PREFIXES, k) + pick(TRADES, k / 7) + "有限公司";
    String person = pick(SURNAMES, k / 3) + pick(GIVEN, k / 11);
    String bank = pick(BANKS, n - 1);
    String phone = "139" + String.format("%08d", Math.floorMod(seed * 104729 + n * 7L, 100_000_000L));
    String occurred = OCCURRED_BASE.plusSeconds(60L * n).toString();  // e.g. 2026-11-27T01:31:00Z

    StringBuilder j = new StringBuilder(1024);
    j.append('{');
    field(j, "event_id", eventId(seed, n)).append(',');
    field(j, "type", "ESTABLISHED").append(',');
    field(j, "uscc", uscc(regionCode, seed, n)).append(',');
    field(j, "revision", "1").append(',');  // uint64: a JSON string
    field(j, "occurred_at", occurred).append(',');
    field(j, "authority", "厦门市市场监督管理局").append(',');
    j.append("\"enterprise\":{");
    field(j, "name", name).append(',');
    field(j, "entity_type", "有限责任公司（自然人投资或控股）").append(',');
    j.append("\"legal_representative\":{");
    field(j, "name", person).append(',');
    field(j, "id_type", "RESIDENT_ID").append(',');
    field(j, "id_number", CheckDigits.makeResidentId(k * 13 + 5)).append(',');
    field(j, "phone", phone);
    j.append("},\"registered_capital\":{");
    field(j, "amount", (10 + k % 490) * 10000 + ".00").append(',');
    field(j, "currency", "CNY");
    j.append("},");
    field(j, "address", "福建省厦门市湖里区" + pick(ROADS, k / 5) + (1 + k % 399) + "号").append(',');
    field(j, "business_scope", "软件开发；信息技术咨询服务。（依法须经批准的项目，经相关部门批准后方可开展经营活动）").append(',');
    field(j, "established_on", occurred.substring(0, 10)).append(',');
    field(j, "region_code", regionCode).append(',');
    field(j, "accounting_method", "INDEPENDENT").append(',');
    j.append("\"employee_count\":").append(1 + k % 200).append(',');  // uint32: a JSON number
    field(j, "industry_code", "I6513");
    j.append("},\"bank_reservation\":{");
    field(j, "bank_code", bank).append(',');
    field(j, "branch_code", bank + "-XM-1");
    j.append("}}");
    return j.toString();
  }

  private static StringBuilder field(StringBuilder j, String name, String value) {
    return j.append(Json.quote(name)).append(':').append(Json.quote(value));
  }

  private static String pick(List<String> from, long k) {
    return from.get((int) Math.floorMod(k, (long) from.size()));
  }
}
