#include "sim/decision.h"

#include <algorithm>

namespace yilian::sim {
namespace {

namespace av1 = ::yilian::agency::v1;

// A number in [0, 1) from the hash.
double Unit(std::uint64_t h) { return static_cast<double>(h >> 11) / static_cast<double>(1ULL << 53); }

// `n` decimal digits from the hash.
std::string Digits(std::uint64_t h, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    h = h * 6364136223846793005ULL + 1442695040888963407ULL;  // one LCG step per digit
    out.push_back(static_cast<char>('0' + (h >> 33) % 10));
  }
  return out;
}

// YYYYMMDD of effective_at ("2026-11-27T..."), or 00000000.
std::string Day(const std::string& effective_at) {
  if (effective_at.size() < 10) return "00000000";
  return effective_at.substr(0, 4) + effective_at.substr(5, 2) + effective_at.substr(8, 2);
}

std::string Region(const std::string& uscc) { return uscc.size() >= 8 ? uscc.substr(2, 6) : "000000"; }

Decision Reject(std::string code, std::string reason) {
  Decision d;
  d.processed = false;
  d.reason_code = std::move(code);
  d.reason = std::move(reason);
  return d;
}

Decision Processed(std::string reference) {
  Decision d;
  d.reference = std::move(reference);
  return d;
}

Decision Tax(const SimSpec& s, const av1::AgencySubmission& sub, double u) {
  const av1::TaxRecord& r = sub.tax();
  std::string day = Day(r.effective_at());
  std::string serial = Digits(StableHash(s.seed, sub.event_id(), "serial"), 6);
  if (r.action() == "REGISTER") {
    // The same person is refused everywhere: the rule follows the legal
    // representative, not the event.
    if (Unit(StableHash(s.seed, r.legal_representative().id_number(), "abnormal")) < s.reject_rate)
      return Reject("ABNORMAL_TAXPAYER_LR", "法定代表人名下存在非正常户纳税人，暂不予办理新办纳税人信息确认");
    return Processed("QR" + Region(sub.uscc()) + day + serial);
  }
  if (r.action() == "CLEAR") {
    if (u < s.reject_rate) return Reject("UNSETTLED_TAX", "存在未结清的税款、滞纳金及罚款，不予出具清税证明");
    return Processed("QS" + Region(sub.uscc()) + day + serial);
  }
  if (u < s.reject_rate / 2) return Reject("DECLARATION_PENDING", "存在未完成的纳税申报，请先完成申报后再办理变更登记");
  return Processed("BG" + Region(sub.uscc()) + day + serial);
}

Decision SocialInsurance(const SimSpec& s, const av1::AgencySubmission& sub, double u) {
  const av1::SocialInsuranceRecord& r = sub.social_insurance();
  // 单位编号: assigned once per enterprise, quoted on every later answer.
  std::string unit = r.region_code().size() == 6 ? r.region_code() : Region(sub.uscc());
  unit += Digits(StableHash(s.seed, sub.uscc(), "si-unit"), 8);
  if (r.action() == "REGISTER" && u < s.reject_rate)
    return Reject("ALREADY_INSURED_ELSEWHERE", "该单位已在其他统筹区办理参保登记，请先办理跨统筹区转移");
  if (r.action() == "CANCEL" && u < s.reject_rate)
    return Reject("CONTRIBUTION_ARREARS", "单位存在欠缴社会保险费，不予办理注销");
  return Processed(unit);
}

Decision HousingFund(const SimSpec& s, const av1::AgencySubmission& sub, double u) {
  const av1::HousingFundRecord& r = sub.housing_fund();
  std::string account = Region(sub.uscc()).substr(0, 4) + Digits(StableHash(s.seed, sub.uscc(), "hf-unit"), 12);
  if (r.action() == "OPEN") {
    // The centre checks for the unit's corporate account on its own; at
    // establishment it is often only reserved, hence pre-opened, and some
    // centres refuse to open online without one.
    if (u < s.reject_rate / 2)
      return Reject("NO_BANK_ACCOUNT", "单位尚未开立银行结算账户，暂不能网上办理住房公积金缴存登记");
    if (u < s.reject_rate) return Reject("LR_MISMATCH", "法定代表人信息与登记信息不一致，请核实后重新提交");
    return Processed(account + "/PRE_OPENED");
  }
  if (r.action() == "CLOSE") {
    if (u < s.reject_rate) return Reject("UNPAID_CONTRIBUTIONS", "单位存在未缴清的住房公积金，不予办理销户");
    return Processed(account + "/CLOSED");
  }
  return Processed(account + "/OPENED");
}

Decision Bank(const SimSpec& s, const av1::AgencySubmission& sub, double u) {
  const av1::BankRecord& r = sub.bank();
  std::uint64_t h = StableHash(s.seed, sub.uscc(), "bank:" + r.bank_code());
  std::string account = Digits(h, 19);
  // 基本存款账户编号: J + 4-digit area + 9 digits.
  std::string permit = "J" + Region(sub.uscc()).substr(0, 4) + Digits(h >> 3, 9);
  if (r.action() == "RESERVE") {
    if (u < s.reject_rate / 2) return Reject("ID_VERIFICATION_FAILED", "法定代表人身份联网核查未通过，请本人临柜核实");
    if (u < s.reject_rate) return Reject("BRANCH_SUSPENDED", "预约网点暂停办理对公开户业务，请改约其他网点");
    return Processed(account + "/" + permit);
  }
  if (r.action() == "CLOSE") {
    if (u < s.reject_rate) return Reject("UNSETTLED_BUSINESS", "账户存在未结清业务（贷款、票据），暂不能销户");
    return Processed(account + "/CLOSED");
  }
  return Processed(account + "/CHANGED");
}

}  // namespace

std::uint64_t StableHash(std::uint64_t seed, const std::string& a, const std::string& b) {
  std::uint64_t h = 1469598103934665603ULL ^ (seed * 0x9E3779B97F4A7C15ULL);
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xFF;
    h *= 1099511628211ULL;
  };
  mix(a);
  mix(b);
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDULL;
  h ^= h >> 33;
  return h;
}

Decision Decide(const SimSpec& spec, const agency::v1::AgencySubmission& sub) {
  double u = Unit(StableHash(spec.seed, sub.event_id(), "decide"));
  Decision d;
  switch (sub.record_case()) {
    case av1::AgencySubmission::kTax:
      d = Tax(spec, sub, u);
      break;
    case av1::AgencySubmission::kSocialInsurance:
      d = SocialInsurance(spec, sub, u);
      break;
    case av1::AgencySubmission::kHousingFund:
      d = HousingFund(spec, sub, u);
      break;
    case av1::AgencySubmission::kBank:
      d = Bank(spec, sub, u);
      break;
    default:
      d = Reject("UNKNOWN_RECORD", "无法识别的报送记录类型");
  }
  int span = std::max(0, spec.delay_max_ms - spec.delay_min_ms);
  d.delay_ms = spec.delay_min_ms +
               static_cast<int>(Unit(StableHash(spec.seed, sub.event_id(), "delay")) * static_cast<double>(span + 1));
  if (d.delay_ms > spec.delay_max_ms) d.delay_ms = spec.delay_max_ms;
  return d;
}

}  // namespace yilian::sim
