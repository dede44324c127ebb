// docs/validation.md section 6 describes both check-character algorithms in
// prose, with their character set and weights, and lists test vectors. Here
// the algorithms are computed as the document states them, from the set and
// the weights read out of it, and compared with the code on many inputs; the
// vectors are judged by the code exactly as the document says.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "validation/validation.h"
#include "validation/validation_doc.h"

namespace yilian::validation {
namespace {

namespace vt = yilian::validation::testing;

// Section 6.1: the values of the 17 characters times their weights, summed,
// modulo 31; 31 minus that, 31 becoming 0, is the value of the check
// character. '\0' if a character is not in the set.
char DocUsccCheck(const std::string& first17) {
  const auto& a = vt::TheValidationDoc().uscc;
  int sum = 0;
  for (size_t i = 0; i < 17; ++i) {
    size_t value = a.charset.find(first17[i]);
    if (value == std::string::npos) return '\0';
    sum += static_cast<int>(value) * a.weights[i];
  }
  int check = 31 - sum % 31;
  return a.charset[check == 31 ? 0 : check];
}

// Section 6.2: the digits times their weights, summed, modulo 11, indexes
// the string of check characters.
char DocResidentIdCheck(const std::string& first17) {
  const auto& a = vt::TheValidationDoc().resident_id;
  int sum = 0;
  for (size_t i = 0; i < 17; ++i) {
    if (first17[i] < '0' || first17[i] > '9') return '\0';
    sum += (first17[i] - '0') * a.weights[i];
  }
  return a.check_characters[sum % 11];
}

class CheckDigitsDocTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(vt::TheValidationDoc().problem, ""); }
};

TEST_F(CheckDigitsDocTest, UsccAlgorithmAsWrittenIsTheCodes) {
  const std::string& charset = vt::TheValidationDoc().uscc.charset;
  std::mt19937 rng(20150901);
  std::uniform_int_distribution<size_t> pick(0, charset.size() - 1);
  for (int n = 0; n < 20000; ++n) {
    std::string first17;
    for (int i = 0; i < 17; ++i) first17 += charset[pick(rng)];
    ASSERT_EQ(UsccCheckCharacter(first17), DocUsccCheck(first17)) << first17;
    ASSERT_TRUE(IsValidUscc(first17 + DocUsccCheck(first17))) << first17;
  }
  // A character outside the set, lowercase or one of I, O, S, V, Z, has no
  // value in the document and none in the code.
  for (char c : std::string("abIOSVZ-")) {
    std::string first17 = "91350100M000100Y" + std::string(1, c);
    EXPECT_EQ(charset.find(c), std::string::npos) << c;
    EXPECT_EQ(UsccCheckCharacter(first17), '\0') << c;
  }
}

TEST_F(CheckDigitsDocTest, ResidentIdAlgorithmAsWrittenIsTheCodes) {
  std::mt19937 rng(19990801);
  std::uniform_int_distribution<int> digit(0, 9);
  for (int n = 0; n < 20000; ++n) {
    std::string first17;
    for (int i = 0; i < 17; ++i) first17 += static_cast<char>('0' + digit(rng));
    ASSERT_EQ(ResidentIdCheckCharacter(first17), DocResidentIdCheck(first17)) << first17;
  }
}

TEST_F(CheckDigitsDocTest, VectorsAreJudgedAsTheDocumentSays) {
  int uscc = 0, resident = 0;
  for (const vt::CheckVector& v : vt::TheValidationDoc().vectors) {
    SCOPED_TRACE(v.kind + " " + v.value);
    if (v.kind == "USCC") {
      ++uscc;
      EXPECT_EQ(IsValidUscc(v.value), v.valid);
      if (v.valid) {
        EXPECT_EQ(DocUsccCheck(v.value.substr(0, 17)), v.value[17]);
      }
    } else if (v.kind == "Resident ID") {
      ++resident;
      EXPECT_EQ(IsValidResidentId(v.value), v.valid);
      if (v.valid) {
        EXPECT_EQ(DocResidentIdCheck(v.value.substr(0, 17)), v.value[17]);
      }
    } else {
      ADD_FAILURE() << "unknown kind";
    }
  }
  EXPECT_GE(uscc, 6);
  EXPECT_GE(resident, 4);
}

}  // namespace
}  // namespace yilian::validation
