// Check characters: every vector of the domain brief (section 4), codes
// computed by hand with the published weights, and the property both
// algorithms are chosen for: any single wrong character is caught.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "validation/validation.h"

namespace yilian::validation {
namespace {

const std::vector<std::string> kValidUscc = {
    // GB 32100-2015 vectors from the domain brief.
    "91350100M000100Y43", "91110000600037341L", "91310115MA1K3BTP2B",
    "9144030071526726XG", "121200004013590816", "92340602MA2PBMEM24",
    // Computed for these tests: weighted sum of the first 17, 31 - sum % 31.
    "91320583MA1MXXXX05", "91440300MA5FABCDE1", "93330105MA2H00001R",
    "521100005000000008", "91510100MA6123456W",
};

const std::vector<std::string> kValidResidentId = {
    // GB 11643-1999 vectors from the domain brief.
    "11010519491231002X", "440524188001010014", "360426199101010071", "44011320141005001X",
    // Computed for these tests (1992-02-29 is a leap day).
    "320502198503151232", "510107199202290044", "110101200001010010", "410304197806125567",
};

TEST(Uscc, BriefAndComputedVectorsAreValid) {
  for (const std::string& code : kValidUscc) {
    EXPECT_TRUE(IsValidUscc(code)) << code;
    EXPECT_EQ(UsccCheckCharacter(code.substr(0, 17)), code[17]) << code;
  }
}

TEST(Uscc, WorkedExample) {
  // 9 1 3 5 0 1 0 0 M(21) 0 0 0 1 0 0 Y(30) 4 with weights
  // 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28:
  // 9+3+27+135+0+26+0+0+420+0+0+0+8+0+0+900+112 = 1640; 1640 % 31 = 28;
  // 31 - 28 = 3.
  EXPECT_EQ(UsccCheckCharacter("91350100M000100Y4"), '3');
}

TEST(Uscc, CheckValue31BecomesZero) {
  // All zeros: sum 0, 31 - 0 = 31, which the standard maps to '0'.
  EXPECT_EQ(UsccCheckCharacter("00000000000000000"), '0');
  EXPECT_TRUE(IsValidUscc("000000000000000000"));
}

TEST(Uscc, BriefInvalidVectors) {
  EXPECT_FALSE(IsValidUscc("91350100M000100Y4Z"));  // wrong check character
  EXPECT_FALSE(IsValidUscc("91350100M000100Y44"));
  EXPECT_FALSE(IsValidUscc("91350100m000100y43"));  // lowercase
  EXPECT_FALSE(IsValidUscc("91350100M000100Y4"));   // 17 long
  EXPECT_FALSE(IsValidUscc("91350100M000100Y433"));  // 19 long
  EXPECT_FALSE(IsValidUscc(""));
  // I, O, Z, S and V are not in the set even where the sum would work out.
  for (char banned : std::string("IOZSV")) {
    std::string code = "91350100M000100Y4";
    code[8] = banned;
    EXPECT_EQ(UsccCheckCharacter(code), '\0') << banned;
    for (char check : std::string("0123456789ABCDEFGHJKLMNPQRTUWXY")) {
      EXPECT_FALSE(IsValidUscc(code + check)) << code << check;
    }
  }
}

TEST(Uscc, CheckCharacterNeedsSeventeenCharacters) {
  EXPECT_EQ(UsccCheckCharacter("91350100M000100Y"), '\0');
  EXPECT_EQ(UsccCheckCharacter("91350100M000100Y43"), '\0');
  EXPECT_EQ(UsccCheckCharacter(std::string("91350100M000100Y\0", 17)), '\0');
}

TEST(Uscc, EverySingleSubstitutionIsCaught) {
  const std::string charset = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  for (const std::string& code : kValidUscc) {
    for (size_t pos = 0; pos < 18; ++pos) {
      for (char c : charset) {
        if (c == code[pos]) continue;
        std::string changed = code;
        changed[pos] = c;
        EXPECT_FALSE(IsValidUscc(changed)) << changed;
      }
    }
  }
}

TEST(ResidentId, BriefAndComputedVectorsAreValid) {
  for (const std::string& id : kValidResidentId) {
    EXPECT_TRUE(IsValidResidentId(id)) << id;
    EXPECT_EQ(ResidentIdCheckCharacter(id.substr(0, 17)), id[17]) << id;
  }
}

TEST(ResidentId, WorkedExample) {
  // 1 1 0 1 0 5 1 9 4 9 1 2 3 1 0 0 2 with weights
  // 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2:
  // 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167; 167 % 11 = 2 -> 'X'.
  EXPECT_EQ(ResidentIdCheckCharacter("11010519491231002"), 'X');
}

TEST(ResidentId, BriefInvalidVector) {
  EXPECT_FALSE(IsValidResidentId("110105194912310021"));
}

TEST(ResidentId, Malformed) {
  EXPECT_FALSE(IsValidResidentId("11010519491231002x"));  // lowercase x
  EXPECT_FALSE(IsValidResidentId("11010519491231002"));
  EXPECT_FALSE(IsValidResidentId("11010519491231002XX"));
  EXPECT_FALSE(IsValidResidentId("1101051949123100AX"));
  EXPECT_FALSE(IsValidResidentId(""));
  EXPECT_EQ(ResidentIdCheckCharacter("1101051949123100A"), '\0');
  EXPECT_EQ(ResidentIdCheckCharacter("1101051949123100"), '\0');
}

// Builds an ID with a correct check character around the given birth date.
std::string IdBornOn(const std::string& yyyymmdd) {
  std::string first17 = "110105" + yyyymmdd + "123";
  return first17 + ResidentIdCheckCharacter(first17);
}

TEST(ResidentId, BirthDateMustBePlausible) {
  EXPECT_TRUE(IsValidResidentId(IdBornOn("19800101")));
  EXPECT_TRUE(IsValidResidentId(IdBornOn("20000229")));   // leap year
  EXPECT_FALSE(IsValidResidentId(IdBornOn("19000229")));  // 1900 was not
  EXPECT_FALSE(IsValidResidentId(IdBornOn("19801301")));  // month 13
  EXPECT_FALSE(IsValidResidentId(IdBornOn("19800431")));  // April 31
  EXPECT_FALSE(IsValidResidentId(IdBornOn("19800100")));  // day 0
  EXPECT_FALSE(IsValidResidentId(IdBornOn("17991231")));  // before 1800
  EXPECT_FALSE(IsValidResidentId(IdBornOn("29990101")));  // in the future
}

TEST(ResidentId, EverySingleSubstitutionIsCaught) {
  const std::string chars = "0123456789X";
  for (const std::string& id : kValidResidentId) {
    for (size_t pos = 0; pos < 18; ++pos) {
      for (char c : chars) {
        if (c == id[pos] || (c == 'X' && pos < 17)) continue;
        std::string changed = id;
        changed[pos] = c;
        EXPECT_FALSE(IsValidResidentId(changed)) << changed;
      }
    }
  }
}

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ASCII"));
  EXPECT_TRUE(IsValidUtf8("厦门鹭岛软件科技有限公司"));
  EXPECT_TRUE(IsValidUtf8("\xC2\x80"));            // U+0080
  EXPECT_TRUE(IsValidUtf8("\xED\x9F\xBF"));        // U+D7FF, just below surrogates
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x98\x80"));    // U+1F600
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));    // U+10FFFF
  EXPECT_TRUE(IsValidUtf8(std::string("a\0b", 3)));  // NUL is valid UTF-8
}

TEST(Utf8, RejectsMalformedText) {
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("\x80"));                // lone continuation
  EXPECT_FALSE(IsValidUtf8("\xE5\x8E"));            // truncated 3-byte sequence
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));            // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));        // overlong, 3 bytes
  EXPECT_FALSE(IsValidUtf8("\xF0\x80\x80\xAF"));    // overlong, 4 bytes
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));        // U+D800 surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));    // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE5\x8E\xA6\xE9"));    // valid char then truncated
  EXPECT_FALSE(IsValidUtf8("ab\xE5" "c"));          // continuation missing
}

}  // namespace
}  // namespace yilian::validation
