package yilian.example;

/**
 * The check characters the broker verifies on publish: the unified social credit code (USCC, GB
 * 32100-2015) and the resident ID number (GB 11643-1999, ISO 7064 MOD 11-2). An event whose codes
 * fail these is refused with {@code INVALID_EVENT} / {@code CHECK_DIGIT}. Pure; safe from any
 * thread.
 *
 * <p>{@code main} checks codes given as arguments and prints "valid" or "invalid" for each: {@code
 * run.sh check uscc 91350100M000100Y43 91350100M000100Y4Z}, {@code run.sh check id 11010519491231002X};
 * it exits 0 when all are valid.
 */
public final class CheckDigits {
  /** The 31 characters of a USCC, valued 0..30 in this order (no I, O, S, V, Z). */
  public static final String USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY";

  private static final int[] USCC_WEIGHTS = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
  private static final int[] ID_WEIGHTS = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  private static final String ID_CHECK = "10X98765432";

  private CheckDigits() {}

  /** The check character (position 18) of the first 17 characters of a USCC. */
  public static char usccCheckCharacter(String first17) {
    if (first17.length() != 17) throw new IllegalArgumentException("a USCC body has 17 characters");
    int sum = 0;
    for (int i = 0; i < 17; i++) {
      int value = USCC_CHARS.indexOf(first17.charAt(i));
      if (value < 0) throw new IllegalArgumentException("character " + (i + 1) + " is not in the GB 32100 set");
      sum += value * USCC_WEIGHTS[i];
    }
    int check = 31 - sum % 31;
    return USCC_CHARS.charAt(check == 31 ? 0 : check);
  }

  /** Whether {@code code} is 18 characters of the USCC set with the right check character. */
  public static boolean isValidUscc(String code) {
    if (code.length() != 18) return false;
    for (int i = 0; i < 18; i++) {
      if (USCC_CHARS.indexOf(code.charAt(i)) < 0) return false;
    }
    return usccCheckCharacter(code.substring(0, 17)) == code.charAt(17);
  }

  /**
   * A valid USCC of an enterprise registered by market regulation ("91") in {@code regionCode} (6
   * digits), its entity identifier (positions 9 to 17) made from {@code n} in base 31: distinct
   * numbers give distinct codes.
   */
  public static String makeUscc(String regionCode, long n) {
    if (regionCode.length() != 6) throw new IllegalArgumentException("a region code has 6 digits");
    if (n < 0) throw new IllegalArgumentException("n must not be negative");
    char[] id = new char[9];
    for (int i = 8; i >= 0; i--) {
      id[i] = USCC_CHARS.charAt((int) (n % 31));
      n /= 31;
    }
    String body = "91" + regionCode + new String(id);
    return body + usccCheckCharacter(body);
  }

  /** The check character of the first 17 digits of a resident ID number. */
  public static char residentIdCheckCharacter(String first17) {
    if (first17.length() != 17) throw new IllegalArgumentException("a resident ID body has 17 digits");
    int sum = 0;
    for (int i = 0; i < 17; i++) {
      char c = first17.charAt(i);
      if (c < '0' || c > '9') throw new IllegalArgumentException("a resident ID body is digits only");
      sum += (c - '0') * ID_WEIGHTS[i];
    }
    return ID_CHECK.charAt(sum % 11);
  }

  /** Whether {@code id} is 17 digits and the right check character (the birth date is not checked). */
  public static boolean isValidResidentId(String id) {
    if (id.length() != 18 || !id.substring(0, 17).chars().allMatch(c -> c >= '0' && c <= '9')) return false;
    return residentIdCheckCharacter(id.substring(0, 17)) == id.charAt(17);
  }

  /**
   * A valid resident ID number: region 350203 (Xiamen, Siming), a real birth date in 1960-1999
   * and a sequence number, all from {@code n}.
   */
  public static String makeResidentId(long n) {
    if (n < 0) throw new IllegalArgumentException("n must not be negative");
    int year = 1960 + (int) (n % 40);
    int month = 1 + (int) ((n / 40) % 12);
    int day = 1 + (int) ((n / 480) % 28);
    int seq = (int) ((n / 13440) % 1000);
    String body = String.format("350203%04d%02d%02d%03d", year, month, day, seq);
    return body + residentIdCheckCharacter(body);
  }

  public static void main(String[] args) {
    if (args.length < 2 || !(args[0].equals("uscc") || args[0].equals("id"))) {
      System.out.println("usage: CheckDigits uscc CODE...   (unified social credit codes)");
      System.out.println("       CheckDigits id NUMBER...   (resident ID numbers)");
      System.exit(args.length == 1 && args[0].equals("--help") ? 0 : 2);
    }
    boolean uscc = args[0].equals("uscc");
    boolean allValid = true;
    for (int i = 1; i < args.length; i++) {
      boolean valid = uscc ? isValidUscc(args[i]) : isValidResidentId(args[i]);
      allValid &= valid;
      System.out.println(args[i] + " " + (valid ? "valid" : "invalid"));
    }
    System.exit(allValid ? 0 : 1);
  }
}
