#include "cli/sample.h"

#include <random>

#include "validation/validation.h"

namespace yilian::sample {
namespace {

constexpr const char* kUsccChars = "0123456789ABCDEFGHJKLMNPQRTUWXY";

const std::vector<std::string> kPrefixes = {"鹭岛", "海沧", "集美", "同安", "翔安", "思明", "湖里", "嘉禾",
                                            "五缘", "筼筜", "鼓浪", "东渡", "天竺", "万石", "白鹭", "金榜"};
const std::vector<std::string> kTrades = {"软件科技", "供应链管理", "生物医药", "新能源科技", "智能制造",
                                          "文化传媒", "电子商务", "建筑工程", "餐饮管理", "跨境贸易",
                                          "信息技术", "环保科技", "物流", "咨询服务", "食品"};
const std::vector<std::string> kForms = {"有限公司", "股份有限公司", "有限责任公司"};
const std::vector<std::string> kSurnames = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "林"};
const std::vector<std::string> kGiven = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军",
                                         "杰", "娟", "涛", "明", "超", "秀英", "建华", "志强"};
const std::vector<std::string> kRoads = {"观日路", "嘉禾路", "湖滨南路", "厦禾路", "仙岳路", "吕岭路",
                                         "软件园二期望海路", "火炬北路", "海景路", "集美大道"};
const std::vector<std::string> kScopes = {
    "软件开发", "信息系统集成服务", "信息技术咨询服务", "数据处理和存储支持服务", "集成电路设计",
    "技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广", "货物进出口", "技术进出口",
    "供应链管理服务", "国内贸易代理", "会议及展览服务", "企业管理咨询", "市场营销策划",
    "人工智能应用软件开发", "网络技术服务", "物联网技术服务", "广告设计、代理", "专业设计服务"};

template <typename T>
const T& Pick(std::mt19937_64& rng, const std::vector<T>& v) {
  return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
}

std::string PersonName(std::mt19937_64& rng) { return Pick(rng, kSurnames) + Pick(rng, kGiven); }

std::string Phone(std::mt19937_64& rng) {
  static const char* kHeads[] = {"133", "135", "138", "139", "150", "158", "177", "186", "189"};
  std::string p = kHeads[std::uniform_int_distribution<int>(0, 8)(rng)];
  for (int i = 0; i < 8; ++i) p.push_back(static_cast<char>('0' + std::uniform_int_distribution<int>(0, 9)(rng)));
  return p;
}

std::string Scope(std::mt19937_64& rng, int items) {
  std::string s;
  for (int i = 0; i < items; ++i) {
    if (!s.empty()) s += "；";
    s += Pick(rng, kScopes);
  }
  return s + "。（依法须经批准的项目，经相关部门批准后方可开展经营活动）";
}

std::string Address(std::mt19937_64& rng) {
  return "福建省厦门市" + std::string("湖里区") + Pick(rng, kRoads) + std::to_string(std::uniform_int_distribution<int>(1, 399)(rng)) + "号" +
         std::to_string(std::uniform_int_distribution<int>(1, 30)(rng)) + "层";
}

struct Enterprise {
  std::string uscc;
  v1::Enterprise record;
  std::string bank;
  std::uint64_t revision = 0;
};

}  // namespace

std::string MakeUscc(const std::string& region_code, std::uint64_t n) {
  // 9 = registered by market regulation, 1 = enterprise; 9 entity-id chars.
  std::string s = "91" + region_code.substr(0, 6);
  std::string id;
  for (int i = 0; i < 9; ++i) {
    id.insert(id.begin(), kUsccChars[n % 31]);
    n /= 31;
  }
  s += id;
  s.push_back(validation::UsccCheckCharacter(s));
  return s;
}

std::string MakeResidentId(std::uint64_t n) {
  char buf[32];
  int year = 1960 + static_cast<int>(n % 40);
  int month = 1 + static_cast<int>((n / 40) % 12);
  int day = 1 + static_cast<int>((n / 480) % 28);
  int seq = static_cast<int>((n / 13440) % 1000);
  std::snprintf(buf, sizeof buf, "350203%04d%02d%02d%03d", year, month, day, seq);
  std::string id = buf;
  id.push_back(validation::ResidentIdCheckCharacter(id));
  return id;
}

std::vector<v1::EnterpriseEvent> Generate(const SampleOptions& o) {
  std::mt19937_64 rng(o.seed);
  std::vector<Enterprise> firms(o.enterprises);
  for (int i = 0; i < o.enterprises; ++i) {
    Enterprise& f = firms[i];
    f.uscc = MakeUscc(o.region_code, o.seed * 1000003 + i);
    auto& r = f.record;
    r.set_name("厦门" + Pick(rng, kPrefixes) + Pick(rng, kTrades) + Pick(rng, kForms));
    r.set_entity_type("有限责任公司（自然人投资或控股）");
    auto* lr = r.mutable_legal_representative();
    lr->set_name(PersonName(rng));
    lr->set_id_type(v1::RESIDENT_ID);
    lr->set_id_number(MakeResidentId(rng() % 10'000'000));
    lr->set_phone(Phone(rng));
    r.mutable_registered_capital()->set_amount(std::to_string(std::uniform_int_distribution<int>(10, 5000)(rng) * 10000) + ".00");
    r.mutable_registered_capital()->set_currency("CNY");
    r.set_address(Address(rng));
    r.set_business_scope(Scope(rng, 4));
    r.set_established_on("2026-11-" + std::to_string(std::uniform_int_distribution<int>(10, 27)(rng)));
    r.set_region_code(o.region_code);
    r.set_accounting_method("INDEPENDENT");
    r.set_employee_count(std::uniform_int_distribution<int>(1, 200)(rng));
    auto* c = r.mutable_contact();
    c->set_name(PersonName(rng));
    c->set_id_type(v1::RESIDENT_ID);
    c->set_id_number(MakeResidentId(rng() % 10'000'000));
    c->set_phone(Phone(rng));
    r.set_industry_code("I6513");
    if (!o.banks.empty()) f.bank = o.banks[i % o.banks.size()];
  }

  std::vector<v1::EnterpriseEvent> out;
  std::uint64_t counter = 0;
  for (int round = 0; round < o.events_per_enterprise; ++round) {
    for (int i = 0; i < o.enterprises; ++i) {
      Enterprise& f = firms[i];
      v1::EnterpriseEvent e;
      e.set_event_id(o.id_prefix + "-" + std::to_string(o.seed) + "-" + std::to_string(++counter));
      e.set_uscc(f.uscc);
      e.set_revision(++f.revision);
      e.mutable_occurred_at()->set_seconds(1795000000 + static_cast<std::int64_t>(counter) * 60);
      e.set_authority("厦门市市场监督管理局");
      bool last = round == o.events_per_enterprise - 1;
      bool deregister = last && round > 0 && (static_cast<double>(i % 100) / 100.0) < o.deregister_fraction;
      if (round == 0) {
        e.set_type(v1::ESTABLISHED);
        if (!f.bank.empty()) {
          e.mutable_bank_reservation()->set_bank_code(f.bank);
          e.mutable_bank_reservation()->set_branch_code(f.bank + "-XM-" + std::to_string(i % 7 + 1));
        }
      } else if (deregister) {
        e.set_type(v1::DEREGISTERED);
        e.mutable_deregistration()->set_mode(i % 2 ? v1::SIMPLIFIED : v1::NORMAL);
        e.mutable_deregistration()->set_reason("决议解散");
        if (!f.bank.empty()) e.mutable_bank_reservation()->set_bank_code(f.bank);
      } else if (round % 3 == 2) {
        e.set_type(v1::FILED);
      } else {
        e.set_type(v1::CHANGED);
        auto* ch = e.add_changes();
        // A change always changes something: draw again while the new
        // value equals the old one (bounded; the pools are large).
        auto changed = [&](const std::string& old_value, auto draw) {
          std::string v = draw();
          for (int tries = 0; v == old_value && tries < 16; ++tries) v = draw();
          return v;
        };
        switch ((i + round) % 3) {
          case 0: {
            ch->set_field("address");
            ch->set_old_value(f.record.address());
            f.record.set_address(changed(f.record.address(), [&] { return Address(rng); }));
            ch->set_new_value(f.record.address());
            break;
          }
          case 1: {
            ch->set_field("name");
            ch->set_old_value(f.record.name());
            f.record.set_name(changed(f.record.name(), [&] {
              return "厦门" + Pick(rng, kPrefixes) + Pick(rng, kTrades) + "集团有限公司";
            }));
            ch->set_new_value(f.record.name());
            break;
          }
          default: {
            ch->set_field("business_scope");
            ch->set_old_value(f.record.business_scope());
            f.record.set_business_scope(changed(f.record.business_scope(), [&] { return Scope(rng, 5); }));
            ch->set_new_value(f.record.business_scope());
          }
        }
        if (!f.bank.empty()) e.mutable_bank_reservation()->set_bank_code(f.bank);
      }
      *e.mutable_enterprise() = f.record;
      if (o.target_bytes > 0) {
        const std::size_t max_scope = validation::Options{}.max_scope_bytes;
        std::string scope = e.enterprise().business_scope();
        while (static_cast<int>(e.ByteSizeLong()) + 40 < o.target_bytes) {
          std::string longer = scope + "；" + Pick(rng, kScopes);
          if (longer.size() > max_scope) break;  // valid before big
          scope = std::move(longer);
          e.mutable_enterprise()->set_business_scope(scope);
        }
      }
      out.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace yilian::sample
