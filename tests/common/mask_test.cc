// The masking helpers are the only thing standing between personal data and
// the logs, so the tests pin the exact output for the formats that occur.
#include "common/mask.h"

#include <gtest/gtest.h>

namespace yilian {
namespace {

TEST(MaskIdNumber, KeepsFirstFourAndLastFour) {
  EXPECT_EQ(MaskIdNumber("11010519491231002X"), "1101**********002X");
  EXPECT_EQ(MaskIdNumber("440524188001010014"), "4405**********0014");
  // Old 15-digit resident IDs and other documents follow the same rule.
  EXPECT_EQ(MaskIdNumber("110105491231002"), "1101*******1002");
}

TEST(MaskIdNumber, ShorterDocumentsShowAtMostAThird) {
  // Passports and permits: 4 + 4 would leave one character hidden.
  EXPECT_EQ(MaskIdNumber("E12345678"), "E******78");
  EXPECT_EQ(MaskIdNumber("H1234567890"), "H********90");
  EXPECT_EQ(MaskIdNumber("12345678901234"), "1***********34");
  for (std::string id : {"E12345678", "H1234567890", "12345678901234", "110105491231002", "11010519491231002X"}) {
    std::string masked = MaskIdNumber(id);
    std::size_t shown = 0;
    for (char c : masked) shown += c != '*';
    EXPECT_LE(shown * 9, id.size() * 5) << id << " -> " << masked;
  }
}

TEST(MaskIdNumber, ShortValuesAreFullyMasked) {
  EXPECT_EQ(MaskIdNumber(""), "");
  EXPECT_EQ(MaskIdNumber("1234"), "****");
  EXPECT_EQ(MaskIdNumber("12345678"), "********");
}

TEST(MaskPhone, KeepsFirstThreeAndLastFour) {
  EXPECT_EQ(MaskPhone("13812345678"), "138****5678");
  EXPECT_EQ(MaskPhone("+8613912345678"), "+86*******5678");
  EXPECT_EQ(MaskPhone("12345678"), "******78");  // a landline: 3 + 4 would show 7 of 8
  EXPECT_EQ(MaskPhone("0592123456"), "********56");
}

TEST(MaskPhone, ShortValuesAreFullyMasked) {
  EXPECT_EQ(MaskPhone(""), "");
  EXPECT_EQ(MaskPhone("1234567"), "*******");
}

TEST(ScrubPersonalData, MasksIdsAndMobilesInFreeText) {
  EXPECT_EQ(ScrubPersonalData("身份证 11010519491231002X 手机13812345678"),
            "身份证 1101**********002X 手机138****5678");
  EXPECT_EQ(ScrubPersonalData("id=440524188001010014, old=110105491231002"),
            "id=4405**********0014, old=1101*******1002");
  EXPECT_EQ(ScrubPersonalData("lower case 11010519491231002x."), "lower case 1101**********002x.");
}

TEST(ScrubPersonalData, MasksInsideJson) {
  EXPECT_EQ(ScrubPersonalData(R"({"id_number":"11010519491231002X","phone":"13812345678"})"),
            R"({"id_number":"1101**********002X","phone":"138****5678"})");
}

TEST(ScrubPersonalData, MasksNumbersGluedToLetters) {
  EXPECT_EQ(ScrubPersonalData("ID11010519491231002X"), "ID1101**********002X");
  EXPECT_EQ(ScrubPersonalData("tel13812345678"), "tel138****5678");
}

TEST(ScrubPersonalData, MasksMobilesWithCountryCode) {
  EXPECT_EQ(ScrubPersonalData("phone +8613812345678 or 8613812345678"), "phone +861******5678 or 861******5678");
}

// The forms people write numbers in: separators, a country code, spaces,
// full-width digits (and X), mixed. Every one is masked; the text around it
// stays as it was.
TEST(ScrubPersonalData, MasksNumbersAsPeopleWriteThem) {
  const struct {
    const char* in;
    const char* out;
  } kForms[] = {
      {"138-1234-5678", "138****5678"},
      {"138 1234 5678", "138****5678"},
      {"138.1234.5678", "138****5678"},
      {"+86 138 1234 5678", "+861******5678"},
      {"+86-138-1234-5678", "+861******5678"},
      {"电话：86 13812345678。", "电话：861******5678。"},
      {"１３８１２３４５６７８", "138****5678"},
      {"１３８－１２３４－５６７８", "138****5678"},
      {"手机 138　1234　5678 联系", "手机 138****5678 联系"},
      {"１３８1234５６７８", "138****5678"},
      {"110105 19491231 002X", "1101**********002X"},
      {"110105-19491231-002x", "1101**********002x"},
      {"１１０１０５１９４９１２３１００２Ｘ", "1101**********002X"},
      {"股东：张三 110105194912310 13812345678", "股东：张三 1101*******2310 138****5678"},
      {"地址：湖里区观日路12号 电话 0592-5551234 或 139 0000 1111", "地址：湖里区观日路12号 电话 0592-5551234 或 139****1111"},
  };
  for (const auto& f : kForms) EXPECT_EQ(ScrubPersonalData(f.in), f.out) << f.in;
}

TEST(ScrubPersonalData, LeavesOtherNumbersAlone) {
  // USCCs mix letters into their digits, so no run has an ID's length.
  EXPECT_EQ(ScrubPersonalData("uscc 91350100M000100Y43 and 91110000600037341L"),
            "uscc 91350100M000100Y43 and 91110000600037341L");
  EXPECT_EQ(ScrubPersonalData("amount 1000000.00 CNY, revision 12"), "amount 1000000.00 CNY, revision 12");
  // 11 digits not starting with 1, and runs longer than an ID.
  EXPECT_EQ(ScrubPersonalData("order 20240301123"), "order 20240301123");
  EXPECT_EQ(ScrubPersonalData("seq 12345678901234567890"), "seq 12345678901234567890");
  EXPECT_EQ(ScrubPersonalData(""), "");
  EXPECT_EQ(ScrubPersonalData("at 2026-11-27 10:00, 12 345 items, v1.2.3"),
            "at 2026-11-27 10:00, 12 345 items, v1.2.3");
  EXPECT_EQ(ScrubPersonalData("ｖ１．２　２０２６"), "ｖ１．２　２０２６");
}

}  // namespace
}  // namespace yilian

TEST(TruncateUtf8, CutsAtACharacterBoundary) {
  const std::string text = "厦门鹭岛";  // 4 characters, 3 bytes each
  EXPECT_EQ(yilian::TruncateUtf8(text, 12), text);
  EXPECT_EQ(yilian::TruncateUtf8(text, 7), "厦门");  // not 7 bytes: the third character is whole or absent
  EXPECT_EQ(yilian::TruncateUtf8(text, 2), "");
  EXPECT_EQ(yilian::TruncateUtf8("abc", 2), "ab");
}
