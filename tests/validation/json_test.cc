// JSON mapping: proto field names, one line, UTF-8 text unescaped and
// byte-identical through Parse -> Print -> Parse, strict about unknown fields,
// and error texts that are safe to log.
#include "validation/json.h"

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "validation/validation.h"
#include "yilian/v1/cli.pb.h"
#include "yilian/v1/event.pb.h"

namespace yilian::json {
namespace {

namespace v1 = yilian::v1;

std::vector<std::string> SampleLines() {
  std::ifstream in(YILIAN_SOURCE_DIR "/tests/data/valid_events.jsonl");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// Every scalar set and Chinese in the free-text fields.
constexpr char kFullEvent[] =
    R"({"event_id":"xm-2024-000101","type":"ESTABLISHED","uscc":"91350100M000100Y43","revision":"7",)"
    R"("occurred_at":"2024-03-01T01:30:00.250Z","authority":"厦门市市场监督管理局",)"
    R"("enterprise":{"name":"厦门鹭岛软件科技有限公司","entity_type":"有限责任公司（自然人投资或控股）",)"
    R"("legal_representative":{"name":"张三","id_type":"RESIDENT_ID","id_number":"11010519491231002X",)"
    R"("phone":"13812345678"},"registered_capital":{"amount":"1000000.00","currency":"CNY"},)"
    R"("address":"福建省厦门市思明区软件园二期观日路24号",)"
    R"("business_scope":"软件开发；信息技术咨询服务；数据处理和存储支持服务。（依法须经批准的项目，经相关部门批准后方可开展经营活动）",)"
    R"("established_on":"2024-03-01","region_code":"350203","accounting_method":"INDEPENDENT",)"
    R"("employee_count":12,"contact":{"name":"李四","id_type":"PASSPORT","id_number":"E12345678",)"
    R"("phone":"+8613912345678"},"industry_code":"I6510"},)"
    R"("changes":[{"field":"name","old_value":"旧名称 \"引号\"","new_value":"新名称\\反斜杠"}],)"
    R"("bank_reservation":{"bank_code":"ICBC","branch_code":"102393000123"},)"
    R"("deregistration":{"mode":"SIMPLIFIED","reason":"简易注销"}})";

TEST(Json, FullEventRoundTripsByteIdentical) {
  v1::EnterpriseEvent event;
  ASSERT_TRUE(Parse(kFullEvent, &event).ok());
  // Every field of the input is present in the canonical form, so printing
  // gives back the input text exactly.
  std::string printed = Print(event);
  EXPECT_EQ(printed, kFullEvent);

  v1::EnterpriseEvent again;
  ASSERT_TRUE(Parse(printed, &again).ok());
  EXPECT_EQ(again.SerializeAsString(), event.SerializeAsString());
  EXPECT_EQ(Print(again), printed);
}

TEST(Json, ChineseTextIsKeptAsUtf8) {
  v1::EnterpriseEvent event;
  ASSERT_TRUE(Parse(kFullEvent, &event).ok());
  EXPECT_EQ(event.enterprise().name(), "厦门鹭岛软件科技有限公司");
  EXPECT_EQ(event.enterprise().address(), "福建省厦门市思明区软件园二期观日路24号");
  EXPECT_EQ(event.enterprise().business_scope().substr(0, 12), "软件开发");
  std::string printed = Print(event);
  EXPECT_NE(printed.find("厦门鹭岛软件科技有限公司"), std::string::npos);
  EXPECT_EQ(printed.find("\\u"), std::string::npos) << "non-ASCII text was escaped: " << printed;
}

TEST(Json, EscapedInputIsPrintedAsUtf8) {
  v1::EnterpriseEvent event;
  ASSERT_TRUE(Parse(R"({"authority":"\u5ec8\u9580"})", &event).ok());
  EXPECT_EQ(event.authority(), "廈門");
  EXPECT_EQ(Print(event), R"({"authority":"廈門"})");
}

TEST(Json, PrintsProtoNamesOnOneLineWithoutDefaults) {
  v1::EnterpriseEvent event;
  event.set_event_id("e1");
  event.set_type(v1::CHANGED);
  event.mutable_enterprise()->mutable_legal_representative()->set_id_number("x");
  std::string printed = Print(event);
  EXPECT_EQ(printed, R"({"event_id":"e1","type":"CHANGED","enterprise":{"legal_representative":{"id_number":"x"}}})");
  EXPECT_EQ(printed.find('\n'), std::string::npos);
}

TEST(Json, ParseAcceptsCamelCaseNamesToo) {
  // The proto3 JSON mapping accepts both spellings; printing uses one.
  v1::EnterpriseEvent event;
  ASSERT_TRUE(Parse(R"({"eventId":"e1","occurredAt":"2024-03-01T09:30:00+08:00"})", &event).ok());
  EXPECT_EQ(event.event_id(), "e1");
  EXPECT_EQ(event.occurred_at().seconds(), 1709256600);
}

TEST(Json, UnknownFieldIsAnError) {
  v1::EnterpriseEvent event;
  Status status = Parse(R"({"event_id":"e1","colour":"red"})", &event);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("colour"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("Cannot find field"), std::string::npos) << status.message();
  // Nothing half-parsed is left behind.
  EXPECT_EQ(event.event_id(), "");
}

TEST(Json, MalformedInputIsAnError) {
  for (const char* bad : {"", "   ", "garbage", "[]", "{", R"({"event_id":"e1"} trailing)",
                          R"({"type":"NOT_A_TYPE"})", R"({"revision":"many"})", R"({"revision":-1})",
                          R"({"occurred_at":"yesterday"})", R"({"event_id":1)", R"({"event_id":"a\ud800"})"}) {
    v1::EnterpriseEvent event;
    Status status = Parse(bad, &event);
    EXPECT_FALSE(status.ok()) << bad;
    EXPECT_FALSE(status.message().empty()) << bad;
  }
}

TEST(Json, InvalidUtf8IsAnError) {
  v1::EnterpriseEvent event;
  Status status = Parse("{\"event_id\":\"e1\",\"authority\":\"\xE5\x8E\xFF\"}", &event);
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(validation::IsValidUtf8(status.message())) << status.message();
}

TEST(Json, ErrorMessagesDoNotQuotePersonalData) {
  // protobuf's parser quotes the input around the error; none of it may
  // carry an ID number or a phone number out, whole or in part.
  const char* inputs[] = {
      R"({"enterprise":{"legal_representative":{"id_number":"11010519491231002X" "phone":"13812345678"}}})",
      R"({"revision":"11010519491231002X"})",
      R"({"11010519491231002X":1})",
      R"({"enterprise":{"contact":{"phone":13812345678}}})",
  };
  for (const char* input : inputs) {
    v1::EnterpriseEvent event;
    Status status = Parse(input, &event);
    ASSERT_FALSE(status.ok()) << input;
    for (const char* secret : {"0519491231", "12345678", "1231002X"}) {
      EXPECT_EQ(status.message().find(secret), std::string::npos) << status.message();
    }
  }
}

TEST(Json, NumericEnumValuesSurviveForValidateToReject) {
  v1::EnterpriseEvent event;
  ASSERT_TRUE(Parse(R"({"type":99})", &event).ok());
  EXPECT_EQ(static_cast<int>(event.type()), 99);
  EXPECT_FALSE(v1::EventType_IsValid(event.type()));
}

TEST(Json, SampleFileHoldsValidEventsOfEveryType) {
  std::vector<std::string> lines = SampleLines();
  ASSERT_GE(lines.size(), 4u);
  std::vector<bool> seen(5, false);
  for (const std::string& line : lines) {
    v1::EnterpriseEvent event;
    Status status = Parse(line, &event);
    ASSERT_TRUE(status.ok()) << status.ToString();
    std::vector<validation::FieldError> errors = validation::Validate(event);
    EXPECT_TRUE(errors.empty()) << event.event_id() << ": " << errors[0].path << " " << errors[0].code;
    seen[event.type()] = true;

    // Canonical round trip: printing then parsing again changes nothing.
    v1::EnterpriseEvent again;
    ASSERT_TRUE(Parse(Print(event), &again).ok());
    EXPECT_EQ(Print(again), Print(event));
    EXPECT_EQ(again.SerializeAsString(), event.SerializeAsString());
  }
  for (auto type : {v1::ESTABLISHED, v1::CHANGED, v1::FILED, v1::DEREGISTERED}) {
    EXPECT_TRUE(seen[type]) << v1::EventType_Name(type);
  }
}

TEST(Json, ValidateReportPrintsFalseVerdict) {
  v1::ValidateReport report;
  report.set_line(3);
  report.set_valid(false);
  EXPECT_EQ(Print(report), R"({"line":3,"valid":false})");
  report.set_event_id("e1");
  report.set_valid(true);
  EXPECT_EQ(Print(report), R"({"line":3,"event_id":"e1","valid":true})");
}

}  // namespace
}  // namespace yilian::json
