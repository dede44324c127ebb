#include "sink/exchange_layout.h"

namespace yilian::sink {

std::string CreateExchangeTablesSql(const ExchangeTables& t) {
  return "CREATE TABLE IF NOT EXISTS " + t.push +
         " (\n"
         "  event_id    VARCHAR(128) NOT NULL PRIMARY KEY,\n"
         "  agency      VARCHAR(64)  NOT NULL,\n"
         "  uscc        VARCHAR(18)  NOT NULL,\n"
         "  event_type  VARCHAR(16)  NOT NULL,\n"
         "  sequence    BIGINT       NOT NULL,\n"
         "  record_type VARCHAR(32)  NOT NULL,\n"
         "  record      TEXT         NOT NULL,\n"
         "  created_at  VARCHAR(32)  NOT NULL,\n"
         "  taken_at    VARCHAR(32)\n"
         ");\n"
         "CREATE TABLE IF NOT EXISTS " +
         t.receipt +
         " (\n"
         "  event_id     VARCHAR(128)  NOT NULL PRIMARY KEY,\n"
         "  status       VARCHAR(16)   NOT NULL,\n"
         "  reference    VARCHAR(256)  NOT NULL DEFAULT '',\n"
         "  reason_code  VARCHAR(64)   NOT NULL DEFAULT '',\n"
         "  reason       VARCHAR(1024) NOT NULL DEFAULT '',\n"
         "  processed_at VARCHAR(32)   NOT NULL\n"
         ");\n";
}

}  // namespace yilian::sink
